"""cl-hive's service: membership, the handshake and membership sync over the wire layer.

:class:`Hive` is what the plugin shell (:mod:`lnhive.plugins.hive`) wraps; it is free of
pyln and processes: the node is a :class:`~lnhive.cln.api.NodeApi`, time a
:class:`~lnhive.core.clock.Clock`. Its parts:

- operator methods (``genesis``, ``invite``, ``join``, ``status``, ``members``,
  ``proto_stats``), each returning the JSON the RPC method answers;
- inbound: :meth:`Hive.receive` is what the ``custommsg`` hook calls — it only
  pre-checks and queues, so the hook returns at once — and :meth:`Hive.process`
  handles queued frames (the plugin runs it on a worker thread);
- outbound: direct sends for the handshake and ``fleet.state_hash``; reliable sends
  (``fleet.welcome``, ``fleet.roster``) through the persisted outbox, flushed by
  :meth:`Hive.flush_outbox`;
- :meth:`Hive.on_connect` (the ``connect`` notification): sync membership with a
  member that (re)connected and wake its outbox rows.

Every inbound frame goes through the same gate, in order: decode (type 34865, size
limits), direct-only (``sender`` is the peer it came from, empty relay path), dedupe
(a duplicate reliable message is re-acked, never re-applied), the per-sender rate
limit, freshness and the signature (``checkmessage`` with the expected pubkey), the
membership gate of its type, then its handler. Only an accepted message consumes its
``msg_id``. Every refusal is counted by reason (``hive-proto-stats``) and logged at
debug level.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock, WallClock
from lnhive.core.errors import Conflict, InvalidInput, LnhiveError, NotFound, Unauthorized
from lnhive.core.store import Store
from lnhive.fleet import evidence, handshake, rostersync, wire_migrations
from lnhive.fleet.dedupe import SeenMessages
from lnhive.fleet.envelope import (
    Envelope,
    is_node_id,
    new_envelope,
    verify_embedded,
)
from lnhive.fleet.outbox import ACK_TYPE, Outbox, new_ack, parse_ack
from lnhive.fleet.ratelimit import RateLimiter
from lnhive.fleet.roster import APPLIED, MEMBER, PENDING, Roster, check_hive_id, membership_hash
from lnhive.fleet.roster import migrations as roster_migrations
from lnhive.fleet.ticket import (
    Ticket,
    check_ticket,
    decode_ticket,
    issue_ticket,
    ticket_from_envelope,
)
from lnhive.fleet.wire import FrameError, NotHiveFrame, decode_frame, encode_frame, is_hive_payload

DEFAULT_DB_NAME = "lnhive-cl-hive.sqlite3"
JOIN_POLICIES: tuple[str, ...] = ("ticket", "channel", "either")
PROOF_CHANNEL_STATES = frozenset(
    {"CHANNELD_NORMAL", "CHANNELD_AWAITING_LOCKIN", "DUALOPEND_AWAITING_LOCKIN"}
)
RELIABLE_TYPES = frozenset({evidence.WELCOME, rostersync.ROSTER})
MAX_SKEW_S = 300.0
FRESHNESS_S: dict[str, float] = {
    handshake.HELLO: 300.0,
    handshake.CHALLENGE: 300.0,
    handshake.ATTEST: 300.0,
    evidence.WELCOME: 86_400.0,
    rostersync.ROSTER: 86_400.0,
    rostersync.STATE_HASH: 3_600.0,
    ACK_TYPE: 86_400.0,
}
"""How old a message of each type may be; reliable ones may be retried for a day."""
EVIDENCE_MAX_AGE_S = 100 * 365 * 86_400.0
"""Membership evidence is historical: a welcome stays valid evidence for good."""
OFFLINE_RETRY_S = 30.0
MAX_QUEUE = 10_000

Log = Callable[[str, str], None]


@dataclass(frozen=True)
class HiveOptions:
    join_policy: str = "either"
    auto_join: bool = False
    max_members: int = 50
    outbox_retry_s: float = 30.0

    def validate(self) -> None:
        if self.join_policy not in JOIN_POLICIES:
            raise InvalidInput(
                f"hive-join-policy must be one of {', '.join(JOIN_POLICIES)}, "
                f"got {self.join_policy!r}"
            )
        if type(self.max_members) is not int or not 2 <= self.max_members <= 100:
            raise InvalidInput(
                f"hive-max-members must be an integer 2..100, got {self.max_members}"
            )
        if not 1.0 <= self.outbox_retry_s <= 3600.0:
            raise InvalidInput("hive-outbox-retry-seconds must be within 1..3600")


class Refused(Exception):
    """An inbound message is dropped; ``reason`` is the counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


def _ignore_log(level: str, message: str) -> None:
    del level, message


class Hive:
    """One node's cl-hive state and protocol engine."""

    def __init__(
        self,
        node: NodeApi,
        db_path: str | Path,
        *,
        clock: Clock | None = None,
        options: HiveOptions | None = None,
        log: Log | None = None,
        node_id: str | None = None,
    ) -> None:
        self.node = node
        self.clock: Clock = clock if clock is not None else WallClock()
        self.options = options if options is not None else HiveOptions()
        self.options.validate()
        self.log: Log = log if log is not None else _ignore_log
        self.me: str = node_id if node_id is not None else str(node.getinfo()["id"])
        self.store = Store(db_path, [*wire_migrations(), *roster_migrations()])
        self.roster = Roster(self.store)
        self.seen = SeenMessages(self.store)
        self.outbox = Outbox(self.store, self.clock, base_s=self.options.outbox_retry_s)
        self.limiter = RateLimiter()
        self.challenges = handshake.ChallengeBook()
        self.joins = handshake.JoinBook()
        self.stats: Counter[str] = Counter()
        self._queue: deque[tuple[str, str]] = deque()
        self._queue_lock = threading.Lock()
        self._lock = threading.RLock()

    def close(self) -> None:
        self.store.close()

    def now(self) -> float:
        return self.clock.now()

    # ------------------------------------------------------------------ operator

    def genesis(self, hive_id: object = None) -> dict[str, Any]:
        """Found a hive with this node as its first member."""
        with self._lock:
            current = self.roster.hive_id
            if current is not None:
                raise Conflict(f"this node is already in hive {current}; genesis is refused")
            hid = "hive_" + secrets.token_hex(8) if hive_id is None else check_hive_id(hive_id)
            now = self.now()
            env = new_envelope(
                self.node, self.me, evidence.GENESIS, evidence.genesis_body(hid), now
            )
            with self.store.transaction() as conn:
                self.roster.set_meta(conn, "hive_id", hid)
                outcome = evidence.apply(self.roster, conn, env, hid, now)
            if outcome.status != APPLIED:  # pragma: no cover - a fresh roster always accepts
                raise Conflict(f"genesis not applied: {outcome.reason}")
            self.log("info", f"genesis: founded hive {hid}")
            return {
                "status": "genesis_complete",
                "hive_id": hid,
                "admin_pubkey": self.me,
                "genesis_msg_id": env.msg_id,
                "created_at": env.ts,
            }

    def _require_member(self) -> str:
        hive_id = self.roster.hive_id
        if hive_id is None:
            raise Conflict("this node is not in a hive: run hive-genesis or hive-join first")
        tier = self.roster.tier(self.me)
        if tier != MEMBER:
            raise Unauthorized(
                f"only members may do this; this node is {tier or 'not yet admitted'}"
            )
        return hive_id

    def invite(self, valid_hours: object = 24, requirements: object = 0) -> dict[str, Any]:
        """Issue an invitation ticket (members only)."""
        with self._lock:
            hive_id = self._require_member()
            hours = _int_param("valid_hours", valid_hours)
            reqs = _int_param("requirements", requirements)
            ticket = issue_ticket(
                self.node, self.me, hive_id, self.now(), valid_hours=hours, requirements=reqs
            )
            return {
                "ticket": ticket.encode(),
                "hive_id": hive_id,
                "issuer": self.me,
                "tier": ticket.tier,
                "requirements": ticket.requirements,
                "expires_at": ticket.expires_at,
                "valid_hours": hours,
            }

    def join(self, ticket: object = None, peer_id: object = None) -> dict[str, Any]:
        """Say HELLO to a member: with a ticket (its issuer, unless ``peer_id`` names
        another member) or, without one, relying on a channel with ``peer_id``."""
        with self._lock:
            current = self.roster.hive_id
            if current is not None:
                raise Conflict(f"this node is already in hive {current}")
            now = self.now()
            parsed: Ticket | None = None
            if ticket is not None:
                parsed = check_ticket(self.node, decode_ticket(ticket), now)
            if peer_id is None:
                if parsed is None:
                    raise InvalidInput(
                        "give a ticket, or peer_id of a member you have a channel with"
                    )
                peer = parsed.issuer
            elif not is_node_id(peer_id):
                raise InvalidInput("peer_id must be a node id (66 lowercase hex)")
            else:
                peer = str(peer_id)
            if peer == self.me:
                raise InvalidInput("cannot join through this node itself")
            if not self._connected(peer):
                raise NotFound(
                    f"not connected to {peer}: connect first "
                    f"(lightning-cli connect {peer}@<host>:<port>), then retry hive-join"
                )
            body = handshake.hello_body(None if parsed is None else parsed.envelope.to_json())
            env = new_envelope(self.node, self.me, handshake.HELLO, body, now)
            self._send_direct(peer, env)
            self.joins.start(peer, None if parsed is None else parsed.hive_id, now, env.msg_id)
            self.log("info", f"join: HELLO sent to {peer}")
            return {
                "status": "join_requested",
                "hive_id": None if parsed is None else parsed.hive_id,
                "peer_id": peer,
                "via": "ticket" if parsed is not None else "channel",
            }

    def status(self) -> dict[str, Any]:
        with self._lock:
            hive_id = self.roster.hive_id
            me = self.roster.get(self.me)
            now = self.now()
            if hive_id is None:
                state = "joining" if self.joins.active(now) else "genesis_required"
            else:
                state = "active" if me is not None else "joining"
            return {
                "status": state,
                "hive_id": hive_id,
                "our_pubkey": self.me,
                "tier": None if me is None else me.tier,
                "joined_at": None if me is None else me.joined_at,
                "governance_mode": "advisor",
                "members": self.roster.count(),
                "membership_hash": self.roster.membership_hash(),
                "pending_evidence": len(self.roster.evidence_list(PENDING)),
                "join_policy": self.options.join_policy,
                "limits": {"max_members": self.options.max_members},
                "outbox": {
                    "pending": self.outbox.pending_count(),
                    "given_up": len(self.outbox.given_up()),
                },
            }

    def members(self) -> dict[str, Any]:
        with self._lock:
            rows = self.roster.members()
            return {"count": len(rows), "members": [m.to_json() for m in rows]}

    def proto_stats(self) -> dict[str, Any]:
        with self._queue_lock:
            queued = len(self._queue)
        return {
            "counters": dict(sorted(self.stats.items())),
            "queued": queued,
            "seen_messages": self.seen.count(),
            "rate_limited_senders": self.limiter.tracked_senders(),
            "pending_challenges": len(self.challenges),
        }

    # ------------------------------------------------------------------ inbound

    def receive(self, peer_id: str, payload: str) -> bool:
        """The ``custommsg`` hook: queue a hive frame for :meth:`process`.

        Cheap and never raises; returns whether the payload was queued.
        """
        if not is_hive_payload(payload):
            return False
        if len(payload) > 2 * 65_535:
            self.stats["rejected.oversize"] += 1
            return False
        with self._queue_lock:
            if len(self._queue) >= MAX_QUEUE:
                self.stats["rejected.queue_full"] += 1
                return False
            self._queue.append((peer_id, payload))
        return True

    def queued(self) -> int:
        with self._queue_lock:
            return len(self._queue)

    def process(self, limit: int | None = None) -> int:
        """Handle queued frames (at most ``limit``); return how many were handled."""
        done = 0
        while limit is None or done < limit:
            with self._queue_lock:
                if not self._queue:
                    break
                peer, payload = self._queue.popleft()
            with self._lock:
                self.handle(peer, payload)
            done += 1
        return done

    def handle(self, peer: str, payload: str) -> str:
        """Gate and handle one frame from ``peer``; return ``accepted``, ``duplicate``
        or the refusal reason. Never raises for bad input."""
        try:
            result = self._handle(peer, payload)
        except Refused as exc:
            self.stats[f"rejected.{exc.reason}"] += 1
            self.log("debug", f"dropped a message from {peer}: {exc.detail}")
            return exc.reason
        except LnhiveError as exc:
            self.stats[f"rejected.{exc.error_symbol}"] += 1
            self.log("debug", f"dropped a message from {peer}: {exc.rpc_message()}")
            return exc.error_symbol
        self.stats[result] += 1
        return result

    def _handle(self, peer: str, payload: str) -> str:
        try:
            frame = decode_frame(payload)
        except NotHiveFrame:
            raise Refused("not_hive") from None
        except FrameError as exc:
            raise Refused("malformed", exc.message) from None
        env = frame.env
        if frame.path or env.sender != peer:
            raise Refused("not_direct", f"{env.type} must come directly from its sender")
        now = self.now()
        if self.seen.seen(env.msg_id):
            if env.type in RELIABLE_TYPES and self.roster.is_member(peer):
                self._ack(peer, env.msg_id)
            return "duplicate"
        if not self.limiter.allow(env.sender, env.type, now):
            raise Refused("rate_limited", f"{env.type} from {peer} over its rate")
        handler = self._handlers().get(env.type)
        if handler is None:
            raise Refused("unknown_type", f"no handler for {env.type}")
        self._gate(peer, env, now)
        max_age = FRESHNESS_S.get(env.type, 3_600.0)
        verify_embedded(self.node, env, now=now, max_age_s=max_age, max_future_s=MAX_SKEW_S)
        handler(peer, env, now)
        self.seen.add(env.msg_id, sender=env.sender, type=env.type, now=now)
        if self.roster.is_member(peer):
            self.roster.touch(peer, now)
        if env.type in RELIABLE_TYPES:
            self._ack(peer, env.msg_id)
        return "accepted"

    def _handlers(self) -> dict[str, Callable[[str, Envelope, float], None]]:
        return {
            handshake.HELLO: self._on_hello,
            handshake.CHALLENGE: self._on_challenge,
            handshake.ATTEST: self._on_attest,
            evidence.WELCOME: self._on_welcome,
            rostersync.ROSTER: self._on_roster,
            rostersync.STATE_HASH: self._on_state_hash,
            ACK_TYPE: self._on_ack,
        }

    def _gate(self, peer: str, env: Envelope, now: float) -> None:
        """Who may send what (before the signature costs an RPC)."""
        if env.type in (handshake.HELLO, handshake.ATTEST):
            if self.roster.tier(self.me) != MEMBER:
                raise Refused("not_admitting", f"{env.type}: this node cannot admit joiners")
            return
        if env.type == handshake.CHALLENGE:
            if self.joins.get(peer, now) is None:
                raise Refused("unsolicited", "CHALLENGE from a peer we did not say HELLO to")
            return
        if env.type == evidence.WELCOME and env.body.get("joiner") == self.me:
            if self.joins.get(peer, now) is None:
                raise Refused("unsolicited", "WELCOME from a peer we did not say HELLO to")
            return
        if env.type == rostersync.ROSTER and self.roster.meta("joined_via") == peer:
            return
        if env.type == ACK_TYPE:
            return
        if not self.roster.is_member(peer):
            raise Refused("not_member", f"{env.type} from {peer}, who is not in the roster")

    # -- handshake: member side

    def _on_hello(self, peer: str, env: Envelope, now: float) -> None:
        hive_id = self.roster.hive_id
        assert hive_id is not None
        handshake.check_hello(env.body)
        if self.roster.is_member(peer):
            raise Refused("already_member", f"HELLO from {peer}, already in the roster")
        if self.roster.count()["total"] >= self.options.max_members:
            raise Refused("hive_full", f"hive has {self.options.max_members} members (the maximum)")
        via, required = self._admission(peer, env, now, hive_id)
        try:
            ch = self.challenges.issue(peer, hive_id, now, required=required, via=via)
        except LnhiveError as exc:
            raise Refused("challenge_rate", exc.message) from None
        body = {"hive_id": hive_id, "nonce": ch.nonce}
        self._send_direct(peer, new_envelope(self.node, self.me, handshake.CHALLENGE, body, now))
        self.log("info", f"handshake: CHALLENGE sent to {peer} (admission by {via})")

    def _admission(
        self, peer: str, env: Envelope, now: float, hive_id: str
    ) -> tuple[str, tuple[str, ...]]:
        policy = self.options.join_policy
        raw = env.body.get("ticket")
        if raw is not None and policy in ("ticket", "either"):
            ticket = check_ticket(self.node, ticket_from_envelope(raw), now)
            if ticket.hive_id != hive_id:
                raise Refused("bad_ticket", f"ticket is for hive {ticket.hive_id}, not {hive_id}")
            if self.roster.tier(ticket.issuer) != MEMBER:
                raise Refused("bad_ticket", f"ticket issuer {ticket.issuer} is not a member")
            return "ticket", tuple(ticket.required_features())
        if policy in ("channel", "either") and self._has_proof_channel(peer):
            return "channel", ()
        raise Refused(
            "no_admission",
            f"{peer} has no valid ticket"
            + (" and no channel with us" if policy != "ticket" else "")
            + f" (hive-join-policy={policy})",
        )

    def _on_attest(self, peer: str, env: Envelope, now: float) -> None:
        ch = self.challenges.get(peer, now)
        if ch is None:
            raise Refused("no_challenge", f"ATTEST from {peer} without a live challenge")
        try:
            hive_id, nonce, features = handshake.check_attest(env.body)
            if hive_id != ch.hive_id or nonce != ch.nonce:
                raise Refused("bad_nonce", f"ATTEST from {peer} answers another challenge")
            missing = [f for f in ch.required if f not in features]
            if missing:
                raise Refused("requirements", f"{peer} lacks required feature(s) {missing}")
            if self.roster.is_member(peer):
                raise Refused("already_member", f"{peer} is already in the roster")
        finally:
            self.challenges.clear(peer)
        count = self.roster.count()["total"] + 1
        pairs = [(m.peer_id, m.tier) for m in self.roster.members()] + [(peer, "neophyte")]
        body = evidence.welcome_body(hive_id, peer, env.msg_id, count, membership_hash(pairs))
        welcome = new_envelope(self.node, self.me, evidence.WELCOME, body, now)
        with self.store.transaction() as conn:
            outcome = evidence.apply(self.roster, conn, welcome, hive_id, now)
        if outcome.status != APPLIED:
            raise Refused("not_admitted", outcome.reason or "welcome not applied")
        self.log("info", f"handshake: admitted {peer} as neophyte (by {ch.via})")
        self._send_reliable(peer, welcome)
        self._send_roster(peer, hive_id)
        for m in self.roster.members():
            if m.peer_id not in (self.me, peer):
                self._send_reliable(m.peer_id, welcome)

    # -- handshake: joiner side

    def _on_challenge(self, peer: str, env: Envelope, now: float) -> None:
        attempt = self.joins.get(peer, now)
        assert attempt is not None
        hive_id, nonce = handshake.check_challenge(env.body)
        if attempt.hive_id is not None and attempt.hive_id != hive_id:
            raise Refused("wrong_hive", f"CHALLENGE for hive {hive_id}, we asked {attempt.hive_id}")
        self.joins.start(peer, hive_id, attempt.sent_at, attempt.hello_msg_id)
        body = handshake.attest_body(hive_id, nonce, handshake.local_features(self.node))
        self._send_direct(peer, new_envelope(self.node, self.me, handshake.ATTEST, body, now))
        self.log("info", f"handshake: ATTEST sent to {peer}")

    def _on_welcome(self, peer: str, env: Envelope, now: float) -> None:
        hive_id, joiner = evidence.check_welcome(env)
        if joiner == self.me:
            attempt = self.joins.get(peer, now)
            assert attempt is not None
            if attempt.hive_id is not None and attempt.hive_id != hive_id:
                raise Refused(
                    "wrong_hive", f"WELCOME to hive {hive_id}, we asked {attempt.hive_id}"
                )
            current = self.roster.hive_id
            if current is not None and current != hive_id:
                raise Refused("wrong_hive", f"WELCOME to {hive_id}, but we are in {current}")
            with self.store.transaction() as conn:
                self.roster.set_meta(conn, "hive_id", hive_id)
                self.roster.set_meta(conn, "joined_via", peer)
                outcome = evidence.apply(self.roster, conn, env, hive_id, now)
            self.joins.clear()
            self.log("info", f"join: welcomed into hive {hive_id} by {peer} ({outcome.status})")
            evidence.settle_pending(self.roster, hive_id, now)
            if self.roster.evidence_list(PENDING):
                # The chain (the welcomer's roster) has not arrived yet, or arrived
                # before the welcome and was refused: ask for it again (spec §1.4 step 6).
                self._send_state_hash(peer, hive_id)
            return
        ours = self.roster.hive_id
        if ours is None or ours != hive_id:
            raise Refused("wrong_hive", f"WELCOME for hive {hive_id}, we are in {ours}")
        self._apply_evidence(env, ours, now)

    def _apply_evidence(self, env: Envelope, hive_id: str, now: float) -> str:
        existing = self.roster.evidence(env.msg_id)
        if existing is not None and existing.status != PENDING:
            return existing.status
        with self.store.transaction() as conn:
            outcome = evidence.apply(self.roster, conn, env, hive_id, now)
        if outcome.status == APPLIED:
            self.log("info", f"roster: {outcome.subject} added by {env.type} from {env.sender}")
            evidence.settle_pending(self.roster, hive_id, now)
        elif outcome.reason:
            self.log("debug", f"roster: {env.type} {env.msg_id} {outcome.status}: {outcome.reason}")
        return outcome.status

    # -- membership sync

    def _on_roster(self, peer: str, env: Envelope, now: float) -> None:
        hive_id, items = rostersync.check_roster(env.body)
        ours = self.roster.hive_id
        if ours is None or ours != hive_id:
            raise Refused("wrong_hive", f"roster for hive {hive_id}, we are in {ours}")
        results: Counter[str] = Counter()
        for item in items:
            try:
                ev = verify_embedded(
                    self.node, item, now=now, max_age_s=EVIDENCE_MAX_AGE_S, max_future_s=MAX_SKEW_S
                )
                if ev.type not in evidence.EVIDENCE_TYPES:
                    raise Refused("not_evidence", f"{ev.type} is not membership evidence")
                evidence.check_structure(ev)
            except (Refused, LnhiveError) as exc:
                results["invalid"] += 1
                self.log("debug", f"roster from {peer}: skipped an item: {exc}")
                continue
            results[self._apply_evidence(ev, ours, now)] += 1
        self.log("debug", f"roster from {peer}: {dict(results)}")

    def _on_state_hash(self, peer: str, env: Envelope, now: float) -> None:
        hive_id, theirs, _count = rostersync.check_state_hash(env.body)
        ours = self.roster.hive_id
        if ours is None or ours != hive_id:
            raise Refused("wrong_hive", f"state hash for hive {hive_id}, we are in {ours}")
        if theirs != self.roster.membership_hash():
            self.log("info", f"sync: membership differs from {peer}'s; sending our evidence")
            self._send_roster(peer, ours)

    def _on_ack(self, peer: str, env: Envelope, now: float) -> None:
        self.outbox.ack(peer, parse_ack(env), now)

    # ------------------------------------------------------------------ outbound

    def on_connect(self, peer: str) -> None:
        """A peer connected: sync membership with members, retry what waits for it."""
        with self._lock:
            hive_id = self.roster.hive_id
            if hive_id is not None and self.roster.is_member(peer) and peer != self.me:
                self.outbox.wake(peer, self.now())
                self._send_state_hash(peer, hive_id)
            elif hive_id is None and self.options.auto_join and not self.joins.active(self.now()):
                try:
                    self.join(peer_id=peer)
                except LnhiveError as exc:
                    self.log("debug", f"auto-join via {peer} not attempted: {exc.rpc_message()}")

    def _send_state_hash(self, peer: str, hive_id: str) -> None:
        body = rostersync.state_hash_body(
            hive_id, self.roster.membership_hash(), self.roster.count()["total"]
        )
        try:
            env = new_envelope(self.node, self.me, rostersync.STATE_HASH, body, self.now())
            self._send_direct(peer, env)
        except LnhiveError as exc:
            self.log("debug", f"sync: state hash to {peer} not sent: {exc.rpc_message()}")

    def _send_roster(self, peer: str, hive_id: str) -> None:
        chain = [row.envelope for row in self.roster.evidence_list(APPLIED)]
        for body in rostersync.roster_bodies(hive_id, chain):
            env = new_envelope(self.node, self.me, rostersync.ROSTER, body, self.now())
            self._send_reliable(peer, env)

    def _ack(self, peer: str, msg_id: str) -> None:
        try:
            self._send_direct(peer, new_ack(self.node, self.me, msg_id, self.now()))
        except LnhiveError as exc:
            self.log("debug", f"ack to {peer} not sent: {exc.rpc_message()}")

    def _send_direct(self, peer: str, env: Envelope) -> None:
        frame = encode_frame(env, ttl=0)
        try:
            self.node.sendcustommsg(node_id=peer, msg=frame)
        except Exception as exc:  # a node refusal becomes one error type
            self.stats["send_failed"] += 1
            raise NotFound(f"could not send {env.type} to {peer}: {exc}") from None
        self.stats["sent"] += 1

    def _send_reliable(self, peer: str, env: Envelope) -> None:
        self.outbox.enqueue(peer, encode_frame(env, ttl=0), env.msg_id)

    def flush_outbox(self) -> int:
        """Send every due outbox row; return how many left this node."""
        sent = 0
        with self._lock:
            now = self.now()
            for item in self.outbox.due(now):
                try:
                    self.node.sendcustommsg(node_id=item.peer, msg=item.frame_hex)
                except Exception as exc:  # offline peers are retried later
                    self.stats["send_failed"] += 1
                    self.outbox.unreachable(item.peer, item.msg_id, OFFLINE_RETRY_S, now)
                    self.log("debug", f"outbox: {item.msg_id} to {item.peer} waits: {exc}")
                    continue
                self.stats["sent"] += 1
                sent += 1
        return sent

    # ------------------------------------------------------------------ node facts

    def _connected(self, peer: str) -> bool:
        peers = self.node.listpeers(id=peer).get("peers", [])
        return any(p.get("connected") for p in peers)

    def _has_proof_channel(self, peer: str) -> bool:
        channels = self.node.listpeerchannels(id=peer).get("channels", [])
        return any(c.get("state") in PROOF_CHANNEL_STATES for c in channels)


def _int_param(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise InvalidInput(f"{name} must be an integer, got {value!r}")
