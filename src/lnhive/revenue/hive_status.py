"""``revenue-hive-status`` (spec revenue-ops §5, ARCHITECTURE §8.1): the fleet members cl-hive
has marked, and what that means for their channels.

In v1 the whole interface is ``revenue-policy action=set peer_id=… strategy=hive`` (and
``action=delete`` when a member leaves), so ``mode`` is ``policy``: a member's channels get
the fee ``hive-fee-ppm`` every fee cycle (no market logic, no close recommendations), and a
rebalance into one may expect a loss up to ``hive-rebalance-tolerance`` sat. An ignored or
banned member is left alone like any listed peer. The advisory calls to cl-hive (fee
intelligence, conflicts, pool revenue) and their circuit breaker are not built: ``bridge`` is
null and ``features`` lists only what applies. ``cl_hive_available`` says whether the node
answers ``hive-status`` (its ``tier``/``status`` is shown when it does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.revenue.policy import PolicyService, Strategy

FEATURES = ("hive_fee_ppm", "hive_rebalance_tolerance", "no_close_recommendations")


def cl_hive(node: NodeApi) -> tuple[bool, str | None]:
    """(available, tier) from cl-hive's ``hive-status``; unavailable if the call fails."""
    try:
        answer = node.call("hive-status", {})
    except Exception:  # not loaded, or not answering: the adapter runs on policies alone
        return False, None
    tier = answer.get("tier", answer.get("status")) if isinstance(answer, dict) else None
    return True, None if tier is None else str(tier)


def hive_status(
    node: NodeApi,
    policies: PolicyService,
    listed: Callable[[str], str | None],
    *,
    now: float,
    hive_fee_ppm: int,
    hive_rebalance_tolerance: int,
) -> dict[str, Any]:
    available, tier = cl_hive(node)
    members = [p for p in policies.store.list_policies() if p.strategy == Strategy.HIVE.value]
    channels: dict[str, list[str]] = {}
    for ch in node.listpeerchannels().get("channels", []):
        scid, peer = ch.get("short_channel_id"), ch.get("peer_id")
        if isinstance(scid, str) and isinstance(peer, str):
            channels.setdefault(peer, []).append(scid)
    rows = []
    for p in members:
        level = listed(p.peer_id)
        expired = p.expires_at is not None and now >= p.expires_at
        rows.append(
            {
                "peer_id": p.peer_id,
                "channels": sorted(channels.get(p.peer_id, [])),
                "since": p.updated_at,
                "expires_at": p.expires_at,
                "treatment": (
                    f"{level}: left alone"
                    if level
                    else "expired: back to dynamic"
                    if expired
                    else f"fee held at {hive_fee_ppm} ppm; rebalance loss up to "
                    f"{hive_rebalance_tolerance} sat accepted"
                ),
            }
        )
    return {
        "mode": "policy",
        "cl_hive_available": available,
        "tier": tier,
        "features": list(FEATURES),
        "bridge": None,
        "hive_fee_ppm": hive_fee_ppm,
        "hive_rebalance_tolerance": hive_rebalance_tolerance,
        "members": rows,
        "count": len(rows),
    }
