"""The operator's side of governance for :class:`~lnhive.fleet.hive.Hive`: proposing,
approving and rejecting queued actions, and the mode (see :mod:`lnhive.fleet.pending`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lnhive.core.errors import Conflict, InvalidInput, LnhiveError
from lnhive.fleet import intents, pending
from lnhive.fleet.envelope import is_node_id
from lnhive.fleet.params import int_param

if TYPE_CHECKING:
    from lnhive.fleet.hive import Hive

MODE_KEY = "governance_mode"
IGNORED_KEY = "ignored_peers"
HOUR_S = 3_600.0


class ActionDesk:
    def __init__(self, hive: Hive) -> None:
        self.h = hive
        self.queue = pending.ActionQueue(hive.store)

    # -- mode

    def mode(self) -> str:
        stored = self.h.roster.meta(MODE_KEY)
        mode = self.h.options.governance_mode if stored is None else stored
        if mode not in pending.MODES:
            self.h.log("warn", f"governance: unknown mode {mode!r}; acting as advisor")
            return pending.ADVISOR
        return mode

    def set_mode(self, mode: object) -> dict[str, Any]:
        with self.h.lock:
            new = pending.check_mode(mode)
            old = self.mode()
            with self.h.store.transaction() as conn:
                self.h.roster.set_meta(conn, MODE_KEY, new)
            self.h.log("info", f"governance: mode {old} -> {new}")
            return {"old_mode": old, "new_mode": new}

    # -- proposals

    def propose_channel_open(self, peer_id: object, amount_sats: object) -> dict[str, Any]:
        """Queue a channel open to an external node (it always waits for approval)."""
        with self.h.lock:
            self.h.require_admitted()
            target, amount = self.h.intent_engine.check_channel_open(peer_id, amount_sats)
            self.h.intents.check_can_announce("channel_open", target)
            action = self.queue.add(
                pending.CHANNEL_OPEN, {"peer_id": target, "amount_sats": amount}, self.h.now()
            )
            self.h.log("info", f"governance: channel open to {target} queued ({action.id})")
            return action.to_json()

    def emergency_ban(self, peer_id: object, reason: object = "") -> dict[str, Any]:
        with self.h.lock:
            self.h.require_admitted()
            if not is_node_id(peer_id) or peer_id == self.h.me:
                raise InvalidInput("peer_id must be another node's id (66 lowercase hex)")
            if not isinstance(reason, str) or len(reason) > pending.MAX_REASON:
                raise InvalidInput(f"reason must be at most {pending.MAX_REASON} characters")
            now = self.h.now()
            action = self.queue.add(
                pending.EMERGENCY_BAN, {"peer_id": str(peer_id), "reason": reason}, now
            )
            limit = self.h.options.failsafe_actions_per_hour
            done = self.queue.count_since(pending.EMERGENCY_BAN, pending.EXECUTED, now - HOUR_S)
            if self.mode() == pending.FAILSAFE and done < limit:
                self._execute(action, now)
            else:
                self.h.log("info", f"governance: emergency ban of {peer_id} queued ({action.id})")
            return self.queue.get(action.id).to_json()

    # -- operator decisions

    def _targets(self, action_id: object) -> list[pending.Action]:
        if action_id == "all":
            return self.queue.pending()
        if not isinstance(action_id, str) or not action_id:
            raise InvalidInput('action_id must be an action id or "all"')
        action = self.queue.get(action_id)
        if action.status != pending.PENDING:
            raise Conflict(f"action {action.id} is {action.status}, not pending")
        return [action]

    def approve(self, action_id: object, amount_sats: object = None) -> dict[str, Any]:
        with self.h.lock:
            now = self.h.now()
            self.queue.expire(now)
            results = []
            for action in self._targets(action_id):
                if amount_sats is not None and action.action_type == pending.CHANNEL_OPEN:
                    amount = int_param("amount_sats", amount_sats)
                    action = pending.Action(
                        **{**action.__dict__, "payload": {**action.payload, "amount_sats": amount}}
                    )
                results.append(self._execute(action, now))
            return {"approved": len(results), "actions": results}

    def reject(self, action_id: object, reason: object = "") -> dict[str, Any]:
        with self.h.lock:
            if not isinstance(reason, str) or len(reason) > pending.MAX_REASON:
                raise InvalidInput(f"reason must be at most {pending.MAX_REASON} characters")
            now = self.h.now()
            self.queue.expire(now)
            done = []
            for action in self._targets(action_id):
                self.queue.set_status(action.id, pending.REJECTED, reason or "rejected", now)
                done.append(action.id)
            return {"rejected": len(done), "ids": done}

    def list(self) -> dict[str, Any]:
        with self.h.lock:
            self.run(self.h.now())
            actions = [a.to_json() for a in self.queue.recent()]
            return {"mode": self.mode(), "count": len(actions), "actions": actions}

    # -- execution

    def _execute(self, action: pending.Action, now: float) -> dict[str, Any]:
        try:
            if action.action_type == pending.CHANNEL_OPEN:
                intent = self.h.intent_engine.announce_channel_open(
                    action.payload["peer_id"], int(action.payload["amount_sats"])
                )
                payload = {**action.payload, "intent_id": intent.id}
                self.queue.set_status(action.id, pending.APPROVED, None, now, payload)
            else:
                self._ban_locally(action.payload["peer_id"], action.payload.get("reason", ""))
                self.queue.set_status(action.id, pending.EXECUTED, None, now)
        except LnhiveError as exc:
            self.queue.set_status(action.id, pending.FAILED, exc.rpc_message(), now)
        return self.queue.get(action.id).to_json()

    def _ban_locally(self, peer: str, reason: str) -> None:
        """ARCHITECTURE §8.6: ignore and disconnect here, and let the fleet vote."""
        ignored = self.ignored() | {peer}
        with self.h.store.transaction() as conn:
            self.h.roster.set_meta(conn, IGNORED_KEY, json.dumps(sorted(ignored)))
        try:
            self.h.node.disconnect(id=peer, force=True)
        except Exception as exc:  # already gone, or never connected
            self.h.log("debug", f"governance: disconnecting {peer}: {exc}")
        if self.h.roster.is_member(peer) and self.h.roster.tier(self.h.me) == "member":
            try:
                self.h.governance.propose_ban(peer, reason or "emergency ban")
            except LnhiveError as exc:
                self.h.log("info", f"governance: ban proposal not filed: {exc.rpc_message()}")
        self.h.log("warn", f"governance: {peer} ignored and disconnected (emergency ban)")

    def ignored(self) -> set[str]:
        raw = self.h.roster.meta(IGNORED_KEY)
        return set(json.loads(raw)) if raw else set()

    def run(self, now: float) -> None:
        """Expire old actions; let approved channel opens follow their intents."""
        self.queue.expire(now)
        for action in self.queue.recent():
            if action.status != pending.APPROVED or "intent_id" not in action.payload:
                continue
            intent = self.h.intents.get(action.payload["intent_id"])
            if intent is None:
                continue
            if intent.status == intents.EXECUTED:
                self.queue.set_status(action.id, pending.EXECUTED, None, now)
            elif intent.status in (intents.FAILED, intents.ABORTED, intents.EXPIRED):
                reason = f"intent {intent.status}: {intent.reason or ''}".rstrip(": ")
                self.queue.set_status(action.id, pending.FAILED, reason, now)
