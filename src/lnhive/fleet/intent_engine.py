"""Intent locks wired to the wire protocol for :class:`~lnhive.fleet.hive.Hive`.

The decisions live in :mod:`lnhive.fleet.intents`; this module announces, relays the
outcome (``fleet.intent_abort`` / ``fleet.intent_commit``) and executes a committed
``channel_open`` with ``fundchannel``. A channel open is announced only once the
operator approved it in the governance queue (:mod:`lnhive.fleet.actions`), with a
fresh intent, so the full hold and tie-break run before funds move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lnhive.core.errors import InvalidInput
from lnhive.fleet import intents
from lnhive.fleet.envelope import Envelope, is_node_id, new_envelope
from lnhive.fleet.params import int_param

if TYPE_CHECKING:
    from lnhive.fleet.hive import Hive

MIN_CHANNEL_SATS = 20_000


class IntentEngine:
    def __init__(self, hive: Hive) -> None:
        self.h = hive
        self.book = intents.IntentBook(hive.store, hive.me)

    def check_channel_open(self, peer_id: object, amount_sats: object) -> tuple[str, int]:
        """``(target, amount)`` of a valid channel open toward an external node."""
        if not is_node_id(peer_id):
            raise InvalidInput("peer_id must be a node id (66 lowercase hex)")
        target = str(peer_id)
        if target == self.h.me or self.h.roster.is_member(target):
            raise InvalidInput("channel_open intents are for external nodes, not members")
        amount = int_param("amount_sats", amount_sats)
        if not MIN_CHANNEL_SATS <= amount <= intents.MAX_SATS:
            raise InvalidInput(f"amount_sats must be at least {MIN_CHANNEL_SATS}")
        return target, amount

    def announce_channel_open(self, peer_id: object, amount_sats: object) -> intents.Intent:
        """Announce a ``channel_open`` intent now (after approval); the channel opens when
        the intent commits."""
        with self.h.lock:
            self.h.require_admitted()
            target, amount = self.check_channel_open(peer_id, amount_sats)
            return self.announce("channel_open", target, amount)

    def announce(self, intent_type: str, target: str, amount: int | None) -> intents.Intent:
        now = self.h.now()
        self.book.check_can_announce(intent_type, target)
        hold = self.h.options.intent_hold_s
        body = intents.intent_body(
            intent_type, target, hold, int(now) + self.h.options.intent_expire_s, amount
        )
        env = new_envelope(self.h.node, self.h.me, intents.INTENT, body, now)
        intent = self.book.add_own(env, now)
        sent = self.h.broadcast(env)
        self.h.log(
            "info", f"intent: {intent_type} to {target} announced to {sent}; commit in {hold} s"
        )
        return intent

    def intent_status(self) -> dict[str, Any]:
        with self.h.lock:
            rows = self.book.recent()
            return {
                "count": len(rows),
                "by_status": dict(intents.summary(rows)),
                "intents": [i.to_json() for i in rows],
            }

    def on_intent(self, peer: str, env: Envelope, now: float) -> None:
        intent_type, target, *_ = intents.check_intent(env)
        for lost in self.book.on_remote_intent(env, now):
            self.h.log(
                "info", f"intent: {lost.intent_type} to {target} lost the tie-break to {env.sender}"
            )
            self.broadcast_reference(intents.INTENT_ABORT, lost, "tie_breaker_loss")
        ours = self.book.our_commit_against(intent_type, target)
        if ours is not None:
            # the newcomer must learn that the target is taken (committed beats pending)
            self.broadcast_reference(intents.INTENT_COMMIT, ours, None)

    def on_intent_abort(self, peer: str, env: Envelope, now: float) -> None:
        self.book.on_remote_abort(env, now)

    def on_intent_commit(self, peer: str, env: Envelope, now: float) -> None:
        for lost in self.book.on_remote_commit(env, now):
            self.h.log("info", f"intent: {lost.intent_type} to {lost.target} taken by {env.sender}")
            self.broadcast_reference(intents.INTENT_ABORT, lost, "target_taken")

    def broadcast_reference(self, kind: str, intent: intents.Intent, reason: str | None) -> None:
        body = intents.reference_body(intent, reason)
        self.h.broadcast(new_envelope(self.h.node, self.h.me, kind, body, self.h.now()))

    def run(self, now: float) -> None:
        commit, expired = self.book.due(now)
        for intent in expired:
            self.book.set_status(intent.id, intents.EXPIRED, "not committed in time", now)
        for intent in commit:
            if not self.book.set_status(intent.id, intents.COMMITTED, None, now):
                continue
            self.broadcast_reference(intents.INTENT_COMMIT, intent, None)
            self.h.log("info", f"intent: {intent.intent_type} to {intent.target} committed")
            self.execute(intent, now)

    def execute(self, intent: intents.Intent, now: float) -> None:
        if intent.intent_type != "channel_open" or intent.amount_sats is None:
            self.book.set_status(intent.id, intents.EXECUTED, "nothing to do", now)
            return
        try:
            self.h.node.fundchannel(id=intent.target, amount=intent.amount_sats)
        except Exception as exc:  # the node refused: record why
            self.book.set_status(intent.id, intents.FAILED, str(exc)[:500], now)
            self.h.log("warn", f"intent: fundchannel to {intent.target} failed: {exc}")
            return
        self.book.set_status(intent.id, intents.EXECUTED, None, now)
        self.h.log("info", f"intent: channel to {intent.target} opened ({intent.amount_sats} sat)")
