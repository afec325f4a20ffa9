"""Every answer, notification and hook request the model produces matches CLN's schemas."""

from __future__ import annotations

from typing import Any

import pytest

from lnhive.sim.errors import RpcError
from lnhive.sim.network import HookCall, InProcessNode
from tests.schemas import (
    requires_schemas,
    validate_hook_request,
    validate_notification,
    validate_response,
)

from .conftest import Line, make_line

pytestmark = requires_schemas


@pytest.fixture
def busy() -> tuple[Line, list[HookCall]]:
    """A line with settled, failed and local_failed forwards, invoices in each status,
    a closed channel, an HTLC left in flight and custom messages."""
    line = make_line("abcde")
    hooks: list[HookCall] = []
    c = line.ids["c"]

    def answer(call: HookCall) -> dict[str, Any]:
        hooks.append(call)
        if (
            call.hook == "htlc_accepted"
            and call.node_id == c
            and call.params["htlc"]["amount_msat"] % 2
        ):
            return {"result": "fail", "failure_message": "2002"}
        return {"result": "continue"}

    a = InProcessNode(line.net, "a", answer=answer)
    e = InProcessNode(line.net, "e", answer=answer)
    a.keysend(destination=line.ids["e"], amount_msat=2_000_000)
    with pytest.raises(RpcError):
        a.keysend(destination=line.ids["e"], amount_msat=2_000_001, maxfee=10_000)
    paid = e.invoice(amount_msat=50_000, label="paid", description="paid one")
    a.xpay(invstring=paid["bolt11"])
    e.invoice(amount_msat="any", label="open", description="open one")
    e.invoice(amount_msat=1, label="old", description="expires", expiry=1)
    route = a.getroute(id=line.ids["e"], amount_msat=10_000, riskfactor=1)["route"]
    route[0]["amount_msat"] -= 1
    a.sendpay(route=route, payment_hash="12" * 32)
    a.sendcustommsg(node_id=line.ids["b"], msg="88310102")
    line.net.node("b").accepted_even_types.add(0x8832)
    a.sendcustommsg(node_id=line.ids["b"], msg="8832")
    line.net.connect(line.ids["a"], line.ids["c"])
    line.net.disconnect(line.ids["a"], line.ids["c"])
    line.net.open_channel("a", "e", 300_000, push_msat=10_000)
    line.api("a").close(id=line.ids["e"])
    line.net.mine(101)  # the closed channel is forgotten: listclosedchannels
    line.clock.advance(120)
    # HTLCs left in flight: drive a payment to its second hook point and stop there
    from lnhive.sim.network import find_route, sendpay_gen

    r = find_route(line.net, line.ids["a"], line.ids["d"], 5_000)
    assert r is not None
    gen = sendpay_gen(line.net, line.ids["a"], r, "34" * 32)
    hooks.append(next(gen))  # at b
    hooks.append(gen.send({"result": "continue"}))  # at c: b's forward is "offered"
    return line, hooks


def test_node_views(busy: tuple[Line, list[HookCall]]) -> None:
    line, _ = busy
    for name in "abcde":
        n = line.api(name)
        validate_response("getinfo", n.getinfo())
        validate_response("listpeers", n.listpeers())
        validate_response("listpeerchannels", n.listpeerchannels())
        validate_response("listchannels", n.listchannels())
        validate_response("listnodes", n.listnodes())
        validate_response("listfunds", n.listfunds())
        validate_response("listfunds", n.listfunds(spent=True))
        validate_response("listforwards", n.listforwards())
        validate_response("listhtlcs", n.listhtlcs())
        validate_response("listclosedchannels", n.listclosedchannels())
        validate_response("listinvoices", n.listinvoices())
        validate_response("listsendpays", n.listsendpays())
        validate_response("listpays", n.listpays())
    a = line.api("a")
    inflight = [c for c in a.listpeerchannels()["channels"] if c["htlcs"]]
    assert inflight, "the fixture should leave an HTLC in flight"
    statuses = {f["status"] for n in "bcd" for f in line.api(n).listforwards()["forwards"]}
    assert statuses >= {"settled", "failed", "local_failed", "offered"}
    inv = {i["status"] for i in line.api("e").listinvoices()["invoices"]}
    assert inv == {"paid", "unpaid", "expired"}
    assert len(a.listclosedchannels()["closedchannels"]) == 1


def test_command_results(busy: tuple[Line, list[HookCall]]) -> None:
    line, _ = busy
    a, d = line.api("a"), line.api("d")
    validate_response("feerates", a.feerates(style="perkw"))
    validate_response("feerates", a.feerates(style="perkb"))
    validate_response("getroute", a.getroute(id=line.ids["d"], amount_msat=1000, riskfactor=1))
    validate_response(
        "getroutes",
        a.getroutes(
            source=line.ids["a"],
            destination=line.ids["d"],
            amount_msat=1000,
            layers=[],
            maxfee_msat=100_000,
            final_cltv=18,
        ),
    )
    inv = d.invoice(amount_msat=7_000, label="s", description="schema")
    validate_response("invoice", inv)
    validate_response("decode", a.decode(string=inv["bolt11"]))
    validate_response("xpay", a.xpay(invstring=inv["bolt11"]))
    validate_response("waitsendpay", a.waitsendpay(payment_hash=inv["payment_hash"]))
    validate_response("waitinvoice", d.waitinvoice(label="s"))
    validate_response("keysend", a.keysend(destination=line.ids["d"], amount_msat=1000))
    route = a.getroute(id=line.ids["b"], amount_msat=1000, riskfactor=1)["route"]
    validate_response("sendpay", a.sendpay(route=route, payment_hash="56" * 32))
    validate_response("setchannel", a.setchannel(id="all", feeppm=20))
    validate_response("connect", a.connect(id=line.ids["c"]))
    validate_response("disconnect", a.disconnect(id=line.ids["c"]))
    validate_response("sendcustommsg", a.sendcustommsg(node_id=line.ids["b"], msg="8833"))
    sig = a.signmessage(message="m")
    validate_response("signmessage", sig)
    validate_response("checkmessage", d.checkmessage(message="m", zbase=sig["zbase"]))
    validate_response("makesecret", a.makesecret(string="x"))
    validate_response("datastore", a.datastore(key=["k", "1"], string="v"))
    validate_response("listdatastore", a.listdatastore(key="k"))
    validate_response("deldatastore", a.deldatastore(key=["k", "1"]))
    line.net.fund_wallet(line.ids["a"], 1_000_000)
    line.net.connect(line.ids["a"], line.ids["c"])
    validate_response("fundchannel", a.fundchannel(id=line.ids["c"], amount=100_000))
    validate_response("close", a.close(id=line.ids["c"]))


def test_notifications_and_hooks(busy: tuple[Line, list[HookCall]]) -> None:
    line, hooks = busy
    topics = set()
    for ev in line.events:
        validate_notification(ev.topic, ev.payload)
        topics.add(ev.topic)
    assert topics >= {
        "connect",
        "disconnect",
        "channel_opened",
        "channel_state_changed",
        "forward_event",
        "invoice_payment",
        "invoice_creation",
        "sendpay_success",
        "sendpay_failure",
        "coin_movement",
        "block_added",
        "custommsg",
    }
    kinds = set()
    for call in hooks:
        validate_hook_request(call.hook, call.params)
        kinds.add(call.hook)
    assert kinds == {"htlc_accepted", "invoice_payment", "custommsg"}


def test_unilateral_close_shapes() -> None:
    line = make_line("ab")
    line.net.disconnect(line.ids["a"], line.ids["b"], force=True)
    res = line.api("a").close(id=line.ids["b"])
    validate_response("close", res)
    assert res["type"] == "unilateral"
    for name in "ab":
        validate_response("listpeerchannels", line.api(name).listpeerchannels())
        validate_response("listpeers", line.api(name).listpeers())
        validate_response("listfunds", line.api(name).listfunds())
    line.net.mine(101)
    for name in "ab":
        validate_response("listclosedchannels", line.api(name).listclosedchannels())
        assert line.api(name).listclosedchannels()["closedchannels"]
    for ev in line.events:
        validate_notification(ev.topic, ev.payload)
    assert "AWAITING_UNILATERAL" in {
        e.payload["new_state"] for e in line.events if e.topic == "channel_state_changed"
    }
