"""Multi-hop payments: fee arithmetic, forwards vs balances, hook points, failures."""

from __future__ import annotations

from typing import Any

import pytest

from lnhive.core.hashing import sha256
from lnhive.sim.errors import RpcError
from lnhive.sim.network import HookCall, InProcessNode, find_route, run_sync, sendpay_gen
from lnhive.sim.network import failcodes as fc
from lnhive.sim.network.payments import send_htlcs

from .conftest import Line, make_line


def _balances(line: Line) -> dict[str, int]:
    """Total channel balance per node (msat), HTLCs in flight excluded."""
    out = {n: 0 for n in line.ids}
    for chan in line.chans.values():
        for side in (0, 1):
            name = next(k for k, v in line.ids.items() if v == chan.node_ids[side])
            out[name] += chan.balance[side]
    return out


def _set_fees(line: Line) -> None:
    line.api("b").setchannel(id=line.chans["bc"].scid or "", feebase=3, feeppm=999)
    line.api("c").setchannel(id=line.chans["cd"].scid or "", feebase=7, feeppm=1234)
    line.clock.advance(61)


def test_three_hop_keysend_exact_fees_and_forwards(line: Line) -> None:
    _set_fees(line)
    before = _balances(line)
    res = line.api("a").keysend(destination=line.ids["d"], amount_msat=12_345_678)
    # c: 7 + floor(12_345_678 * 1234 / 1e6) = 15_241; b: 3 + floor(12_360_919 * 999 / 1e6) = 12_351
    assert res["amount_msat"] == 12_345_678
    assert res["amount_sent_msat"] == 12_373_270
    after = _balances(line)
    assert before["a"] - after["a"] == 12_373_270
    assert after["b"] - before["b"] == 12_351
    assert after["c"] - before["c"] == 15_241
    assert after["d"] - before["d"] == 12_345_678

    fb = line.api("b").listforwards()["forwards"]
    fcs = line.api("c").listforwards()["forwards"]
    assert len(fb) == 1 and len(fcs) == 1
    assert fb[0]["in_msat"] == 12_373_270 and fb[0]["out_msat"] == 12_360_919
    assert fb[0]["fee_msat"] == 12_351 and fb[0]["status"] == "settled"
    assert fb[0]["in_channel"] == line.chans["ab"].scid
    assert fb[0]["out_channel"] == line.chans["bc"].scid
    assert fcs[0]["fee_msat"] == 15_241
    assert line.api("b").getinfo()["fees_collected_msat"] == 12_351
    # forward notifications: offered then settled at each forwarder
    assert [e["status"] for e in line.topics("b", "forward_event")] == ["offered", "settled"]
    assert line.topics("c", "forward_event")[-1]["preimage"] == res["payment_preimage"]
    moves = [
        (m["primary_tag"], m["credit_msat"], m["debit_msat"], m["fees_msat"])
        for m in line.topics("b", "coin_movement")
        if m["type"] == "channel_mvt"
    ]
    assert moves == [("routed", 12_373_270, 0, 12_351), ("routed", 0, 12_360_919, 12_351)]
    assert line.topics("a", "sendpay_success")[-1]["amount_sent_msat"] == 12_373_270
    # the payee's keysend invoice is paid
    paid = line.api("d").listinvoices()["invoices"]
    assert paid[0]["status"] == "paid" and paid[0]["amount_received_msat"] == 12_345_678


def test_route_shape_matches_getroute(line: Line) -> None:
    _set_fees(line)
    route = line.api("a").getroute(id=line.ids["d"], amount_msat=12_345_678, riskfactor=1, cltv=18)[
        "route"
    ]
    assert [h["id"] for h in route] == [line.ids["b"], line.ids["c"], line.ids["d"]]
    assert [h["amount_msat"] for h in route] == [12_373_270, 12_360_919, 12_345_678]
    assert [h["delay"] for h in route] == [18 + 34 + 34, 18 + 34, 18]


def test_htlc_in_flight_between_hook_points(line: Line) -> None:
    """A driver that pauses at a hook point sees the HTLC in flight, then settles it."""
    net = line.net
    a, d = line.ids["a"], line.ids["d"]
    preimage = bytes(range(32)).hex()
    payment_hash = sha256(bytes.fromhex(preimage)).hex()
    route = find_route(net, a, d, 50_000_000, final_cltv=22)
    assert route is not None
    gen = sendpay_gen(net, a, route, payment_hash, keysend_preimage=preimage)
    call = next(gen)
    assert isinstance(call, HookCall) and call.hook == "htlc_accepted"
    assert call.node_id == line.ids["b"]
    assert call.params["onion"]["short_channel_id"] == line.chans["bc"].scid
    assert call.params["htlc"]["amount_msat"] == route[0].amount_msat
    ab = line.api("a").listpeerchannels(id=line.ids["b"])["channels"][0]
    assert ab["htlcs"][0]["direction"] == "out"
    assert ab["htlcs"][0]["amount_msat"] == route[0].amount_msat
    assert ab["to_us_msat"] == 1_000_000_000 - route[0].amount_msat
    hooks = [call.node_id]
    try:
        while True:
            call = gen.send({"result": "continue"})
            hooks.append(f"{call.hook}@{call.node_id}")
    except StopIteration as stop:
        sp = stop.value
    assert sp.status == "complete"
    assert hooks[1:] == [
        f"htlc_accepted@{line.ids['c']}",
        f"htlc_accepted@{d}",
        f"invoice_payment@{d}",
    ]
    assert line.api("a").listpeerchannels(id=line.ids["b"])["channels"][0]["htlcs"] == []


def _sendpay_error(
    node: InProcessNode, route: list[dict[str, Any]], payment_hash: str, **kw: Any
) -> RpcError:
    node.sendpay(route=route, payment_hash=payment_hash, **kw)
    with pytest.raises(RpcError) as exc:
        node.waitsendpay(payment_hash=payment_hash)
    return exc.value


def _route(line: Line, amount: int = 10_000_000) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = line.api("a").getroute(
        id=line.ids["d"], amount_msat=amount, riskfactor=1, cltv=18
    )["route"]
    return out


def test_fee_insufficient_reported_as_cln_does(line: Line) -> None:
    route = _route(line)
    route[0]["amount_msat"] -= 1  # b is paid one msat too little
    err = _sendpay_error(line.api("a"), route, "11" * 32)
    assert err.code == 204
    assert err.message == "failed: WIRE_FEE_INSUFFICIENT (reply from remote)"
    assert err.data["erring_index"] == 1
    assert err.data["erring_node"] == line.ids["b"]
    assert err.data["erring_channel"] == line.chans["bc"].scid
    assert err.data["failcode"] == fc.FEE_INSUFFICIENT == 0x100C
    assert err.data["failcodename"] == "WIRE_FEE_INSUFFICIENT"
    fwd = line.api("b").listforwards()["forwards"][0]
    assert fwd["status"] == "local_failed" and fwd["failcode"] == 0x100C
    failure = line.topics("a", "sendpay_failure")[-1]
    assert failure["code"] == 204 and failure["data"]["status"] == "failed"


@pytest.mark.parametrize(
    ("mutate", "code", "index"),
    [
        (lambda r: r[0].update(delay=r[0]["delay"] - 1), fc.INCORRECT_CLTV_EXPIRY, 1),
        (lambda r: r[1].update(channel="999x9x9"), fc.UNKNOWN_NEXT_PEER, 1),
        (lambda r: [h.update(delay=1) for h in r[1:]], fc.EXPIRY_TOO_SOON, 1),
    ],
)
def test_forwarding_failures(line: Line, mutate: Any, code: int, index: int) -> None:
    route = _route(line)
    mutate(route)
    err = _sendpay_error(line.api("a"), route, "22" * 32)
    assert err.data["failcode"] == code
    assert err.data["erring_index"] == index


def test_amount_below_minimum(line: Line) -> None:
    route = _route(line, amount=1000)
    line.api("c").setchannel(id=line.ids["d"], htlcmin=5000)
    line.clock.advance(61)
    # the payer's view now knows the minimum: no route
    with pytest.raises(RpcError) as exc:
        line.api("a").keysend(destination=line.ids["d"], amount_msat=1000)
    assert exc.value.code == 205
    # forced through, c refuses it
    err = _sendpay_error(line.api("a"), route, "33" * 32)
    assert err.data["failcode"] == fc.AMOUNT_BELOW_MINIMUM
    assert err.data["erring_node"] == line.ids["c"]


def test_liquidity_failure_mid_route_and_retry_exclusion(line: Line) -> None:
    """c has spent almost everything on cd: b's forward fails temporary_channel_failure."""
    line.api("c").keysend(destination=line.ids["d"], amount_msat=985_000_000)
    err = _sendpay_error(line.api("a"), _route(line, amount=20_000_000), "44" * 32)
    assert err.code == 204
    assert err.data["failcode"] == fc.TEMPORARY_CHANNEL_FAILURE
    assert err.data["erring_index"] == 2 and err.data["erring_channel"] == line.chans["cd"].scid
    # keysend retries, excludes cd and then has no route left
    with pytest.raises(RpcError) as exc:
        line.api("a").keysend(destination=line.ids["d"], amount_msat=20_000_000)
    assert exc.value.code == 205
    assert len(line.api("a").listsendpays()["payments"]) == 2


def test_reserve_limits_spending() -> None:
    line = make_line("ab", capacity=1_000_000)
    a = line.api("a")
    ch = a.listpeerchannels()["channels"][0]
    assert ch["our_reserve_msat"] == 10_000_000  # 1% of capacity
    assert ch["spendable_msat"] == 990_000_000
    a.keysend(destination=line.ids["b"], amount_msat=990_000_000)
    ch = a.listpeerchannels()["channels"][0]
    assert ch["to_us_msat"] == 10_000_000 and ch["spendable_msat"] == 0
    with pytest.raises(RpcError) as exc:
        a.keysend(destination=line.ids["b"], amount_msat=1)
    assert exc.value.code == 205
    # sendpay straight over the channel fails locally, at index 0
    route = [
        {
            "id": line.ids["b"],
            "channel": line.chans["ab"].scid,
            "direction": 0,
            "amount_msat": 1,
            "delay": 22,
        }
    ]
    with pytest.raises(RpcError) as exc:
        a.sendpay(route=route, payment_hash="55" * 32)
    assert exc.value.code == 204 and exc.value.data["erring_index"] == 0
    assert exc.value.data["failcode"] == fc.TEMPORARY_CHANNEL_FAILURE


def test_htlc_accepted_fail_at_intermediate(line: Line) -> None:
    c = line.ids["c"]

    def answer(call: HookCall) -> dict[str, Any]:
        if call.hook == "htlc_accepted" and call.node_id == c:
            return {"result": "fail", "failure_message": "2002"}
        return {"result": "continue"}

    before = _balances(line)
    route = find_route(line.net, line.ids["a"], line.ids["d"], 1_000_000)
    assert route is not None
    pre = "ab" * 32
    preimage, failure = run_sync(
        send_htlcs(
            line.net, line.ids["a"], route, sha256(bytes.fromhex(pre)).hex(), keysend_preimage=pre
        ),
        answer,
    )
    assert preimage is None and failure is not None
    assert failure.erring_index == 2 and failure.erring_node == c
    assert failure.failcode == fc.TEMPORARY_NODE_FAILURE
    assert _balances(line) == before
    assert line.api("b").listforwards()["forwards"][0]["status"] == "failed"
    assert line.api("c").listforwards()["forwards"][0]["status"] == "local_failed"
    assert [e["status"] for e in line.topics("b", "forward_event")] == ["offered", "failed"]


def test_resolve_at_intermediate_settles_upstream_only(line: Line) -> None:
    pre = "cd" * 32
    b = line.ids["b"]

    def answer(call: HookCall) -> dict[str, Any]:
        if call.node_id == b:
            return {"result": "resolve", "payment_key": pre}
        return {"result": "continue"}

    before = _balances(line)
    route = find_route(line.net, line.ids["a"], line.ids["d"], 1_000_000)
    assert route is not None
    preimage, failure = run_sync(
        send_htlcs(line.net, line.ids["a"], route, sha256(bytes.fromhex(pre)).hex()), answer
    )
    assert preimage == pre and failure is None
    after = _balances(line)
    assert after["b"] - before["b"] == route[0].amount_msat
    assert after["c"] == before["c"] and after["d"] == before["d"]


def test_invoice_payment_reject_is_permanent_failure(line: Line) -> None:
    d = line.ids["d"]
    inv = line.api("d").invoice(amount_msat=100_000, label="r", description="reject me")
    node = InProcessNode(
        line.net,
        "a",
        answer=lambda call: (
            {"result": "reject"} if call.hook == "invoice_payment" else {"result": "continue"}
        ),
    )
    with pytest.raises(RpcError) as exc:
        node.xpay(invstring=inv["bolt11"])
    assert exc.value.code == 203
    assert exc.value.data["erring_node"] == d and exc.value.data["erring_index"] == 3
    assert line.api("d").listinvoices(label="r")["invoices"][0]["status"] == "unpaid"


def test_wrong_payment_secret_and_unknown_hash(line: Line) -> None:
    inv = line.api("d").invoice(amount_msat=100_000, label="s", description="secret")
    route = _route(line, amount=100_000)
    err = _sendpay_error(
        line.api("a"), route, inv["payment_hash"], payment_secret="00" * 32, amount_msat=100_000
    )
    assert err.code == 203 and err.data["failcode"] == fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    err = _sendpay_error(line.api("a"), route, "66" * 32, payment_secret="00" * 32)
    assert err.code == 203


def test_disconnected_peer_fails_forward(line: Line) -> None:
    route = _route(line)
    line.net.disconnect(line.ids["b"], line.ids["c"], force=True)
    err = _sendpay_error(line.api("a"), route, "77" * 32)
    assert err.data["failcode"] == fc.TEMPORARY_CHANNEL_FAILURE
    assert err.data["erring_node"] == line.ids["b"]
    with pytest.raises(RpcError) as exc:
        line.api("a").keysend(destination=line.ids["d"], amount_msat=1000)
    assert exc.value.code == 205


def test_xpay_invoice_and_listpays(line: Line) -> None:
    inv = line.api("d").invoice(amount_msat=2_000_000, label="x", description="coffee")
    res = line.api("a").xpay(invstring=inv["bolt11"])
    assert res["amount_msat"] == 2_000_000 and res["successful_parts"] == 1
    assert res["amount_sent_msat"] == 2_000_000 + 1020 + 1020
    pays = line.api("a").listpays(bolt11=inv["bolt11"])["pays"]
    assert pays[0]["status"] == "complete" and pays[0]["preimage"] == res["payment_preimage"]
    with pytest.raises(RpcError) as exc:
        line.api("a").xpay(invstring=inv["bolt11"])
    assert exc.value.code == 219
    ok = line.api("a").waitsendpay(payment_hash=inv["payment_hash"])
    assert ok["status"] == "complete"
    with pytest.raises(RpcError) as exc:
        line.api("a").waitsendpay(payment_hash="88" * 32)
    assert exc.value.code == 208


def test_xpay_expired_invoice(line: Line) -> None:
    inv = line.api("d").invoice(amount_msat=1000, label="e", description="soon", expiry=10)
    line.clock.advance(11)
    with pytest.raises(RpcError) as exc:
        line.api("a").xpay(invstring=inv["bolt11"])
    assert exc.value.code == 207
    assert line.api("d").listinvoices(label="e")["invoices"][0]["status"] == "expired"
