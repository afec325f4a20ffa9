"""Remote management domain (comms spec §1-§4): the schema catalogue with danger
scores, advisor credentials, the policy engine and the confirmation queue.

Pure domain logic: no pyln, no processes, no transport. Live node state comes in as
a :class:`~lnhive.manage.snapshot.NodeSnapshot`; time from a clock; persistence is
the comms plugin's :class:`~lnhive.core.store.Store`, whose migrations include
:data:`lnhive.manage.store.MIGRATIONS`.

Entry points:

- :data:`CATALOGUE` / :func:`prepare` — stages 7-8 (validate, score);
- :class:`CredentialStore` — issue / revoke / look up credentials (local only);
- :class:`PolicyEngine` / :class:`PolicyService` — stage 10 and the policy document;
- :class:`ConfirmQueue` — held actions;
- :class:`Gate` — stages 6-10 in one call.
"""

from __future__ import annotations

from lnhive.manage.catalogue import ActionSpec, Catalogue, PreparedAction, prepare
from lnhive.manage.confirm_queue import ConfirmQueue, PendingAction, PendingStatus
from lnhive.manage.credential import Credential, check_credential, local_signer
from lnhive.manage.credential_store import CredentialStore
from lnhive.manage.danger import DangerVector, HoldKind, Tier
from lnhive.manage.gate import Gate, GateResult
from lnhive.manage.policy_engine import Decision, PolicyDecision, PolicyEngine, PolicyService
from lnhive.manage.schemas import CATALOGUE, FAMILIES
from lnhive.manage.snapshot import ChannelState, NodeSnapshot
from lnhive.manage.store import open_manage_store

__all__ = [
    "CATALOGUE",
    "FAMILIES",
    "ActionSpec",
    "Catalogue",
    "ChannelState",
    "ConfirmQueue",
    "Credential",
    "CredentialStore",
    "DangerVector",
    "Decision",
    "Gate",
    "GateResult",
    "HoldKind",
    "NodeSnapshot",
    "PendingAction",
    "PendingStatus",
    "PolicyDecision",
    "PolicyEngine",
    "PolicyService",
    "PreparedAction",
    "Tier",
    "check_credential",
    "local_signer",
    "open_manage_store",
    "prepare",
]
