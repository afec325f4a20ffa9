"""Flow stages 6-10 in one call, for the executor and the plugin shell.

:meth:`Gate.check` takes an authenticated advisor's request (the transport has done
stages 0-5) and the live :class:`NodeSnapshot`, and returns a :class:`GateResult`:
the prepared action, what it touches, and the policy's decision. It raises the §5.5
errors for everything the advisor gets refused before policy (``credential_invalid``,
``unknown_schema``/``unknown_action``, ``invalid_params``, ``unsupported``,
``forbidden``, ``constraint_violation``, ``budget_exhausted``, ``rate_limited``).
On ``allow`` the caller records the action with :meth:`Gate.record` and executes it;
on ``hold`` it puts it in :attr:`Gate.queue`; on ``reject`` it answers with
``decision.symbol``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lnhive.core.clock import Clock
from lnhive.core.errors import Conflict, CredentialInvalid, PolicyBlocked
from lnhive.core.store import Store
from lnhive.manage.catalogue import Catalogue, PreparedAction, prepare, require_supported
from lnhive.manage.confirm_queue import ConfirmQueue, PendingAction
from lnhive.manage.counters import ActionLog
from lnhive.manage.credential import Credential, check_credential
from lnhive.manage.credential_store import CredentialStore
from lnhive.manage.effects import ActionEffects, effects_of
from lnhive.manage.policy_engine import Decision, PolicyDecision, PolicyEngine, PolicyService
from lnhive.manage.rules import RuleContext
from lnhive.manage.scope import ScopeResult, check_scope
from lnhive.manage.snapshot import NodeSnapshot


@dataclass(frozen=True)
class GateResult:
    credential: Credential
    prepared: PreparedAction
    effects: ActionEffects
    scope: ScopeResult
    decision: PolicyDecision

    @property
    def skip_channels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.scope.skip_channels, *self.decision.skip_channels)))

    @property
    def params(self) -> dict[str, Any]:
        """The params to execute: validated, with any narrowing applied."""
        narrowed = dict(self.prepared.params)
        for verdict in self.scope.narrowed:
            narrowed.update(verdict.narrow_params)
        narrowed.update(self.decision.narrow_params)
        return narrowed


class Gate:
    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        clock: Clock,
        node_id: str,
        capabilities: Iterable[str] = (),
    ) -> None:
        self.catalogue = catalogue
        self.clock = clock
        self.node_id = node_id
        self.capabilities = frozenset(capabilities)
        self.credentials = CredentialStore(store, catalogue.schema_ids, node_id)
        self.queue = ConfirmQueue(store)
        self.log = ActionLog(store)
        self.engine = PolicyEngine(store, clock)
        self.policy = PolicyService(store, clock)

    def credential_for(self, advisor_key: str, credential_id: str) -> Credential:
        """Stage 6: the advisor's credential, verified for this node and now."""
        active = self.credentials.active_for(advisor_key)
        if active is None or active.credential_id != credential_id:
            stored = self.credentials.find(credential_id)
            if stored is not None and stored.agent_id == f"nostr:{advisor_key}":
                raise CredentialInvalid(
                    "credential is revoked or superseded", details={"reason": "revoked"}
                )
            raise CredentialInvalid(
                "no such credential for this advisor", details={"reason": "unknown"}
            )
        check_credential(active, node_id=self.node_id, now=self.clock.now(), revoked=False)
        return active

    def check(
        self,
        *,
        advisor_key: str,
        credential_id: str,
        schema_type: Any,
        payload: Any,
        snapshot: NodeSnapshot,
    ) -> GateResult:
        credential = self.credential_for(advisor_key, credential_id)
        prepared = prepare(self.catalogue, schema_type, payload, snapshot)
        require_supported(prepared.spec, self.capabilities)
        effects = effects_of(prepared, snapshot)
        ctx = RuleContext(
            prepared=prepared,
            effects=effects,
            snapshot=snapshot,
            now=self.clock.now(),
            advisor=self.log.advisor(advisor_key),
            node=self.log.node(),
        )
        scope = check_scope(credential, ctx)
        decision = self.engine.evaluate(ctx)
        return GateResult(credential, prepared, effects, scope, decision)

    def confirm(self, advisor_key: str, action_id: str, result: GateResult) -> PendingAction:
        """The advisor's re-send of a D 7-8 action with ``confirm_action_id``.

        ``result`` is the re-sent request's :meth:`check` (stages 6-10 re-run). It must be
        the held request (same advisor, schema, action and params), the operator must have
        approved it, and the policy must not now reject it; the item is then consumed and
        the caller executes it (once).
        """
        item = self.queue.get(action_id)
        p = result.prepared
        if (item.schema_id, item.action, item.params) != (p.schema_id, p.action, result.params):
            raise Conflict("the re-sent request differs from the held one")
        if result.decision.decision is Decision.REJECT:
            raise PolicyBlocked(result.decision.reason, details=dict(result.decision.details))
        return self.queue.consume(action_id, advisor_key, self.clock.now())

    def record(self, advisor_key: str, result: GateResult, snapshot: NodeSnapshot) -> int:
        """Count an allowed action against the advisor's limits and budgets."""
        return self.log.record(
            advisor_key, result.prepared, result.effects, snapshot, self.clock.now()
        )
