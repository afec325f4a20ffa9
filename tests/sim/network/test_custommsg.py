"""Custom peer messages: CLN's errors, the size limit, delivery rules and order."""

from __future__ import annotations

from typing import Any

import pytest

from lnhive.sim.errors import RpcError
from lnhive.sim.network import HookCall, InProcessNode, run_sync
from lnhive.sim.network.messages import mailer

from .conftest import Line


def test_errors_are_clns(line: Line) -> None:
    a = line.api("a")
    with pytest.raises(RpcError) as exc:
        a.sendcustommsg(node_id=line.ids["b"], msg="0080" + "00" * 10)
    assert exc.value.code == -32600
    assert exc.value.message.startswith(
        "Cannot send messages of type 128 (WIRE_UPDATE_ADD_HTLC). It is not possible"
    )
    with pytest.raises(RpcError) as exc:
        a.sendcustommsg(node_id="02" + "33" * 32, msg="8831")
    assert (exc.value.code, exc.value.message) == (-32600, "No such peer: 02" + "33" * 32)
    line.net.disconnect(line.ids["a"], line.ids["b"], force=True)
    with pytest.raises(RpcError) as exc:
        a.sendcustommsg(node_id=line.ids["b"], msg="8831")
    assert (exc.value.code, exc.value.message) == (-32600, "Peer is not connected")


def test_size_limit_includes_type(line: Line) -> None:
    a = line.api("a")
    ok = a.sendcustommsg(node_id=line.ids["b"], msg="8831" + "00" * 65_533)
    assert ok == {"status": "Message sent to connectd for delivery"}
    with pytest.raises(RpcError) as exc:
        a.sendcustommsg(node_id=line.ids["b"], msg="8831" + "00" * 65_534)
    assert exc.value.code == -32602


def test_delivery_in_order_and_even_types(line: Line) -> None:
    net = line.net
    a, b = line.ids["a"], line.ids["b"]
    m = mailer(net)
    for i in range(3):
        m.send(a, b, f"8831{i:02x}")
    m.send(a, b, "4849aa")  # odd, below 32768: delivered
    m.send(a, b, "8832bb")  # even, not accepted: dropped, sender warned
    net.node("b").accepted_even_types.add(0x8834)
    m.send(a, b, "8834cc")  # even, accepted
    calls: list[HookCall] = []

    def answer(call: HookCall) -> dict[str, Any]:
        calls.append(call)
        return {"result": "continue"}

    assert run_sync(m.deliver(), answer) == 5
    assert [c.params["payload"] for c in calls] == [
        "883100",
        "883101",
        "883102",
        "4849aa",
        "8834cc",
    ]
    assert all(c.node_id == b and c.hook == "custommsg" and c.params["peer_id"] == a for c in calls)
    assert len(line.topics("b", "custommsg")) == 5
    assert line.topics("a", "warning")[0]["log"] == "Invalid unknown even msg"


def test_hook_must_continue(line: Line) -> None:
    node = InProcessNode(line.net, "a", answer=lambda call: {"result": "stop"})
    with pytest.raises(ValueError):
        node.sendcustommsg(node_id=line.ids["b"], msg="8831")
