"""The read actions of the executor (``hive:monitor/v1`` and the other families' reads).

Results are compact and bounded (list actions default to 100 entries, at most 1,000), and
never carry secrets: preimages are dropped (:func:`~lnhive.manage.execution.scrub`).
"""

from __future__ import annotations

from typing import Any

from lnhive.manage.execution import Handler, Run, scrub
from lnhive.manage.snapshot_from_node import LIVE_STATES, channel_policy, channel_state

DEFAULT_LIMIT = 100


def _channels(run: Run) -> list[dict[str, Any]]:
    out = []
    for entry in run.read("listpeerchannels").get("channels", []):
        state = channel_state(entry)
        if state is None:
            continue
        out.append(
            {
                **channel_policy(state),
                "capacity_sats": state.capacity_sats,
                "to_us_msat": state.to_us_msat,
                "state": entry.get("state"),
                "active": state.active,
            }
        )
    return out


def health_summary(run: Run, p: dict[str, Any]) -> Any:
    info = run.read("getinfo")
    out: dict[str, Any] = {
        k: info.get(k)
        for k in ("id", "alias", "version", "blockheight", "num_peers", "num_active_channels")
    }
    if p.get("include_channels"):
        out["channels"] = _channels(run)
    if p.get("include_forwards"):
        since = run.now - p.get("hours", 24) * 3600
        fwds = run.read("listforwards", status="settled").get("forwards", [])
        recent = [f for f in fwds if f.get("received_time", 0) >= since]
        out["forwards"] = {
            "count": len(recent),
            "fee_msat": sum(int(f.get("fee_msat", 0)) for f in recent),
            "since": int(since),
        }
    return out


def channel_list(run: Run, p: dict[str, Any]) -> Any:
    return {"channels": _channels(run)}


def fee_report(run: Run, p: dict[str, Any]) -> Any:
    keys = ("short_channel_id", "peer_id", "fee_base_msat", "fee_ppm")
    return {"channels": [{k: c[k] for k in keys} for c in _channels(run)]}


def peer_list(run: Run, p: dict[str, Any]) -> Any:
    peers = run.read("listpeers").get("peers", [])
    return {
        "peers": [
            {
                "id": x.get("id"),
                "connected": x.get("connected"),
                "num_channels": x.get("num_channels"),
            }
            for x in peers
        ]
    }


def _limited(items: list[Any], p: dict[str, Any], time_key: str) -> list[Any]:
    since = p.get("since")
    if since is not None:
        items = [i for i in items if i.get(time_key, 0) >= since]
    return scrub(items[-p.get("limit", DEFAULT_LIMIT) :])  # type: ignore[no-any-return]


def htlc_snapshot(run: Run, p: dict[str, Any]) -> Any:
    out = run.read("listhtlcs", id=p.get("channel_id")).get("htlcs", [])
    return {"htlcs": scrub(out[: DEFAULT_LIMIT * 5])}


def forward_history(run: Run, p: dict[str, Any]) -> Any:
    return {"forwards": _limited(run.read("listforwards").get("forwards", []), p, "received_time")}


def invoice_list(run: Run, p: dict[str, Any]) -> Any:
    invs = run.read("listinvoices").get("invoices", [])
    keep = ("label", "status", "amount_msat", "amount_received_msat", "paid_at", "expires_at")
    trimmed = [{k: i[k] for k in (*keep, "payment_hash") if k in i} for i in invs]
    return {"invoices": _limited(trimmed, p, "expires_at")}


def payment_list(run: Run, p: dict[str, Any]) -> Any:
    return {"pays": _limited(run.read("listpays").get("pays", []), p, "created_at")}


def onchain_balance(run: Run, p: dict[str, Any]) -> Any:
    outs = run.read("listfunds").get("outputs", [])
    total: dict[str, int] = {"confirmed_sats": 0, "unconfirmed_sats": 0, "reserved_sats": 0}
    for o in outs:
        sats = int(o.get("amount_msat", 0)) // 1000
        if o.get("reserved"):
            total["reserved_sats"] += sats
        elif o.get("status") == "confirmed":
            total["confirmed_sats"] += sats
        elif o.get("status") == "unconfirmed":
            total["unconfirmed_sats"] += sats
    return {**total, "outputs": len(outs)}


def list_funds(run: Run, p: dict[str, Any]) -> Any:
    out = run.read("listfunds")
    keep = ("txid", "output", "amount_msat", "status", "reserved", "address")
    return {"outputs": [{k: o[k] for k in keep if k in o} for o in out.get("outputs", [])]}


def graph_query(run: Run, p: dict[str, Any]) -> Any:
    out: dict[str, Any] = {}
    if "node_id" in p or "short_channel_id" not in p:
        out["nodes"] = run.read("listnodes", id=p.get("node_id")).get("nodes", [])[:DEFAULT_LIMIT]
    if "short_channel_id" in p:
        chans = run.read("listchannels", short_channel_id=p["short_channel_id"])
        out["channels"] = chans.get("channels", [])
    return out


def plugin_list(run: Run, p: dict[str, Any]) -> Any:
    out = run.read("plugin", subcommand="list")
    return {
        "plugins": [
            {"name": x.get("name"), "active": x.get("active")} for x in out.get("plugins", [])
        ]
    }


def backup_status(run: Run, p: dict[str, Any]) -> Any:
    configs = run.read("listconfigs").get("configs", {})
    return {"backup_options": sorted(k for k in configs if "backup" in k)}


def config_view(run: Run, p: dict[str, Any]) -> Any:
    out = run.read("listconfigs", config=p.get("key")).get("configs", {})
    secret_like = ("rune", "secret", "password", "nsec")
    return {"configs": {k: v for k, v in out.items() if not any(s in k for s in secret_like)}}


def list_stuck(run: Run, p: dict[str, Any]) -> Any:
    stuck = []
    for entry in run.read("listpeerchannels").get("channels", []):
        if entry.get("state") not in LIVE_STATES:
            continue
        for h in entry.get("htlcs", []):
            stuck.append({"short_channel_id": entry.get("short_channel_id"), **scrub(h)})
    return {"htlcs": stuck[: DEFAULT_LIMIT * 5], "note": "in-flight HTLCs (no age from the node)"}


def inspect(run: Run, p: dict[str, Any]) -> Any:
    scid, _, index = p["htlc_id"].partition(":")
    htlcs = run.read("listhtlcs", id=scid).get("htlcs", [])
    match = [h for h in htlcs if str(h.get("id")) == index]
    return {"htlc": scrub(match[0]) if match else None}


def log_stream(run: Run, p: dict[str, Any]) -> Any:
    out = run.read("getlog", level=p.get("level", "info"))
    return {"log": out.get("log", [])[-DEFAULT_LIMIT:]}


READ_HANDLERS: dict[tuple[str, str], Handler] = {
    ("monitor", "health_summary"): health_summary,
    ("monitor", "channel_list"): channel_list,
    ("monitor", "peer_list"): peer_list,
    ("monitor", "fee_report"): fee_report,
    ("monitor", "htlc_snapshot"): htlc_snapshot,
    ("monitor", "forward_history"): forward_history,
    ("monitor", "invoice_list"): invoice_list,
    ("monitor", "payment_list"): payment_list,
    ("monitor", "onchain_balance"): onchain_balance,
    ("monitor", "graph_query"): graph_query,
    ("monitor", "plugin_status"): plugin_list,
    ("monitor", "backup_status"): backup_status,
    ("monitor", "log_stream"): log_stream,
    ("wallet", "list_funds"): list_funds,
    ("plugin", "list"): plugin_list,
    ("config", "view"): config_view,
    ("htlc-mgmt", "list_stuck"): list_stuck,
    ("htlc-mgmt", "inspect"): inspect,
}
