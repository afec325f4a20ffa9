"""Routing families: ``fee-policy``, ``htlc-policy``, ``forwarding``, ``rebalance``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lnhive.core.errors import InvalidParams
from lnhive.manage.catalogue import Band, Catalogue, Effect
from lnhive.manage.danger import V
from lnhive.manage.params import Kind, Param
from lnhive.manage.schemas.common import (
    ADV,
    MAX_BASE_MSAT,
    MAX_FEE_PPM,
    MAX_PAY_MSAT,
    MAX_REBALANCE_FEE_PPM,
    STD,
    FamilyBuilder,
    address,
    channel,
    flag,
    integer,
    node,
    reason,
    require_any,
    sats,
)
from lnhive.manage.snapshot import NodeSnapshot

REBALANCE_LARGE_SATS = 100_000
"""From this amount a circular rebalance scores 5 instead of 3."""
BULK_POLICY_KEYS = ("base_msat", "fee_ppm")


def _set_single_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    return "rate" if "fee_ppm" in params else "base"


def _check_bulk_policy(params: Mapping[str, Any]) -> None:
    policy = params["policy"]
    extras = sorted(set(policy) - set(BULK_POLICY_KEYS))
    if extras or not policy:
        raise InvalidParams(f"policy takes {list(BULK_POLICY_KEYS)} only, at least one")
    for key, hi in (("base_msat", MAX_BASE_MSAT), ("fee_ppm", MAX_FEE_PPM)):
        if key in policy:
            value = policy[key]
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= hi:
                raise InvalidParams(f"policy.{key} must be an integer 0-{hi}")


def _set_bulk_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    return "rate" if "fee_ppm" in params["policy"] else "base"


def _htlc_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    if "channels" in params:
        return "bulk"
    return "max" if "htlc_maximum_msat" in params else "min"


def _check_htlc(params: Mapping[str, Any]) -> None:
    require_any("htlc_minimum_msat", "htlc_maximum_msat")(params)
    lo, hi = params.get("htlc_minimum_msat"), params.get("htlc_maximum_msat")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidParams("htlc_minimum_msat must be <= htlc_maximum_msat")


def _rebalance_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    return "large" if params["amount_sats"] >= REBALANCE_LARGE_SATS else "small"


def _check_rebalance(params: Mapping[str, Any]) -> None:
    if params["from_channel"] == params["to_channel"]:
        raise InvalidParams("from_channel and to_channel must differ")


def register(catalogue: Catalogue) -> None:
    fee = FamilyBuilder(catalogue, "fee-policy", "fee_policy")
    fx = (Effect.FEE_CHANGE,)
    fee.action(
        "set_anchor",
        STD,
        (
            channel(),
            integer("target_fee_ppm", 0, MAX_FEE_PPM),
            Param("confidence", Kind.FLOAT, False, 0, 1),
            integer("ttl_hours", 1, 168, required=False),
            reason(required=False),
        ),
        v=V(2, 3, 2, 3, 1),
        cln="cl-revenue-ops revenue-policy (strategy=static), else setchannel",
        rpc=("revenue-policy", "setchannel"),
        effects=fx,
    )
    fee.action(
        "set_single",
        STD,
        (
            channel(),
            integer("base_msat", 0, MAX_BASE_MSAT, required=False),
            integer("fee_ppm", 0, MAX_FEE_PPM, required=False),
        ),
        bands=(Band("base", V(1, 2, 1, 2, 1)), Band("rate", V(2, 3, 2, 3, 1))),
        select=_set_single_band,
        check=require_any("base_msat", "fee_ppm"),
        cln="setchannel feebase/feeppm",
        rpc=("setchannel",),
        effects=fx,
    )
    fee.action(
        "set_bulk",
        STD,
        (
            Param("channels", Kind.CHANNELS, True, hi=500),
            Param("policy", Kind.OBJECT, True, max_len=256),
        ),
        bands=(Band("base", V(2, 3, 2, 4, 2)), Band("rate", V(3, 4, 3, 5, 2))),
        select=_set_bulk_band,
        check=_check_bulk_policy,
        cln="setchannel for each channel (protected channels skipped)",
        rpc=("setchannel",),
        effects=fx,
    )
    fee.action(
        "set_zero_fee",
        STD,
        (channel(),),
        v=V(2, 4, 2, 3, 2),
        cln="setchannel feebase=0 feeppm=0",
        rpc=("setchannel",),
        effects=fx,
    )

    htlc = FamilyBuilder(catalogue, "htlc-policy", "fee_policy")
    htlc.action(
        "set_htlc_limits",
        STD,
        (
            channel(required=False),
            Param("channels", Kind.CHANNELS, False, hi=500),
            integer("htlc_minimum_msat", 0, MAX_PAY_MSAT, required=False),
            integer("htlc_maximum_msat", 0, MAX_PAY_MSAT, required=False),
        ),
        bands=(
            Band("min", V(1, 2, 1, 2, 1)),
            Band("max", V(2, 3, 2, 3, 1)),
            Band("bulk", V(3, 4, 3, 5, 2)),
        ),
        select=_htlc_band,
        check=_check_htlc,
        alternatives=(frozenset({"channel_id"}), frozenset({"channels"})),
        cln="setchannel htlcmin/htlcmax (<= capacity)",
        rpc=("setchannel",),
        effects=(Effect.HTLC_CHANGE,),
    )
    htlc.action(
        "set_cltv_delta",
        STD,
        (integer("cltv_delta", 34, 2016),),
        v=V(2, 3, 2, 4, 2),
        cln="no per-channel delta in CLN: setconfig cltv-delta where dynamic",
        rpc=("setconfig",),
        effects=(Effect.HTLC_CHANGE, Effect.CONFIG),
        needs=(
            "dynamic-cltv-delta",
            "CLN has no per-channel CLTV delta and cltv-delta is not a dynamic option",
        ),
    )

    fwd = FamilyBuilder(catalogue, "forwarding", "fee_policy")
    fw = (Effect.FORWARDING,)
    fwd.action(
        "disable_channel",
        STD,
        (channel(), reason()),
        v=V(2, 3, 3, 3, 1),
        cln="setchannel htlcmax=htlcmin (no disable RPC); the receipt keeps the old policy",
        rpc=("setchannel",),
        effects=fw,
    )
    fwd.action(
        "enable_channel",
        STD,
        (channel(), reason()),
        v=V(1, 2, 2, 2, 1),
        cln="setchannel restoring the policy saved by disable_channel",
        rpc=("setchannel",),
        effects=fw,
    )
    fwd.action(
        "disable_all",
        ADV,
        (reason(),),
        v=V(2, 5, 6, 6, 2),
        cln="setchannel htlcmax=htlcmin on every channel",
        rpc=("setchannel",),
        effects=(*fw, Effect.ALL_CHANNELS),
    )
    fwd.action(
        "enable_all",
        STD,
        (reason(),),
        v=V(1, 2, 3, 3, 1),
        cln="setchannel restoring saved policies on every channel",
        rpc=("setchannel",),
        effects=(*fw, Effect.ALL_CHANNELS),
    )
    fwd.action(
        "set_routing_hints",
        ADV,
        (Param("hints", Kind.STR_LIST, True, hi=20),),
        v=V(2, 1, 1, 3, 2),
        cln="routing-hints plugin configuration",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
        needs=("routing-hints", "needs a routing-hints plugin; CLN has no such option"),
    )

    reb = FamilyBuilder(catalogue, "rebalance", "rebalance")
    reb.action(
        "circular_rebalance",
        STD,
        (
            channel("from_channel"),
            channel("to_channel"),
            sats(),
            integer("max_fee_ppm", 0, MAX_REBALANCE_FEE_PPM),
            flag("prefer_hive_route"),
        ),
        bands=(Band("small", V(2, 3, 2, 3, 2)), Band("large", V(3, 5, 3, 3, 3))),
        select=_rebalance_band,
        check=_check_rebalance,
        cln="cl-revenue-ops revenue-rebalance, else invoice + pay over a route avoiding forbidden peers",
        rpc=("revenue-rebalance", "invoice", "getroute", "sendpay"),
        effects=(Effect.REBALANCE,),
    )
    for name in ("swap_out", "swap_in"):
        reb.action(
            name,
            STD,
            (sats(), address()),
            v=V(5, 5, 3, 2, 4),
            cln="swap plugin",
            rpc=("swap",),
            effects=(Effect.REBALANCE, Effect.ONCHAIN_SEND)
            if name == "swap_out"
            else (Effect.REBALANCE,),
            needs=("swap", "needs a swap plugin (none is loaded)"),
        )
    reb.action(
        "peer_rebalance",
        STD,
        (node("peer_id"), sats()),
        v=V(3, 4, 2, 3, 2),
        cln="via cl-hive",
        rpc=("hive-rebalance",),
        effects=(Effect.REBALANCE,),
        needs=("cl-hive", "needs cl-hive's rebalancing interface"),
    )
    reb.action(
        "liquidity_lease",
        ADV,
        (node("provider"), sats("capacity_sats"), integer("days", 1, 365)),
        v=V(5, 5, 2, 3, 3),
        cln="marketplace lease",
        rpc=("hive-client-marketplace-lease",),
        effects=(Effect.PAYMENT,),
        needs=("marketplace", "the liquidity marketplace client is not available"),
    )
