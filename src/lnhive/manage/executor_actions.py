"""The write actions of the executor: one handler per catalogue action, from validated
params only (comms spec §2.2; ARCHITECTURE §8.2 for ``revenue-policy``)."""

from __future__ import annotations

from typing import Any

from lnhive.core.errors import InvalidParams, Unsupported
from lnhive.manage.execution import Handler, Run, scrub
from lnhive.manage.snapshot import ChannelState

FEE_SPIKE_PPM = 50_000
"""``emergency/fee_spike`` sets this fee (the catalogue's ceiling) on every channel."""


def _setchannel(run: Run, ch: ChannelState, **params: Any) -> dict[str, Any]:
    out = run.write("setchannel", id=ch.short_channel_id, **params)
    if run.dry_run:
        return {"short_channel_id": ch.short_channel_id, **params}
    chans = out.get("channels", [])
    first = chans[0] if chans else {}
    return {
        "short_channel_id": ch.short_channel_id,
        "fee_base_msat": first.get("fee_base_msat"),
        "fee_ppm": first.get("fee_proportional_millionths"),
        "htlc_minimum_msat": first.get("minimum_htlc_out_msat"),
        "htlc_maximum_msat": first.get("maximum_htlc_out_msat"),
    }


def _fees(run: Run, chans: list[ChannelState], base: int | None, ppm: int | None) -> Any:
    done = [_setchannel(run, ch, feebase=base, feeppm=ppm) for ch in chans]
    return {"channels": done, "skipped": list(run.skip)}


def set_anchor(run: Run, p: dict[str, Any]) -> Any:
    ch = run.channel(p["channel_id"])
    if "revenue-policy" in run.methods:
        run.write(
            "revenue-policy",
            action="set",
            peer_id=ch.peer_id,
            strategy="static",
            fee_ppm=p["target_fee_ppm"],
            expires_in_hours=p.get("ttl_hours"),
        )
        return {
            "via": "revenue-policy",
            "peer_id": ch.peer_id,
            "short_channel_id": ch.short_channel_id,
            "fee_ppm": p["target_fee_ppm"],
        }
    return {"via": "setchannel", **_setchannel(run, ch, feeppm=p["target_fee_ppm"])}


def set_single(run: Run, p: dict[str, Any]) -> Any:
    ch = run.channel(p["channel_id"])
    return _setchannel(run, ch, feebase=p.get("base_msat"), feeppm=p.get("fee_ppm"))


def set_bulk(run: Run, p: dict[str, Any]) -> Any:
    pol = p["policy"]
    return _fees(run, run.targets(p["channels"]), pol.get("base_msat"), pol.get("fee_ppm"))


def set_zero_fee(run: Run, p: dict[str, Any]) -> Any:
    return _setchannel(run, run.channel(p["channel_id"]), feebase=0, feeppm=0)


def set_htlc_limits(run: Run, p: dict[str, Any]) -> Any:
    refs = [p["channel_id"]] if "channel_id" in p else p.get("channels", [])
    chans = run.targets(refs)
    lo, hi = p.get("htlc_minimum_msat"), p.get("htlc_maximum_msat")
    for ch in chans:
        if hi is not None and hi > ch.capacity_sats * 1000:
            raise InvalidParams(f"htlc_maximum_msat exceeds the capacity of {ch.short_channel_id}")
    done = [_setchannel(run, ch, htlcmin=lo, htlcmax=hi) for ch in chans]
    return {"channels": done, "skipped": list(run.skip)}


def _disable(run: Run, ch: ChannelState) -> dict[str, Any]:
    saved = {"htlc_minimum_msat": ch.htlc_minimum_msat, "htlc_maximum_msat": ch.htlc_maximum_msat}
    if not run.dry_run:
        run.store.execute(
            "INSERT OR IGNORE INTO comms_saved_policies (short_channel_id, htlc_minimum_msat, "
            "htlc_maximum_msat, saved_at) VALUES (?, ?, ?, ?)",
            (ch.short_channel_id, ch.htlc_minimum_msat, ch.htlc_maximum_msat, run.now),
        )
    out = _setchannel(run, ch, htlcmax=max(ch.htlc_minimum_msat, 1))
    return {**out, "saved_policy": saved}


def _enable(run: Run, ch: ChannelState, *, required: bool) -> dict[str, Any] | None:
    row = run.store.query_one(
        "SELECT htlc_minimum_msat, htlc_maximum_msat FROM comms_saved_policies "
        "WHERE short_channel_id = ?",
        (ch.short_channel_id,),
    )
    if row is None:
        if required:
            raise InvalidParams(f"{ch.short_channel_id} was not disabled through comms")
        return None
    out = _setchannel(
        run, ch, htlcmin=int(row["htlc_minimum_msat"]), htlcmax=int(row["htlc_maximum_msat"])
    )
    if not run.dry_run:
        run.store.execute(
            "DELETE FROM comms_saved_policies WHERE short_channel_id = ?", (ch.short_channel_id,)
        )
    return out


def disable_channel(run: Run, p: dict[str, Any]) -> Any:
    return _disable(run, run.channel(p["channel_id"]))


def enable_channel(run: Run, p: dict[str, Any]) -> Any:
    return _enable(run, run.channel(p["channel_id"]), required=True)


def disable_all(run: Run, p: dict[str, Any]) -> Any:
    return {"channels": [_disable(run, ch) for ch in run.targets("all")], "skipped": list(run.skip)}


def enable_all(run: Run, p: dict[str, Any]) -> Any:
    done = [_enable(run, ch, required=False) for ch in run.targets("all")]
    return {"channels": [d for d in done if d is not None], "skipped": list(run.skip)}


def fee_spike(run: Run, p: dict[str, Any]) -> Any:
    return _fees(run, run.targets("all"), None, FEE_SPIKE_PPM)


def circular_rebalance(run: Run, p: dict[str, Any]) -> Any:
    src, dst = run.channel(p["from_channel"]), run.channel(p["to_channel"])
    if "revenue-rebalance" not in run.methods:
        raise Unsupported(
            "circular_rebalance needs cl-revenue-ops (revenue-rebalance) on this node",
            details={"reason": "revenue-rebalance is not available"},
        )
    max_fee_sats = -(-p["amount_sats"] * p["max_fee_ppm"] // 1_000_000)
    out = run.write(
        "revenue-rebalance",
        from_channel=src.short_channel_id,
        to_channel=dst.short_channel_id,
        amount_sats=p["amount_sats"],
        max_fee_sats=max_fee_sats,
    )
    return scrub(out)


def propose_channel_open(run: Run, p: dict[str, Any]) -> Any:
    return {"proposal": p, "executed": False, "note": "proposals never execute"}


def _perkb(feerate: int | None) -> str | None:
    """Catalogue feerates are sat/vB; CLN's ``perkb`` is sat per 1000 vbytes."""
    return None if feerate is None else f"{feerate * 1000}perkb"


def open_channel(run: Run, p: dict[str, Any]) -> Any:
    if "destinations" in p:
        raise Unsupported(
            "batch opens (multifundchannel) are not mapped yet",
            details={"reason": "multifundchannel is not mapped"},
        )
    peer, amount = p["peer_id"], p["amount_sats"]
    if run.banned(peer):
        raise InvalidParams(f"peer {peer} is on the comms deny list")
    if peer not in run.snapshot.connected_peers:
        raise InvalidParams(f"peer {peer} is not connected")
    if run.snapshot.onchain_confirmed_sats < amount:
        raise InvalidParams(
            f"{amount} sats exceed the confirmed on-chain funds "
            f"({run.snapshot.onchain_confirmed_sats})"
        )
    out = run.write(
        "fundchannel",
        id=peer,
        amount=amount,
        feerate=_perkb(p.get("feerate")),
        announce=p.get("announce"),
    )
    return {k: out[k] for k in ("txid", "outnum", "channel_id") if k in out}


def _close(run: Run, ref: str, **params: Any) -> dict[str, Any]:
    ch = run.channel(ref)
    out = run.write("close", id=ch.short_channel_id, **params)
    return {
        "short_channel_id": ch.short_channel_id,
        "type": out.get("type"),
        "txids": out.get("txids", []),
    }


def close_cooperative(run: Run, p: dict[str, Any]) -> Any:
    return _close(run, p["channel_id"], destination=p["destination"])


def close_unilateral(run: Run, p: dict[str, Any]) -> Any:
    return _close(run, p["channel_id"], unilateraltimeout=1)


def force_close_all(run: Run, p: dict[str, Any]) -> Any:
    chans = run.targets("all")
    return {"closed": [_close(run, c.short_channel_id, unilateraltimeout=1) for c in chans]}


def connect(run: Run, p: dict[str, Any]) -> Any:
    if run.banned(p["node_id"]):
        raise InvalidParams(f"peer {p['node_id']} is on the comms deny list")
    host, port = p.get("host"), None
    if isinstance(host, str) and host.rsplit(":", 1)[-1].isdigit() and ":" in host:
        host, port_text = host.rsplit(":", 1)
        port = int(port_text)
    out = run.write("connect", id=p["node_id"], host=host, port=port)
    return {"id": out.get("id", p["node_id"]), "direction": out.get("direction")}


def disconnect(run: Run, p: dict[str, Any]) -> Any:
    peer = p["node_id"]
    if peer not in run.snapshot.connected_peers:
        raise InvalidParams(f"peer {peer} is not connected")
    force = bool(run.snapshot.channels_with(peer)) or None
    run.write("disconnect", id=peer, force=force)
    return {"id": peer, "disconnected": True}


def ban(run: Run, p: dict[str, Any]) -> Any:
    peer = p["node_id"]
    if not run.dry_run:
        run.store.execute(
            "INSERT OR REPLACE INTO comms_banned_peers (node_id, reason, banned_at) VALUES (?, ?, ?)",
            (peer, p["reason"], run.now),
        )
    if peer in run.snapshot.connected_peers:
        run.write("disconnect", id=peer, force=True)
    return {"id": peer, "banned": True}


def create_invoice(run: Run, p: dict[str, Any]) -> Any:
    out = run.write(
        "invoice",
        amount_msat=p["amount_msat"],
        label=p["label"],
        description=p.get("description", ""),
    )
    return {k: out[k] for k in ("bolt11", "payment_hash", "expires_at") if k in out}


def _payment_result(out: dict[str, Any]) -> dict[str, Any]:
    keep = ("payment_hash", "status", "amount_msat", "amount_sent_msat", "parts", "destination")
    return {k: out[k] for k in keep if k in out}


def pay(run: Run, p: dict[str, Any]) -> Any:
    ppm, timeout = p["max_fee_ppm"], p["timeout_seconds"]
    if "bolt11" not in p:
        return keysend(run, p)
    decoded = run.read("decode", string=p["bolt11"])
    amount = p.get("amount_msat", decoded.get("amount_msat"))
    if not isinstance(amount, int):
        raise InvalidParams("the invoice has no amount: give amount_msat")
    maxfee = amount * ppm // 1_000_000
    out = run.write(
        "xpay",
        invstring=p["bolt11"],
        amount_msat=p.get("amount_msat"),
        maxfee=maxfee,
        retry_for=timeout,
    )
    return {"payment_hash": decoded.get("payment_hash"), **_payment_result(out)}


def keysend(run: Run, p: dict[str, Any]) -> Any:
    if "destination" not in p or "amount_msat" not in p:
        raise InvalidParams("keysend needs destination and amount_msat")
    out = run.write(
        "keysend",
        destination=p["destination"],
        amount_msat=p["amount_msat"],
        maxfeepercent=p["max_fee_ppm"] / 10_000,
        retry_for=p["timeout_seconds"],
    )
    return _payment_result(out)


def pay_mpp(run: Run, p: dict[str, Any]) -> Any:
    if "bolt11" not in p:
        return keysend(run, p)
    out = run.write(
        "pay",
        bolt11=p["bolt11"],
        amount_msat=p.get("amount_msat"),
        maxfeepercent=p["max_fee_ppm"] / 10_000,
        retry_for=p["timeout_seconds"],
    )
    return _payment_result(out)


def new_address(run: Run, p: dict[str, Any]) -> Any:
    return run.write("newaddr", addresstype=p.get("type", "bech32"))


def send_onchain(run: Run, p: dict[str, Any]) -> Any:
    amount = p["amount_sats"]
    if amount != "all" and run.snapshot.onchain_confirmed_sats < amount:
        raise InvalidParams("the amount exceeds the confirmed on-chain funds")
    out = run.write(
        "withdraw", destination=p["destination"], satoshi=amount, feerate=_perkb(p.get("feerate"))
    )
    return {k: out[k] for k in ("txid",) if k in out}


def plugin_ctl(subcommand: str) -> Handler:
    def handler(run: Run, p: dict[str, Any]) -> Any:
        out = run.write("plugin", subcommand=subcommand, plugin=p["name"])
        return {"plugins": [x.get("name") for x in out.get("plugins", [])]}

    return handler


def setconfig(key: str | None) -> Handler:
    def handler(run: Run, p: dict[str, Any]) -> Any:
        name = key if key is not None else p["option"]
        out = run.write("setconfig", config=name, val=p["value"])
        return out.get("config", {"config": name})

    return handler


def restart_node(run: Run, p: dict[str, Any]) -> Any:
    run.write("stop")
    return {"stopping": True}


def unsupported(reason: str) -> Handler:
    def handler(run: Run, p: dict[str, Any]) -> Any:
        raise Unsupported(reason, details={"reason": reason})

    return handler


WRITE_HANDLERS: dict[tuple[str, str], Handler] = {
    ("fee-policy", "set_anchor"): set_anchor,
    ("fee-policy", "set_single"): set_single,
    ("fee-policy", "set_bulk"): set_bulk,
    ("fee-policy", "set_zero_fee"): set_zero_fee,
    ("htlc-policy", "set_htlc_limits"): set_htlc_limits,
    ("forwarding", "disable_channel"): disable_channel,
    ("forwarding", "enable_channel"): enable_channel,
    ("forwarding", "disable_all"): disable_all,
    ("forwarding", "enable_all"): enable_all,
    ("rebalance", "circular_rebalance"): circular_rebalance,
    ("expansion", "propose_channel_open"): propose_channel_open,
    ("channel", "open"): open_channel,
    ("channel", "close_cooperative"): close_cooperative,
    ("channel", "close_unilateral"): close_unilateral,
    ("channel", "close_punitive"): close_unilateral,
    ("peer", "connect"): connect,
    ("peer", "disconnect"): disconnect,
    ("peer", "ban"): ban,
    ("payment", "create_invoice"): create_invoice,
    ("payment", "pay"): pay,
    ("payment", "keysend"): keysend,
    ("payment", "pay_mpp"): pay_mpp,
    ("wallet", "new_address"): new_address,
    ("wallet", "send_onchain"): send_onchain,
    ("wallet", "utxo_reserve"): unsupported("reserving UTXOs (PSBT RPCs) is not mapped yet"),
    ("wallet", "utxo_consolidate"): unsupported("PSBT consolidation is not mapped yet"),
    ("wallet", "bump_fee"): unsupported("CPFP fee bumps (PSBT RPCs) are not mapped yet"),
    ("plugin", "start"): plugin_ctl("start"),
    ("plugin", "stop"): plugin_ctl("stop"),
    ("plugin", "configure"): setconfig(None),
    ("config", "set_alias"): setconfig("alias"),
    ("config", "set_color"): setconfig("rgb"),
    ("config", "set_max_channel_size"): setconfig("funder-per-channel-max"),
    ("config", "set_dust_limit"): setconfig("max-dust-htlc-exposure-msat"),
    ("config", "set_network_address"): setconfig("announce-addr"),
    ("config", "toggle_tor"): unsupported("tor proxy options need a restart: not dynamic"),
    ("config", "restart_node"): restart_node,
    ("emergency", "fee_spike"): fee_spike,
    ("emergency", "disable_forwarding"): disable_all,
    ("emergency", "force_close"): close_unilateral,
    ("emergency", "force_close_all"): force_close_all,
    ("backup", "verify_backup"): unsupported("no backup files to check on this node"),
}
