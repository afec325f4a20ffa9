"""The rebalancer's operator calls: a manual rebalance and the debug view (spec §6.1).

``revenue-rebalance from_channel to_channel [amount_sats] [max_fee_sats] [force]`` checks
its input before touching anything (same channel, unknown channel, amount <= 0 or above
the source's capacity, negative fee cap, channels of the same peer → ``invalid_input`` /
``not_found``), then refuses below the wallet reserve (``policy_blocked: wallet_reserve``)
and, without ``force``, a ``rebalance_mode`` that forbids the direction. Without
``amount_sats`` it moves min(chunk, what brings either channel to 50 %). The fee cap is
``max_fee_sats`` (default: the pair budget), further capped by the EV ceiling unless
``force``. A refused budget reservation is reported as ``skipped`` like in the cycle.
"""

from __future__ import annotations

from typing import Any

from lnhive.core.errors import InvalidInput, NotFound, PolicyBlocked
from lnhive.revenue import backoff
from lnhive.revenue.policy import RebalanceMode
from lnhive.revenue.rebalance_select import Candidate, SelectConfig, score, select
from lnhive.revenue.rebalance_view import NodeView
from lnhive.revenue.rebalancer import Rebalancer


def _opt_int(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    return value


def _scid(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} must be a short channel id, got {value!r}")
    return value.replace(":", "x")


def parse_request(
    from_channel: object, to_channel: object, amount_sats: object, max_fee_sats: object
) -> tuple[str, str, int | None, int | None]:
    """Checks that need no node: types, same channel, signs."""
    src, dst = _scid("from_channel", from_channel), _scid("to_channel", to_channel)
    if src == dst:
        raise InvalidInput("from_channel and to_channel must differ")
    amount = _opt_int("amount_sats", amount_sats)
    if amount is not None and amount <= 0:
        raise InvalidInput(f"amount_sats must be positive, got {amount}")
    fee = _opt_int("max_fee_sats", max_fee_sats)
    if fee is not None and fee < 0:
        raise InvalidInput(f"max_fee_sats must not be negative, got {fee}")
    return src, dst, amount, fee


def manual_rebalance(
    rb: Rebalancer,
    from_channel: object,
    to_channel: object,
    amount_sats: object = None,
    max_fee_sats: object = None,
    force: bool = False,
) -> dict[str, Any]:
    src_id, dst_id, amount, max_fee = parse_request(
        from_channel, to_channel, amount_sats, max_fee_sats
    )
    with rb.single_flight():
        view = rb.view()
        src, dst = view.channel(src_id), view.channel(dst_id)
        for name, scid, ch in (("from_channel", src_id, src), ("to_channel", dst_id, dst)):
            if ch is None:
                raise NotFound(f"{name} {scid} is not one of our normal channels")
        assert src is not None and dst is not None
        if amount is not None and amount > src.capacity_sat:
            raise InvalidInput(
                f"amount_sats {amount} exceeds {src_id}'s capacity of {src.capacity_sat} sat"
            )
        if src.peer_id == dst.peer_id:
            raise InvalidInput("from_channel and to_channel belong to the same peer")
        for scid, ch in ((src_id, src), (dst_id, dst)):
            if ch.peer_id in rb.banned():
                raise PolicyBlocked(
                    f"banned_peer: {scid}'s peer {ch.peer_id} is banned (revenue-unban it first)"
                )
        if view.wallet_sat < rb.config.min_wallet_reserve:
            raise PolicyBlocked(
                f"wallet_reserve: on-chain + spendable {view.wallet_sat} sat is below "
                f"min-wallet-reserve {rb.config.min_wallet_reserve} sat"
            )
        if not force:
            if src.rebalance_mode in (RebalanceMode.DISABLED, RebalanceMode.SINK_ONLY):
                raise PolicyBlocked(f"{src_id}'s peer policy is rebalance {src.rebalance_mode}")
            if dst.rebalance_mode in (RebalanceMode.DISABLED, RebalanceMode.SOURCE_ONLY):
                raise PolicyBlocked(f"{dst_id}'s peer policy is rebalance {dst.rebalance_mode}")
        if amount is None:
            half_src = src.local_sat - src.capacity_sat // 2
            half_dst = dst.capacity_sat // 2 - dst.local_sat
            amount = min(rb.config.rebalance_chunk_sats, half_src, half_dst)
            if amount <= 0:
                raise InvalidInput("give amount_sats: neither channel is off balance")
        cand = Candidate(src, dst, amount, score(src, dst))
        max_fee_msat = None if max_fee is None else max_fee * 1000
        return rb.execute(cand, view, manual=True, max_fee_msat=max_fee_msat, force=force)


def _backoff_state(rb: Rebalancer, view: NodeView, scid: str) -> dict[str, Any]:
    now = rb.clock.now()
    ch = view.channel(scid)
    out: dict[str, Any] = {"channel_id": scid}
    if ch is None:
        return out
    fails = rb.journal.peer_failures(ch.peer_id, now - backoff.DEST_WINDOW_S)
    out["dest_failures_48h"] = [{"kind": f.kind, "timestamp": f.timestamp} for f in fails]
    out["dest_futile"] = backoff.dest_futile(fails, now)
    last = rb.journal.last_success(scid)
    out["last_success"] = None if last is None else last.__dict__
    return out


def debug(
    rb: Rebalancer,
    channel_id: str | None = None,
    peer_id: str | None = None,
    summary_only: bool = False,
) -> dict[str, Any]:
    """Selection with every rejection, EV decomposition per candidate, budget, backoff."""
    for name, value in (("channel_id", channel_id), ("peer_id", peer_id)):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string, got {value!r}")
    now = rb.clock.now()
    view = rb.view()
    if channel_id is not None and view.channel(channel_id) is None:
        raise NotFound(f"channel {channel_id} is not one of our normal channels")
    sel = select(
        view.channels,
        SelectConfig(
            chunk_sats=rb.config.rebalance_chunk_sats,
            min_amount_sats=rb.config.rebalance_min_amount,
            max_candidates=1000,
        ),
        rb.blocked(view),
    )

    def wanted(*ids: str | None) -> bool:
        chans = [view.channel(i) for i in ids if i is not None]
        if channel_id is not None and channel_id not in ids:
            return False
        return peer_id is None or any(c is not None and c.peer_id == peer_id for c in chans)

    cands = [c for c in sel.candidates if wanted(c.source.channel_id, c.dest.channel_id)]
    rejections = [r for r in sel.rejections if wanted(r["channel_id"], r.get("other_channel"))]
    out: dict[str, Any] = {
        "refusal": rb.refusal(view),
        "wallet_sat": view.wallet_sat,
        "budget": rb.budget.summary(now),
        "candidates": len(cands),
        "rejections": len(rejections),
        "pending": len(rb.journal.pending()),
    }
    if summary_only:
        return out
    out["candidates"] = [
        {**c.to_json(), "ev": rb.evaluate(c, view, c.amount_sat).to_json()} for c in cands
    ]
    out["rejections"] = rejections
    out["channels"] = [
        {
            "channel_id": c.channel_id,
            "peer_id": c.peer_id,
            "local_ratio": round(c.local_ratio, 4),
            "flow_class": c.flow_class.value,
            "rebalance_mode": c.rebalance_mode.value,
            "in_flight": c.in_flight,
            "value": c.value,
            "coupling": c.coupling.to_json(),
        }
        for c in view.channels
        if wanted(c.channel_id)
    ]
    if channel_id is not None:
        out["backoff"] = _backoff_state(rb, view, channel_id)
    out["recent"] = rb.journal.history(limit=20)
    return out
