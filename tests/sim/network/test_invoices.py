"""BOLT11 invoices: encoding, decoding, statuses, labels."""

from __future__ import annotations

import bolt11
import pytest

from lnhive.core.hashing import sha256
from lnhive.sim.errors import RpcError
from lnhive.sim.network.invoices import decode

from .conftest import Line


def test_bolt11_round_trip(line: Line) -> None:
    d = line.api("d")
    pre = "42" * 32
    inv = d.invoice(
        amount_msat=123_456,
        label="coffee",
        description="one coffee",
        expiry=900,
        preimage=pre,
        cltv=40,
    )
    assert inv["bolt11"].startswith("lnbcrt1234560p1")
    assert inv["payment_hash"] == sha256(bytes.fromhex(pre)).hex()
    raw = bolt11.decode(inv["bolt11"])  # an independent decode, not our cache
    assert raw.payee == line.ids["d"]
    assert int(raw.amount_msat or 0) == 123_456
    assert raw.payment_hash == inv["payment_hash"]
    assert raw.payment_secret == inv["payment_secret"]
    assert raw.description == "one coffee" and raw.expiry == 900
    assert raw.min_final_cltv_expiry == 40
    dec = d.decode(string=inv["bolt11"])
    assert dec["type"] == "bolt11 invoice" and dec["valid"] is True
    assert dec["payee"] == line.ids["d"] and dec["amount_msat"] == 123_456
    assert dec["expiry"] == 900 and dec["created_at"] + 900 == inv["expires_at"]
    assert dec["signature"].startswith("30")
    assert decode(inv["bolt11"].upper()).payment_hash == inv["payment_hash"]


def test_amountless_invoice_and_statuses(line: Line) -> None:
    d = line.api("d")
    inv = d.invoice(amount_msat="any", label=7, description="tip")
    assert "amount_msat" not in d.decode(string=inv["bolt11"])
    assert d.listinvoices(label="7")["invoices"][0]["status"] == "unpaid"
    with pytest.raises(RpcError) as exc:
        line.api("a").xpay(invstring=inv["bolt11"])
    assert exc.value.code == -32602
    line.api("a").xpay(invstring=inv["bolt11"], amount_msat="5sat")
    got = d.listinvoices(label=7)["invoices"][0]
    assert got["status"] == "paid" and got["amount_received_msat"] == 5000
    assert got["paid_at"] == int(line.clock.now()) and got["pay_index"] == 1
    assert d.waitinvoice(label=7)["status"] == "paid"
    paid = line.topics("d", "invoice_payment")
    assert paid == [{"msat": 5000, "preimage": got["payment_preimage"], "label": "7"}]


def test_duplicate_label_and_preimage(line: Line) -> None:
    d = line.api("d")
    d.invoice(amount_msat=1, label="x", description="", preimage="01" * 32)
    with pytest.raises(RpcError) as exc:
        d.invoice(amount_msat=1, label="x", description="")
    assert exc.value.code == 900
    with pytest.raises(RpcError) as exc:
        d.invoice(amount_msat=1, label="y", description="", preimage="01" * 32)
    assert exc.value.code == 901


def test_expiry_is_lazy(line: Line) -> None:
    d = line.api("d")
    d.invoice(amount_msat=1, label="e", description="", expiry=60)
    line.clock.advance(59)
    assert d.listinvoices(label="e")["invoices"][0]["status"] == "unpaid"
    line.clock.advance(1)
    assert d.listinvoices(label="e")["invoices"][0]["status"] == "expired"
    with pytest.raises(RpcError) as exc:
        d.waitinvoice(label="e")
    assert exc.value.code == 903


def test_waiters_are_told_when_paid(line: Line) -> None:
    d = line.api("d")
    inv = d.invoice(amount_msat=10_000, label="w", description="")
    seen: list[str] = []
    line.net.node("d").invoices.wait("w", lambda i: seen.append(i.label))
    assert seen == []
    line.api("a").xpay(invstring=inv["bolt11"])
    assert seen == ["w"]


def test_decode_rejects_garbage(line: Line) -> None:
    with pytest.raises(RpcError) as exc:
        line.api("a").decode(string="lnbcrt1garbage")
    assert exc.value.code == -32602
