"""Reputation profiles: the four registered domains, their metrics and bounds (spec §2.2).

A profile names, per metric, its range ``[lo, hi]``, whether it must be an integer,
whether it is required, and whether it is *scored* (counts towards the credential score;
``lower_better`` inverts it). Count metrics (``actions_taken``, ``channels_managed``,
``tasks_evaluated``) are required but not scored: linear scaling over 0-100 000 would
make every real advisor a newcomer (spec §2.5 step 3).

:func:`check_metrics` validates a metrics object with the spec's §3.4 messages
(``metrics invalid: unknown metric: <k>`` …); :func:`credential_score` maps a checked
one to 0-100. Both are pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput

RENEW = "renew"
REVOKE = "revoke"
NEUTRAL = "neutral"
OUTCOMES: tuple[str, ...] = (RENEW, REVOKE, NEUTRAL)
OUTCOME_FACTOR: dict[str, float] = {RENEW: 1.1, REVOKE: 0.7, NEUTRAL: 1.0}
"""Applied to the metric score; the result is capped at 100 (spec §2.5 step 3)."""

MAX_METRICS_BYTES = 4096
UNKNOWN_DOMAIN_SCORE = 50.0

# Tiers (spec §2.5 step 4): the lowest score of each.
NEWCOMER = "newcomer"
RECOGNIZED = "recognized"
TRUSTED = "trusted"
SENIOR = "senior"
TIERS: tuple[tuple[str, int], ...] = ((SENIOR, 85), (TRUSTED, 75), (RECOGNIZED, 60), (NEWCOMER, 0))


@dataclass(frozen=True)
class Metric:
    lo: float
    hi: float
    integer: bool = False
    required: bool = False
    scored: bool = False
    lower_better: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "min": self.lo,
            "max": self.hi,
            "integer": self.integer,
            "required": self.required,
            "scored": self.scored,
            "lower_is_better": self.lower_better,
        }


@dataclass(frozen=True)
class Profile:
    domain: str
    description: str
    subject_type: str
    issuer_type: str
    metrics: Mapping[str, Metric]
    version: str = "1.0.0"

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(k for k, m in self.metrics.items() if m.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(k for k, m in self.metrics.items() if not m.required)

    @property
    def scored(self) -> tuple[str, ...]:
        return tuple(k for k, m in self.metrics.items() if m.scored)

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "version": self.version,
            "subject_type": self.subject_type,
            "issuer_type": self.issuer_type,
            "required_metrics": list(self.required),
            "optional_metrics": list(self.optional),
            "scored_metrics": list(self.scored),
            "metric_ranges": {k: m.to_json() for k, m in self.metrics.items()},
        }


def _fraction(*, required: bool = True, scored: bool = True) -> Metric:
    return Metric(0.0, 1.0, required=required, scored=scored)


def _count(hi: float, *, required: bool = False) -> Metric:
    return Metric(0, hi, integer=True, required=required)


PROFILES: dict[str, Profile] = {
    "hive:node": Profile(
        "hive:node",
        "A Lightning node as a routing peer, rated by a peer node",
        "node",
        "node",
        {
            "routing_reliability": _fraction(),
            "uptime": _fraction(),
            "htlc_success_rate": _fraction(),
            "avg_fee_ppm": Metric(0, 50_000, required=True, scored=True, lower_better=True),
            "capacity_sats": _count(2.1e15),
            "forward_count": _count(1e8),
            "force_close_count": _count(1e5),
            "bond_amount_sats": _count(2.1e15),
            "bond_slashes": _count(1e5),
            "bond_tenure_days": _count(36_500),
        },
    ),
    "hive:advisor": Profile(
        "hive:advisor",
        "A fleet advisor, rated by an operator whose node it managed",
        "advisor",
        "operator",
        {
            "revenue_delta_pct": Metric(-100, 1000, required=True, scored=True),
            "actions_taken": _count(100_000, required=True),
            "uptime_pct": Metric(0, 100, required=True, scored=True),
            "channels_managed": _count(10_000, required=True),
            "sla_violations": _count(100_000),
            "response_time_ms": Metric(0, 600_000),
        },
    ),
    "hive:client": Profile(
        "hive:client",
        "An operator as a client, rated by the advisor that served it",
        "operator",
        "advisor",
        {
            "payment_timeliness": _fraction(),
            "sla_reasonableness": _fraction(),
            "communication_quality": _fraction(),
            "dispute_count": _count(100_000),
            "contract_duration_days": _count(36_500),
            "infrastructure_reliability": _fraction(required=False, scored=False),
            "trial_count_90d": _count(1000),
        },
    ),
    "agent:general": Profile(
        "agent:general",
        "An AI agent, rated by the principal that delegated tasks to it",
        "agent",
        "delegator",
        {
            "task_completion_rate": _fraction(),
            "accuracy": _fraction(),
            "response_time_ms": Metric(0, 600_000, required=True, scored=True, lower_better=True),
            "tasks_evaluated": _count(1_000_000, required=True),
            "cost_efficiency": Metric(0, 1000),
            "error_rate": _fraction(required=False, scored=False),
        },
    ),
}


def profile(domain: object) -> Profile:
    """The registered profile of ``domain``; InvalidInput ``invalid domain: <d>`` otherwise."""
    if not isinstance(domain, str) or domain not in PROFILES:
        shown = domain if isinstance(domain, str) else type(domain).__name__
        raise InvalidInput(f"invalid domain: {str(shown)[:64]}")
    return PROFILES[domain]


def check_outcome(outcome: object) -> str:
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise InvalidInput(f"invalid outcome: {str(outcome)[:32]} (one of {', '.join(OUTCOMES)})")
    return outcome


def check_metrics(domain: str, metrics: object) -> dict[str, int | float]:
    """The metrics of a ``domain`` credential, checked (spec §3.4 step 5 messages).

    Numbers only (bool, NaN and ±Inf are refused), every required key present, no
    unknown key, each value within its range and an integer where the profile says so,
    canonical size at most 4 096 bytes.
    """
    if not isinstance(metrics, Mapping):
        raise InvalidInput("metrics must be a dict")
    if domain not in PROFILES:
        raise InvalidInput(f"metrics invalid: unknown domain: {domain[:64]}")
    spec = PROFILES[domain].metrics
    for key in spec:
        if spec[key].required and key not in metrics:
            raise InvalidInput(f"metrics invalid: missing required metric: {key}")
    out: dict[str, int | float] = {}
    for key, value in metrics.items():
        if key not in spec:
            raise InvalidInput(f"metrics invalid: unknown metric: {str(key)[:64]}")
        m = spec[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(
                f"metrics invalid: metric {key} must be numeric, got {type(value).__name__}"
            )
        if not math.isfinite(value):
            raise InvalidInput(f"metrics invalid: metric {key} must be finite")
        if m.integer and not (isinstance(value, int) or value.is_integer()):
            raise InvalidInput(f"metrics invalid: metric {key} must be an integer")
        if not m.lo <= value <= m.hi:
            raise InvalidInput(
                f"metrics invalid: metric {key} value {value} out of range [{_num(m.lo)}, "
                f"{_num(m.hi)}]"
            )
        out[key] = int(value) if m.integer else value
    size = len(canonical_json(out))
    if size > MAX_METRICS_BYTES:
        raise InvalidInput(f"metrics are {size} bytes canonical, more than {MAX_METRICS_BYTES}")
    return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else str(x)


def normalised(domain: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """Each scored metric present as ``clamp((v - lo)/(hi - lo), 0, 1)`` (inverted when
    lower is better)."""
    spec = PROFILES[domain].metrics
    out: dict[str, float] = {}
    for key, m in spec.items():
        if not m.scored or key not in metrics:
            continue
        x = (float(metrics[key]) - m.lo) / (m.hi - m.lo)
        x = min(1.0, max(0.0, x))
        out[key] = 1.0 - x if m.lower_better else x
    return out


def credential_score(domain: str, metrics: Mapping[str, float], outcome: str) -> float:
    """A credential's score 0-100: mean of the normalised scored metrics * 100, times the
    outcome factor (renew 1.1, revoke 0.7), capped at 100; an unknown domain scores 50."""
    if domain not in PROFILES:
        return UNKNOWN_DOMAIN_SCORE
    norm = normalised(domain, metrics)
    base = 100.0 * sum(norm.values()) / len(norm) if norm else UNKNOWN_DOMAIN_SCORE
    return min(100.0, base * OUTCOME_FACTOR.get(outcome, 1.0))


def tier(score: int) -> str:
    """``newcomer`` ≤ 59, ``recognized`` 60-74, ``trusted`` 75-84, ``senior`` ≥ 85."""
    for name, lowest in TIERS:
        if score >= lowest:
            return name
    return NEWCOMER


def confidence(issuers: int, credentials: int) -> str:
    """``high`` (≥ 5 issuers and ≥ 10 credentials), ``medium`` (≥ 2 and ≥ 3), ``low``;
    ``none`` without credentials."""
    if credentials == 0:
        return "none"
    if issuers >= 5 and credentials >= 10:
        return "high"
    if issuers >= 2 and credentials >= 3:
        return "medium"
    return "low"
