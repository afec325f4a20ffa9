"""The network behind the sockets: channels, payments, forwards, hooks, notifications,
custom messages (spec cln-interface conformance 9-11, 13-16)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

from lnhive.sim.testing import NodeFactory, TestNode, wait_for
from tests.schemas import (
    requires_schemas,
    validate_hook_request,
    validate_notification,
    validate_response,
)

PLUGINS = Path(__file__).parent.parent / "plugins"
WATCHER = str(PLUGINS / "watcher.py")
ECHO = str(Path(__file__).parents[2] / "src/lnhive/sim/plugins/echo.py")


def seen(node: TestNode, kind: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = node.rpc.call("watch-seen", {"kind": kind, "name": name})["items"]
    return items


def test_payment_through_a_line_fires_hooks_forwards_and_notifications(
    node_factory: NodeFactory,
) -> None:
    l1, l2, l3 = node_factory.line_graph(3, plugins=[WATCHER])
    l2.rpc.setchannel(l3.id, feebase=1000, feeppm=500, enforcedelay=0)
    node_factory.wait_for_gossip([l1], 4)
    wait_for(
        lambda: any(
            c["fee_per_millionth"] == 500 for c in l1.rpc.listchannels(source=l2.id)["channels"]
        ),
        10,
    )
    inv = l3.rpc.invoice(123_456_000, "lbl", "a payment")
    paid = l1.rpc.call("xpay", {"invstring": inv["bolt11"]})
    assert paid["amount_msat"] == 123_456_000
    fee = 1000 + 123_456_000 * 500 // 1_000_000
    assert paid["amount_sent_msat"] == 123_456_000 + fee
    # htlc_accepted ran at the forwarding node and at the payee.
    assert len(seen(l2, "hooks", "htlc_accepted")) == 1
    assert len(seen(l3, "hooks", "htlc_accepted")) == 1
    assert seen(l3, "hooks", "invoice_payment")[0]["payload"]["payment"]["label"] == "lbl"
    # forward_event offered then settled, with fee = in - out.
    events = wait_for(
        lambda: (
            [e for e in seen(l2, "notifications", "forward_event")]
            if len(seen(l2, "notifications", "forward_event")) >= 2
            else None
        )
    )
    statuses = [e["payload"]["forward_event"]["status"] for e in events]
    assert statuses == ["offered", "settled"]
    settled = events[1]["payload"]["forward_event"]
    assert settled["fee_msat"] == settled["in_msat"] - settled["out_msat"] == fee
    forwards = l2.rpc.listforwards(status="settled")["forwards"]
    assert len(forwards) == 1 and forwards[0]["fee_msat"] == fee
    # Balances agree with the payment.
    out_chan = l2.rpc.listpeerchannels(l3.id)["channels"][0]
    assert out_chan["to_us_msat"] == 1_000_000_000 - 123_456_000
    assert l3.rpc.listinvoices("lbl")["invoices"][0]["status"] == "paid"


def test_htlc_fail_result_fails_the_payment_and_records_local_failed(
    node_factory: NodeFactory,
) -> None:
    l1, l2, l3 = node_factory.line_graph(3, plugins=[WATCHER])
    l2.rpc.setconfig("watch-htlc", "fail")
    inv = l3.rpc.invoice(50_000, "x", "d")
    with pytest.raises(RpcError) as err:
        l1.rpc.call("xpay", {"invstring": inv["bolt11"]})
    assert err.value.error["code"] in (203, 204, 205, 219)
    failed = l2.rpc.listforwards(status="local_failed")["forwards"]
    assert len(failed) >= 1
    assert l3.rpc.listinvoices("x")["invoices"][0]["status"] == "unpaid"


def test_setchannel_is_visible_locally_at_once_and_to_others_after_gossip(
    node_factory: NodeFactory,
) -> None:
    l1, l2 = node_factory.line_graph(2)
    scid = l1.rpc.listpeerchannels()["channels"][0]["short_channel_id"]
    l1.rpc.setchannel(scid, feebase=7, feeppm=77)
    local = l1.rpc.listpeerchannels()["channels"][0]["updates"]["local"]
    assert (local["fee_base_msat"], local["fee_proportional_millionths"]) == (7, 77)
    wait_for(
        lambda: any(
            c["fee_per_millionth"] == 77 and c["base_fee_millisatoshi"] == 7
            for c in l2.rpc.listchannels(scid)["channels"]
            if c["source"] == l1.id
        ),
        10,
    )


def test_peer_connected_hooks_run_and_disconnect_refuses(node_factory: NodeFactory) -> None:
    l1 = node_factory.get_node(plugins=[WATCHER])
    l2 = node_factory.get_node(plugins=[WATCHER])
    l3 = node_factory.get_node()
    l1.rpc.connect(l2.id)
    assert seen(l1, "hooks", "peer_connected")[0]["payload"]["peer"]["direction"] == "out"
    assert seen(l2, "hooks", "peer_connected")[0]["payload"]["peer"]["direction"] == "in"
    wait_for(lambda: seen(l1, "notifications", "connect"))
    l1.rpc.setconfig("watch-refuse", l3.id)
    with pytest.raises(RpcError) as err:
        l3.rpc.connect(l1.id)
    assert err.value.error["code"] == 402
    assert (
        l3.rpc.listpeers(l1.id)["peers"] == []
        or not l3.rpc.listpeers(l1.id)["peers"][0]["connected"]
    )


def test_custom_messages_are_delivered_and_echoed(node_factory: NodeFactory) -> None:
    l1 = node_factory.get_node(plugins=[ECHO, WATCHER])
    l2 = node_factory.get_node(plugins=[ECHO])
    l1.rpc.connect(l2.id)
    out = l1.rpc.sendcustommsg(l2.id, "a1b1" + "00ff" * 4)
    assert out == {"status": "Message sent to connectd for delivery"}
    wait_for(lambda: l1.rpc.call("echo-stats")["replies"] == 1)
    assert l2.rpc.call("echo-stats")["requests"] == 1
    # The echo came back through l1's custommsg hook with the type in the payload.
    got = seen(l1, "hooks", "custommsg")
    assert got[0]["payload"] == {"peer_id": l2.id, "payload": "a1b3" + "00ff" * 4}
    # Odd types below 32768, including cl-hive's 0x4849, reach the hook too.
    l2.rpc.sendcustommsg(l1.id, "4849" + "abcd")
    l2.rpc.sendcustommsg(l1.id, "00ff")
    wait_for(lambda: len(seen(l1, "hooks", "custommsg")) == 3)
    assert [h["payload"]["payload"][:4] for h in seen(l1, "hooks", "custommsg")][1:] == [
        "4849",
        "00ff",
    ]


def test_even_custom_types_need_a_plugin_that_lists_them(node_factory: NodeFactory) -> None:
    l1 = node_factory.get_node(plugins=[WATCHER])
    l2 = node_factory.get_node(plugins=[WATCHER, str(PLUGINS / "even_acceptor.py")])
    l1.rpc.connect(l2.id)
    l2.rpc.sendcustommsg(l1.id, "a1b0" + "01")  # l1 does not accept 0xa1b0
    wait_for(
        lambda: [
            n for n in seen(l2, "notifications", "warning") if "Invalid unknown even msg" in str(n)
        ]
    )
    assert seen(l1, "hooks", "custommsg") == []
    l1.rpc.sendcustommsg(l2.id, "a1b0" + "02")  # l2's even_acceptor lists it
    wait_for(lambda: l2.rpc.call("even-seen")["payloads"] == ["a1b002"])
    # Filters: even_acceptor saw only its type, watcher (no filter) saw it too.
    l1.rpc.sendcustommsg(l2.id, "a1b1" + "03")
    wait_for(lambda: len(seen(l2, "hooks", "custommsg")) == 2)
    assert l2.rpc.call("even-seen")["payloads"] == ["a1b002"]


def test_sendcustommsg_errors_as_cln(node_factory: NodeFactory) -> None:
    l1, l2 = node_factory.get_nodes(2)
    stranger = node_factory.get_node()
    with pytest.raises(RpcError) as err:
        l1.rpc.sendcustommsg(stranger.id, "a1b1")
    assert err.value.error == {"code": -32600, "message": f"No such peer: {stranger.id}"}
    l1.rpc.connect(l2.id)
    l1.rpc.disconnect(l2.id)
    with pytest.raises(RpcError) as err:
        l1.rpc.sendcustommsg(l2.id, "a1b1")
    assert err.value.error == {"code": -32600, "message": "Peer is not connected"}
    l1.rpc.connect(l2.id)
    with pytest.raises(RpcError) as err:
        l1.rpc.sendcustommsg(l2.id, "0010")  # init (16) is handled internally
    assert err.value.error["code"] == -32600
    assert err.value.error["message"].startswith("Cannot send messages of type 16 (WIRE_INIT).")
    with pytest.raises(RpcError) as err:
        l1.rpc.sendcustommsg(l2.id, "a1b1" + "00" * 65534)  # 65,536 bytes with the type
    assert err.value.error["code"] == -32602
    assert l1.rpc.sendcustommsg(l2.id, "a1b1" + "00" * 65533)["status"]  # exactly 65,535


def test_bad_invoices_get_cln_errors(node_factory: NodeFactory) -> None:
    l1, l2 = node_factory.line_graph(2)
    with pytest.raises(RpcError) as err:
        l1.rpc.call("xpay", {"invstring": "lnbcrt1garbage"})
    assert err.value.error["code"] == -32602
    inv = l2.rpc.invoice(1000, "short", "expires", expiry=1)
    time.sleep(1.2)
    with pytest.raises(RpcError) as err:
        l1.rpc.call("xpay", {"invstring": inv["bolt11"]})
    assert err.value.error["code"] == 207  # PAY_INVOICE_EXPIRED


def test_blocks_on_command_and_channel_states(node_factory: NodeFactory) -> None:
    l1, l2 = node_factory.get_nodes(2)
    l1.rpc.call("dev-sim-fundwallet", {"satoshi": 2_000_000})
    height = l1.rpc.getinfo()["blockheight"]
    assert l1.rpc.call("dev-sim-mine", {"blocks": 1})["blockheight"] == height + 1
    l1.rpc.connect(l2.id)
    l1.rpc.fundchannel(l2.id, 500_000)
    assert l1.rpc.listpeerchannels()["channels"][0]["state"] == "CHANNELD_AWAITING_LOCKIN"
    l1.rpc.call("dev-sim-mine", {"blocks": 3})
    assert l1.rpc.listpeerchannels()["channels"][0]["state"] == "CHANNELD_NORMAL"
    l1.rpc.close(l2.id)
    l1.rpc.call("dev-sim-mine", {"blocks": 101})
    assert l1.rpc.listpeerchannels()["channels"] == []
    assert len(l1.rpc.listclosedchannels()["closedchannels"]) == 1


def test_dev_sim_commands_are_developer_only(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(developer=False)
    with pytest.raises(RpcError) as err:
        node.rpc.call("dev-sim-mine", {"blocks": 1})
    assert err.value.error == {"code": -32601, "message": "Command dev-sim-mine is developer-only"}


def test_deprecated_commands_follow_allow_deprecated_apis(node_factory: NodeFactory) -> None:
    l1, l2 = node_factory.line_graph(2, allow_deprecated_apis=False)
    with pytest.raises(RpcError) as err:
        l1.rpc.call("keysend", {"destination": l2.id, "amount_msat": 1000})
    assert err.value.error == {"code": -32601, "message": "Command keysend is deprecated"}
    # Its successor is served: xkeysend answers as xpay does.
    paid = l1.rpc.call("xkeysend", {"destination": l2.id, "amount_msat": 1000})
    assert paid["amount_msat"] == 1000 and paid["successful_parts"] == 1
    assert l2.rpc.listpeerchannels()["channels"][0]["to_us_msat"] == 1000


@requires_schemas
def test_everything_the_stand_in_produced_validates(node_factory: NodeFactory) -> None:
    """Conformance 11 and 24: notifications (wrapped) and hook requests fit CLN's schemas."""
    l1, l2, l3 = node_factory.line_graph(3, plugins=[WATCHER, ECHO])
    inv = l3.rpc.invoice(10_000, "v", "validate")
    l1.rpc.call("xpay", {"invstring": inv["bolt11"]})
    l1.rpc.sendcustommsg(l2.id, "a1b1" + "aa")
    wait_for(lambda: l1.rpc.call("echo-stats")["replies"] == 1)
    l2.rpc.setchannel("all", feeppm=20)
    for method, params in [
        ("listpeers", {}), ("listpeerchannels", {}), ("listchannels", {}), ("listnodes", {}),
        ("listfunds", {}), ("listforwards", {}), ("listinvoices", {}), ("listsendpays", {}),
        ("listpays", {}), ("listhtlcs", {}), ("listclosedchannels", {}), ("getinfo", {}),
        ("feerates", {"style": "perkw"}),
    ]:  # fmt: skip
        for node in (l1, l2, l3):
            validate_response(method, node.rpc.call(method, params))
    topics: set[str] = set()
    for node in (l1, l2, l3):
        for item in node.rpc.call("watch-seen", {"kind": "notifications"})["items"]:
            topic, payload = item["name"], item["payload"]
            assert topic in payload, f"{topic} not in the wrapped shape: {payload}"
            if topic not in ("echo-event",):
                validate_notification(topic, payload[topic])
            topics.add(topic)
        for item in node.rpc.call("watch-seen", {"kind": "hooks"})["items"]:
            validate_hook_request(item["name"], item["payload"])
    assert {"connect", "channel_opened", "channel_state_changed", "forward_event", "block_added",
            "invoice_payment", "sendpay_success", "coin_movement", "custommsg"} <= topics  # fmt: skip
