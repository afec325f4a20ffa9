"""NodeCommands: one implementation per command, hook points as generators, for both the
in-process driver and the socket server; the commands added for the stand-in."""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.sim.errors import RpcError
from lnhive.sim.network import (
    COMMANDS,
    DEPRECATED,
    HookCall,
    InProcessNode,
    Network,
    NodeCommands,
    deliver_pending,
    run_sync,
)
from lnhive.sim.network.commands import decode_segwit, node_addresses, segwit_address
from lnhive.sim.network.messages import mailer
from lnhive.sim.params import bind_params
from lnhive.sim.paramtables import TABLES
from tests.schemas import requires_schemas, validate_response

from .conftest import Line

GENERATOR_COMMANDS = {"xpay", "pay", "keysend", "xkeysend", "sendpay"}


def _drive(gen: Generator[HookCall, dict[str, Any], Any], seen: list[HookCall]) -> Any:
    def answer(call: HookCall) -> dict[str, Any]:
        seen.append(call)
        return {"result": "continue"}

    return run_sync(gen, answer)


# -- the command table -----------------------------------------------------------------
def test_generator_methods_are_exactly_the_ones_with_hook_points() -> None:
    gens = {
        m
        for m in COMMANDS
        if inspect.isgeneratorfunction(getattr(NodeCommands, m.replace("-", "_")))
    }
    assert gens == GENERATOR_COMMANDS


@pytest.mark.parametrize("method", sorted(COMMANDS))
def test_signature_matches_the_parameter_table(method: str) -> None:
    """Whatever bind_params returns for a command, its method accepts."""
    sig = inspect.signature(getattr(NodeCommands, method.replace("-", "_")))
    params = {n: p for n, p in sig.parameters.items() if n != "self"}
    table = TABLES[method]
    assert list(params) == [p.name for p in table]
    for p in table:
        assert (params[p.name].default is inspect.Parameter.empty) == p.required, p.name
        assert params[p.name].kind is inspect.Parameter.KEYWORD_ONLY


def test_deprecated_set() -> None:
    assert frozenset({"pay", "getroute", "keysend"}) == DEPRECATED
    assert DEPRECATED <= COMMANDS
    assert {"delinvoice", "delpay", "newaddr", "withdraw", "datastoreusage"} <= COMMANDS
    assert not {"waitanyinvoice", "waitblockheight", "ping"} & COMMANDS


def test_invoke(line: Line) -> None:
    cmds = NodeCommands(line.net, "a")
    assert cmds.node_id == line.ids["a"]
    assert cmds.invoke("getinfo", {})["id"] == line.ids["a"]
    gen = cmds.invoke("keysend", {"destination": line.ids["b"], "amount_msat": 1000})
    assert inspect.isgenerator(gen)
    seen: list[HookCall] = []
    assert _drive(gen, seen)["status"] == "complete"
    assert [c.hook for c in seen] == ["htlc_accepted", "invoice_payment"]
    with pytest.raises(RpcError) as exc:
        cmds.invoke("listplugins", {})
    assert (exc.value.code, exc.value.message) == (-32601, "Unknown command 'listplugins'")
    with pytest.raises(RpcError) as exc:
        cmds.invoke("_node", {})
    assert exc.value.code == -32601
    with pytest.raises(RpcError) as exc:
        cmds.invoke("getinfo", {"bogus": 1})
    assert exc.value.code == -32602
    assert exc.value.message.startswith("unknown parameter: bogus, this may be caused")
    with pytest.raises(RpcError) as exc:
        cmds.invoke("withdraw", {"satoshi": 1000})
    assert (exc.value.code, exc.value.message) == (
        -32602,
        "missing required parameter: destination",
    )


# -- hook points ---------------------------------------------------------------------------
def test_xpay_yields_every_hook_point(line: Line) -> None:
    inv = NodeCommands(line.net, "d").invoice(amount_msat=10_000, label="x", description="x")
    gen = NodeCommands(line.net, "a").xpay(invstring=inv["bolt11"])
    seen: list[HookCall] = []
    res = _drive(gen, seen)
    assert [(c.hook, c.node_id) for c in seen] == [
        ("htlc_accepted", line.ids["b"]),
        ("htlc_accepted", line.ids["c"]),
        ("htlc_accepted", line.ids["d"]),
        ("invoice_payment", line.ids["d"]),
    ]
    assert res["successful_parts"] == 1 and res["amount_msat"] == 10_000


def test_a_failing_hook_answer_fails_xpay(line: Line) -> None:
    inv = NodeCommands(line.net, "d").invoice(amount_msat=10_000, label="x", description="x")
    gen = NodeCommands(line.net, "a").xpay(invstring=inv["bolt11"])
    call = next(gen)
    assert call.hook == "htlc_accepted" and call.node_id == line.ids["b"]
    with pytest.raises(RpcError) as exc:
        gen.send({"result": "fail"})  # b's plugin fails the HTLC: no other route
    assert exc.value.code == 205
    assert "WIRE_TEMPORARY_NODE_FAILURE" in exc.value.message
    parts = NodeCommands(line.net, "a").listsendpays()["payments"]
    assert [p["status"] for p in parts] == ["failed"]
    # the HTLC was removed: a's whole balance is spendable again
    ab = line.chans["ab"]
    assert ab.balance[ab.side_of(line.ids["a"])] == 1_000_000_000


def test_invoice_payment_reject_fails_pay_at_destination(line: Line) -> None:
    inv = NodeCommands(line.net, "d").invoice(amount_msat=10_000, label="x", description="x")
    gen = NodeCommands(line.net, "a").pay(bolt11=inv["bolt11"])

    def answer(call: HookCall) -> dict[str, Any]:
        if call.hook == "invoice_payment":
            return {"result": "reject"}
        return {"result": "continue"}

    with pytest.raises(RpcError) as exc:
        run_sync(gen, answer)
    assert exc.value.code == 203
    assert "WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS" in exc.value.message


def test_sendpay_is_a_generator_with_the_hops_hooks(line: Line) -> None:
    cmds = NodeCommands(line.net, "a")
    route = cmds.getroute(id=line.ids["c"], amount_msat=5_000, riskfactor=1)["route"]
    seen: list[HookCall] = []
    out = _drive(cmds.sendpay(route=route, payment_hash="ab" * 32), seen)
    assert [c.node_id for c in seen] == [line.ids["b"], line.ids["c"]]
    assert out["status"] == "pending"  # unknown hash at c: failed remotely
    with pytest.raises(RpcError) as exc:
        cmds.waitsendpay(payment_hash="ab" * 32)
    assert exc.value.code == 203


def test_sendcustommsg_only_queues(line: Line) -> None:
    cmds = NodeCommands(line.net, "a")
    assert cmds.sendcustommsg(node_id=line.ids["b"], msg="88310a") == {
        "status": "Message sent to connectd for delivery"
    }
    assert mailer(line.net).pending() == 1
    assert line.topics("b", "custommsg") == []
    seen: list[HookCall] = []
    assert _drive(deliver_pending(line.net), seen) == 1
    assert [(c.hook, c.node_id, c.params["payload"]) for c in seen] == [
        ("custommsg", line.ids["b"], "88310a")
    ]
    assert mailer(line.net).pending() == 0
    assert _drive(deliver_pending(line.net), seen) == 0


def test_inprocess_delivers_what_a_call_queued(line: Line) -> None:
    seen: list[HookCall] = []

    def answer(call: HookCall) -> dict[str, Any]:
        seen.append(call)
        return {"result": "continue"}

    InProcessNode(line.net, "a", answer=answer).sendcustommsg(node_id=line.ids["b"], msg="8831")
    assert [c.hook for c in seen] == ["custommsg"]
    assert mailer(line.net).pending() == 0


# -- pay -----------------------------------------------------------------------------------
def test_pay(line: Line) -> None:
    a, d = line.api("a"), line.api("d")
    inv = d.invoice(amount_msat=20_000, label="p", description="pay me")
    res = a.pay(bolt11=inv["bolt11"], label="mine")
    assert res["status"] == "complete" and res["parts"] == 1
    assert res["destination"] == line.ids["d"]
    assert res["payment_hash"] == inv["payment_hash"]
    assert res["amount_msat"] == 20_000 and res["amount_sent_msat"] > 20_000
    assert d.listinvoices(label="p")["invoices"][0]["status"] == "paid"
    assert a.listpays(payment_hash=inv["payment_hash"])["pays"][0]["label"] == "mine"
    with pytest.raises(RpcError) as exc:
        a.pay(bolt11=inv["bolt11"])
    assert exc.value.code == 219
    other = d.invoice(amount_msat=20_000, label="q", description="q")
    with pytest.raises(RpcError) as exc:
        a.pay(bolt11=other["bolt11"], amount_msat=20_000)
    assert (exc.value.code, exc.value.message) == (-32602, "msatoshi parameter unnecessary")
    with pytest.raises(RpcError) as exc:
        a.pay(bolt11=other["bolt11"], maxfee=1, exemptfee=1)
    assert exc.value.message == (
        "If you specify maxfee, cannot specify maxfeepercent or exemptfee."
    )
    anyinv = d.invoice(amount_msat="any", label="any", description="any")
    with pytest.raises(RpcError) as exc:
        a.pay(bolt11=anyinv["bolt11"])
    assert (exc.value.code, exc.value.message) == (-32602, "msatoshi parameter required")
    assert a.pay(bolt11=anyinv["bolt11"], amount_msat="3sat")["amount_msat"] == 3000


def test_pay_fee_budget(line: Line) -> None:
    a, d = line.api("a"), line.api("d")
    inv = d.invoice(amount_msat=1_000_000, label="f", description="f")
    with pytest.raises(RpcError) as exc:
        a.pay(bolt11=inv["bolt11"], maxfee=1)
    assert exc.value.code == 206
    assert a.pay(bolt11=inv["bolt11"], maxfeepercent=5)["status"] == "complete"


def test_pay_expired_invoice(line: Line) -> None:
    inv = line.api("d").invoice(amount_msat=1000, label="e", description="e", expiry=10)
    line.clock.advance(20)
    with pytest.raises(RpcError) as exc:
        line.api("a").pay(bolt11=inv["bolt11"])
    assert (exc.value.code, exc.value.message) == (207, "Invoice expired")


# -- delinvoice ------------------------------------------------------------------------------
def test_delinvoice(line: Line) -> None:
    a, d = line.api("a"), line.api("d")
    inv = d.invoice(amount_msat=5_000, label="del", description="a long description")
    with pytest.raises(RpcError) as exc:
        d.delinvoice(label="nope", status="unpaid")
    assert (exc.value.code, exc.value.message) == (905, "Unknown invoice")
    with pytest.raises(RpcError) as exc:
        d.delinvoice(label="del", status="paid")
    assert (exc.value.code, exc.value.message) == (906, "Invoice status is unpaid not paid")
    assert exc.value.data == {"current_status": "unpaid", "expected_status": "paid"}
    kept = d.delinvoice(label="del", status="unpaid", desconly=True)
    assert "description" not in kept and kept["label"] == "del"
    assert "description" not in d.listinvoices(label="del")["invoices"][0]
    with pytest.raises(RpcError) as exc:
        d.delinvoice(label="del", status="unpaid", desconly=True)
    assert (exc.value.code, exc.value.message) == (908, "Invoice description already removed")
    a.xpay(invstring=inv["bolt11"])
    gone = d.delinvoice(label="del", status="paid")
    assert gone["status"] == "paid" and gone["payment_hash"] == inv["payment_hash"]
    assert d.listinvoices(label="del")["invoices"] == []
    with pytest.raises(RpcError) as exc:
        d.delinvoice(label="del", status="paid")
    assert exc.value.code == 905
    # the label is free again, and a deleted unpaid invoice cannot be paid
    again = d.invoice(amount_msat=1_000, label="del", description="again")
    assert d.listinvoices(label="del")["invoices"][0]["description"] == "again"
    d.delinvoice(label="del", status="unpaid")
    with pytest.raises(RpcError):
        a.xpay(invstring=again["bolt11"])


def test_delinvoice_expired_and_integer_label(line: Line) -> None:
    d = line.api("d")
    d.invoice(amount_msat=1_000, label=42, description="old", expiry=5)
    line.clock.advance(10)
    with pytest.raises(RpcError) as exc:
        d.delinvoice(label=42, status="unpaid")
    assert exc.value.data == {"current_status": "expired", "expected_status": "unpaid"}
    assert d.delinvoice(label=42, status="expired")["label"] == "42"


# -- delpay ------------------------------------------------------------------------------------
def test_delpay(line: Line) -> None:
    a, d = line.api("a"), line.api("d")
    inv = d.invoice(amount_msat=5_000, label="dp", description="dp")
    a.xpay(invstring=inv["bolt11"])
    h = inv["payment_hash"]
    with pytest.raises(RpcError) as exc:
        a.delpay(payment_hash=h, status="failed")
    assert exc.value.code == 208
    assert exc.value.message == (
        f"Payment with hash {h} has complete status but it different from the one provided failed"
    )
    with pytest.raises(RpcError) as exc:
        a.delpay(payment_hash=h, status="complete", partid=0)
    assert (exc.value.code, exc.value.message) == (
        -32602,
        "Must set both partid and groupid, or neither",
    )
    with pytest.raises(RpcError) as exc:
        a.delpay(payment_hash=h, status="complete", partid=5, groupid=99)
    assert exc.value.message == "No payment for that payment_hash with that partid and groupid"
    out = a.delpay(payment_hash=h, status="complete")
    assert [p["payment_hash"] for p in out["payments"]] == [h]
    assert out["payments"][0]["status"] == "complete"
    assert a.listsendpays(payment_hash=h)["payments"] == []
    assert a.listpays(payment_hash=h)["pays"] == []
    with pytest.raises(RpcError) as exc:
        a.delpay(payment_hash=h, status="complete")
    assert (exc.value.code, exc.value.message) == (
        208,
        f"Unknown payment with payment_hash: {h}",
    )
    with pytest.raises(RpcError) as exc:
        a.delpay(payment_hash=h, status="pending")
    assert exc.value.code == -32602  # bind_params: only complete or failed


def test_delpay_one_part(line: Line) -> None:
    a = line.api("a")
    route = a.getroute(id=line.ids["b"], amount_msat=1_000, riskfactor=1)["route"]
    a.sendpay(route=route, payment_hash="cd" * 32, partid=1, groupid=7)
    a.sendpay(route=route, payment_hash="cd" * 32, partid=2, groupid=7)
    out = a.delpay(payment_hash="cd" * 32, status="failed", partid=1, groupid=7)
    assert [(p["partid"], p["groupid"]) for p in out["payments"]] == [(1, 7)]
    left = a.listsendpays(payment_hash="cd" * 32)["payments"]
    assert [(p["partid"], p["status"]) for p in left] == [(2, "failed")]


# -- newaddr and withdraw ----------------------------------------------------------------------
def test_newaddr(line: Line) -> None:
    a = line.api("a")
    p2tr = a.newaddr()["p2tr"]
    assert p2tr.startswith("bcrt1p")
    bech32 = a.newaddr(addresstype="bech32")
    assert list(bech32) == ["bech32"] and bech32["bech32"].startswith("bcrt1q")
    assert a.newaddr(addresstype="all") == {"p2tr": p2tr, "bech32": bech32["bech32"]}
    assert a.newaddr() == {"p2tr": p2tr}  # deterministic per node
    assert line.api("b").newaddr()["p2tr"] != p2tr
    assert decode_segwit(bech32["bech32"]) is not None
    hrp, version, prog = decode_segwit(p2tr) or ("", -1, b"")
    assert (hrp, version, len(prog)) == ("bcrt", 1, 32)
    with pytest.raises(RpcError) as exc:
        a.newaddr(addresstype="p2sh-segwit")
    assert exc.value.code == -32602


def test_segwit_encoding_is_checked() -> None:
    addr = segwit_address(0, bytes(range(20)))
    assert decode_segwit(addr) == ("bcrt", 0, bytes(range(20)))
    assert decode_segwit(addr.upper()) == ("bcrt", 0, bytes(range(20)))
    flipped = addr[:-1] + ("q" if addr[-1] != "q" else "p")
    assert decode_segwit(flipped) is None
    # a v1 program must use bech32m, v0 bech32: swapping the constants is refused
    assert decode_segwit(segwit_address(1, bytes(32))) == ("bcrt", 1, bytes(32))
    bech32 = pytest.importorskip("bech32")  # an independent BIP-173 implementation
    for node_id in ("02" + "11" * 32, "03" + "22" * 32):
        v0 = node_addresses(node_id)["bech32"]
        assert bech32.decode("bcrt", v0)[0] == 0
        assert len(bytes(bech32.decode("bcrt", v0)[1])) == 20


def test_withdraw_to_another_node(line: Line) -> None:
    net = line.net
    a, b = line.api("a"), line.api("b")
    net.fund_wallet(line.ids["a"], 100_000)
    before = net.wallet_msat(line.ids["a"])
    dest = b.newaddr(addresstype="bech32")["bech32"]
    res = a.withdraw(destination=dest, satoshi=30_000)
    assert set(res) == {"tx", "txid", "psbt"}
    b_outs = [o for o in b.listfunds()["outputs"] if o["txid"] == res["txid"]]
    assert [(o["amount_msat"], o["status"]) for o in b_outs] == [(30_000_000, "unconfirmed")]
    assert b_outs[0]["scriptpubkey"].startswith("0014")
    change = [o for o in a.listfunds()["outputs"] if o["txid"] == res["txid"]]
    assert sum(o["amount_msat"] for o in change) == before - (30_000 + 4215) * 1000
    net.mine(1)
    assert {o["status"] for o in b.listfunds()["outputs"] if o["txid"] == res["txid"]} == {
        "confirmed"
    }
    assert {o["status"] for o in a.listfunds()["outputs"] if o["txid"] == res["txid"]} == {
        "confirmed"
    }


def test_withdraw_all_and_errors(line: Line) -> None:
    net = line.net
    a = line.api("a")
    dest = line.api("c").newaddr()["p2tr"]
    with pytest.raises(RpcError) as exc:
        a.withdraw(destination="not-an-address", satoshi=1000)
    assert (exc.value.code, exc.value.message) == (
        -1,
        "Could not parse destination address, destination should be a valid address",
    )
    mainnet = segwit_address(0, bytes(20), hrp="bc")
    with pytest.raises(RpcError) as exc:
        a.withdraw(destination=mainnet, satoshi=1000)
    assert exc.value.message == "Destination address is not on network regtest"
    with pytest.raises(RpcError) as exc:
        a.withdraw(destination=dest, satoshi=100)
    assert (exc.value.code, exc.value.message) == (
        302,
        "Receive amount is below dust limit (546sat)",
    )
    utxo = net.fund_wallet(line.ids["a"], 50_000)
    available = len([o for o in a.listfunds()["outputs"] if o["status"] == "confirmed"])
    with pytest.raises(RpcError) as exc:
        a.withdraw(destination=dest, satoshi=10_000_000)
    assert exc.value.code == 301
    assert exc.value.message.startswith(
        f"Could not afford 10000000sat using all {available} available UTXOs: "
    )
    with pytest.raises(RpcError) as exc:
        a.withdraw(destination=dest, satoshi=1000, utxos=["00" * 32 + ":0"])
    assert exc.value.message == "Unknown UTXO " + "00" * 32 + ":0"
    res = a.withdraw(destination=dest, satoshi="all", utxos=[f"{utxo.txid}:{utxo.output}"])
    assert utxo.spent
    got = [o for o in line.api("c").listfunds()["outputs"] if o["txid"] == res["txid"]]
    assert [o["amount_msat"] for o in got] == [(50_000 - 4215) * 1000]
    assert got[0]["scriptpubkey"].startswith("5120")
    with pytest.raises(RpcError) as exc:
        a.withdraw(destination=dest, satoshi=1000, utxos=[f"{utxo.txid}:{utxo.output}"])
    assert exc.value.message == f"Already spent UTXO {utxo.txid}:{utxo.output}"


def test_withdraw_minconf(line: Line) -> None:
    net = line.net
    a = line.api("a")
    dest = line.api("b").newaddr()["p2tr"]
    net.fund_wallet(line.ids["a"], 20_000)
    h = net.blockheight
    funded = [o for o in a.listfunds()["outputs"] if o.get("blockheight") == h]
    assert funded
    with pytest.raises(RpcError) as exc:
        a.withdraw(destination=dest, satoshi=10_000, minconf=2)
    assert exc.value.code == 301
    net.mine(1)
    assert a.withdraw(destination=dest, satoshi=10_000, minconf=2)["txid"]


# -- datastore ---------------------------------------------------------------------------------
def test_datastore_checks_in_clns_order(line: Line) -> None:
    cmds = NodeCommands(line.net, "a")

    def err(**kw: Any) -> tuple[int, str]:
        with pytest.raises(RpcError) as exc:
            cmds.datastore(**kw)
        return exc.value.code, exc.value.message

    assert err(key="k", string="x", mode="bogus") == (
        -32602,
        "mode: should be 'must-create', 'must-replace', 'create-or-replace', 'must-append',"
        " or 'create-or-append': invalid token 'bogus'",
    )
    assert err(key="k", string="x", hex="00", mode="bogus")[1].startswith("mode: ")
    assert err(key="k", string="x", hex="00") == (-32602, "Cannot have both hex and string")
    assert err(key="k") == (-32602, "Must have either hex or string")
    assert err(key="k", string="x", generation=0) == (
        -32602,
        "generation only valid with must-replace or must-append",
    )
    assert err(key=[], string="x") == (-32602, "key: should not be empty: invalid token '[]'")
    cmds.datastore(key=["a", "b"], string="x")
    assert err(key="a", string="y") == (1205, "Key has children already")
    assert err(key=["a", "b", "c"], string="y") == (1206, "Parent key [a,b] exists")
    assert err(key=["a", "b"], string="y") == (1202, "Key already exists")
    assert err(key=["a", "z"], string="y", mode="must-replace") == (1203, "Key does not exist")
    assert err(key=["a", "b"], string="y", mode="must-replace", generation=3) == (
        1204,
        "generation is different",
    )
    assert cmds.datastore(key="s", string="one")["key"] == ["s"]
    assert cmds.listdatastore(key="s")["datastore"][0]["string"] == "one"


def test_datastore_through_bind_params(line: Line) -> None:
    a = line.api("a")
    with pytest.raises(RpcError) as exc:
        a.call("datastore", {"key": "k", "string": "x", "mode": "bogus"})
    assert exc.value.message.startswith("mode: should be 'must-create', 'must-replace'")
    assert a.call("datastore", ["k", None, "ff"])["hex"] == "ff"
    assert "string" not in a.listdatastore(key="k")["datastore"][0]


def test_listdatastore_summaries(line: Line) -> None:
    cmds = NodeCommands(line.net, "a")
    cmds.datastore(key=["a", "b", "c"], string="1")
    cmds.datastore(key=["a", "b", "d"], string="2")
    cmds.datastore(key=["a", "e"], string="3")
    cmds.datastore(key="z", hex="ff")
    assert cmds.listdatastore()["datastore"] == [
        {"key": ["a"]},
        {"key": ["z"], "generation": 0, "hex": "ff"},
    ]
    assert cmds.listdatastore(key="a")["datastore"] == [
        {"key": ["a", "b"]},
        {"key": ["a", "e"], "generation": 0, "hex": "33", "string": "3"},
    ]


def test_datastoreusage(line: Line) -> None:
    a = line.api("a")
    assert a.datastoreusage() == {"datastoreusage": {"key": "[]", "total_bytes": 0}}
    a.datastore(key=["hive", "x"], string="12345")
    a.datastore(key=["hive", "yy", "z"], hex="00ff")
    a.datastore(key="other", string="o")
    # key bytes with separators plus data: "hive/x"+5, "hive/yy/z"+2, "other"+1
    assert a.datastoreusage(key="hive") == {
        "datastoreusage": {"key": "[hive]", "total_bytes": 6 + 5 + 9 + 2}
    }
    assert a.datastoreusage()["datastoreusage"]["total_bytes"] == 6 + 5 + 9 + 2 + 5 + 1
    assert a.datastoreusage(key=["hive", "yy"])["datastoreusage"] == {
        "key": "[hive,yy]",
        "total_bytes": 11,
    }
    assert a.datastoreusage(key="none")["datastoreusage"]["total_bytes"] == 0


# -- keys ------------------------------------------------------------------------------------
def test_add_node_with_a_pinned_secret() -> None:
    net = Network(VirtualClock(), seed=1)
    node_id = net.add_node("pinned", secret=bytes([1]) * 32)
    assert node_id == "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f"
    assert net.node("pinned").secret == bytes([1]) * 32
    assert net.add_node("derived") != node_id
    with pytest.raises(ValueError):
        net.add_node("short", secret=b"\x01" * 31)
    with pytest.raises(ValueError):
        net.add_node("zero", secret=bytes(32))
    with pytest.raises(ValueError):
        net.add_node("twin", secret=bytes([1]) * 32)


def test_signing_texts(line: Line) -> None:
    a = NodeCommands(line.net, "a")
    with pytest.raises(RpcError) as exc:
        a.signmessage(message="x" * 65536)
    assert (exc.value.code, exc.value.message) == (-32602, "Message must be < 64k")
    for kw in ({}, {"hex": "00", "string": "x"}):
        with pytest.raises(RpcError) as exc:
            a.makesecret(**kw)
        assert (exc.value.code, exc.value.message) == (-32602, "Must have either hex or string")
    # checkmessage without pubkey knows the node itself, even outside its gossip view
    net = line.net
    net.add_node("loner")
    loner = NodeCommands(net, "loner")
    sig = loner.signmessage(message="me")
    assert loner.checkmessage(message="me", zbase=sig["zbase"]) == {
        "pubkey": loner.node_id,
        "verified": True,
    }
    with pytest.raises(RpcError) as exc:
        a.checkmessage(message="me", zbase=sig["zbase"])
    assert exc.value.code == 1301 and exc.value.data == {"claimed_key": loner.node_id}


# -- schemas ----------------------------------------------------------------------------------
@requires_schemas
def test_new_commands_match_schemas(line: Line) -> None:
    a, d = line.api("a"), line.api("d")
    inv = d.invoice(amount_msat=9_000, label="s1", description="schema")
    validate_response("pay", a.pay(bolt11=inv["bolt11"]))
    validate_response("delpay", a.delpay(payment_hash=inv["payment_hash"], status="complete"))
    validate_response("delinvoice", d.delinvoice(label="s1", status="paid"))
    d.invoice(amount_msat=9_000, label="s2", description="schema")
    validate_response("delinvoice", d.delinvoice(label="s2", status="unpaid", desconly=True))
    validate_response("delinvoice", d.delinvoice(label="s2", status="unpaid"))
    for kind in (None, "bech32", "p2tr", "all"):
        validate_response("newaddr", a.newaddr(addresstype=kind))
    line.net.fund_wallet(line.ids["a"], 60_000)
    dest = line.api("b").newaddr()["p2tr"]
    validate_response("withdraw", a.withdraw(destination=dest, satoshi=20_000))
    line.net.mine(1)  # the change confirms
    validate_response("withdraw", a.withdraw(destination=dest, satoshi="all"))
    a.datastore(key=["x", "y"], string="v")
    validate_response("datastoreusage", a.datastoreusage())
    validate_response("datastoreusage", a.datastoreusage(key="x"))
    validate_response("listdatastore", a.listdatastore())


def test_bind_params_output_runs_every_plain_command(line: Line) -> None:
    """A smoke run of invoke over bound params for commands without side effects."""
    cmds = NodeCommands(line.net, "a")
    for method, params in [
        ("listpeers", {"level": "info"}),
        ("listforwards", ["settled"]),
        ("listinvoices", {"index": "created", "start": "1"}),
        ("feerates", ["perkw"]),
        ("listhtlcs", {}),
        ("newaddr", ["all"]),
        ("datastoreusage", [["a", "b"]]),
    ]:
        out = cmds.invoke(method, bind_params(method, params))
        assert isinstance(out, dict), method
