"""Flow stage 9: does the credential cover this action?

``allowed_schemas``, ``allowed_actions``, a trial's clamp, tier, the permission
flag, every constraint (as rules, against live state and the advisor's history)
and the per-advisor limiter for D >= 5. Refusals raise the §5.5 errors: ``forbidden``
for scope, ``constraint_violation`` (with key, limit, requested) for constraints,
``budget_exhausted`` for spend budgets, ``rate_limited`` for the D >= 5 limiter.
"""

from __future__ import annotations

from dataclasses import dataclass

from lnhive.core.errors import BudgetExhausted, ConstraintViolation, Forbidden, RateLimited
from lnhive.manage.credential import TRIAL_SCHEMAS, Credential
from lnhive.manage.patterns import any_matches
from lnhive.manage.rules import Outcome, RuleContext, Verdict

HIGH_DANGER = 5
HIGH_DANGER_PER_MINUTE = 5
"""Ref: at most 5 actions with D >= 5 per advisor and minute."""


@dataclass(frozen=True)
class ScopeResult:
    narrowed: tuple[Verdict, ...] = ()

    @property
    def skip_channels(self) -> tuple[str, ...]:
        return tuple(c for v in self.narrowed for c in v.skip_channels)


def _forbidden(text: str, ctx: RuleContext, why: str) -> Forbidden:
    p = ctx.prepared
    return Forbidden(text, details={"schema": p.schema_id, "action": p.action, "reason": why})


def check_scope(credential: Credential, ctx: RuleContext) -> ScopeResult:
    p = ctx.prepared
    if not any_matches(credential.allowed_schemas, p.schema_id):
        raise _forbidden("insufficient permissions for schema", ctx, "schema")
    if credential.allowed_actions is not None and p.spec.key not in credential.allowed_actions:
        raise _forbidden(f"{p.spec.key} is not among the credential's actions", ctx, "action")
    if credential.is_trial and p.schema_id not in TRIAL_SCHEMAS:
        raise _forbidden("a trial covers monitor and fee-policy only", ctx, "trial")
    if p.tier > credential.tier:
        raise _forbidden(
            f"{p.spec.key} needs tier {p.tier.label}; the credential has {credential.tier.label}",
            ctx,
            "tier",
        )
    if not credential.has_permission(p.spec.permission):
        raise _forbidden(
            f"the credential lacks the {p.spec.permission} permission", ctx, "permission"
        )
    narrowed: list[Verdict] = []
    for values in credential.constraints.rules:
        verdict = values.enforcer().check(ctx)
        if verdict is None:
            continue
        if verdict.outcome is Outcome.NARROW:
            narrowed.append(verdict)
            continue
        details = verdict.details()
        if verdict.symbol == "budget_exhausted":
            raise BudgetExhausted(verdict.reason, details=details)
        raise ConstraintViolation(verdict.reason, details=details)
    if p.danger >= HIGH_DANGER:
        recent = ctx.advisor.count(since=ctx.now - 60, min_danger=HIGH_DANGER)
        if recent + 1 > HIGH_DANGER_PER_MINUTE:
            raise RateLimited(
                "rate limit exceeded for high-danger operation",
                details={"retry_after": 60, "limit": HIGH_DANGER_PER_MINUTE},
            )
    return ScopeResult(tuple(narrowed))
