"""Money families: ``payment`` and ``wallet``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lnhive.manage.catalogue import Band, Catalogue, Effect
from lnhive.manage.danger import V
from lnhive.manage.params import Kind, Param
from lnhive.manage.schemas.common import (
    ADM,
    ADV,
    MAX_CHANNEL_SATS,
    MAX_PAY_MSAT,
    MAX_REBALANCE_FEE_PPM,
    MON,
    STD,
    FamilyBuilder,
    address,
    feerate,
    flag,
    integer,
    node,
    text,
)
from lnhive.manage.snapshot import NodeSnapshot

PAY_LARGE_MSAT = 10_000_000
"""10,000 sats: from here a payment scores 6 and needs tier advanced."""
SEND_LARGE_SATS = 100_000
"""From here an on-chain send scores 8 and needs tier admin."""


def _pay_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    # A bare bolt11 carries its amount inside; until decoded it scores as large.
    amount = params.get("amount_msat")
    return "small" if amount is not None and amount < PAY_LARGE_MSAT else "large"


def _send_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    amount = params["amount_sats"]
    if amount == "all":
        return "all"
    return "large" if amount >= SEND_LARGE_SATS else "small"


def _pay_params() -> tuple[Param, ...]:
    return (
        Param("bolt11", Kind.BOLT11, False),
        node("destination", required=False),
        integer("amount_msat", 1, MAX_PAY_MSAT, required=False),
        integer("max_fee_ppm", 0, MAX_REBALANCE_FEE_PPM),
        integer("timeout_seconds", 1, 60),
    )


PAY_ALTERNATIVES = (frozenset({"bolt11"}), frozenset({"destination", "amount_msat"}))


def register(catalogue: Catalogue) -> None:
    pay = FamilyBuilder(catalogue, "payment", "payment")
    pay.action(
        "create_invoice",
        MON,
        (
            integer("amount_msat", 0, MAX_PAY_MSAT),
            text("label", 128, min_len=1),
            text("description", 640, required=False),
        ),
        v=V(1, 1, 1, 1, 1),
        cln="invoice",
        rpc=("invoice",),
    )
    pay_bands = (
        Band("small", V(4, 4, 3, 2, 3), STD),
        Band("large", V(6, 6, 3, 2, 5), ADV),
    )
    pay.action(
        "pay",
        STD,
        _pay_params(),
        bands=pay_bands,
        select=_pay_band,
        alternatives=PAY_ALTERNATIVES,
        cln="xpay / pay (keysend without an invoice)",
        rpc=("xpay", "pay", "keysend"),
        effects=(Effect.PAYMENT,),
    )
    pay.action(
        "keysend",
        STD,
        (
            node("destination"),
            integer("amount_msat", 1, MAX_PAY_MSAT),
            integer("max_fee_ppm", 0, MAX_REBALANCE_FEE_PPM),
            integer("timeout_seconds", 1, 60),
        ),
        bands=pay_bands,
        select=_pay_band,
        cln="keysend",
        rpc=("keysend",),
        effects=(Effect.PAYMENT,),
    )
    pay.action(
        "pay_mpp",
        STD,
        _pay_params(),
        v=V(5, 5, 3, 2, 4),
        alternatives=PAY_ALTERNATIVES,
        cln="pay (multi-part)",
        rpc=("pay",),
        effects=(Effect.PAYMENT,),
    )

    wal = FamilyBuilder(catalogue, "wallet", "wallet")
    wal.action(
        "new_address",
        MON,
        (Param("type", Kind.ENUM, False, choices=("bech32", "p2tr")),),
        v=V(1, 1, 1, 1, 1),
        permission="monitor",
        cln="newaddr",
        rpc=("newaddr",),
    )
    wal.action(
        "list_funds",
        MON,
        v=V(1, 1, 1, 1, 1),
        permission="monitor",
        cln="listfunds",
        rpc=("listfunds",),
        effects=(Effect.READ,),
    )
    outpoints = Param("outpoints", Kind.OUTPOINTS)
    wal.action(
        "utxo_reserve",
        STD,
        (outpoints, flag("unreserve")),
        v=V(2, 1, 2, 2, 3),
        cln="reserveinputs / unreserveinputs",
        rpc=("reserveinputs", "unreserveinputs"),
    )
    for name in ("utxo_consolidate", "bump_fee"):
        wal.action(
            name,
            ADV,
            (outpoints, feerate()),
            v=V(4, 3, 2, 2, 3),
            cln="utxopsbt + signpsbt + sendpsbt (CPFP; CLN has no bumpfee)",
            rpc=("utxopsbt", "signpsbt", "sendpsbt"),
            effects=(Effect.ONCHAIN_SEND,),
        )
    wal.action(
        "send_onchain",
        ADV,
        (
            address(),
            Param("amount_sats", Kind.INT_OR_ALL, True, 546, MAX_CHANNEL_SATS),
            feerate(),
        ),
        bands=(
            Band("small", V(6, 5, 3, 2, 6), ADV),
            Band("large", V(8, 7, 3, 3, 8), ADM),
            Band("all", V(9, 9, 3, 9, 9), ADM),
        ),
        select=_send_band,
        cln="withdraw (destination from the allow-list)",
        rpc=("withdraw",),
        effects=(Effect.ONCHAIN_SEND,),
    )
