"""The fleet's topology read-out (``hive-topology``, spec §5.1 in part).

From the members' own records (who each member is connected to, its external peers)
and one ``listchannels`` of the node's gossip view, it reports for every external node
some member has a channel with: which members, and the fleet's share of that node's
public capacity. A share of at least 20 % (the spec's market-share cap) marks the node
*saturated*: more fleet channels there add little. Finding *underserved* nodes (no
member channel yet) and acting on either (CLBoss ignores, expansion proposals) is the
planner's job, not built yet; this is the read-out an operator (or advisor) decides by.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from lnhive.cln.api import NodeApi

SATURATED_SHARE = 0.20


def _sat(value: object) -> int:
    if isinstance(value, int):
        return value // 1000
    if isinstance(value, str) and value.endswith("msat"):
        return int(value[:-4]) // 1000
    return 0


def readout(
    node: NodeApi,
    records: Mapping[str, Mapping[str, Any]],
    members: set[str],
    *,
    saturated_share: float = SATURATED_SHARE,
) -> dict[str, Any]:
    """``records``: member id → its latest record body (members without one are absent)."""
    reached: dict[str, set[str]] = defaultdict(set)
    for member, record in records.items():
        for peer in record.get("topology", []):
            if peer not in members:
                reached[peer].add(member)
    total: dict[str, int] = defaultdict(int)
    fleet: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for ch in node.listchannels().get("channels", []):
        scid = ch.get("short_channel_id")
        if not isinstance(scid, str) or scid in seen:
            continue  # one entry per direction: count each channel once
        seen.add(scid)
        ends = {ch.get("source"), ch.get("destination")}
        cap = _sat(ch.get("amount_msat"))
        for end in ends:
            if isinstance(end, str) and end in reached:
                total[end] += cap
                if ends & members:
                    fleet[end] += cap
    shares: dict[str, float | None] = {
        peer: round(fleet[peer] / total[peer], 4) if total[peer] else None for peer in reached
    }
    order = sorted(reached, key=lambda peer: (-len(reached[peer]), peer))
    targets = [
        {
            "peer_id": peer,
            "members": sorted(reached[peer]),
            "public_capacity_sats": total[peer],
            "fleet_capacity_sats": fleet[peer],
            "fleet_share": shares[peer],
        }
        for peer in order
    ]
    links = {m: sorted(set(r.get("hive_peers", [])) & members) for m, r in records.items()}
    return {
        "members": len(members),
        "links": links,
        "external": targets,
        "saturated": [
            peer
            for peer in order
            if (share := shares[peer]) is not None and share >= saturated_share
        ],
    }
