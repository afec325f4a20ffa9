"""Each policy rule: sane bounds, enforcement, strictness (ARCHITECTURE §6; spec §3.2, §4.4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnhive.core.errors import InvalidInput
from lnhive.manage.rules import (
    REGISTRY,
    AddressAllowlist,
    AllowedChannels,
    AllowedPeers,
    ApprovedPlugins,
    BlockedSchemas,
    FeeBounds,
    FeeChangeLimit,
    ForbiddenPeers,
    HistoryLimit,
    HiveMemberFees,
    OnchainBudget,
    OpenConstraints,
    Outcome,
    ProtectedChannels,
    QuietHours,
    RateLimits,
    RebalanceLimits,
    SpendLimits,
    TimeWindow,
    parse_rule,
)
from tests.manage.conftest import PEER_A, PEER_X, SNAPSHOT, T0, ctx_for

ADDR = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
HOUR = 3600


@dataclass
class Past:
    at: float
    effects: tuple[str, ...]
    danger: int = 1
    sats_out: int = 0
    onchain: int = 0


@dataclass
class ListHistory:
    rows: list[Past] = field(default_factory=list)
    fee_starts: dict[str, int] = field(default_factory=dict)

    def count(
        self, *, since: float, effects: Iterable[str] | None = None, min_danger: int = 0
    ) -> int:
        want = None if effects is None else set(effects)
        return sum(
            1
            for r in self.rows
            if r.at >= since and r.danger >= min_danger and (want is None or want & set(r.effects))
        )

    def sats_out_since(self, since: float) -> int:
        return sum(r.sats_out for r in self.rows if r.at >= since)

    def onchain_since(self, since: float) -> int:
        return sum(r.onchain for r in self.rows if r.at >= since)

    def fee_at_window_start(self, channel: str, since: float) -> int | None:
        return self.fee_starts.get(channel)


def fee_ctx(ppm: int, channel: str = "100x1x0", **kw: Any) -> Any:
    return ctx_for("fee-policy", "set_single", channel_id=channel, fee_ppm=ppm, **kw)


def test_registry_maps_every_rule_name() -> None:
    assert set(REGISTRY) == {
        "rate_limits",
        "spend_limits",
        "rebalance_limits",
        "fee_change_limit",
        "fee_bounds",
        "open_constraints",
        "onchain_budget",
        "history_limit",
        "forbidden_peers",
        "allowed_peers",
        "protected_channels",
        "allowed_channels",
        "approved_plugins",
        "address_allowlist",
        "blocked_schemas",
        "quiet_hours",
        "time_window",
        "hive_member_fees",
    }
    for name, cls in REGISTRY.items():
        assert cls.name == name


def test_fee_change_vs_current_fee_boundary() -> None:
    rule = FeeChangeLimit(50)  # channel 100x1x0 is at 100 ppm
    assert rule.check(fee_ctx(150)) is None
    assert rule.check(fee_ctx(50)) is None
    v = rule.check(fee_ctx(151))
    assert v is not None and v.outcome is Outcome.REFUSE
    assert (v.key, v.limit, v.requested) == ("max_fee_change_pct", 50, 51.0)


def test_fee_change_from_zero_allows_ten_ppm() -> None:
    rule = FeeChangeLimit(50)  # 101x1x0 is at 0 ppm
    assert rule.check(fee_ctx(10, "101x1x0")) is None
    assert rule.check(fee_ctx(11, "101x1x0")) is not None


def test_fee_change_24h_window_uses_the_fee_at_window_start() -> None:
    rule = FeeChangeLimit(30, 86_400)
    history = ListHistory(fee_starts={"100x1x0": 100})
    # the channel is now at 100 (first change +20% not applied in this snapshot): +30% ok
    assert rule.check(fee_ctx(130, node=history)) is None
    # after a change to 120, the window still starts at 100: 138 is +38%
    moved = replace(
        SNAPSHOT, channels=(replace(SNAPSHOT.channels[0], fee_ppm=120), *SNAPSHOT.channels[1:])
    )
    v = rule.check(fee_ctx(138, snapshot=moved, node=history))
    assert v is not None and v.key == "max_fee_change_per_24h_pct"
    assert rule.check(fee_ctx(130, snapshot=moved, node=history)) is None


def test_fee_change_unknown_channel_is_refused() -> None:
    assert FeeChangeLimit(50).check(fee_ctx(10, "999x1x0")) is not None


def test_fee_bounds() -> None:
    rule = FeeBounds.from_json(
        {
            "min_fee_ppm": 10,
            "max_fee_ppm": 1000,
            "max_base_msat": 1000,
            "max_htlc_msat": 1_000_000,
            "min_cltv_delta": 40,
        }
    )
    assert rule.check(fee_ctx(500)) is None
    assert rule.check(fee_ctx(5)).key == "min_fee_ppm"  # type: ignore[union-attr]
    assert rule.check(fee_ctx(1001)).key == "max_fee_ppm"  # type: ignore[union-attr]
    base = ctx_for("fee-policy", "set_single", channel_id="100x1x0", base_msat=1001)
    assert rule.check(base).key == "max_base_msat"  # type: ignore[union-attr]
    htlc = ctx_for(
        "htlc-policy", "set_htlc_limits", channel_id="100x1x0", htlc_maximum_msat=2_000_000
    )
    assert rule.check(htlc).key == "max_htlc_msat"  # type: ignore[union-attr]
    cltv = ctx_for("htlc-policy", "set_cltv_delta", cltv_delta=34)
    assert rule.check(cltv).key == "min_cltv_delta"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        FeeBounds.from_json({"max_fee_ppm": 2_000_000})


def open_ctx(amount: int, announce: bool = True, **kw: Any) -> Any:
    return ctx_for(
        "channel",
        "open",
        peer_id=PEER_X,
        amount_sats=amount,
        push_msat=0,
        announce=announce,
        feerate=kw.pop("feerate", 5),
        **kw,
    )


def test_open_constraints() -> None:
    rule = OpenConstraints.from_json(
        {
            "min_capacity_sat": 100_000,
            "max_capacity_sat": 2_000_000,
            "max_push_sat": 0,
            "private_allowed": False,
        }
    )
    assert rule.check(open_ctx(500_000)) is None
    assert rule.check(open_ctx(99_999)).key == "min_capacity_sat"  # type: ignore[union-attr]
    assert rule.check(open_ctx(2_000_001)).key == "max_capacity_sat"  # type: ignore[union-attr]
    assert rule.check(open_ctx(500_000, announce=False)).key == "private_allowed"  # type: ignore[union-attr]
    assert rule.check(fee_ctx(100)) is None  # not an open


def test_onchain_budget_counts_spent_and_caps_feerate() -> None:
    rule = OnchainBudget.from_json({"absolute_amt_sats": 1_000_000, "max_sat_per_vbyte": 50})
    past = ListHistory([Past(T0 - 10, ("open",), onchain=600_000)])
    assert rule.check(open_ctx(400_000, advisor=past)) is None
    v = rule.check(open_ctx(400_001, advisor=past))
    assert v is not None and v.symbol == "budget_exhausted"
    assert rule.check(open_ctx(100_000, feerate=51)).key == "max_sat_per_vbyte"  # type: ignore[union-attr]


def test_history_limit_refuses_forwards_and_narrows_lists() -> None:
    rule = HistoryLimit.from_json({"duration_s": 86_400})
    earliest = int(T0) - 86_400
    v = rule.check(ctx_for("monitor", "forward_history", since=earliest - 1))
    assert v is not None and v.outcome is Outcome.REFUSE
    assert rule.check(ctx_for("monitor", "forward_history", since=earliest)) is None
    n = rule.check(ctx_for("monitor", "invoice_list", since=0))
    assert n is not None and n.outcome is Outcome.NARROW and n.narrow_params == {"since": earliest}
    n2 = rule.check(ctx_for("monitor", "payment_list"))
    assert n2 is not None and n2.narrow_params == {"since": earliest}
    assert rule.check(ctx_for("monitor", "channel_list")) is None
    with pytest.raises(InvalidInput):
        HistoryLimit.from_json({})


def test_forbidden_peers_block_open_connect_pay_not_channel_updates() -> None:
    rule = ForbiddenPeers((PEER_X, PEER_A))
    assert rule.check(open_ctx(100_000)) is not None
    assert rule.check(ctx_for("peer", "connect", node_id=PEER_X)) is not None
    pay = ctx_for(
        "payment",
        "keysend",
        destination=PEER_X,
        amount_msat=1000,
        max_fee_ppm=10,
        timeout_seconds=30,
    )
    assert rule.check(pay) is not None
    assert rule.check(fee_ctx(100)) is None  # a fee change on PEER_A's channel is not a route


def test_allowed_peers_cover_channel_peers_too() -> None:
    rule = AllowedPeers((PEER_A,))
    assert rule.check(fee_ctx(100)) is None
    assert rule.check(fee_ctx(100, "101x1x0")) is not None
    assert rule.check(ctx_for("peer", "connect", node_id=PEER_X)) is not None


def test_protected_channels_refuse_single_and_narrow_bulk() -> None:
    rule = ProtectedChannels(("ab" * 32,))  # 100x1x0 by its channel id
    assert rule.check(fee_ctx(100)) is not None
    bulk = ctx_for("fee-policy", "set_bulk", channels="all", policy={"base_msat": 0})
    v = rule.check(bulk)
    assert v is not None and v.outcome is Outcome.NARROW and v.skip_channels == ("100x1x0",)
    only = ctx_for("fee-policy", "set_bulk", channels=["100x1x0"], policy={"base_msat": 0})
    assert rule.check(only).outcome is Outcome.REFUSE  # type: ignore[union-attr]
    everything = ctx_for("forwarding", "disable_all", reason="storm")
    assert rule.check(everything).skip_channels == ("100x1x0",)  # type: ignore[union-attr]
    reb = ctx_for(
        "rebalance",
        "circular_rebalance",
        from_channel="101x1x0",
        to_channel="100x1x0",
        amount_sats=1000,
        max_fee_ppm=10,
    )
    assert rule.check(reb).outcome is Outcome.REFUSE  # type: ignore[union-attr]


def test_allowed_channels_narrow_bulk_to_the_list() -> None:
    rule = AllowedChannels(("100x1x0",))
    assert rule.check(fee_ctx(100)) is None
    assert rule.check(fee_ctx(100, "101x1x0")).outcome is Outcome.REFUSE  # type: ignore[union-attr]
    bulk = rule.check(ctx_for("fee-policy", "set_bulk", channels="all", policy={"base_msat": 0}))
    assert bulk is not None and set(bulk.skip_channels) == {"101x1x0", "102x1x0"}


def test_approved_plugins_and_blocked_schemas() -> None:
    assert ApprovedPlugins(("summary",)).check(ctx_for("plugin", "start", name="summary")) is None
    assert ApprovedPlugins(("summary",)).check(ctx_for("plugin", "start", name="other")) is not None
    assert ApprovedPlugins(()).check(ctx_for("plugin", "stop", name="other")) is None
    assert BlockedSchemas(("hive:fee-policy/*",)).check(fee_ctx(100)) is not None
    assert BlockedSchemas(("hive:fee-policy/*",)).check(ctx_for("monitor", "channel_list")) is None


def test_address_allowlist_holds_unknown_destinations() -> None:
    send = ctx_for("wallet", "send_onchain", destination=ADDR, amount_sats=10_000, feerate=2)
    v = AddressAllowlist(()).check(send)
    assert v is not None and v.outcome is Outcome.HOLD
    assert AddressAllowlist((ADDR,)).check(send) is None
    assert AddressAllowlist(()).check(fee_ctx(100)) is None


def test_rebalance_limits() -> None:
    rule = RebalanceLimits(500_000, 500)

    def reb(amount: int, fee: int) -> Any:
        return ctx_for(
            "rebalance",
            "circular_rebalance",
            from_channel="100x1x0",
            to_channel="101x1x0",
            amount_sats=amount,
            max_fee_ppm=fee,
            prefer_hive_route=True,
        )

    assert rule.check(reb(500_000, 500)) is None
    assert rule.check(reb(500_001, 500)).key == "max_rebalance_sats"  # type: ignore[union-attr]
    assert rule.check(reb(1000, 501)).key == "max_rebalance_fee_ppm"  # type: ignore[union-attr]


def test_rate_limits_count_the_right_windows() -> None:
    rule = RateLimits(fee_changes_per_hour=10, reads_per_hour=2)
    ten = ListHistory([Past(T0 - i * 60, ("fee_change", "write")) for i in range(10)])
    v = rule.check(fee_ctx(100, advisor=ten))
    assert v is not None and v.symbol == "rate_limited" and v.requested == 11
    old = ListHistory([Past(T0 - HOUR - 1, ("fee_change", "write")) for _ in range(10)])
    assert rule.check(fee_ctx(100, advisor=old)) is None
    reads = ListHistory([Past(T0 - 5, ("read",)), Past(T0 - 6, ("read",))])
    assert rule.check(ctx_for("monitor", "channel_list", advisor=reads)) is not None
    assert rule.check(fee_ctx(100, advisor=reads)) is None  # reads do not count against writes


def test_spend_limits() -> None:
    rule = SpendLimits(max_sats_per_action=50_000, max_daily_sats=100_000)
    pay = dict(destination=PEER_X, max_fee_ppm=0, timeout_seconds=30)
    assert rule.check(ctx_for("payment", "keysend", amount_msat=50_000_000, **pay)) is None
    assert (
        rule.check(ctx_for("payment", "keysend", amount_msat=50_001_000, **pay)).key
        == "max_sats_per_action"
    )  # type: ignore[union-attr]
    spent = ListHistory([Past(T0 - 100, ("payment",), sats_out=60_000)])
    v = rule.check(ctx_for("payment", "keysend", amount_msat=40_001_000, advisor=spent, **pay))
    assert v is not None and v.symbol == "budget_exhausted"


def test_quiet_hours_wrap_midnight_in_a_zone() -> None:
    rule = QuietHours.from_json(
        {"start": "23:00", "end": "07:00", "timezone": "UTC", "max_danger": 2}
    )
    at = lambda h, m=0: T0 + h * HOUR + m * 60  # noqa: E731  (T0 is midnight UTC)
    assert rule.check(fee_ctx(100, now=at(23, 30))) is not None  # D 3 inside
    assert rule.check(fee_ctx(100, now=at(2))) is not None
    assert rule.check(fee_ctx(100, now=at(7))) is None
    assert rule.check(fee_ctx(100, now=at(22, 59))) is None
    assert rule.check(ctx_for("monitor", "channel_list", now=at(23, 30))) is None  # D 1 passes
    berlin = QuietHours.from_json({"start": "23:00", "end": "07:00", "timezone": "Europe/Berlin"})
    assert berlin.check(fee_ctx(100, now=at(22, 30))) is not None  # 23:30 in Berlin (winter)
    with pytest.raises(InvalidInput):
        QuietHours.from_json({"start": "23:00", "end": "07:00", "timezone": "Mars/Olympus"})


def test_time_window_days_and_hours() -> None:
    rule = TimeWindow.from_json({"start": "09:00", "end": "17:00", "days": [0, 1, 2, 3, 4]})
    thursday_10 = T0 + 10 * HOUR
    assert rule.check(fee_ctx(100, now=thursday_10)) is None
    assert rule.check(fee_ctx(100, now=thursday_10 + 8 * HOUR)) is not None
    assert rule.check(fee_ctx(100, now=thursday_10 + 2 * 86_400)) is not None  # Saturday


def test_strictness_comparisons() -> None:
    assert RateLimits(fee_changes_per_hour=5).at_least_as_strict_as(
        RateLimits(fee_changes_per_hour=10)
    )
    assert not RateLimits().at_least_as_strict_as(RateLimits(fee_changes_per_hour=10))
    assert ForbiddenPeers((PEER_A, PEER_X)).at_least_as_strict_as(ForbiddenPeers((PEER_A,)))
    assert not ForbiddenPeers(()).at_least_as_strict_as(ForbiddenPeers((PEER_A,)))
    assert AddressAllowlist(()).at_least_as_strict_as(AddressAllowlist((ADDR,)))
    assert not AddressAllowlist((ADDR,)).at_least_as_strict_as(AddressAllowlist(()))
    q1 = QuietHours.from_json({"start": "22:00", "end": "08:00"})
    q2 = QuietHours.from_json({"start": "23:00", "end": "07:00"})
    assert q1.at_least_as_strict_as(q2) and not q2.at_least_as_strict_as(q1)
    assert FeeBounds(max_fee_ppm=10).at_least_as_strict_as(FeeBounds())
    assert not FeeBounds().at_least_as_strict_as(FeeBounds(max_fee_ppm=10))
    assert OpenConstraints(public_allowed=False).at_least_as_strict_as(OpenConstraints())
    assert not OpenConstraints().at_least_as_strict_as(OpenConstraints(public_allowed=False))


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_ceiling_strictness_property(a: int, b: int) -> None:
    assert RebalanceLimits(a).at_least_as_strict_as(RebalanceLimits(b)) == (a <= b)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate_limits", {"fee_changes_per_hour": -1}),
        ("rate_limits", {"bogus": 1}),
        ("fee_bounds", {"min_cltv_delta": 3000}),
        ("open_constraints", {"public_allowed": "yes"}),
        ("onchain_budget", {"max_sat_per_vbyte": 0}),
        ("forbidden_peers", "x"),
        ("quiet_hours", {"start": "7", "end": "08:00"}),
        ("time_window", {"start": "09:00", "end": "17:00", "days": [7]}),
        ("spend_limits", {"max_daily_sats": True}),
    ],
)
def test_sane_bounds_refuse_bad_values(name: str, value: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_rule(name, value)


def test_values_round_trip_through_json() -> None:
    for name, value in [
        ("rate_limits", {"fee_changes_per_hour": 3}),
        ("fee_bounds", {"max_fee_ppm": 10}),
        ("open_constraints", {"max_push_sat": 0, "public_allowed": True, "private_allowed": False}),
        ("onchain_budget", {"absolute_amt_sats": 5, "since": 0}),
        ("history_limit", {"start_time": 5}),
        ("protected_channels", ["100x1x0"]),
        ("quiet_hours", {"start": "23:00", "end": "07:00", "timezone": "UTC", "max_danger": 2}),
    ]:
        rule = parse_rule(name, value)
        rule.validate()
        assert parse_rule(name, rule.to_json()) == rule


def test_hive_member_fees_refused_unless_allowed() -> None:
    members = replace(SNAPSHOT, hive_peers=(PEER_A,))
    rule = HiveMemberFees()
    v = rule.check(fee_ctx(110, snapshot=members))
    assert v is not None and v.outcome is Outcome.REFUSE and v.reason == "hive_member"
    assert rule.check(fee_ctx(110, "101x1x0", snapshot=members)) is None
    bulk = ctx_for(
        "fee-policy", "set_bulk", snapshot=members, channels="all", policy={"fee_ppm": 1}
    )
    n = rule.check(bulk)
    assert n is not None and n.outcome is Outcome.NARROW and n.skip_channels == ("100x1x0",)
    assert HiveMemberFees(True).check(fee_ctx(110, snapshot=members)) is None
    assert (
        rule.check(
            ctx_for(
                "forwarding", "disable_channel", snapshot=members, channel_id="100x1x0", reason="x"
            )
        )
        is None
    )  # not a fee action
    assert HiveMemberFees(False).at_least_as_strict_as(HiveMemberFees(True))
    assert not HiveMemberFees(True).at_least_as_strict_as(HiveMemberFees(False))
