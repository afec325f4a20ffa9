"""Fleet polls through cl-hive with cl-hive-archon on three stand-in nodes (issue 6, slice 3).

a, b and c form a hive (cl-hive) and each runs cl-hive-archon. Each provisions its DID
and moves to the governance tier with a bond its own channels cover. a creates a poll
(eligible voters: the three members); each node votes through its own archon plugin;
polls and votes travel as signed archon.* envelopes (hive-broadcast -> hive-message),
and every node ends with the same tally. Refused input changes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.sim.testing import NodeFactory, TestNode, wait_for

HIVE = str(Path(lnhive.plugins.__file__).parent / "hive.py")
ARCHON = str(Path(lnhive.plugins.__file__).parent / "archon.py")
FAST = {"hive-heartbeat-interval": "1", "hive-intent-hold-seconds": "1"}


def _error(node: TestNode, method: str, params: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(RpcError) as err:
        node.rpc.call(method, params)
    out: dict[str, Any] = err.value.error
    return out


def _result(node: TestNode, poll_id: str) -> dict[str, Any]:
    out: dict[str, Any] = node.rpc.call("hive-poll-result", {"poll_id": poll_id})
    return out


def test_fleet_poll_tallies_identically_on_every_member(node_factory: NodeFactory) -> None:
    a, b, c = node_factory.get_nodes(3, plugins=[(HIVE, FAST), ARCHON])
    node_factory.open_channel(a, b, 500_000)
    node_factory.open_channel(b, a, 500_000)
    node_factory.open_channel(c, a, 500_000)
    a.rpc.call("hive-genesis", {"hive_id": "hive_polls"})
    for joiner in (b, c):
        joiner.rpc.call("hive-join", {"ticket": a.rpc.call("hive-invite")["ticket"]})
        wait_for(lambda j=joiner: j.rpc.call("hive-status")["status"] == "active")
    ids = sorted(n.id for n in (a, b, c))
    wait_for(
        lambda: all(
            sorted(m["peer_id"] for m in n.rpc.call("hive-members")["members"]) == ids
            for n in (a, b, c)
        )
    )

    # the basic tier cannot create polls; a bond below the minimum or above the balance
    # is refused
    a.rpc.call("hive-archon-provision")
    assert (
        _error(
            a,
            "hive-poll-create",
            {
                "poll_type": "expansion",
                "title": "t",
                "options_json": ["yes", "no"],
                "deadline": int(time.time()) + 60,
            },
        )["code"]
        == 22004
    )
    low = _error(a, "hive-archon-upgrade", {"target_tier": "governance", "bond_sats": 10})
    assert low["code"] == 22006 and "insufficient bond" in low["message"]
    high = _error(a, "hive-archon-upgrade", {"target_tier": "governance", "bond_sats": 10**7})
    assert "bond verification failed" in high["message"]
    for n in (a, b, c):
        n.rpc.call("hive-archon-provision")
        up = n.rpc.call("hive-archon-upgrade", {"target_tier": "governance", "bond_sats": 50_000})
        assert up["governance_tier"] == "governance" and up["local_balance_sats"] >= 50_000

    deadline = int(time.time()) + 120
    made = a.rpc.call(
        "hive-poll-create",
        {
            "poll_type": "expansion",
            "title": "Open a channel to ACINQ?",
            "options_json": '["yes","no"]',
            "deadline": deadline,
            "metadata_json": {"target": "acinq"},
        },
    )
    pid = made["poll_id"]
    assert made["scope"] == "fleet" and made["eligible"] == ids and made["sent_to"] >= 1
    for n in (b, c):
        wait_for(lambda n=n: n.rpc.call("hive-poll-list")["count"] == 1)

    b.rpc.call("hive-vote", {"poll_id": pid, "choice": "yes", "reason": "liquidity"})
    c.rpc.call("hive-vote", {"poll_id": pid, "choice": "yes"})
    a.rpc.call("hive-vote", {"poll_id": pid, "choice": "no"})

    def all_counted() -> bool:
        return all(_result(n, pid)["ballots"] == 3 for n in (a, b, c))

    wait_for(all_counted)
    results = [_result(n, pid) for n in (a, b, c)]
    assert len({r["tally_hash"] for r in results}) == 1
    assert results[0]["counts"] == {"yes": 2, "no": 1}
    assert results[0]["winner"] == "yes" and results[0]["majority"] is True
    assert results[0]["quorum_met"] is True and results[0]["outcome"] == "decided"
    status = b.rpc.call("hive-poll-status", {"poll_id": pid})
    assert status["my_vote"] == "yes" and status["poll"]["creator"] == a.id
    assert {v["voter"] for v in status["voters"]} == set(ids)

    # a second vote is refused and changes nothing anywhere
    again = _error(b, "hive-vote", {"poll_id": pid, "choice": "no"})
    assert again["code"] == 22003 and "vote already exists" in again["message"]
    bad = _error(c, "hive-vote", {"poll_id": pid, "choice": "maybe"})
    assert bad["code"] == 22001 and "valid_choices" in bad["message"]
    time.sleep(0.5)
    assert [_result(n, pid)["tally_hash"] for n in (a, b, c)] == [r["tally_hash"] for r in results]
    mine = b.rpc.call("hive-my-votes")
    assert mine["voter_id"] == b.id and [v["poll_id"] for v in mine["votes"]] == [pid]
    st = c.rpc.call("hive-archon-status")
    assert st["governance"]["governance_tier"] == "governance"
    assert st["governance"]["total_votes"] == 3


def test_archon_alone_polls_locally_and_gateway_is_off(node_factory: NodeFactory) -> None:
    a, b = node_factory.get_nodes(2, plugins=[ARCHON])
    node_factory.open_channel(a, b, 200_000)
    a.rpc.call("hive-archon-provision")
    a.rpc.call("hive-archon-upgrade", {"target_tier": "governance", "bond_sats": 60_000})
    made = a.rpc.call(
        "hive-poll-create",
        {
            "poll_type": "config_change",
            "title": "Lower fees?",
            "options_json": ["yes", "no"],
            "deadline": int(time.time()) + 60,
        },
    )
    assert made["scope"] == "local" and made["eligible"] == [a.id] and made["sent_to"] == 0
    a.rpc.call("hive-vote", {"poll_id": made["poll_id"], "choice": "spoil"})
    assert _result(a, made["poll_id"])["spoil"] == 1
    off = _error(a, "hive-archon-alias-register", {})
    assert off["code"] == 22007 and "network disabled" in off["message"]
    assert a.rpc.call("hive-archon-alias-status")["network_enabled"] is False
