"""Flow stages 7-8: validation of params and scoring (spec §8 tests 9, 15)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnhive.core.errors import InvalidParams, UnknownAction, UnknownSchema
from lnhive.manage.catalogue import prepare
from lnhive.manage.schemas import CATALOGUE
from lnhive.manage.snapshot import NodeSnapshot
from tests.manage.conftest import PEER_A, PEER_X, SNAPSHOT, prep

ADDR = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def test_unknown_schema_and_action() -> None:
    with pytest.raises(UnknownSchema):
        prepare(CATALOGUE, "hive:fee-policy-extended/v1", {"action": "set_single", "params": {}})
    with pytest.raises(UnknownAction):
        prepare(CATALOGUE, "hive:fee-policy/v1", {"action": "rm_rf", "params": {}})
    with pytest.raises(UnknownSchema):
        prepare(CATALOGUE, 7, {"action": "x"})


def test_payload_shape_is_closed() -> None:
    with pytest.raises(InvalidParams):
        prepare(CATALOGUE, "hive:monitor/v1", {"action": "channel_list", "params": {}, "x": 1})
    with pytest.raises(InvalidParams):
        prepare(CATALOGUE, "hive:monitor/v1", ["channel_list"])
    got = prepare(CATALOGUE, "hive:monitor/v1", {"action": "channel_list"})
    assert got.params == {} and got.danger == 1


@pytest.mark.parametrize(
    ("schema", "action", "params"),
    [
        # schema injection (§8 test 9): extra params never reach the node
        (
            "channel",
            "close_unilateral",
            {"channel_id": "100x1x0", "reason": "r", "destination": ADDR},
        ),
        (
            "channel",
            "open",
            {
                "peer_id": PEER_A,
                "amount_sats": 100_000,
                "push_msat": 0,
                "announce": True,
                "feerate": 5,
                "close_to": ADDR,
            },
        ),
        (
            "fee-policy",
            "set_single",
            {"channel_id": "100x1x0", "fee_ppm": 10, "method": "withdraw"},
        ),
    ],
)
def test_extra_params_are_invalid(schema: str, action: str, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams) as info:
        prep(schema, action, **params)
    assert "unexpected params" in info.value.message


def test_danger_five_needs_every_param() -> None:
    base = {"channel_id": "100x1x0", "amount_sats": 50_000, "feerate": 3}
    with pytest.raises(InvalidParams) as info:
        prep(
            "rebalance",
            "circular_rebalance",
            from_channel="100x1x0",
            to_channel="101x1x0",
            amount_sats=100_000,
            max_fee_ppm=100,
        )
    assert info.value.details["missing"] == ["prefer_hive_route"]
    # the same action below D 5 may leave the optional one out
    small = prep(
        "rebalance",
        "circular_rebalance",
        from_channel="100x1x0",
        to_channel="101x1x0",
        amount_sats=99_999,
        max_fee_ppm=100,
    )
    assert small.danger == 3
    assert prep("splice", "splice_in", **base).danger == 5


def test_rebalance_band_boundary_and_fee_cap() -> None:
    common = {"from_channel": "100x1x0", "to_channel": "101x1x0", "prefer_hive_route": False}
    assert (
        prep(
            "rebalance", "circular_rebalance", amount_sats=99_999, max_fee_ppm=1000, **common
        ).danger
        == 3
    )
    assert (
        prep(
            "rebalance", "circular_rebalance", amount_sats=100_000, max_fee_ppm=1000, **common
        ).danger
        == 5
    )
    with pytest.raises(InvalidParams):
        prep("rebalance", "circular_rebalance", amount_sats=1000, max_fee_ppm=1001, **common)
    with pytest.raises(InvalidParams):
        prep(
            "rebalance",
            "circular_rebalance",
            amount_sats=1000,
            max_fee_ppm=10,
            from_channel="100x1x0",
            to_channel="100x1x0",
        )


def test_types_are_exact() -> None:
    with pytest.raises(InvalidParams):
        prep("fee-policy", "set_single", channel_id="100x1x0", fee_ppm=True)
    with pytest.raises(InvalidParams):
        prep("fee-policy", "set_single", channel_id="100x1x0", fee_ppm="10")
    with pytest.raises(InvalidParams):
        prep("fee-policy", "set_single", channel_id="not-a-channel", fee_ppm=10)
    with pytest.raises(InvalidParams):
        prep("fee-policy", "set_single", channel_id="100x1x0")  # neither base nor ppm
    with pytest.raises(InvalidParams):
        prep("fee-policy", "set_single", channel_id="100x1x0", fee_ppm=50_001)


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_fee_ppm_bounds_property(ppm: int) -> None:
    if 0 <= ppm <= 50_000:
        got = prep("fee-policy", "set_single", channel_id="100x1x0", fee_ppm=ppm)
        assert got.params["fee_ppm"] == ppm and got.danger == 3
    else:
        with pytest.raises(InvalidParams):
            prep("fee-policy", "set_single", channel_id="100x1x0", fee_ppm=ppm)


def test_set_single_bands() -> None:
    assert prep("fee-policy", "set_single", channel_id="100x1x0", base_msat=0).danger == 2
    assert (
        prep("fee-policy", "set_single", channel_id="100x1x0", base_msat=0, fee_ppm=1).danger == 3
    )


def test_bulk_policy_is_typed() -> None:
    ok = prep("fee-policy", "set_bulk", channels="all", policy={"base_msat": 0})
    assert ok.danger == 4
    assert prep("fee-policy", "set_bulk", channels=["100x1x0"], policy={"fee_ppm": 5}).danger == 5
    for bad in ({}, {"fee_ppm": -1}, {"fee_ppm": 1, "x": 2}, {"base_msat": True}):
        with pytest.raises(InvalidParams):
            prep("fee-policy", "set_bulk", channels="all", policy=bad)
    with pytest.raises(InvalidParams):
        prep("fee-policy", "set_bulk", channels=["100x1x0", "100x1x0"], policy={"base_msat": 0})


def test_htlc_limits_alternatives_and_order() -> None:
    assert (
        prep("htlc-policy", "set_htlc_limits", channel_id="100x1x0", htlc_minimum_msat=1).danger
        == 2
    )
    assert (
        prep("htlc-policy", "set_htlc_limits", channel_id="100x1x0", htlc_maximum_msat=9).danger
        == 3
    )
    with pytest.raises(InvalidParams):
        prep(
            "htlc-policy",
            "set_htlc_limits",
            channel_id="100x1x0",
            htlc_minimum_msat=10,
            htlc_maximum_msat=9,
        )
    with pytest.raises(InvalidParams):  # both single and bulk
        prep(
            "htlc-policy",
            "set_htlc_limits",
            channel_id="100x1x0",
            channels="all",
            htlc_minimum_msat=1,
        )
    with pytest.raises(InvalidParams):  # bulk is D 5: both limits needed
        prep("htlc-policy", "set_htlc_limits", channels="all", htlc_minimum_msat=1)
    bulk = prep(
        "htlc-policy", "set_htlc_limits", channels="all", htlc_minimum_msat=1, htlc_maximum_msat=5
    )
    assert bulk.danger == 5


def test_disconnect_scores_from_live_state() -> None:
    assert prep("peer", "disconnect", node_id=PEER_A).danger == 4
    assert prep("peer", "disconnect", node_id=PEER_X).danger == 2
    assert prep("peer", "disconnect", NodeSnapshot(), node_id=PEER_A).danger == 2


def test_open_bands_and_push_cap() -> None:
    common = {"push_msat": 0, "announce": True, "feerate": 5}
    assert prep("channel", "open", peer_id=PEER_A, amount_sats=999_999, **common).danger == 5
    got = prep("channel", "open", peer_id=PEER_A, amount_sats=1_000_000, **common)
    assert got.danger == 6 and got.tier.label == "advanced"
    batch = prep(
        "channel",
        "open",
        destinations=[
            {"peer_id": PEER_A, "amount_sats": 50_000},
            {"peer_id": PEER_X, "amount_sats": 60_000},
        ],
        **common,
    )
    assert batch.danger == 7
    with pytest.raises(InvalidParams):
        prep("channel", "open", peer_id=PEER_A, amount_sats=100_000, **{**common, "push_msat": 1})
    with pytest.raises(InvalidParams):
        prep("channel", "open", destinations=[{"peer_id": PEER_A}], **common)


def test_payment_bands_and_alternatives() -> None:
    common = {"max_fee_ppm": 1000, "timeout_seconds": 60}
    small = prep("payment", "keysend", destination=PEER_X, amount_msat=9_999_999, **common)
    assert (small.danger, small.tier.label) == (4, "standard")
    large = prep("payment", "keysend", destination=PEER_X, amount_msat=10_000_000, **common)
    assert (large.danger, large.tier.label) == (6, "advanced")
    # an invoice's amount is unknown until decoded: it scores as large
    assert prep("payment", "pay", bolt11="lnbcrt1p0abc", **common).danger == 6
    with pytest.raises(InvalidParams):
        prep("payment", "pay", bolt11="lnbcrt1p0abc", destination=PEER_X, amount_msat=5, **common)
    with pytest.raises(InvalidParams):
        prep("payment", "pay", **common)
    with pytest.raises(InvalidParams):
        prep(
            "payment", "pay", destination=PEER_X, amount_msat=5, max_fee_ppm=10, timeout_seconds=61
        )


def test_send_onchain_bands() -> None:
    def d(amount: Any) -> tuple[int, str]:
        p = prep("wallet", "send_onchain", destination=ADDR, amount_sats=amount, feerate=2)
        return p.danger, p.tier.label

    assert d(99_999) == (6, "advanced")
    assert d(100_000) == (8, "admin")
    assert d("all") == (9, "admin")
    with pytest.raises(InvalidParams):
        d("everything")


def test_plugin_names_never_paths_and_configure_allow_list() -> None:
    assert prep("plugin", "start", name="summary.py").danger == 4
    with pytest.raises(InvalidParams):
        prep("plugin", "start", name="../../tmp/evil")
    assert prep("plugin", "configure", option="revenue-ops-fee-interval", value="600").danger == 4
    with pytest.raises(InvalidParams):
        prep("plugin", "configure", option="hive-comms-policy-preset", value="aggressive")


def test_config_adjust_allow_list_and_fee_band() -> None:
    assert prep("config", "adjust", param="fee_interval", value=600).danger == 3
    assert prep("config", "adjust", param="min_fee_ppm", value=10).danger == 4
    with pytest.raises(InvalidParams):
        prep("config", "adjust", param="db_path", value=1)
    with pytest.raises(InvalidParams):
        prep("config", "adjust", param="vegas_decay", value=2)


def test_htlc_ids_and_history_since() -> None:
    assert prep("htlc-mgmt", "inspect", htlc_id="100x1x0:7").params["htlc_id"] == "100x1x0:7"
    with pytest.raises(InvalidParams):
        prep("htlc-mgmt", "inspect", htlc_id="100x1x0")
    with pytest.raises(InvalidParams):
        prep("htlc-mgmt", "list_stuck", min_age_seconds=59)
    with pytest.raises(InvalidParams):
        prep("monitor", "forward_history", limit=1001)
    assert SNAPSHOT.channel("ab" * 32) is SNAPSHOT.channels[0]
