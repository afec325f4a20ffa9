"""The policy engine: the last line of defense (comms spec §4, flow stage 10).

Local and operator-owned, it runs after the credential checks and can refuse
anything whatever the credential says. :meth:`PolicyEngine.evaluate` answers
``allow`` (possibly narrowed: bulk actions skip protected channels, history reads
start later), ``hold`` (with the hold kind for the confirmation queue) or ``reject``
(with the §5.5 code and reason). An unreadable policy document or any internal
error fails closed: every action with D >= 2 is rejected.

Changes: :meth:`PolicyService.set_preset`, :meth:`~PolicyService.set_overrides`,
:meth:`~PolicyService.reset`, :meth:`~PolicyService.clear_override` are local
operator operations; :meth:`~PolicyService.tighten` is the only one a remote caller
reaches, and it refuses anything that is not at least as strict as before.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lnhive.core.clock import Clock
from lnhive.core.errors import Forbidden, InvalidInput, LnhiveError
from lnhive.core.store import Store
from lnhive.manage.catalogue import Effect
from lnhive.manage.danger import MULTISIG_FLOOR, HoldKind, hold_kind
from lnhive.manage.policy_doc import (
    EffectivePolicy,
    PolicyDocument,
    effective_policy,
    with_changes,
)
from lnhive.manage.policy_presets import Forbid
from lnhive.manage.rules import Outcome, RuleContext, Verdict

log = logging.getLogger(__name__)

FAIL_CLOSED_FROM = 2
"""With an unreadable policy, actions from this danger on are rejected."""

RULE_ORDER = (
    "blocked_schemas",
    "forbidden_peers",
    "protected_channels",
    "hive_member_fees",
    "quiet_hours",
    "approved_plugins",
    "fee_bounds",
    "fee_change_limit",
    "rebalance_limits",
    "open_constraints",
    "onchain_budget",
    "history_limit",
    "rate_limits",
    "address_allowlist",
)


class Decision(enum.StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    REJECT = "reject"


@dataclass(frozen=True)
class PolicyDecision:
    decision: Decision
    danger: int
    reason: str = ""
    symbol: str = ""
    """REJECT: the §5.5 code (``policy_blocked``, ``rate_limited``, ``budget_exhausted``)."""
    hold: HoldKind | None = None
    required_approvals: int = 1
    details: Mapping[str, Any] = field(default_factory=dict)
    skip_channels: tuple[str, ...] = ()
    narrow_params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


class CorruptPolicy(LnhiveError):
    """The stored policy cannot be read (never leaves this module)."""


class PolicyStore:
    """The policy document in ``comms_policy`` (one row)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._parsed: tuple[str, PolicyDocument] | None = None
        """The last text read and its document: the row is read on every request, and
        parsing it again only when it changed (whoever wrote it) saves the parse."""

    def load(self) -> PolicyDocument:
        """The stored document (the default moderate one if none); :class:`CorruptPolicy`
        if it cannot be parsed or validated."""
        row = self._store.query_one("SELECT policy_json FROM comms_policy WHERE id = 1")
        if row is None:
            return PolicyDocument()
        text = str(row["policy_json"])
        cached = self._parsed
        if cached is not None and cached[0] == text:
            return cached[1]
        try:
            doc = PolicyDocument.from_json(json.loads(text))
        except (ValueError, TypeError, InvalidInput) as exc:
            raise CorruptPolicy(f"policy document is unreadable: {exc}") from exc
        self._parsed = (text, doc)
        return doc

    def save(self, doc: PolicyDocument) -> None:
        PolicyDocument.from_json(doc.to_json())  # never store what cannot be read back
        self._store.execute(
            "INSERT INTO comms_policy (id, policy_json, updated_at) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET policy_json = excluded.policy_json, "
            "updated_at = excluded.updated_at",
            (json.dumps(doc.to_json(), sort_keys=True), doc.updated_at),
        )


def _forbidden_class(policy: EffectivePolicy, ctx: RuleContext) -> Forbid | None:
    e, spec = ctx.effects, ctx.prepared.spec
    checks = {
        Forbid.CLOSE: e.has(Effect.CLOSE),
        Forbid.WALLET_SEND: spec.family == "wallet" and e.has(Effect.ONCHAIN_SEND),
        Forbid.PLUGIN_START: e.has(Effect.PLUGIN_START),
        Forbid.FORCE_CLOSE: e.has(Effect.FORCE_CLOSE),
        Forbid.WALLET_SWEEP: e.sweep,
        Forbid.FORCE_CLOSE_ALL: e.has(Effect.FORCE_CLOSE_ALL),
    }
    for kind, hit in checks.items():
        if hit and kind in policy.forbidden:
            return kind
    return None


def _reject(
    danger: int, reason: str, symbol: str = "policy_blocked", **details: Any
) -> PolicyDecision:
    return PolicyDecision(
        Decision.REJECT, danger, reason, symbol, details={"reason": reason, **details}
    )


def decide(policy: EffectivePolicy, ctx: RuleContext) -> PolicyDecision:
    """The policy's answer for one request (pure: no I/O beyond the history views)."""
    d = ctx.danger
    forbidden = _forbidden_class(policy, ctx)
    if forbidden is not None:
        return _reject(d, f"{forbidden.value} is forbidden by the {policy.preset} preset")
    skips: list[str] = []
    narrow: dict[str, Any] = {}
    hold_reasons: list[str] = []
    for name in RULE_ORDER:
        values = policy.rules.get(name)
        if values is None:
            continue
        verdict: Verdict | None = values.enforcer().check(ctx)
        if verdict is None:
            continue
        if verdict.outcome is Outcome.REFUSE:
            return PolicyDecision(
                Decision.REJECT, d, verdict.reason, verdict.symbol, details=verdict.details()
            )
        if verdict.outcome is Outcome.NARROW:
            skips += verdict.skip_channels
            narrow.update(verdict.narrow_params)
        else:
            hold_reasons.append(verdict.reason)
    if d > policy.reject_above:
        return _reject(d, f"danger_score exceeds max_danger ({policy.reject_above})")

    spec = ctx.prepared.spec
    mode = policy.approval_mode(spec.family, spec.name)
    kind: HoldKind | None = None
    # Holds from the danger lines and confirmation settings: an auto_execute override
    # lifts these, never the rules' holds, proposals or the multi-sig floor.
    lines: list[str] = []
    if d > policy.auto_max:
        lines.append(f"danger {d} is above the auto line ({policy.auto_max})")
    if policy.require_confirmation_at is not None and d >= policy.require_confirmation_at:
        lines.append(f"danger {d} needs confirmation (>= {policy.require_confirmation_at})")
    rc = policy.required_confirmation
    if rc.danger_gte is not None and d >= rc.danger_gte:
        lines.append(f"danger {d} needs confirmation")
    if rc.channel_close_always and ctx.effects.has(Effect.CLOSE):
        lines.append("channel closes always need confirmation")
    if rc.onchain_send_gte_sats is not None and ctx.effects.onchain_sats >= max(
        1, rc.onchain_send_gte_sats
    ):
        lines.append("on-chain send needs confirmation")
    if mode == "auto_execute":
        lines = []
    elif mode == "always_confirm":
        lines.append("approval override: always_confirm")
        kind = HoldKind.CONFIRM
    elif mode == "multi_sig_2_of_3":
        lines.append("approval override: multi_sig_2_of_3")
        kind = HoldKind.MULTISIG
    hold_reasons += lines
    if ctx.effects.has(Effect.PROPOSAL):
        hold_reasons.append("proposals always wait for the operator")
    if d >= MULTISIG_FLOOR:
        kind = HoldKind.MULTISIG
        if not hold_reasons:
            hold_reasons.append("danger 9-10 always needs a quorum")
    if hold_reasons:
        kind = kind or hold_kind(d)
        quorum = policy.multisig_quorum if kind is HoldKind.MULTISIG else 1
        return PolicyDecision(
            Decision.HOLD,
            d,
            "; ".join(hold_reasons),
            "confirmation_required",
            hold=kind,
            required_approvals=quorum,
            details={"reasons": hold_reasons},
            skip_channels=tuple(dict.fromkeys(skips)),
            narrow_params=narrow,
        )
    return PolicyDecision(
        Decision.ALLOW, d, skip_channels=tuple(dict.fromkeys(skips)), narrow_params=narrow
    )


class PolicyEngine:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._policies = PolicyStore(store)
        self._clock = clock
        self._effective: tuple[PolicyDocument, tuple[bool, ...], EffectivePolicy] | None = None

    def current(self) -> EffectivePolicy:
        """The effective policy now. It depends on the time only through which temporary
        overrides are still live, so it is computed again only when the stored document
        or that set changes."""
        doc = self._policies.load()
        now = self._clock.now()
        live = tuple(t.expires_at > now for t in doc.temporary)
        cached = self._effective
        if cached is not None and cached[0] is doc and cached[1] == live:
            return cached[2]
        eff = effective_policy(doc, now)
        self._effective = (doc, live, eff)
        return eff

    def evaluate(self, ctx: RuleContext) -> PolicyDecision:
        """Flow stage 10. Never raises: errors reject (fail closed)."""
        d = ctx.danger
        try:
            policy = self.current()
        except CorruptPolicy as exc:
            log.error("%s", exc)
            if d >= FAIL_CLOSED_FROM:
                return _reject(d, "policy_unreadable")
            return PolicyDecision(Decision.ALLOW, d)
        except Exception:
            log.exception("policy engine failed")
            return _reject(d, "internal_error")
        try:
            return decide(policy, ctx)
        except Exception:
            log.exception("policy engine failed")
            return _reject(d, "internal_error")


class PolicyService:
    """Reading and changing the policy document."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._policies = PolicyStore(store)
        self._clock = clock

    def get(self) -> dict[str, Any]:
        """``{preset, rules, overrides, temporary, updated_at}`` for ``hive-client-policy get``."""
        now = self._clock.now()
        doc = self._policies.load()
        eff = effective_policy(doc, now)
        return {
            **doc.to_json(),
            "rules": {name: values.to_json() for name, values in eff.rules.items()},
            "auto_max": eff.auto_max,
            "max_danger": eff.reject_above,
            "forbidden": sorted(f.value for f in eff.forbidden),
        }

    def _save(self, doc: PolicyDocument) -> PolicyDocument:
        self._policies.save(doc)
        return doc

    def _base(self) -> PolicyDocument:
        """The stored document; a corrupt one is replaced only by :meth:`reset`."""
        return self._policies.load()

    def set_preset(self, name: str) -> PolicyDocument:
        now = self._clock.now()
        return self._save(with_changes(self._base(), now, preset_name=name))

    def set_overrides(
        self, overrides: Mapping[str, Any], duration_s: float | None = None
    ) -> PolicyDocument:
        now = self._clock.now()
        return self._save(
            with_changes(self._base(), now, overrides=overrides, duration_s=duration_s)
        )

    def clear_override(self, key: str) -> PolicyDocument:
        """Drop temporary overrides of ``key`` (or all with ``"*"``)."""
        doc = self._base()
        keep = tuple(t for t in doc.temporary if key != "*" and t.key != key)
        return self._save(replace(doc, temporary=keep, updated_at=self._clock.now()))

    def reset(self, name: str = "moderate") -> PolicyDocument:
        """A fresh document with preset ``name``: also the way out of a corrupt policy."""
        return self._save(with_changes(PolicyDocument(), self._clock.now(), preset_name=name))

    def tighten(
        self, *, preset_name: str | None = None, overrides: Mapping[str, Any] | None = None
    ) -> PolicyDocument:
        """The remote change (``hive:policy/v1``): refused unless the result is at least as
        strict as the current policy in every respect."""
        now = self._clock.now()
        doc = self._base()
        new = with_changes(doc, now, preset_name=preset_name, overrides=overrides)
        if not effective_policy(new, now).at_least_as_strict_as(effective_policy(doc, now)):
            raise Forbidden(
                "remote policy changes may only tighten the policy",
                details={"reason": "policy_loosening"},
            )
        return self._save(new)
