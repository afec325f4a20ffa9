"""cl-revenue-ops' profitability RPCs through a real plugin subprocess on stand-in nodes
(spec revenue-ops §4, §6.1): a forward through l2 shows up as earnings of its exit channel
and as sourced fees of its entry channel; bad input is a JSON-RPC error in 23000-23999."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.sim.testing import NodeFactory, wait_for

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "revenue_ops.py")
FAST = {"revenue-ops-flow-interval": "1", "revenue-ops-fee-interval": "1"}


def test_profitability_and_report_after_a_forward(node_factory: NodeFactory) -> None:
    l1 = node_factory.get_node()
    l2 = node_factory.get_node(plugins=[(PLUGIN, FAST)])
    l3 = node_factory.get_node()
    node_factory.join_nodes([l1, l2, l3])
    inv = l3.rpc.invoice(100_000_000, "profit", "revenue-ops profitability")
    assert l1.rpc.pay(inv["bolt11"])["status"] == "complete"
    wait_for(lambda: l2.rpc.call("revenue-status")["forwards"]["count"] == 1)
    out_scid = l2.rpc.listpeerchannels(l3.id)["channels"][0]["short_channel_id"]
    in_scid = l2.rpc.listpeerchannels(l1.id)["channels"][0]["short_channel_id"]
    fee_sat = -(-l2.rpc.call("revenue-status")["forwards"]["fee_msat"] // 1000)

    prof = l2.rpc.call("revenue-profitability", {"refresh": True})
    chans = {c["channel_id"]: c for c in prof["channels"]}
    assert chans[out_scid]["revenue"]["fees_earned_sats"] == fee_sat > 0
    assert chans[in_scid]["revenue"]["sourced_fee_contribution_sats"] == fee_sat
    # l2 opened its channel to l3 (join_nodes opens left to right): the estimated open cost
    assert chans[out_scid]["costs"]["open_sats"] == 5000
    assert chans[in_scid]["costs"]["open_source"] == "remote_opener"
    assert prof["refreshed"] is True and prof["lifetime"]["revenue_sats"] == fee_sat
    one = l2.rpc.call("revenue-profitability", {"channel_id": out_scid})
    assert [c["channel_id"] for c in one["channels"]] == [out_scid]

    report = l2.rpc.call("revenue-report")
    assert report["view"] == "summary" and report["count"] == 2
    assert "Last 30 days: earned" in report["summary"] and out_scid in report["summary"]
    bleeders = l2.rpc.call("revenue-report", {"report_type": "bleeders"})
    assert bleeders["count"] == 0 and "No bleeders." in bleeders["summary"]
    peer = l2.rpc.call("revenue-report", {"report_type": "peer", "peer_id": l3.id})
    assert [r["channel_id"] for r in peer["channels"]] == [out_scid]
    cap = l2.rpc.call("revenue-capacity-report")
    assert cap["mempool_recommendation"] in ("PROCEED", "HOLD")


@pytest.mark.parametrize(
    ("method", "params", "code", "prefix"),
    [
        ("revenue-profitability", {"channel_id": "999x9x9"}, 23002, "not_found:"),
        ("revenue-profitability", {"refresh": "maybe"}, 23001, "invalid_input:"),
        ("revenue-report", {"report_type": "weekly"}, 23001, "invalid_input:"),
        ("revenue-report", {"report_type": "peer"}, 23001, "invalid_input:"),
    ],
)
def test_profitability_bad_input(
    node_factory: NodeFactory, method: str, params: dict[str, object], code: int, prefix: str
) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, FAST)])
    with pytest.raises(RpcError) as info:
        node.rpc.call(method, params)
    assert info.value.error["code"] == code
    assert info.value.error["message"].startswith(prefix)
