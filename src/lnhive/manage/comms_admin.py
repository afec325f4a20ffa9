"""The operator's (local-only) side of cl-hive-comms (comms spec §3.3, §4, §6, §7).

:class:`CommsAdmin` answers the ``hive-client-*`` RPC methods: authorize / revoke /
describe advisors, status (with the receipt-key attestation), the policy document (the
operator may loosen it; advisors can only tighten), the confirmation queue
(list / approve / reject; an approved ``queue`` or ``multisig`` action is re-checked
against stages 6 and 9-10 and then executed), and the receipt log (list, verify,
export as JSON Lines, checkpoint, prune). Every change is itself a receipt. Failures
raise :class:`~lnhive.core.errors.LnhiveError` (the plugin turns them into JSON-RPC
errors in 21000-21999).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from lnhive.core.errors import Conflict, InvalidInput, LnhiveError, NotFound
from lnhive.core.hashing import sha256_hex
from lnhive.manage.confirm_queue import PendingAction, PendingStatus
from lnhive.manage.credential import Credential
from lnhive.manage.credential_summary import TEMPLATES, describe, template
from lnhive.manage.danger import HoldKind
from lnhive.manage.pipeline import TRANSPORTS, Pipeline, advisor_key
from lnhive.manage.receipts import ReceiptDraft
from lnhive.manage.schemas import CATALOGUE
from lnhive.transport.codes import code_for
from lnhive.transport.envelope import parse_envelope

AUTHORIZE_SCHEMA = "hive:authorize/v1"
POLICY_SCHEMA = "hive:policy/v1"
QUEUE_SCHEMA = "hive:queue/v1"
ACCESS_ALIASES = {"monitor": "monitor_only", "fees": "fee_optimization"}
MAX_VALID_DAYS = 730
POLICY_ACTIONS = ("get", "set-preset", "set-overrides", "clear-override", "reset")


def advisor_id(advisor: str) -> str:
    """The reference's advisor id: the first 32 hex of SHA-256 of the lowercased advisor."""
    return sha256_hex(advisor.lower().encode())[:32]


def _json_arg(value: Any, name: str) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be JSON")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} is not valid JSON: {exc}") from None


def _ref(receipt: dict[str, Any]) -> dict[str, Any]:
    return {"seq": receipt["seq"], "receipt_hash": receipt["receipt_hash"]}


class CommsAdmin:
    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        pipeline.executor.local.update(
            {
                ("monitor", "capabilities"): lambda _: self.capabilities(),
                ("monitor", "comms_status"): lambda _: self.comms_status(),
                ("emergency", "revoke_all_credentials"): lambda p: self.revoke(
                    None, f"lockdown by an advisor: {p['reason']}", all=True
                ),
            }
        )

    def comms_status(self) -> dict[str, Any]:
        """What an advisor may see of the plugin (``hive:monitor/v1 comms_status``)."""
        head = self.p.receipts.head()
        return {
            "implementation": "lightning-hive",
            "version": self.p.version,
            "transports": list(TRANSPORTS),
            "receipt_key": self.p.key.pubkey,
            "receipts": {"head_seq": head.seq, "head_hash": head.receipt_hash},
            "policy_preset": self.p.gate.policy.get()["preset"],
        }

    @property
    def _now(self) -> float:
        return self.p.clock.now()

    # -- advisors --------------------------------------------------------------------

    def authorize(
        self,
        advisor: str,
        access: str = "monitor_only",
        valid_days: int = 30,
        trial_days: int | None = None,
        constraints: Any = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        key = advisor_key(advisor)
        name = ACCESS_ALIASES.get(access, access)
        if name not in TEMPLATES:
            raise InvalidInput(f"unknown access {access!r}; known: {sorted(TEMPLATES)}")
        if type(valid_days) is not int or not 1 <= valid_days <= MAX_VALID_DAYS:
            raise InvalidInput(f"valid_days must be an integer 1-{MAX_VALID_DAYS}")
        t = template(name)
        limits = dict(t.constraints)
        extra = _json_arg(constraints, "constraints")
        if extra is not None:
            if not isinstance(extra, dict):
                raise InvalidInput("constraints must be a JSON object")
            limits.update(extra)
        with self.p.lock:
            cred = self.p.gate.credentials.issue(
                advisor_key=key,
                tier=t.tier.label,
                permissions={perm: True for perm in t.permissions},
                allowed_schemas=list(t.allowed_schemas),
                valid_for_s=valid_days * 86_400,
                signer=lambda text: str(self.p.node.signmessage(message=text)["zbase"]),
                now=self._now,
                constraints=limits,
                trial_days=trial_days,
            )
            receipt = self.p.admin_receipt(
                AUTHORIZE_SCHEMA,
                "authorize",
                {"advisor": f"nostr:{key}", "access": name, "valid_days": valid_days},
                {"credential_id": cred.credential_id, "valid_until": cred.effective_until},
            )
        return {
            "ok": True,
            "advisor_id": advisor_id(f"nostr:{key}"),
            "advisor": f"nostr:{key}",
            "status": "active",
            "access": name,
            "note": note or "",
            "credential_id": cred.credential_id,
            "credential": cred.to_json(),
            "summary": describe(cred, CATALOGUE),
            "node_id": self.p.node_id,
            "node_pubkey": self.p.nostr_pubkey,
            "receipt": _ref(receipt),
        }

    def _cancelled_receipts(self, ids: tuple[str, ...] | list[str], reason: str) -> None:
        for action_id in ids:
            item = self.p.gate.queue.get(action_id)
            self._queue_receipt(item, "cancelled", error=("policy_blocked", reason))

    def revoke(
        self, advisor: str | None, reason: str = "revoked by the operator", all: bool = False
    ) -> dict[str, Any]:
        with self.p.lock:
            if all:
                revs = self.p.gate.credentials.revoke_all(reason, self._now)
            else:
                if advisor is None:
                    raise InvalidInput("give an advisor, or all=true for a lockdown")
                rev = self.p.gate.credentials.revoke(advisor_key(advisor), reason, self._now)
                revs = [] if rev is None else [rev]
            for rev in revs:
                self._cancelled_receipts(rev.cancelled_actions, f"revoked: {reason}")
            receipt = self.p.admin_receipt(
                AUTHORIZE_SCHEMA,
                "revoke_all" if all else "revoke",
                {
                    "advisor": None if all else f"nostr:{advisor_key(advisor or '')}",
                    "reason": reason,
                },
                {"revoked": [r.credential_id for r in revs]},
            )
        return {
            "ok": True,
            "revoked": [
                {
                    "advisor": r.agent_id,
                    "credential_id": r.credential_id,
                    "cancelled_actions": list(r.cancelled_actions),
                }
                for r in revs
            ],
            "receipt": _ref(receipt),
        }

    def credential(self, advisor: str, raw: bool = False) -> dict[str, Any]:
        key = advisor_key(advisor)
        store = self.p.gate.credentials
        cred: Credential | None = store.active_for(key)
        if cred is None:
            mine = [c for c in store.all() if c.agent_id == f"nostr:{key}"]
            if not mine:
                raise NotFound(f"no credential for nostr:{key}")
            cred = mine[-1]
        text = describe(cred, CATALOGUE)
        out: dict[str, Any] = {
            "advisor": cred.agent_id,
            "credential_id": cred.credential_id,
            "status": store.status(cred.credential_id),
            "summary": text,
            "lines": text.splitlines(),
        }
        if raw:
            out["credential"] = cred.to_json()
        return out

    def status(self) -> dict[str, Any]:
        creds = self.p.gate.credentials
        pol = self.p.gate.policy.get()
        return {
            "ok": True,
            "identity": {"pubkey": self.p.nostr_pubkey, "node_id": self.p.node_id, "relays": []},
            "transports": list(TRANSPORTS),
            "dry_run": self.p.executor.dry_run,
            "policy": {k: pol[k] for k in ("preset", "max_danger", "auto_max", "forbidden")},
            "active_advisors": len(creds.all("active")),
            "revoked_advisors": len(creds.all("revoked")),
            "pending_actions": len(self.p.gate.queue.pending(self._now)),
            "receipts": self.p.receipts.status(),
            "attestation": self.p.receipts.attestation,
        }

    # -- policy ------------------------------------------------------------------------

    def policy(
        self,
        action: str = "get",
        preset: str | None = None,
        overrides_json: Any = None,
        duration_hours: float | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        svc = self.p.gate.policy
        if action not in POLICY_ACTIONS:
            raise InvalidInput(f"invalid action {action!r}; valid actions: {list(POLICY_ACTIONS)}")
        if action == "get":
            return {"ok": True, "policy": svc.get()}
        with self.p.lock:
            if action == "set-preset":
                if preset is None:
                    raise InvalidInput("set-preset needs preset")
                svc.set_preset(preset)
            elif action == "set-overrides":
                overrides = _json_arg(overrides_json, "overrides_json")
                if not isinstance(overrides, dict) or not overrides:
                    raise InvalidInput("set-overrides needs overrides_json, a JSON object")
                duration = None if duration_hours is None else float(duration_hours) * 3600
                svc.set_overrides(overrides, duration)
            elif action == "clear-override":
                svc.clear_override(key or "*")
            else:
                svc.reset(preset or "moderate")
            params = {
                "preset": preset,
                "overrides": _json_arg(overrides_json, "overrides_json"),
                "duration_hours": duration_hours,
                "key": key,
            }
            receipt = self.p.admin_receipt(
                POLICY_SCHEMA, action, {k: v for k, v in params.items() if v is not None}
            )
        return {"ok": True, "policy": svc.get(), "receipt": _ref(receipt)}

    # -- the confirmation queue ------------------------------------------------------------

    def pending(self, status: str | None = "pending") -> dict[str, Any]:
        with self.p.lock:
            self.p.sweep_expired()
            wanted = None if status in (None, "all") else PendingStatus(status)
            items = self.p.gate.queue.pending(self._now, status=wanted)
        return {"ok": True, "pending": [i.to_json() for i in items]}

    def _queue_receipt(
        self,
        item: PendingAction,
        decision: str,
        *,
        error: tuple[str, str] | None = None,
        result: Any = None,
    ) -> dict[str, Any]:
        return self.p.append(
            ReceiptDraft(
                actor=f"nostr:{item.advisor_id}",
                schema_id=item.schema_id,
                action=item.action,
                decision=decision,
                params=item.params,
                credential_id=item.credential_id,
                request_hash=item.request_hash,
                danger_score=item.danger,
                error=None if error is None else {"code": error[0], "message": error[1]},
                result={"action_id": item.action_id, **(result or {})},
            )
        )

    def approve(
        self,
        action_id: str,
        reject: bool = False,
        reason: str = "",
        params_json: Any = None,
        approver: str = "operator",
    ) -> dict[str, Any]:
        with self.p.lock:
            self.p.sweep_expired()
            queue = self.p.gate.queue
            item = queue.get(action_id)
            if reject:
                item = queue.reject(action_id, reason or "rejected by the operator", self._now)
                receipt = self._queue_receipt(
                    item,
                    "rejected",
                    error=("policy_blocked", f"rejected by the operator: {item.note}"),
                )
                return {"ok": True, "action": item.to_json(), "receipt": _ref(receipt)}
            params = _json_arg(params_json, "params_json")
            if params is not None and not isinstance(params, dict):
                raise InvalidInput("params_json must be a JSON object")
            if item.status is not PendingStatus.PENDING:
                raise Conflict(f"action {action_id} is {item.status.value}")
            env = parse_envelope(item.envelope_json.encode())
            snapshot = self.p.snapshot()
            # Stages 6, 7-10 again, with the (possibly edited) params: before recording.
            checked = self.p.check(
                item.advisor_id,
                item.credential_id,
                item.schema_id,
                item.action,
                item.params if params is None else params,
                snapshot,
            )
            if checked.decision.decision.value == "reject":
                raise LnhiveError(
                    checked.decision.reason,
                    symbol=checked.decision.symbol or "policy_blocked",
                    details={"reason": checked.decision.reason},
                )
            item = queue.approve(
                action_id, approver, self._now, params=None if params is None else checked.params
            )
            if item.status is not PendingStatus.APPROVED or item.kind is HoldKind.CONFIRM:
                receipt = self._queue_receipt(
                    item, "approved", result={"status": item.status.value}
                )
                note = (
                    "the advisor must re-send it with confirm_action_id"
                    if item.kind is HoldKind.CONFIRM
                    else "more approvals needed"
                )
                return {
                    "ok": True,
                    "action": item.to_json(),
                    "executed": False,
                    "note": note,
                    "receipt": _ref(receipt),
                }
            queue.mark_executed(action_id, self._now)
            draft = dataclasses.replace(
                ReceiptDraft.for_envelope(env, transport="rest", decision="approved"),
                result=None,
            )
            receipt, error, out, _ = self.p.execute(draft, checked, snapshot, item.advisor_id)
        reply: dict[str, Any] = {
            "ok": error is None,
            "action": queue.get(action_id).to_json(),
            "executed": True,
            "result": out,
            "receipt": _ref(receipt),
        }
        if error is not None:
            reply.update(code=code_for(error).code, error=error.message)
        return reply

    # -- receipts ---------------------------------------------------------------------------

    def receipts(self, advisor: str | None = None, limit: int = 50) -> dict[str, Any]:
        actor = (
            None
            if advisor is None
            else (advisor if advisor == "operator" else f"nostr:{advisor_key(advisor)}")
        )
        return {"ok": True, "receipts": self.p.receipts.list_receipts(actor=actor, limit=limit)}

    def verify(self, full: bool = False) -> dict[str, Any]:
        return self.p.receipts.verify(full=full).to_json()

    def export(
        self, advisor: str | None = None, since: int | None = None, until: int | None = None
    ) -> dict[str, Any]:
        actor = None if advisor is None else f"nostr:{advisor_key(advisor)}"
        text = self.p.receipts.export_jsonl(actor=actor, since=since, until=until)
        return {
            "ok": True,
            "node_id": self.p.node_id,
            "lines": len(text.splitlines()),
            "jsonl": text,
        }

    def checkpoint(self) -> dict[str, Any]:
        with self.p.lock:
            return {"ok": True, "checkpoint": self.p.receipts.checkpoint()}

    def prune(self, days: int | None = None) -> dict[str, Any]:
        with self.p.lock:
            res = self.p.receipts.prune(retention_days=days or self.p.options.retention_days)
        return {"ok": True, "pruned": {"receipts": res.receipts, "segments": res.segments}}

    def capabilities(self) -> dict[str, Any]:
        return CATALOGUE.capabilities(self.p.version, self.p.executor.capabilities())
