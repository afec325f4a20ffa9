"""The confirmation queue (comms spec §4.3, flow stage 12).

A held action waits here until the operator decides. ``queue`` (D <= 6, 24 h): an
approval may edit the params (the caller re-validates them) and the action then runs.
``confirm`` (D 7-8, 4 h): the operator approves, then the advisor re-sends with
``confirm_action_id`` and a new nonce; only that re-send (:meth:`ConfirmQueue.consume`)
runs it. ``multisig`` (D 9-10, 72 h): N distinct approvers. Expired, rejected and
cancelled actions never run. At most 20 pending per advisor and 200 in all.
"""

from __future__ import annotations

import enum
import json
import math
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from lnhive.core.store import Store
from lnhive.manage.danger import HOLD_EXPIRY_S, HoldKind

MAX_PER_ADVISOR = 20
MAX_TOTAL = 200
DEFAULT_QUORUM = 2


class PendingStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    EXECUTED = "executed"


OPEN = (PendingStatus.PENDING, PendingStatus.APPROVED)


@dataclass(frozen=True)
class PendingAction:
    action_id: str
    created_at: float
    expires_at: float
    advisor_id: str
    credential_id: str
    schema_id: str
    action: str
    params: dict[str, Any]
    envelope_json: str
    request_hash: str
    danger: int
    kind: HoldKind
    required_approvals: int
    approvals: tuple[str, ...]
    status: PendingStatus
    decided_at: float | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "advisor": self.advisor_id,
            "credential_id": self.credential_id,
            "schema_id": self.schema_id,
            "action": self.action,
            "params": self.params,
            "danger": self.danger,
            "kind": self.kind.value,
            "required_approvals": self.required_approvals,
            "approvals": list(self.approvals),
            "status": self.status.value,
            "decided_at": self.decided_at,
            "note": self.note,
        }


def _row(r: sqlite3.Row) -> PendingAction:
    return PendingAction(
        action_id=r["action_id"],
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        advisor_id=r["advisor_id"],
        credential_id=r["credential_id"],
        schema_id=r["schema_id"],
        action=r["action"],
        params=json.loads(r["params_json"]),
        envelope_json=r["envelope_json"],
        request_hash=r["request_hash"],
        danger=r["danger"],
        kind=HoldKind(r["kind"]),
        required_approvals=r["required_approvals"],
        approvals=tuple(json.loads(r["approvals_json"])),
        status=PendingStatus(r["status"]),
        decided_at=r["decided_at"],
        note=r["note"],
    )


class ConfirmQueue:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._next_expiry: float | None = None
        """No open action expires before this (``None``: not known yet). Only a new hold
        makes it earlier (approvals, refusals and cancellations only close actions) and a
        rolled-back expiry leaves it at the action's own expiry, so it may be early, never
        late: :meth:`expire` (run before every request) skips its queries until then."""

    def hold(
        self,
        *,
        advisor_id: str,
        credential_id: str,
        schema_id: str,
        action: str,
        params: Mapping[str, Any],
        envelope_json: str,
        request_hash: str,
        danger: int,
        kind: HoldKind,
        now: float,
        required_approvals: int | None = None,
    ) -> PendingAction:
        quorum = (
            required_approvals
            if required_approvals is not None
            else (DEFAULT_QUORUM if kind is HoldKind.MULTISIG else 1)
        )
        if not 1 <= quorum <= 10 or (kind is HoldKind.MULTISIG and quorum < 2):
            raise InvalidInput("required approvals: 1-10, at least 2 for multisig")
        action_id = uuid.uuid4().hex
        self.expire(now)
        with self._store.transaction() as conn:
            total, mine = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(advisor_id = ?), 0) FROM comms_pending_actions "
                "WHERE status IN ('pending', 'approved')",
                (advisor_id,),
            ).fetchone()
            if mine >= MAX_PER_ADVISOR:
                raise RateLimited(f"at most {MAX_PER_ADVISOR} pending actions per advisor")
            if total >= MAX_TOTAL:
                raise RateLimited(f"at most {MAX_TOTAL} pending actions")
            conn.execute(
                "INSERT INTO comms_pending_actions (action_id, created_at, expires_at, advisor_id, "
                "credential_id, schema_id, action, params_json, envelope_json, request_hash, danger, "
                "kind, required_approvals, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    action_id,
                    now,
                    now + HOLD_EXPIRY_S[kind],
                    advisor_id,
                    credential_id,
                    schema_id,
                    action,
                    json.dumps(dict(params), sort_keys=True),
                    envelope_json,
                    request_hash,
                    danger,
                    kind.value,
                    quorum,
                    PendingStatus.PENDING.value,
                ),
            )
        if self._next_expiry is not None:
            self._next_expiry = min(self._next_expiry, now + HOLD_EXPIRY_S[kind])
        return self.get(action_id)

    def get(self, action_id: str) -> PendingAction:
        row = self._store.query_one(
            "SELECT * FROM comms_pending_actions WHERE action_id = ?", (action_id,)
        )
        if row is None:
            raise NotFound(f"no pending action {action_id}")
        return _row(row)

    def pending(
        self,
        now: float,
        *,
        status: PendingStatus | None = PendingStatus.PENDING,
        advisor_id: str | None = None,
    ) -> list[PendingAction]:
        """Actions by creation time (expired ones are marked first)."""
        self.expire(now)
        sql, args = "SELECT * FROM comms_pending_actions WHERE 1 = 1", []
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        if advisor_id is not None:
            sql += " AND advisor_id = ?"
            args.append(advisor_id)
        return [_row(r) for r in self._store.query(sql + " ORDER BY created_at, action_id", args)]

    def _open(self, action_id: str, now: float) -> PendingAction:
        item = self.get(action_id)
        if item.status not in OPEN:
            raise Conflict(f"action {action_id} is {item.status.value}")
        return item

    def _set(self, action_id: str, now: float, **fields: Any) -> PendingAction:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self._store.execute(
            f"UPDATE comms_pending_actions SET {cols}, decided_at = ? WHERE action_id = ?",
            (*fields.values(), now, action_id),
        )
        return self.get(action_id)

    def approve(
        self,
        action_id: str,
        approver: str,
        now: float,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> PendingAction:
        """Record ``approver``'s approval; the action is ``approved`` once the quorum is met.

        ``params`` (already re-validated by the caller) replace the held ones; only a
        ``queue`` hold may be edited.
        """
        self.expire(now)  # committed even if the decision below is refused
        with self._store.transaction():
            item = self._open(action_id, now)
            if item.status is PendingStatus.APPROVED:
                raise Conflict(f"action {action_id} is already approved")
            if params is not None and item.kind is not HoldKind.QUEUE:
                raise Forbidden("only queued (D <= 6) actions may be edited by the operator")
            if approver in item.approvals:
                raise Conflict(f"{approver} already approved {action_id}")
            approvals = (*item.approvals, approver)
            done = len(approvals) >= item.required_approvals
            fields: dict[str, Any] = {"approvals_json": json.dumps(list(approvals))}
            if done:
                fields["status"] = PendingStatus.APPROVED.value
            if params is not None:
                fields["params_json"] = json.dumps(dict(params), sort_keys=True)
            return self._set(action_id, now, **fields)

    def reject(self, action_id: str, reason: str, now: float) -> PendingAction:
        self.expire(now)
        with self._store.transaction():
            self._open(action_id, now)
            return self._set(action_id, now, status=PendingStatus.REJECTED.value, note=reason[:500])

    def consume(self, action_id: str, advisor_id: str, now: float) -> PendingAction:
        """The advisor's re-send of an approved ``confirm`` action: it may now run, once."""
        self.expire(now)  # committed even if the decision below is refused
        with self._store.transaction():
            item = self._open(action_id, now)
            if item.advisor_id != advisor_id:
                raise Forbidden("only the advisor who sent an action may confirm it")
            if item.kind is not HoldKind.CONFIRM:
                raise Conflict(
                    f"action {action_id} is a {item.kind.value} hold, not a confirmation"
                )
            if item.status is not PendingStatus.APPROVED:
                raise Conflict(f"action {action_id} awaits the operator's approval")
            return self._set(action_id, now, status=PendingStatus.EXECUTED.value)

    def mark_executed(self, action_id: str, now: float) -> PendingAction:
        """An approved ``queue``/``multisig`` action the executor has run."""
        self.expire(now)  # committed even if the decision below is refused
        with self._store.transaction():
            item = self._open(action_id, now)
            if item.status is not PendingStatus.APPROVED or item.kind is HoldKind.CONFIRM:
                raise Conflict(f"action {action_id} cannot run now")
            return self._set(action_id, now, status=PendingStatus.EXECUTED.value)

    def expire(self, now: float) -> list[PendingAction]:
        """Mark open actions past their expiry; returns them (each gets a receipt + notice)."""
        if self._next_expiry is not None and now < self._next_expiry:
            return []
        with self._store.transaction() as conn:
            # Read before expiring anything: if this transaction is rolled back, the
            # actions expired here are open again and the earliest of them is still due.
            nxt = conn.execute(
                "SELECT MIN(expires_at) AS t FROM comms_pending_actions "
                "WHERE status IN ('pending', 'approved')"
            ).fetchone()
            rows = conn.execute(
                "SELECT action_id FROM comms_pending_actions "
                "WHERE status IN ('pending', 'approved') AND expires_at <= ?",
                (now,),
            ).fetchall()
            ids = [r["action_id"] for r in rows]
            for action_id in ids:
                conn.execute(
                    "UPDATE comms_pending_actions SET status = 'expired', decided_at = ? "
                    "WHERE action_id = ?",
                    (now, action_id),
                )
        self._next_expiry = math.inf if nxt["t"] is None else float(nxt["t"])
        return [self.get(i) for i in ids]

    def cancel_for_advisor(self, advisor_id: str, reason: str, now: float) -> list[str]:
        """Cancel every open action of an advisor (revocation); returns their ids."""
        with self._store.transaction() as conn:
            rows = conn.execute(
                "SELECT action_id FROM comms_pending_actions "
                "WHERE advisor_id = ? AND status IN ('pending', 'approved')",
                (advisor_id,),
            ).fetchall()
            ids = [str(r["action_id"]) for r in rows]
            conn.execute(
                "UPDATE comms_pending_actions SET status = 'cancelled', decided_at = ?, note = ? "
                "WHERE advisor_id = ? AND status IN ('pending', 'approved')",
                (now, reason[:500], advisor_id),
            )
        return ids
