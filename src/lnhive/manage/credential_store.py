"""Issuing, storing and revoking advisor credentials (comms spec §3.3), locally only.

Issuing re-validates everything, signs with the node's :data:`Signer` and supersedes
the advisor's previous credential. Revoking marks the credential, records the
revocation and — in the same transaction — cancels the advisor's pending actions.
Granting is only ever done by this local API: no remote path reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import Conflict, InvalidInput, NotFound
from lnhive.core.store import Store
from lnhive.manage.confirm_queue import ConfirmQueue
from lnhive.manage.credential import (
    Credential,
    Signer,
    new_credential_id,
    parse_credential,
    sign_credential,
)

MAX_ACTIVE = 1000
MAX_REASON = 500
PARSED_CACHE_SIZE = 2 * MAX_ACTIVE


@dataclass(frozen=True)
class Revocation:
    credential_id: str
    agent_id: str
    revoked_at: float
    reason: str
    cancelled_actions: tuple[str, ...]


class CredentialStore:
    def __init__(self, store: Store, schema_ids: Iterable[str], node_id: str) -> None:
        self._store = store
        self._schema_ids = tuple(schema_ids)
        self._node_id = node_id
        self._queue = ConfirmQueue(store)
        self._parsed: dict[str, Credential] = {}

    def issue(
        self,
        *,
        advisor_key: str,
        tier: str,
        permissions: Mapping[str, bool],
        allowed_schemas: list[str],
        valid_for_s: int,
        signer: Signer,
        now: float,
        allowed_actions: list[str] | None = None,
        constraints: Mapping[str, Any] | None = None,
        compensation: Mapping[str, Any] | None = None,
        trial_days: int | None = None,
    ) -> Credential:
        """Validate, sign and store a credential for ``advisor_key`` (64-hex Nostr key).

        Any earlier active credential of the same advisor is superseded.
        """
        start = int(now)
        if not isinstance(valid_for_s, int) or isinstance(valid_for_s, bool) or valid_for_s <= 0:
            raise InvalidInput("valid_for_s must be a positive integer")
        draft: dict[str, Any] = {
            "credential_id": new_credential_id(),
            "issuer_id": self._node_id,
            "agent_id": f"nostr:{advisor_key}",
            "node_id": self._node_id,
            "tier": tier,
            "permissions": dict(permissions),
            "allowed_schemas": list(allowed_schemas),
            "allowed_actions": allowed_actions,
            "constraints": dict(constraints or {}),
            "compensation": None if compensation is None else dict(compensation),
            "trial": None,
            "valid_from": start,
            "valid_until": start + valid_for_s,
        }
        if trial_days is not None:
            if (
                not isinstance(trial_days, int)
                or isinstance(trial_days, bool)
                or not 1 <= trial_days <= 90
            ):
                raise InvalidInput("trial days must be 1-90")
            draft["trial"] = {"ends_at": start + trial_days * 86_400}
        credential = sign_credential(parse_credential(draft, self._schema_ids), signer)
        with self._store.transaction() as conn:
            active = conn.execute(
                "SELECT COUNT(*) FROM comms_credentials WHERE status = 'active' AND agent_id != ?",
                (credential.agent_id,),
            ).fetchone()[0]
            if active >= MAX_ACTIVE:
                raise Conflict(f"at most {MAX_ACTIVE} active credentials")
            conn.execute(
                "UPDATE comms_credentials SET status = 'superseded' "
                "WHERE agent_id = ? AND status = 'active'",
                (credential.agent_id,),
            )
            conn.execute(
                "INSERT INTO comms_credentials (credential_id, agent_id, issued_at, valid_from, "
                "valid_until, status, credential_json) VALUES (?, ?, ?, ?, ?, 'active', ?)",
                (
                    credential.credential_id,
                    credential.agent_id,
                    now,
                    credential.valid_from,
                    credential.valid_until,
                    json.dumps(credential.to_json(), sort_keys=True),
                ),
            )
        return credential

    def _load(self, text: str) -> Credential:
        """The credential stored as ``text``, parsed once per distinct text (a credential
        is immutable; its status is read from its row on every request, never cached)."""
        cached = self._parsed.get(text)
        if cached is None:
            cached = parse_credential(json.loads(text), self._schema_ids)
            if len(self._parsed) >= PARSED_CACHE_SIZE:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[text] = cached
        return cached

    def find(self, credential_id: str) -> Credential | None:
        row = self._store.query_one(
            "SELECT credential_json FROM comms_credentials WHERE credential_id = ?",
            (credential_id,),
        )
        return None if row is None else self._load(row["credential_json"])

    def get(self, credential_id: str) -> Credential:
        found = self.find(credential_id)
        if found is None:
            raise NotFound(f"no credential {credential_id}")
        return found

    def status(self, credential_id: str) -> str:
        row = self._store.query_one(
            "SELECT status FROM comms_credentials WHERE credential_id = ?", (credential_id,)
        )
        if row is None:
            raise NotFound(f"no credential {credential_id}")
        return str(row["status"])

    def is_revoked(self, credential_id: str) -> bool:
        """Revoked or superseded: either way it no longer authorizes anything."""
        row = self._store.query_one(
            "SELECT status FROM comms_credentials WHERE credential_id = ?", (credential_id,)
        )
        return row is None or row["status"] != "active"

    def active_for(self, advisor_key: str) -> Credential | None:
        row = self._store.query_one(
            "SELECT credential_json FROM comms_credentials WHERE agent_id = ? AND status = 'active'",
            (f"nostr:{advisor_key}",),
        )
        return None if row is None else self._load(row["credential_json"])

    def has_active(self, advisor_key: str) -> bool:
        """Whether the advisor holds an active credential (what :meth:`active_for` would
        find, without loading it)."""
        row = self._store.query_one(
            "SELECT 1 FROM comms_credentials WHERE agent_id = ? AND status = 'active' LIMIT 1",
            (f"nostr:{advisor_key}",),
        )
        return row is not None

    def all(self, status: str | None = None) -> list[Credential]:
        sql = "SELECT credential_json FROM comms_credentials"
        args: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        return [
            self._load(r["credential_json"])
            for r in self._store.query(sql + " ORDER BY issued_at", args)
        ]

    def revoke(self, advisor_key: str, reason: str, now: float) -> Revocation | None:
        """Revoke the advisor's active credential and cancel its pending actions, atomically.

        Idempotent: ``None`` when the advisor has no active credential.
        """
        if not isinstance(reason, str) or not 1 <= len(reason) <= MAX_REASON:
            raise InvalidInput(f"reason must be 1-{MAX_REASON} characters")
        agent = f"nostr:{advisor_key}"
        with self._store.transaction() as conn:
            row = conn.execute(
                "SELECT credential_id FROM comms_credentials WHERE agent_id = ? AND status = 'active'",
                (agent,),
            ).fetchone()
            if row is None:
                return None
            cid = str(row["credential_id"])
            conn.execute(
                "UPDATE comms_credentials SET status = 'revoked' WHERE credential_id = ?", (cid,)
            )
            conn.execute(
                "INSERT INTO comms_revocations (credential_id, revoked_at, reason) VALUES (?, ?, ?)",
                (cid, now, reason),
            )
            cancelled = self._queue.cancel_for_advisor(advisor_key, f"revoked: {reason}", now)
        return Revocation(cid, agent, now, reason, tuple(cancelled))

    def revoke_all(self, reason: str, now: float) -> list[Revocation]:
        """Lockdown: revoke every active credential (one transaction)."""
        with self._store.transaction():
            agents = [
                str(r["agent_id"])
                for r in self._store.query(
                    "SELECT agent_id FROM comms_credentials WHERE status = 'active'"
                )
            ]
            out = [self.revoke(a[len("nostr:") :], reason, now) for a in agents]
        return [r for r in out if r is not None]

    def revocation(self, credential_id: str) -> tuple[float, str] | None:
        row = self._store.query_one(
            "SELECT revoked_at, reason FROM comms_revocations WHERE credential_id = ?",
            (credential_id,),
        )
        return None if row is None else (float(row["revoked_at"]), str(row["reason"]))
