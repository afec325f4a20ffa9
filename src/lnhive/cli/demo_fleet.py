"""The demo's fleet scene: five nodes form a hive, share state, and settle a conflict.

On the running demo network, cl-hive (the real plugin, started with ``plugin start``
as an operator would) is loaded on five nodes. The first founds a hive; the node it
shares a channel with joins by that channel, the others connect and join with
invitation tickets. Every member then gossips its state record until all five agree
on the roster and the records (equal membership and fleet hashes). Two members
announce a channel to the same outside node at the same moment: the intent lock lets
only one of them open it. The scene prints the fleet as one member sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyln.client import LightningRpc
from rich.console import Console
from rich.table import Table

import lnhive.plugins
from lnhive.sim.testing import wait_for

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "hive.py")
OPTIONS = {"hive-heartbeat-interval": 1, "hive-intent-hold-seconds": 2}
"""Short intervals so the scene takes seconds (the demo's nodes run in developer mode)."""
CHANNEL_SAT = 500_000

Check = tuple[str, bool]


def run_scene(
    console: Console,
    rpcs: dict[str, LightningRpc],
    members: Sequence[str],
    outsider: str,
    mine: Callable[[int], object],
) -> list[Check]:
    """Run the scene on ``members`` (five node names, the first founds the hive) with
    ``outsider`` as the contested channel target; return the checks."""
    ids = {name: str(rpcs[name].getinfo()["id"]) for name in [*members, outsider]}
    names = {node_id: name for name, node_id in ids.items()}
    founder, *joiners = members
    checks: list[Check] = []
    with console.status("fleet: starting cl-hive on five nodes, forming the hive…"):
        for name in members:
            rpcs[name].call("plugin", {"subcommand": "start", "plugin": PLUGIN, **OPTIONS})
        rpcs[founder].call("hive-genesis", {"hive_id": "hive_demo"})
        for name in joiners:
            _join(rpcs, founder, name, ids)
        formed = _waited(lambda: all(_status(rpcs[n])["status"] == "active" for n in members))
    checks.append((f"fleet of {len(members)} formed (1 by channel, the rest by ticket)", formed))

    with console.status("fleet: sharing state until every member agrees…"):
        agreed = _waited(lambda: _agree(rpcs, members), timeout=60)
    checks.append(("every member sees the same roster and state records", agreed))

    with console.status("fleet: two members race to open a channel to the same node…"):
        rivals = [joiners[0], joiners[2]]
        before = len(rpcs[outsider].listpeerchannels()["channels"])
        for name in rivals:
            rpcs[name].call("dev-sim-fundwallet", {"satoshi": 5_000_000})
            rpcs[name].connect(ids[outsider])
        mine(1)
        # each operator proposes the channel (advisor mode queues it), then approves it
        proposals = {
            name: rpcs[name].call(
                "hive-open-channel", {"peer_id": ids[outsider], "amount_sats": CHANNEL_SAT}
            )["id"]
            for name in rivals
        }
        for name in rivals:
            rpcs[name].call("hive-approve-action", {"action_id": proposals[name]})
        opened = _waited(
            lambda: len(rpcs[outsider].listpeerchannels()["channels"]) == before + 1, timeout=30
        )
        time.sleep(1.0)  # anything that would open a second channel has had its chance
        channels = rpcs[outsider].listpeerchannels()["channels"]
        winner = min(ids[n] for n in rivals)
        new = [c for c in channels if c["peer_id"] in {ids[n] for n in rivals}]
    one = opened and len(channels) == before + 1 and [c["peer_id"] for c in new] == [winner]
    checks.append(
        (
            f"{rivals[0]} and {rivals[1]} both announced a channel to {outsider}: "
            f"only {names[winner]} (lower pubkey) opened it",
            one,
        )
    )
    _print_fleet(console, rpcs[founder], names)
    return checks


def _join(rpcs: dict[str, LightningRpc], founder: str, name: str, ids: dict[str, str]) -> None:
    peers = {p["peer_id"] for p in rpcs[name].listpeerchannels()["channels"]}
    if ids[founder] in peers:
        rpcs[name].call("hive-join", {"peer_id": ids[founder]})
        return
    rpcs[name].connect(ids[founder])
    ticket = rpcs[founder].call("hive-invite", {"valid_hours": 1})["ticket"]
    rpcs[name].call("hive-join", {"ticket": ticket})


def _status(rpc: LightningRpc) -> dict[str, Any]:
    out: dict[str, Any] = rpc.call("hive-status")
    return out


def _agree(rpcs: dict[str, LightningRpc], members: Sequence[str]) -> bool:
    statuses = [_status(rpcs[n]) for n in members]
    if len({(s["membership_hash"], s["fleet_hash"]) for s in statuses}) != 1:
        return False
    views = rpcs[members[0]].call("hive-members")["members"]
    if len(views) != len(members) or any(m["state"] is None for m in views):
        return False
    # every record was made after the last admission, so it counts all the members
    last_join = max(m["joined_at"] for m in views)
    return all(m["state"]["updated_at"] > last_join for m in views)


def _waited(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    try:
        wait_for(predicate, timeout=timeout, interval=0.2)
    except TimeoutError:
        return False
    return True


def _print_fleet(console: Console, rpc: LightningRpc, names: dict[str, str]) -> None:
    status = _status(rpc)
    table = Table(
        title=f"hive {status['hive_id']} as {names.get(status['our_pubkey'], '?')} sees it "
        f"(membership {status['membership_hash'][:8]}…, state {status['fleet_hash'][:8]}…)"
    )
    for col in (
        "member",
        "tier",
        "joined by",
        "channels",
        "to members (sat)",
        "fee ppm",
        "version",
    ):
        table.add_column(col, justify="right" if col not in ("member", "tier") else "left")
    for m in rpc.call("hive-members")["members"]:
        st = m["state"] or {}
        table.add_row(
            names.get(m["peer_id"], m["peer_id"][:12]),
            m["tier"],
            names.get(m["admitted_by"], m["admitted_by"][:12]),
            str(st.get("channel_count", "-")),
            f"{st.get('capacity_sats', 0):,}",
            str(st.get("fee_policy", {}).get("fee_rate", "-")),
            str(st.get("version", "-")),
        )
    console.print(table)
    intents = rpc.call("hive-intent-status")["intents"]
    for i in intents:
        console.print(
            f"intent {i['intent_type']} to {names.get(i['target'], i['target'][:12])} "
            f"by {names.get(i['initiator'], i['initiator'][:12])}: {i['status']}"
            + (f" ({i['reason']})" if i["reason"] else "")
        )
