"""cl-hive as a real plugin subprocess on three stand-in nodes (issue 4, slice 1).

a founds a hive; b joins with an invitation ticket, c by its channel with a. The
handshake, the signed WELCOME and the roster travel as custom messages of type 34865
through the stand-in, and every node's ``hive-members`` ends up identical.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.fleet.hive import DEFAULT_DB_NAME
from lnhive.sim.testing import NodeFactory, TestNode, wait_for

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "hive.py")


def _members(node: TestNode) -> list[tuple[str, str]]:
    out: dict[str, Any] = node.rpc.call("hive-members")
    return [(m["peer_id"], m["tier"]) for m in out["members"]]


def test_three_nodes_form_a_hive_and_agree(node_factory: NodeFactory) -> None:
    a, b, c = node_factory.get_nodes(3, plugins=[PLUGIN])
    node_factory.open_channel(a, b)
    node_factory.open_channel(c, a)

    assert a.rpc.call("hive-status")["status"] == "genesis_required"
    genesis = a.rpc.call("hive-genesis", {"hive_id": "hive_e2e"})
    assert genesis["status"] == "genesis_complete"
    assert genesis["admin_pubkey"] == a.id

    ticket = a.rpc.call("hive-invite", {"valid_hours": 2})["ticket"]
    assert b.rpc.call("hive-join", {"ticket": ticket})["status"] == "join_requested"
    wait_for(lambda: b.rpc.call("hive-status")["status"] == "active")

    assert c.rpc.call("hive-join", {"peer_id": a.id})["via"] == "channel"
    wait_for(lambda: c.rpc.call("hive-status")["status"] == "active")

    expected = {a.id: "member", b.id: "neophyte", c.id: "neophyte"}
    wait_for(lambda: all(dict(_members(n)) == expected for n in (a, b, c)))
    assert _members(a) == _members(b) == _members(c)
    hashes = {n.rpc.call("hive-status")["membership_hash"] for n in (a, b, c)}
    assert len(hashes) == 1
    wait_for(lambda: a.rpc.call("hive-status")["outbox"]["pending"] == 0)

    db = Path(a.sim.network_dir) / DEFAULT_DB_NAME
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


def test_operator_errors_are_json_rpc_errors_in_the_hive_range(node_factory: NodeFactory) -> None:
    (a,) = node_factory.get_nodes(1, plugins=[PLUGIN])
    with pytest.raises(RpcError) as err:
        a.rpc.call("hive-invite")
    assert err.value.error["code"] == 20003
    assert err.value.error["message"].startswith("conflict: this node is not in a hive")
    a.rpc.call("hive-genesis")
    with pytest.raises(RpcError) as err:
        a.rpc.call("hive-genesis")
    assert err.value.error["code"] == 20003
    with pytest.raises(RpcError) as err:
        a.rpc.call("hive-invite", {"valid_hours": 0})
    assert err.value.error["code"] == 20001
    assert "valid_hours" in err.value.error["message"]


def test_bad_option_disables_the_plugin_and_the_node_carries_on(
    node_factory: NodeFactory,
) -> None:
    (a,) = node_factory.get_nodes(1, plugins=[(PLUGIN, {"hive-join-policy": "anyone"})])
    a.wait_for_log("hive-join-policy must be one of")
    assert a.rpc.getinfo()["id"] == a.id


FAST = {"hive-heartbeat-interval": "1", "hive-intent-hold-seconds": "1"}
"""Short intervals: allowed because node_factory's nodes run in developer mode."""


def test_state_gossip_converges_and_an_intent_opens_one_channel(
    node_factory: NodeFactory,
) -> None:
    a, b, c = node_factory.get_nodes(3, plugins=[(PLUGIN, FAST)])
    x = node_factory.get_node()
    node_factory.open_channel(a, b)
    node_factory.open_channel(a, c)
    a.rpc.call("hive-genesis")
    for joiner in (b, c):
        joiner.rpc.call("hive-join", {"ticket": a.rpc.call("hive-invite")["ticket"]})
        wait_for(lambda j=joiner: j.rpc.call("hive-status")["status"] == "active")

    def converged() -> bool:
        views = [n.rpc.call("hive-members")["members"] for n in (a, b, c)]
        if not all(m["state"] is not None for view in views for m in view):
            return False
        return len({n.rpc.call("hive-status")["fleet_hash"] for n in (a, b, c)}) == 1

    wait_for(converged)

    def a_capacity_seen_by_b() -> int:
        view = {m["peer_id"]: m["state"] for m in b.rpc.call("hive-members")["members"]}
        return int(view[a.id]["capacity_sats"])

    # a's first record predates b and c; its channels to them count once they are members
    # (the next gossip comes at least 10 s after the previous one)
    wait_for(lambda: a_capacity_seen_by_b() == 2_000_000, timeout=40)

    # b and c race for a channel to x; exactly one opens
    for n in (b, c):
        n.rpc.call("dev-sim-fundwallet", {"satoshi": 5_000_000})
        n.rpc.connect(x.id)
    node_factory.mine(1)
    actions = [
        n.rpc.call("hive-open-channel", {"peer_id": x.id, "amount_sats": 500_000}) for n in (b, c)
    ]
    assert all(a["status"] == "pending" for a in actions)  # advisor mode: waits for approval
    for n, action in zip((b, c), actions, strict=True):
        approved = n.rpc.call("hive-approve-action", {"action_id": action["id"]})
        assert approved["actions"][0]["status"] == "approved"
    wait_for(lambda: len(x.rpc.listpeerchannels()["channels"]) == 1)
    winner = min(b.id, c.id)
    assert x.rpc.listpeerchannels()["channels"][0]["peer_id"] == winner

    def settled() -> bool:
        statuses = {
            i["id"]: i["status"]
            for n in (a, b, c)
            for i in n.rpc.call("hive-intent-status")["intents"]
        }
        return sorted(statuses.values()) == ["aborted", "executed"] or (
            "executed" in statuses.values() and "pending" not in statuses.values()
        )

    wait_for(settled)
    assert len(x.rpc.listpeerchannels()["channels"]) == 1


REVENUE = str(Path(lnhive.plugins.__file__).parent / "revenue_ops.py")
WATCHER = str(Path(__file__).parent.parent / "plugins" / "watcher.py")


def _policy(node: TestNode, peer: str) -> dict[str, Any] | None:
    got: dict[str, Any] = node.rpc.call("revenue-policy", {"action": "get", "peer_id": peer})
    policy = got.get("policy")
    return policy if isinstance(policy, dict) else None


def test_members_are_marked_in_revenue_ops_and_archon_messages_are_carried(
    node_factory: NodeFactory,
) -> None:
    a = node_factory.get_node(plugins=[(PLUGIN, FAST), REVENUE])
    b = node_factory.get_node(plugins=[(PLUGIN, FAST), REVENUE, WATCHER])
    node_factory.open_channel(a, b)
    a.rpc.call("hive-genesis")
    b.rpc.call("hive-join", {"ticket": a.rpc.call("hive-invite")["ticket"]})
    wait_for(lambda: b.rpc.call("hive-status")["status"] == "active")

    # cl-hive found cl-revenue-ops by its command and marked the other member
    wait_for(lambda: (_policy(a, b.id) or {}).get("strategy") == "hive")
    wait_for(lambda: (_policy(b, a.id) or {}).get("strategy") == "hive")

    # an archon.* envelope from a reaches b's plugins as the hive-message notification
    sent = a.rpc.call("hive-broadcast", {"type": "archon.poll", "body": {"q": "expand?"}})
    assert sent["sent_to"] == 1

    def carried() -> list[dict[str, Any]]:
        # a custom notification's params arrive verbatim ({"envelope", "from"}); the
        # watcher names what it sees on "*" by the first key
        items = b.rpc.call("watch-seen", {"kind": "notifications", "name": "envelope"})
        return list(items["items"])

    wait_for(lambda: len(carried()) == 1)
    message = carried()[0]["payload"]
    assert message["from"] == a.id
    assert message["envelope"]["type"] == "archon.poll"
    assert message["envelope"]["body"] == {"q": "expand?"}

    # b leaves: a forgets it and its policy is deleted on both sides
    b.rpc.call("hive-leave", {"reason": "test"})
    wait_for(lambda: b.id not in {m["peer_id"] for m in a.rpc.call("hive-members")["members"]})
    wait_for(lambda: _policy(a, b.id) is None or _policy(a, b.id)["strategy"] != "hive")
    assert _policy(b, a.id) is None or _policy(b, a.id)["strategy"] != "hive"


def test_promotion_ban_by_vote_and_leave_across_plugin_processes(
    node_factory: NodeFactory,
) -> None:
    """Spec §8 tests 16, 21, 22 with real plugin processes: a, b, c become members, d is
    banned by two of them (eligible 3 -> 2 approvals), e leaves."""
    a, b, c, d, e = node_factory.get_nodes(5, plugins=[(PLUGIN, FAST)])
    for n in (b, c, d, e):
        node_factory.open_channel(a, n)
    a.rpc.call("hive-genesis", {"hive_id": "hive_gov"})
    for n in (b, c, d, e):
        n.rpc.call("hive-join", {"peer_id": a.id})
        wait_for(lambda n=n: n.rpc.call("hive-status")["status"] == "active")
    for n in (b, c):
        a.rpc.call("hive-force-promote", {"peer_id": n.id})

    def tiers(node: TestNode) -> dict[str, str]:
        return {m["peer_id"]: m["tier"] for m in node.rpc.call("hive-members")["members"]}

    wait_for(lambda: all(tiers(n).get(c.id) == "member" for n in (a, b, c, d, e)))

    proposal = a.rpc.call("hive-propose-ban", {"peer_id": d.id, "reason": "test"})
    assert proposal["needed"] == 2 and proposal["eligible"] == 3
    wait_for(
        lambda: any(
            p["proposal_id"] == proposal["proposal_id"]
            for p in b.rpc.call("hive-pending-bans")["proposals"]
        )
    )
    b.rpc.call("hive-vote-ban", {"proposal_id": proposal["proposal_id"], "vote": "approve"})
    wait_for(lambda: all(d.id not in tiers(n) for n in (a, b, c, e)))
    assert d.rpc.call("hive-status")["status"] == "banned"
    with pytest.raises(RpcError) as late:
        c.rpc.call("hive-vote-ban", {"proposal_id": proposal["proposal_id"], "vote": "approve"})
    assert late.value.error["code"] == 20003  # the ballot is closed

    e.rpc.call("hive-leave", {"reason": "moving on"})
    wait_for(lambda: all(e.id not in tiers(n) for n in (a, b, c)))
    hashes = {n.rpc.call("hive-status")["membership_hash"] for n in (a, b, c)}
    assert len(hashes) == 1
