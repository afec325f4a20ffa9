"""cl-revenue-ops' rebalancer through the plugin on stand-in nodes (spec §3, §6.1, §7 test 29).

l2 carries the plugin. l2 -> l1 (opened by l2: all local), l1 -> l3, l3 -> l2 (opened by l3:
nothing local), 2 M sat each: the circle l2 -> l1 -> l3 -> l2 moves 500 000 sat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.sim.testing import NodeFactory, TestNode

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "revenue_ops.py")
CAP = 2_000_000


def _circle(nf: NodeFactory, **options: str) -> tuple[TestNode, TestNode, TestNode]:
    l1 = nf.get_node()
    l2 = nf.get_node(plugins=[(PLUGIN, options)])
    l3 = nf.get_node()
    nf.open_channel(l2, l1, CAP)
    nf.open_channel(l1, l3, CAP)
    nf.open_channel(l3, l2, CAP)
    nf.wait_for_gossip([l1, l2, l3], 6)
    return l1, l2, l3


def _chan(node: TestNode, peer: TestNode) -> dict[str, Any]:
    out: dict[str, Any] = node.rpc.listpeerchannels(peer.id)["channels"][0]
    return out


def _err(node: TestNode, method: str, params: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(RpcError) as info:
        node.rpc.call(method, params)
    err: dict[str, Any] = info.value.error
    return err


def test_bad_rebalance_input_is_refused_and_changes_nothing(node_factory: NodeFactory) -> None:
    l1, l2, l3 = _circle(node_factory)
    src, dst = _chan(l2, l1)["short_channel_id"], _chan(l2, l3)["short_channel_id"]
    cases = [
        ({"from_channel": src, "to_channel": src}, 23001, "invalid_input:"),
        ({"from_channel": src, "to_channel": "9999x1x1"}, 23002, "not_found:"),
        ({"from_channel": src, "to_channel": dst, "amount_sats": 0}, 23001, "invalid_input:"),
        ({"from_channel": src, "to_channel": dst, "amount_sats": CAP + 1}, 23001, "capacity"),
        (
            {"from_channel": src, "to_channel": dst, "amount_sats": 1000, "max_fee_sats": -1},
            23001,
            "max_fee_sats must not be negative",
        ),
    ]
    for params, code, text in cases:
        err = _err(l2, "revenue-rebalance", params)
        assert err["code"] == code and text in err["message"], (params, err)
    assert _err(l2, "revenue-rebalance-cycle", {"max_candidates": 0})["code"] == 23001
    assert l2.rpc.call("revenue-budget")["active_reservations"] == []
    assert l2.rpc.listinvoices()["invoices"] == []
    assert l2.rpc.call("revenue-spend-ledger")["rebalances"] == []
    assert _chan(l2, l3)["to_us_msat"] == 0


def test_cycle_rebalances_round_the_circle(node_factory: NodeFactory) -> None:
    _l1, l2, l3 = _circle(node_factory)
    dst = _chan(l2, l3)["short_channel_id"]
    l2.rpc.setchannel(dst, feebase=0, feeppm=2000)  # worth refilling: EV ceiling ~122 sat
    debug = l2.rpc.call("revenue-rebalance-debug")
    assert [c["to_channel"] for c in debug["candidates"]] == [dst]
    out = l2.rpc.call("revenue-rebalance-cycle")
    (attempt,) = out["attempts"]
    assert attempt["status"] == "success", attempt
    assert attempt["amount_sat"] == 500_000 and 0 < attempt["fee_msat"] <= 122_000
    assert _chan(l2, l3)["to_us_msat"] == 500_000_000
    budget = l2.rpc.call("revenue-budget")
    assert budget["spent_24h_sat"] == -(-attempt["fee_msat"] // 1000)
    assert budget["active_reservations"] == []
    ledger = l2.rpc.call("revenue-spend-ledger", {"window_hours": 1})
    assert len(ledger["spend_events"]) == 1 and ledger["rebalances"][0]["status"] == "success"
    # the next cycle leaves the refilled destination alone (success cooldown)
    assert l2.rpc.call("revenue-rebalance-cycle")["attempts"] == []
    status = l2.rpc.call("revenue-status")
    assert status["loops"]["rebalance"]["interval"] == 900


def test_a_bad_rebalancer_option_disables_the_plugin(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, {"revenue-ops-rebalancer": "sling"})])
    line = node.wait_for_log("disabled itself at init")
    assert "revenue-ops-rebalancer 'sling' is not valid" in line
    node2 = node_factory.get_node(
        plugins=[(PLUGIN, {"revenue-ops-rebalance-drift-override-ratio": "1.5"})]
    )
    assert "must be from 0 to 1" in node2.wait_for_log("disabled itself at init")
