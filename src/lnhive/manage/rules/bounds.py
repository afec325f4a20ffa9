"""Bounds rules: channel-policy bounds, channel constraints, on-chain budget, history limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lnhive.core.errors import InvalidInput
from lnhive.manage.catalogue import Effect
from lnhive.manage.rules.base import (
    Outcome,
    RuleContext,
    Verdict,
    drop_none,
    max_tighter,
    min_tighter,
    obj,
    only_keys,
    opt_int,
    refuse,
)

MAX_MSAT = 21_000_000 * 100_000_000 * 1000
MAX_SATS = 21_000_000 * 100_000_000


@dataclass(frozen=True)
class FeeBounds:
    """channel-policy-bounds (LiT): the range of base fee, ppm, CLTV delta and HTLC sizes."""

    name: ClassVar[str] = "fee_bounds"
    min_base_msat: int | None = None
    max_base_msat: int | None = None
    min_fee_ppm: int | None = None
    max_fee_ppm: int | None = None
    min_cltv_delta: int | None = None
    max_cltv_delta: int | None = None
    min_htlc_msat: int | None = None
    max_htlc_msat: int | None = None

    SANE: ClassVar[dict[str, tuple[int, int]]] = {
        "base_msat": (0, 100_000_000),
        "fee_ppm": (0, 1_000_000),
        "cltv_delta": (0, 2016),
        "htlc_msat": (0, MAX_MSAT),
    }

    @classmethod
    def from_json(cls, value: Any) -> FeeBounds:
        v = obj(value, cls.name)
        keys = [f"{side}_{k}" for k in cls.SANE for side in ("min", "max")]
        only_keys(v, cls.name, keys)
        out = cls(**{k: opt_int(v, k, *cls.SANE[k[4:]], cls.name) for k in keys})
        for k in cls.SANE:
            lo, hi = getattr(out, f"min_{k}"), getattr(out, f"max_{k}")
            if lo is not None and hi is not None and lo > hi:
                raise InvalidInput(f"{cls.name}: min_{k} > max_{k}")
        return out

    def validate(self) -> None:
        FeeBounds.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            **{f"{s}_{k}": getattr(self, f"{s}_{k}") for k in self.SANE for s in ("min", "max")}
        )

    def at_least_as_strict_as(self, other: Any) -> bool:
        return all(
            min_tighter(getattr(self, f"min_{k}"), getattr(other, f"min_{k}"))
            and max_tighter(getattr(self, f"max_{k}"), getattr(other, f"max_{k}"))
            for k in self.SANE
        )

    def enforcer(self) -> FeeBounds:
        return self

    def _out(self, k: str, value: int | None) -> Verdict | None:
        if value is None:
            return None
        lo, hi = getattr(self, f"min_{k}"), getattr(self, f"max_{k}")
        if lo is not None and value < lo:
            return refuse(self.name, f"{k} {value} below {lo}", f"min_{k}", lo, value)
        if hi is not None and value > hi:
            return refuse(self.name, f"{k} {value} above {hi}", f"max_{k}", hi, value)
        return None

    def check(self, ctx: RuleContext) -> Verdict | None:
        e = ctx.effects
        checks: list[tuple[str, int | None]] = []
        for change in e.fee_changes:
            checks += [("base_msat", change.base_msat), ("fee_ppm", change.fee_ppm)]
        checks += [
            ("cltv_delta", e.cltv_delta),
            ("htlc_msat", e.htlc_minimum_msat),
            ("htlc_msat", e.htlc_maximum_msat),
        ]
        for k, value in checks:
            verdict = self._out(k, value)
            if verdict is not None:
                return verdict
        return None


@dataclass(frozen=True)
class OpenConstraints:
    """channel-constraint (LiT): capacity range, push limit, public/private (no close_to:
    the catalogue has no such parameter)."""

    name: ClassVar[str] = "open_constraints"
    min_capacity_sat: int | None = None
    max_capacity_sat: int | None = None
    max_push_sat: int | None = None
    public_allowed: bool = True
    private_allowed: bool = True

    @classmethod
    def from_json(cls, value: Any) -> OpenConstraints:
        v = obj(value, cls.name)
        only_keys(
            v,
            cls.name,
            (
                "min_capacity_sat",
                "max_capacity_sat",
                "max_push_sat",
                "public_allowed",
                "private_allowed",
            ),
        )
        flags = {}
        for k in ("public_allowed", "private_allowed"):
            raw = v.get(k, True)
            if not isinstance(raw, bool):
                raise InvalidInput(f"{cls.name}.{k} must be a boolean")
            flags[k] = raw
        out = cls(
            opt_int(v, "min_capacity_sat", 0, MAX_SATS, cls.name),
            opt_int(v, "max_capacity_sat", 0, MAX_SATS, cls.name),
            opt_int(v, "max_push_sat", 0, MAX_SATS, cls.name),
            **flags,
        )
        if (
            out.min_capacity_sat is not None
            and out.max_capacity_sat is not None
            and out.min_capacity_sat > out.max_capacity_sat
        ):
            raise InvalidInput(f"{cls.name}: min_capacity_sat > max_capacity_sat")
        return out

    def validate(self) -> None:
        OpenConstraints.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            **drop_none(
                min_capacity_sat=self.min_capacity_sat,
                max_capacity_sat=self.max_capacity_sat,
                max_push_sat=self.max_push_sat,
            ),
            "public_allowed": self.public_allowed,
            "private_allowed": self.private_allowed,
        }

    def at_least_as_strict_as(self, other: Any) -> bool:
        return (
            min_tighter(self.min_capacity_sat, other.min_capacity_sat)
            and max_tighter(self.max_capacity_sat, other.max_capacity_sat)
            and max_tighter(self.max_push_sat, other.max_push_sat)
            and (other.public_allowed or not self.public_allowed)
            and (other.private_allowed or not self.private_allowed)
        )

    def enforcer(self) -> OpenConstraints:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        e = ctx.effects
        if not (e.has(Effect.OPEN) or e.has(Effect.PROPOSAL)):
            return None
        for cap in e.open_capacities:
            if self.min_capacity_sat is not None and cap < self.min_capacity_sat:
                return refuse(
                    self.name,
                    f"capacity {cap} below {self.min_capacity_sat}",
                    "min_capacity_sat",
                    self.min_capacity_sat,
                    cap,
                )
            if self.max_capacity_sat is not None and cap > self.max_capacity_sat:
                return refuse(
                    self.name,
                    f"capacity {cap} above {self.max_capacity_sat}",
                    "max_capacity_sat",
                    self.max_capacity_sat,
                    cap,
                )
        if self.max_push_sat is not None and e.push_sats > self.max_push_sat:
            return refuse(
                self.name,
                f"push {e.push_sats} above {self.max_push_sat}",
                "max_push_sat",
                self.max_push_sat,
                e.push_sats,
            )
        if e.announce is True and not self.public_allowed:
            return refuse(
                self.name, "public channels are not allowed", "public_allowed", False, True
            )
        if e.announce is False and not self.private_allowed:
            return refuse(
                self.name, "private channels are not allowed", "private_allowed", False, True
            )
        return None


@dataclass(frozen=True)
class OnchainBudget:
    """on-chain-budget (LiT): total sats moved on chain since ``since``, and a feerate cap."""

    name: ClassVar[str] = "onchain_budget"
    absolute_amt_sats: int | None = None
    max_sat_per_vbyte: int | None = None
    since: int = 0
    node_wide: bool = False
    """Count every advisor's on-chain sats (the policy's budget), not just this one's
    (a credential's). Not part of the JSON form."""

    @classmethod
    def from_json(cls, value: Any) -> OnchainBudget:
        v = obj(value, cls.name)
        only_keys(v, cls.name, ("absolute_amt_sats", "max_sat_per_vbyte", "since"))
        return cls(
            opt_int(v, "absolute_amt_sats", 0, MAX_SATS, cls.name),
            opt_int(v, "max_sat_per_vbyte", 1, 10_000, cls.name),
            opt_int(v, "since", 0, 2**40, cls.name) or 0,
        )

    def validate(self) -> None:
        OnchainBudget.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            **drop_none(
                absolute_amt_sats=self.absolute_amt_sats, max_sat_per_vbyte=self.max_sat_per_vbyte
            ),
            "since": self.since,
        }

    def at_least_as_strict_as(self, other: Any) -> bool:
        return (
            max_tighter(self.absolute_amt_sats, other.absolute_amt_sats)
            and max_tighter(self.max_sat_per_vbyte, other.max_sat_per_vbyte)
            and self.since <= other.since
        )

    def enforcer(self) -> OnchainBudget:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        e = ctx.effects
        if (
            self.max_sat_per_vbyte is not None
            and e.feerate is not None
            and e.feerate > self.max_sat_per_vbyte
        ):
            return refuse(
                self.name,
                f"feerate {e.feerate} sat/vB above {self.max_sat_per_vbyte}",
                "max_sat_per_vbyte",
                self.max_sat_per_vbyte,
                e.feerate,
            )
        if self.absolute_amt_sats is not None and e.onchain_sats > 0:
            history = ctx.node if self.node_wide else ctx.advisor
            spent = history.onchain_since(float(self.since))
            if spent + e.onchain_sats > self.absolute_amt_sats:
                return refuse(
                    self.name,
                    f"on-chain budget {self.absolute_amt_sats} sats: {spent} used, {e.onchain_sats} asked",
                    "absolute_amt_sats",
                    self.absolute_amt_sats,
                    spent + e.onchain_sats,
                    symbol="budget_exhausted",
                )
        return None


HISTORY_REFUSE = ("forward_history",)
"""Actions whose earlier queries are refused; the other history reads are narrowed."""


@dataclass(frozen=True)
class HistoryLimit:
    """history-limit (LiT): reads may reach back to ``start_time`` or ``duration_s``, not both."""

    name: ClassVar[str] = "history_limit"
    start_time: int | None = None
    duration_s: int | None = None

    @classmethod
    def from_json(cls, value: Any) -> HistoryLimit:
        v = obj(value, cls.name)
        only_keys(v, cls.name, ("start_time", "duration_s"))
        out = cls(
            opt_int(v, "start_time", 0, 2**40, cls.name),
            opt_int(v, "duration_s", 60, 10 * 365 * 86_400, cls.name),
        )
        if (out.start_time is None) == (out.duration_s is None):
            raise InvalidInput(f"{cls.name}: give start_time or duration_s, exactly one")
        return out

    def validate(self) -> None:
        HistoryLimit.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return drop_none(start_time=self.start_time, duration_s=self.duration_s)

    def earliest(self, now: float) -> int:
        if self.start_time is not None:
            return self.start_time
        assert self.duration_s is not None
        return int(now) - self.duration_s

    def at_least_as_strict_as(self, other: Any) -> bool:
        if other.start_time is not None and self.start_time is not None:
            return bool(self.start_time >= other.start_time)
        if other.duration_s is not None and self.duration_s is not None:
            return bool(self.duration_s <= other.duration_s)
        return False  # switching kinds is judged by the operator, not remotely

    def enforcer(self) -> HistoryLimit:
        return self

    def check(self, ctx: RuleContext) -> Verdict | None:
        p = ctx.prepared
        if not any(param.name == "since" for param in p.spec.params):
            return None
        earliest = self.earliest(ctx.now)
        since = ctx.effects.since
        if since is not None and since >= earliest:
            return None
        if since is not None and p.action in HISTORY_REFUSE:
            return refuse(
                self.name, f"history before {earliest} is not allowed", "since", earliest, since
            )
        return Verdict(
            Outcome.NARROW,
            self.name,
            f"history limited to since={earliest}",
            narrow_params={"since": earliest},
        )
