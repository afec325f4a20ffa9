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
