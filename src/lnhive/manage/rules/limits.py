"""Counting rules: rate limits, spend limits, rebalance limits, fee-change limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from lnhive.core.errors import InvalidInput
from lnhive.manage.catalogue import Effect
from lnhive.manage.rules.base import (
    RuleContext,
    Verdict,
    drop_none,
    max_tighter,
    obj,
    only_keys,
    opt_int,
    refuse,
)

HOUR = 3600
DAY = 86_400
MINUTE = 60
HIGH_DANGER = 5
FROM_ZERO_PPM = 10
"""From a fee of 0 ppm, a change of up to this many ppm passes a percentage limit (†)."""
MAX_COUNT = 1_000_000
MAX_SATS = 2_100_000_000_000_000


@dataclass(frozen=True)
class RateLimits:
    """rate-limit (LiT): action budgets per window, counted from the persisted action log."""

    name: ClassVar[str] = "rate_limits"
    fee_changes_per_hour: int | None = None
    rebalances_per_day: int | None = None
    total_actions_per_day: int | None = None
    """Writes per day (doc 08's 100; a credential's ``max_daily_actions``)."""
    actions_per_hour: int | None = None
    reads_per_hour: int | None = None
    high_danger_per_minute: int | None = None
    """Actions with D >= 5 per minute (Ref: 5)."""

    FIELDS: ClassVar[tuple[tuple[str, int, tuple[str, ...] | None, int], ...]] = (
        ("fee_changes_per_hour", HOUR, (Effect.FEE_CHANGE.value,), 0),
        ("rebalances_per_day", DAY, (Effect.REBALANCE.value,), 0),
        ("total_actions_per_day", DAY, (Effect.WRITE.value,), 0),
        ("actions_per_hour", HOUR, (Effect.WRITE.value,), 0),
        ("reads_per_hour", HOUR, (Effect.READ.value,), 0),
        ("high_danger_per_minute", MINUTE, None, HIGH_DANGER),
    )

    @classmethod
    def from_json(cls, value: Any) -> RateLimits:
        v = obj(value, cls.name)
        only_keys(v, cls.name, [f[0] for f in cls.FIELDS])
        return cls(**{f[0]: opt_int(v, f[0], 0, MAX_COUNT, cls.name) for f in cls.FIELDS})

    def validate(self) -> None:
        RateLimits.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return drop_none(**{f[0]: getattr(self, f[0]) for f in self.FIELDS})

    def at_least_as_strict_as(self, other: Any) -> bool:
        return all(max_tighter(getattr(self, f[0]), getattr(other, f[0])) for f in self.FIELDS)

    def enforcer(self) -> RateLimits:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        kinds = {k.value for k in ctx.effects.kinds}
        for key, window, effects, min_danger in self.FIELDS:
            limit = getattr(self, key)
            if limit is None:
                continue
            if effects is not None and not kinds & set(effects):
                continue
            if ctx.danger < min_danger:
                continue
            done = ctx.advisor.count(since=ctx.now - window, effects=effects, min_danger=min_danger)
            if done + 1 > limit:
                # Every action counted now has left the window after `window` seconds.
                return replace(
                    refuse(
                        self.name,
                        f"{key} limit {limit} reached",
                        key=key,
                        limit=limit,
                        requested=done + 1,
                        symbol="rate_limited",
                    ),
                    retry_after=window,
                )
        return None


@dataclass(frozen=True)
class SpendLimits:
    """Sats that may leave the node through advisor actions, per action and per rolling day."""

    name: ClassVar[str] = "spend_limits"
    max_sats_per_action: int | None = None
    max_daily_sats: int | None = None

    @classmethod
    def from_json(cls, value: Any) -> SpendLimits:
        v = obj(value, cls.name)
        only_keys(v, cls.name, ("max_sats_per_action", "max_daily_sats"))
        return cls(
            opt_int(v, "max_sats_per_action", 0, MAX_SATS, cls.name),
            opt_int(v, "max_daily_sats", 0, MAX_SATS, cls.name),
        )

    def validate(self) -> None:
        SpendLimits.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            max_sats_per_action=self.max_sats_per_action, max_daily_sats=self.max_daily_sats
        )

    def at_least_as_strict_as(self, other: Any) -> bool:
        return max_tighter(self.max_sats_per_action, other.max_sats_per_action) and max_tighter(
            self.max_daily_sats, other.max_daily_sats
        )

    def enforcer(self) -> SpendLimits:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        out = ctx.effects.sats_out
        if out <= 0:
            return None
        if self.max_sats_per_action is not None and out > self.max_sats_per_action:
            return refuse(
                self.name,
                f"{out} sats exceeds {self.max_sats_per_action} per action",
                "max_sats_per_action",
                self.max_sats_per_action,
                out,
            )
        if self.max_daily_sats is not None:
            spent = ctx.advisor.sats_out_since(ctx.now - DAY)
            if spent + out > self.max_daily_sats:
                return refuse(
                    self.name,
                    f"{spent} sats spent today; {out} more exceeds {self.max_daily_sats}",
                    "max_daily_sats",
                    self.max_daily_sats,
                    spent + out,
                    symbol="budget_exhausted",
                )
        return None


@dataclass(frozen=True)
class RebalanceLimits:
    name: ClassVar[str] = "rebalance_limits"
    max_rebalance_sats: int | None = None
    max_rebalance_fee_ppm: int | None = None

    @classmethod
    def from_json(cls, value: Any) -> RebalanceLimits:
        v = obj(value, cls.name)
        only_keys(v, cls.name, ("max_rebalance_sats", "max_rebalance_fee_ppm"))
        return cls(
            opt_int(v, "max_rebalance_sats", 0, MAX_SATS, cls.name),
            opt_int(v, "max_rebalance_fee_ppm", 0, 1000, cls.name),
        )

    def validate(self) -> None:
        RebalanceLimits.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            max_rebalance_sats=self.max_rebalance_sats,
            max_rebalance_fee_ppm=self.max_rebalance_fee_ppm,
        )

    def at_least_as_strict_as(self, other: Any) -> bool:
        return max_tighter(self.max_rebalance_sats, other.max_rebalance_sats) and max_tighter(
            self.max_rebalance_fee_ppm, other.max_rebalance_fee_ppm
        )

    def enforcer(self) -> RebalanceLimits:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        e = ctx.effects
        if not e.has(Effect.REBALANCE):
            return None
        cap = self.max_rebalance_sats
        if cap is not None and e.rebalance_sats > cap:
            return refuse(
                self.name,
                f"rebalance of {e.rebalance_sats} sats exceeds {cap}",
                "max_rebalance_sats",
                cap,
                e.rebalance_sats,
            )
        fee = self.max_rebalance_fee_ppm
        if fee is not None and e.rebalance_fee_ppm is not None and e.rebalance_fee_ppm > fee:
            return refuse(
                self.name,
                f"rebalance fee {e.rebalance_fee_ppm} ppm exceeds {fee}",
                "max_rebalance_fee_ppm",
                fee,
                e.rebalance_fee_ppm,
            )
        return None


@dataclass(frozen=True)
class FeeChangeLimit:
    """A fee_ppm change at most ``max_pct`` percent: against the current fee
    (``window_s`` 0, a credential's ``max_fee_change_pct``) or against the fee at the
    start of a rolling window (the policy's ``max_fee_change_per_24h_pct``)."""

    name: ClassVar[str] = "fee_change_limit"
    max_pct: int
    window_s: int = 0

    @classmethod
    def from_json(cls, value: Any) -> FeeChangeLimit:
        v: Mapping[str, Any] = obj(value, cls.name)
        only_keys(v, cls.name, ("max_pct", "window_s"))
        pct = opt_int(v, "max_pct", 0, 10_000, cls.name)
        if pct is None:
            raise InvalidInput(f"{cls.name}.max_pct is required")
        return cls(pct, opt_int(v, "window_s", 0, 30 * DAY, cls.name) or 0)

    def validate(self) -> None:
        FeeChangeLimit.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {"max_pct": self.max_pct, "window_s": self.window_s}

    def at_least_as_strict_as(self, other: Any) -> bool:
        return bool(self.max_pct <= other.max_pct and self.window_s >= other.window_s)

    def enforcer(self) -> FeeChangeLimit:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        key = "max_fee_change_pct" if not self.window_s else "max_fee_change_per_24h_pct"
        for change in ctx.effects.fee_changes:
            if change.fee_ppm is None:
                continue
            channel = ctx.snapshot.channel(change.channel)
            if channel is None:
                return refuse(
                    self.name, f"unknown channel {change.channel}", key, self.max_pct, None
                )
            base = channel.fee_ppm
            if self.window_s:
                start = ctx.node.fee_at_window_start(
                    channel.short_channel_id, ctx.now - self.window_s
                )
                if start is not None:
                    base = start
            delta = abs(change.fee_ppm - base)
            if base == 0:
                ok = delta <= FROM_ZERO_PPM
                pct: float | None = None
            else:
                ok = delta * 100 <= self.max_pct * base
                pct = round(delta * 100 / base, 2)
            if not ok:
                return refuse(
                    self.name,
                    f"fee change on {channel.short_channel_id} from {base} to {change.fee_ppm} ppm "
                    f"exceeds {self.max_pct}%",
                    key,
                    self.max_pct,
                    pct,
                )
        return None
