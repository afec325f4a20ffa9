"""cl-hive's service: one node's fleet state and protocol engine.

:class:`Hive` is what the plugin shell (:mod:`lnhive.plugins.hive`) wraps; it is free of
pyln and processes: the node is a :class:`~lnhive.cln.api.NodeApi`, time a
:class:`~lnhive.core.clock.Clock`. It owns the store, the inbound gate and the
transport; three parts hold the protocol's concepts:

- :class:`~lnhive.fleet.membership.Membership`: genesis, tickets, the handshake, and
  membership evidence (``fleet.welcome``, ``fleet.roster``);
- :class:`~lnhive.fleet.statesync.StateSync`: member records (HiveMap), gossip and
  record anti-entropy;
- :class:`~lnhive.fleet.intent_engine.IntentEngine`: intent locks.

Inbound: :meth:`Hive.receive` is what the ``custommsg`` hook calls — it only
pre-checks and queues, so the hook returns at once — and :meth:`Hive.process`
handles queued frames on the plugin's worker thread. Every frame goes through the
same gate, in order: decode (type 34865, size limits), origin binding (the sender
itself, or for relayable types the last relay on the path, is the peer it came
from), dedupe (a duplicate reliable message is re-acked, never re-applied), the
per-sender rate limit, the membership gate of its type, freshness and the signature
(``checkmessage`` with the expected pubkey), then its handler, then relay. Only an
accepted message consumes its ``msg_id``. Every refusal is counted by reason
(``hive-proto-stats``) and logged at debug level.

Outbound: direct sends (handshake, state hashes, acks), broadcasts of origin-signed
messages to connected members with targeted relay, and reliable sends (welcome,
roster) through the persisted outbox (:meth:`Hive.flush_outbox`). :meth:`Hive.tick`
does the periodic work; :meth:`Hive.on_connect` syncs with a member that
(re)connected.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock, WallClock
from lnhive.core.errors import Conflict, InvalidInput, LnhiveError, NotFound
from lnhive.core.store import Store
from lnhive.fleet import (
    bans,
    eligibility,
    evidence,
    handshake,
    hivemap,
    intents,
    pending,
    promotion,
    rostersync,
    topology,
    wire_migrations,
)
from lnhive.fleet.actions import ActionDesk
from lnhive.fleet.dedupe import SeenMessages
from lnhive.fleet.envelope import (
    MAX_FUTURE_S,
    Envelope,
    new_envelope,
    verify_embedded,
)
from lnhive.fleet.governance import REQUEST, Governance, verify_nested
from lnhive.fleet.intent_engine import IntentEngine
from lnhive.fleet.membership import Membership
from lnhive.fleet.outbox import ACK_TYPE, Outbox, new_ack, parse_ack
from lnhive.fleet.policysync import PolicySync
from lnhive.fleet.ratelimit import RateLimiter
from lnhive.fleet.refused import Refused
from lnhive.fleet.roster import MEMBER, PENDING, Roster
from lnhive.fleet.roster import migrations as roster_migrations
from lnhive.fleet.statesync import StateSync
from lnhive.fleet.wire import (
    MAX_TTL,
    Frame,
    FrameError,
    NotHiveFrame,
    decode_frame,
    encode_frame,
    is_hive_payload,
    next_hop_frame,
)

DEFAULT_DB_NAME = "lnhive-cl-hive.sqlite3"
JOIN_POLICIES: tuple[str, ...] = ("ticket", "channel", "either")
RELIABLE_TYPES = frozenset({evidence.WELCOME, rostersync.ROSTER, evidence.MEMBER_LEFT})
CARRIED_PREFIX = "archon."
"""Types other plugins send through ``hive-broadcast`` (ARCHITECTURE §8.5)."""
MESSAGE_TOPIC = "hive-message"
RELAYABLE_TYPES = frozenset(
    {
        hivemap.GOSSIP,
        intents.INTENT,
        intents.INTENT_ABORT,
        intents.INTENT_COMMIT,
        evidence.MEMBER_LEFT,
        bans.PROPOSAL,
        bans.VOTE,
        bans.BAN,
        REQUEST,
        promotion.VOUCH,
        promotion.PROMOTION,
    }
)
"""Origin-signed types that members relay toward members the origin cannot reach
(and every ``archon.*`` type)."""


def is_relayable(type_name: str) -> bool:
    return type_name in RELAYABLE_TYPES or type_name.startswith(CARRIED_PREFIX)


FRESHNESS_S: dict[str, float] = {
    handshake.HELLO: 300.0,
    handshake.CHALLENGE: 300.0,
    handshake.ATTEST: 300.0,
    evidence.WELCOME: 86_400.0,
    evidence.MEMBER_LEFT: 86_400.0,
    bans.PROPOSAL: 3_600.0,
    bans.VOTE: 3_600.0,
    bans.BAN: 86_400.0,
    promotion.VOUCH: 3_600.0,
    REQUEST: 3_600.0,
    promotion.PROMOTION: 86_400.0,
    rostersync.ROSTER: 86_400.0,
    rostersync.STATE_HASH: 3_600.0,
    rostersync.STATE_VERSIONS: 3_600.0,
    hivemap.GOSSIP: 3_600.0,
    intents.INTENT: 600.0,
    intents.INTENT_ABORT: 600.0,
    intents.INTENT_COMMIT: 600.0,
    ACK_TYPE: 86_400.0,
}
"""How old a message of each type may be; reliable ones may be retried for a day."""
OFFLINE_RETRY_S = 30.0
PRESENCE_SWEEP_S = 30.0
STALLED_AFTER_S = 60.0
"""``hive-health`` reports ``stalled`` when the periodic work has not run for this long."""
ANTI_ENTROPY_MIN_S = 30.0
"""Periodic state-hash comparisons never come closer than this (developer heartbeats
may be 1 s)."""
MAX_QUEUE = 10_000

Log = Callable[[str, str], None]
Notify = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class HiveOptions:
    join_policy: str = "either"
    auto_join: bool = False
    max_members: int = 50
    outbox_retry_s: float = 30.0
    heartbeat_s: float = 300.0
    gossip_threshold: float = 0.10
    intent_hold_s: int = 60
    intent_expire_s: int = 300
    auto_promote: bool = True
    governance_mode: str = "advisor"
    failsafe_actions_per_hour: int = 2
    auto_vouch: bool = True
    probation_days: float = 90.0
    min_uptime_pct: float = 95.0
    min_contribution_ratio: float = 1.0
    min_unique_peers: int = 1
    developer: bool = False

    def criteria(self) -> eligibility.Criteria:
        return eligibility.Criteria(
            probation_days=self.probation_days,
            min_uptime_pct=self.min_uptime_pct,
            min_contribution_ratio=self.min_contribution_ratio,
            min_unique_peers=self.min_unique_peers,
        )

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
        low = 1.0 if self.developer else 60.0
        if not low <= self.heartbeat_s <= 3600.0:
            raise InvalidInput(f"hive-heartbeat-interval must be within {low:.0f}..3600 seconds")
        if not 0.01 <= self.gossip_threshold <= 1.0:
            raise InvalidInput("hive-gossip-threshold must be within 0.01..1.0")
        if self.governance_mode not in pending.MODES:
            raise InvalidInput(
                f"hive-governance-mode must be one of {', '.join(pending.MODES)}, "
                f"got {self.governance_mode!r}"
            )
        if type(self.failsafe_actions_per_hour) is not int or not (
            1 <= self.failsafe_actions_per_hour <= 5
        ):
            raise InvalidInput("hive-failsafe-actions-per-hour must be an integer 1..5")
        low_days = 0.0 if self.developer else 1.0
        if not low_days <= self.probation_days <= 365:
            raise InvalidInput(f"hive-probation-days must be within {low_days:g}..365")
        if not 0 <= self.min_uptime_pct <= 100:
            raise InvalidInput("hive-min-uptime-pct must be within 0..100")
        if not 0 <= self.min_contribution_ratio <= 100:
            raise InvalidInput("hive-min-contribution-ratio must be within 0..100")
        if type(self.min_unique_peers) is not int or not 0 <= self.min_unique_peers <= 100:
            raise InvalidInput("hive-min-unique-peers must be an integer 0..100")
        hold_low = 1 if self.developer else 10
        if type(self.intent_hold_s) is not int or not hold_low <= self.intent_hold_s <= 600:
            raise InvalidInput(f"hive-intent-hold-seconds must be an integer {hold_low}..600")
        if (
            type(self.intent_expire_s) is not int
            or not self.intent_hold_s < self.intent_expire_s <= 3600
        ):
            raise InvalidInput(
                "hive-intent-expire-seconds must be an integer above the hold, at most 3600"
            )


def _ignore_log(level: str, message: str) -> None:
    del level, message


def _ignore_notify(topic: str, payload: dict[str, Any]) -> None:
    del topic, payload


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
        notify: Notify | None = None,
    ) -> None:
        self.node = node
        self.clock: Clock = clock if clock is not None else WallClock()
        self.options = options if options is not None else HiveOptions()
        self.options.validate()
        self.log: Log = log if log is not None else _ignore_log
        self.notify: Notify = notify if notify is not None else _ignore_notify
        self.me: str = node_id if node_id is not None else str(node.getinfo()["id"])
        self.store = Store(
            db_path,
            [
                *wire_migrations(),
                *roster_migrations(),
                *hivemap.migrations(),
                *intents.migrations(),
                *bans.migrations(),
                *promotion.migrations(),
                *pending.migrations(),
                *eligibility.migrations(),
            ],
        )
        self.roster = Roster(self.store)
        self.hivemap = hivemap.HiveMap(self.store)
        self.membership = Membership(self)
        self.state = StateSync(self)
        self.intent_engine = IntentEngine(self)
        self.intents = self.intent_engine.book
        self.policy = PolicySync(self)
        self.governance = Governance(self)
        self.actions = ActionDesk(self)
        self.presence = eligibility.Presence(self.store)
        self.contribution = eligibility.Contribution(self.store)
        self.seen = SeenMessages(self.store)
        self.outbox = Outbox(self.store, self.clock, base_s=self.options.outbox_retry_s)
        self.limiter = RateLimiter()
        self.challenges = handshake.ChallengeBook()
        self.joins = handshake.JoinBook()
        self.stats: Counter[str] = Counter()
        self._queue: deque[tuple[str, str]] = deque()
        self._queue_lock = threading.Lock()
        self.lock = threading.RLock()
        self._last_sync = self.clock.now()
        self._last_presence = float("-inf")
        self.last_tick: float | None = None
        self._scid_peers: dict[str, str] = {}
        self._sync_turn = -1

    def close(self) -> None:
        self.store.close()

    def now(self) -> float:
        return self.clock.now()

    # ------------------------------------------------------------------ operator

    def genesis(self, hive_id: object = None) -> dict[str, Any]:
        """Found a hive with this node as its first member."""
        return self.membership.genesis(hive_id)

    def invite(self, valid_hours: object = 24, requirements: object = 0) -> dict[str, Any]:
        """Issue an invitation ticket (members only)."""
        return self.membership.invite(valid_hours, requirements)

    def join(self, ticket: object = None, peer_id: object = None) -> dict[str, Any]:
        """Say HELLO to a member (see :meth:`Membership.join`)."""
        return self.membership.join(ticket, peer_id)

    def leave(self, reason: object = "") -> dict[str, Any]:
        """Leave the hive (see :meth:`Membership.leave`)."""
        return self.membership.leave(reason)

    def broadcast_message(self, type: object, body: object, peers: object = None) -> dict[str, Any]:
        """``hive-broadcast``: sign an ``archon.*`` envelope and send it to all members
        (relayed to those we are not connected to), or directly to the connected ones
        among ``peers``."""
        with self.lock:
            self.require_admitted()
            if not isinstance(type, str) or not type.startswith(CARRIED_PREFIX):
                raise InvalidInput(f"type must start with {CARRIED_PREFIX!r} (e.g. archon.vote)")
            if not isinstance(body, dict):
                raise InvalidInput("body must be a JSON object")
            targets: set[str] | None = None
            if peers is not None:
                if not isinstance(peers, list) or not all(isinstance(p, str) for p in peers):
                    raise InvalidInput("peers must be a list of member node ids")
                unknown = sorted(set(peers) - self.member_ids())
                if unknown:
                    raise InvalidInput(f"not members of this hive: {', '.join(unknown)}")
                targets = set(peers) - {self.me}
            env = new_envelope(self.node, self.me, type, dict(body), self.now())
            encode_frame(env, ttl=MAX_TTL)  # size and name checks before anything is sent
            sent = self.broadcast(env, only=targets)
            return {"msg_id": env.msg_id, "type": type, "sent_to": sent}

    def _on_nested_evidence(self, peer: str, env: Envelope, now: float) -> None:
        """A ban or a promotion: check what it embeds, then apply it as evidence."""
        hive_id = self.same_hive(evidence.check_structure(env))
        verify_nested(self.node, env)
        self.membership.apply_evidence(env, hive_id, now)

    def vouch(self, peer_id: object) -> dict[str, Any]:
        return self.governance.vouch(peer_id)

    def force_promote(self, peer_id: object) -> dict[str, Any]:
        return self.governance.force_promote(peer_id)

    def request_promotion(self) -> dict[str, Any]:
        return self.governance.request_promotion()

    def contribution_report(self, peer_id: object = None) -> dict[str, Any]:
        return self.governance.contribution_report(peer_id)

    def propose_ban(self, peer_id: object, reason: object = "") -> dict[str, Any]:
        return self.governance.propose_ban(peer_id, reason)

    def vote_ban(self, proposal_id: object, vote: object) -> dict[str, Any]:
        return self.governance.vote_ban(proposal_id, vote)

    def pending_bans(self) -> dict[str, Any]:
        return self.governance.pending()

    def _on_carried(self, peer: str, env: Envelope, now: float) -> None:
        """An ``archon.*`` envelope from a member: hand it to other plugins verbatim."""
        self.notify(MESSAGE_TOPIC, {"envelope": env.to_json(), "from": peer})

    def status(self) -> dict[str, Any]:
        with self.lock:
            hive_id = self.roster.hive_id
            me = self.roster.get(self.me)
            now = self.now()
            if hive_id is None:
                state = "joining" if self.joins.active(now) else "genesis_required"
            elif self.roster.is_banned(self.me):
                state = "banned"
            else:
                state = "active" if me is not None else "joining"
            return {
                "status": state,
                "hive_id": hive_id,
                "our_pubkey": self.me,
                "tier": None if me is None else me.tier,
                "joined_at": None if me is None else me.joined_at,
                "governance_mode": self.actions.mode(),
                "members": self.roster.count(),
                "membership_hash": self.roster.membership_hash(),
                "fleet_hash": self.state.fleet_hash(),
                "pending_evidence": len(self.roster.evidence_list(PENDING)),
                "join_policy": self.options.join_policy,
                "limits": {"max_members": self.options.max_members},
                "outbox": {
                    "pending": self.outbox.pending_count(),
                    "given_up": len(self.outbox.given_up()),
                },
            }

    def members(self) -> dict[str, Any]:
        with self.lock:
            rows = self.roster.members()
            now = self.now()
            out = []
            for m in rows:
                entry = m.to_json()
                entry["state"] = self.state.summary(m.peer_id, now)
                out.append(entry)
            return {"count": len(rows), "members": out}

    def config(self) -> dict[str, Any]:
        """``hive-config``: the options in effect and where the database is."""
        return {"db_path": self.store.path, "options": asdict(self.options)}

    def health(self) -> dict[str, Any]:
        """``hive-health``: whether the periodic work runs and what waits."""
        now = self.now()
        age = None if self.last_tick is None else round(now - self.last_tick, 3)
        stalled = age is None or age > STALLED_AFTER_S
        with self._queue_lock:
            queued = len(self._queue)
        return {
            "status": "stalled" if stalled else "ok",
            "last_tick_age_s": age,
            "queued_frames": queued,
            "outbox": {
                "pending": self.outbox.pending_count(),
                "given_up": len(self.outbox.given_up()),
            },
            "pending_evidence": len(self.roster.evidence_list(PENDING)),
        }

    def gossip_stats(self) -> dict[str, Any]:
        """``hive-gossip-stats``: the records held and the gossip traffic counted."""
        now = self.now()
        rows = self.hivemap.all()
        return {
            "records": len(rows),
            "stale": sum(1 for r in rows if r.stale(now)),
            "own_version": next((r.version for r in rows if r.peer_id == self.me), None),
            "fleet_hash": self.state.fleet_hash(),
            "applied": self.stats["gossip.applied"],
            "not_newer": self.stats["gossip.not_newer"],
            "relayed": self.stats["relayed"],
        }

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
            with self.lock:
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
        if is_relayable(env.type):
            hop = frame.path[-1] if frame.path else env.sender
            if hop != peer:
                raise Refused("not_direct", f"{env.type} relayed by {peer}, path says {hop}")
        elif frame.path or env.sender != peer:
            raise Refused("not_direct", f"{env.type} must come directly from its sender")
        now = self.now()
        if self.seen.seen(env.msg_id):
            if env.type in RELIABLE_TYPES and self.roster.is_member(peer):
                self._ack(peer, env.msg_id)
            return "duplicate"
        if not self.limiter.allow(env.sender, env.type, now):
            raise Refused("rate_limited", f"{env.type} from {env.sender} over its rate")
        handler = self._handlers().get(env.type)
        if handler is None and env.type.startswith(CARRIED_PREFIX):
            handler = self._on_carried
        if handler is None:
            raise Refused("unknown_type", f"no handler for {env.type}")
        self._gate(peer, env, now)
        max_age = FRESHNESS_S.get(env.type, 3_600.0)
        verify_embedded(self.node, env, now=now, max_age_s=max_age, max_future_s=MAX_FUTURE_S)
        handler(peer, env, now)
        self.seen.add(env.msg_id, sender=env.sender, type=env.type, now=now)
        if self.roster.is_member(peer):
            self.roster.touch(peer, now)
        if env.type in RELIABLE_TYPES:
            self._ack(peer, env.msg_id)
        if is_relayable(env.type):
            self.relay(frame, peer)
        return "accepted"

    def _handlers(self) -> dict[str, Callable[[str, Envelope, float], None]]:
        return {
            handshake.HELLO: self.membership.on_hello,
            handshake.CHALLENGE: self.membership.on_challenge,
            handshake.ATTEST: self.membership.on_attest,
            evidence.WELCOME: self.membership.on_welcome,
            evidence.MEMBER_LEFT: self.membership.on_member_left,
            bans.PROPOSAL: self.governance.on_proposal,
            bans.VOTE: self.governance.on_vote,
            bans.BAN: self._on_nested_evidence,
            promotion.VOUCH: self.governance.on_vouch,
            REQUEST: self.governance.on_promotion_request,
            promotion.PROMOTION: self._on_nested_evidence,
            rostersync.ROSTER: self.membership.on_roster,
            rostersync.STATE_HASH: self._on_state_hash,
            rostersync.STATE_VERSIONS: self.state.on_state_versions,
            hivemap.GOSSIP: self.state.on_gossip,
            intents.INTENT: self.intent_engine.on_intent,
            intents.INTENT_ABORT: self.intent_engine.on_intent_abort,
            intents.INTENT_COMMIT: self.intent_engine.on_intent_commit,
            ACK_TYPE: self._on_ack,
        }

    def _gate(self, peer: str, env: Envelope, now: float) -> None:
        """Who may send what (before the signature costs an RPC)."""
        if self.roster.is_banned(peer) or self.roster.is_banned(env.sender):
            raise Refused("banned", f"{env.type} from a banned node")
        ignored = self.actions.ignored()
        if peer in ignored or env.sender in ignored:
            raise Refused("ignored", f"{env.type} from a node under an emergency ban")
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
        if not self.roster.is_member(env.sender):
            raise Refused("not_member", f"{env.type} originated by non-member {env.sender}")

    def _on_state_hash(self, peer: str, env: Envelope, now: float) -> None:
        hive_id, members_hash, fleet_hash = rostersync.check_state_hash(env.body)
        ours = self.same_hive(hive_id)
        if members_hash != self.roster.membership_hash():
            self.log("info", f"sync: membership differs from {peer}'s; sending our evidence")
            self.membership.send_roster(peer, ours)
        if fleet_hash != self.state.fleet_hash():
            self.log("debug", f"sync: member records differ from {peer}'s; comparing versions")
            self.state.send_versions(peer, ours, reply=False)

    def same_hive(self, hive_id: str) -> str:
        ours = self.roster.hive_id
        if ours is None or ours != hive_id:
            raise Refused("wrong_hive", f"message for hive {hive_id}, we are in {ours}")
        return ours

    def require_admitted(self) -> str:
        hive_id = self.roster.hive_id
        if hive_id is None or not self.roster.is_member(self.me):
            raise Conflict("this node is not in a hive: run hive-genesis or hive-join first")
        return hive_id

    # -- periodic work

    def member_ids(self) -> set[str]:
        return {m.peer_id for m in self.roster.members()}

    def former_members(self) -> set[str]:
        """Nodes with a record in the HiveMap that are no longer in the roster."""
        return set(self.hivemap.versions()) - self.member_ids()

    def gossip_now(self, reason: str = "forced") -> dict[str, Any]:
        """Build, sign, store and broadcast our state record now."""
        return self.state.gossip_now(reason)

    def open_channel(self, peer_id: object, amount_sats: object) -> dict[str, Any]:
        """``hive-open-channel``: queue a channel open for the operator's approval."""
        return self.actions.propose_channel_open(peer_id, amount_sats)

    def emergency_ban(self, peer_id: object, reason: object = "") -> dict[str, Any]:
        return self.actions.emergency_ban(peer_id, reason)

    def topology(self) -> dict[str, Any]:
        """``hive-topology``: who connects to whom, and the fleet's share of each
        external node's public capacity."""
        with self.lock:
            self.require_admitted()
            members = self.member_ids()
            records = {r.peer_id: r.record for r in self.hivemap.all() if r.peer_id in members}
            return topology.readout(self.node, records, members)

    def pending_actions(self) -> dict[str, Any]:
        return self.actions.list()

    def approve_action(self, action_id: object, amount_sats: object = None) -> dict[str, Any]:
        return self.actions.approve(action_id, amount_sats)

    def reject_action(self, action_id: object, reason: object = "") -> dict[str, Any]:
        return self.actions.reject(action_id, reason)

    def set_mode(self, mode: object) -> dict[str, Any]:
        return self.actions.set_mode(mode)

    def intent_status(self) -> dict[str, Any]:
        return self.intent_engine.intent_status()

    def tick(self) -> None:
        """Periodic work: gossip when due, commit or expire intents."""
        with self.lock:
            now = self.now()
            self.last_tick = now
            hive_id = self.roster.hive_id
            if hive_id is not None and self.roster.is_member(self.me):
                self.state.maybe_gossip(now)
                self._anti_entropy_round(hive_id, now)
                if now - self._last_presence >= PRESENCE_SWEEP_S:
                    self._last_presence = now
                    self.presence.sync(self.member_ids() - {self.me}, self.connected_members(), now)
                self.policy.sync(now)
            self.intent_engine.run(now)
            self.actions.run(now)

    def _anti_entropy_round(self, hive_id: str, now: float) -> None:
        """Once per heartbeat, compare state hashes with one connected member (in turn),
        so whatever relay missed is repaired without waiting for a reconnection."""
        if now - self._last_sync < max(self.options.heartbeat_s, ANTI_ENTROPY_MIN_S):
            return
        self._last_sync = now
        peers = sorted(self.connected_members() - {self.me})
        if not peers:
            return
        self._sync_turn = (self._sync_turn + 1) % len(peers)
        self.send_state_hash(peers[self._sync_turn], hive_id)

    def _on_ack(self, peer: str, env: Envelope, now: float) -> None:
        self.outbox.ack(peer, parse_ack(env), now)

    # ------------------------------------------------------------------ outbound

    def on_disconnect(self, peer: str) -> None:
        """A peer disconnected: its presence clock stops."""
        with self.lock:
            if self.roster.is_member(peer):
                self.presence.mark(peer, False, self.now())

    def on_forward(self, payload: dict[str, Any]) -> None:
        """A settled forward (``forward_event``): count it for the peers on either side
        that are fleet members (promotion's contribution ratio)."""
        if payload.get("status") != "settled":
            return
        msat = payload.get("out_msat", payload.get("in_msat"))
        amount = int(str(msat).removesuffix("msat")) if msat is not None else 0
        with self.lock:
            members = self.member_ids()
            in_peer = self._peer_of(str(payload.get("in_channel")))
            out_peer = self._peer_of(str(payload.get("out_channel")))
            self.contribution.record(
                in_peer if in_peer in members else None,
                out_peer if out_peer in members else None,
                amount,
            )

    def _peer_of(self, scid: str) -> str | None:
        """The peer of one of our channels; ``listpeerchannels`` only for an scid not
        seen yet (a channel's peer never changes), not on every forward."""
        if scid not in self._scid_peers:
            self._scid_peers = {
                str(c.get("short_channel_id")): str(c.get("peer_id"))
                for c in self.node.listpeerchannels().get("channels", [])
                if c.get("short_channel_id")
            }
        return self._scid_peers.get(scid)

    def on_connect(self, peer: str) -> None:
        """A peer connected: sync membership with members, retry what waits for it."""
        with self.lock:
            if self.roster.is_member(peer):
                self.presence.mark(peer, True, self.now())
            hive_id = self.roster.hive_id
            if hive_id is not None and self.roster.is_member(peer) and peer != self.me:
                self.outbox.wake(peer, self.now())
                self.send_state_hash(peer, hive_id)
            elif hive_id is None and self.options.auto_join and not self.joins.active(self.now()):
                try:
                    self.join(peer_id=peer)
                except LnhiveError as exc:
                    self.log("debug", f"auto-join via {peer} not attempted: {exc.rpc_message()}")

    def send_state_hash(self, peer: str, hive_id: str) -> None:
        body = rostersync.state_hash_body(
            hive_id,
            self.roster.membership_hash(),
            self.state.fleet_hash(),
            self.roster.count()["total"],
        )
        try:
            env = new_envelope(self.node, self.me, rostersync.STATE_HASH, body, self.now())
            self.send_direct(peer, env)
        except LnhiveError as exc:
            self.log("debug", f"sync: state hash to {peer} not sent: {exc.rpc_message()}")

    def _ack(self, peer: str, msg_id: str) -> None:
        try:
            self.send_direct(peer, new_ack(self.node, self.me, msg_id, self.now()))
        except LnhiveError as exc:
            self.log("debug", f"ack to {peer} not sent: {exc.rpc_message()}")

    def send_direct(self, peer: str, env: Envelope) -> None:
        self.send_frame(peer, encode_frame(env, ttl=0), env.type)

    def send_frame(self, peer: str, frame_hex: str, what: str = "frame") -> None:
        try:
            self.node.sendcustommsg(node_id=peer, msg=frame_hex)
        except Exception as exc:  # a node refusal becomes one error type
            self.stats["send_failed"] += 1
            raise NotFound(f"could not send {what} to {peer}: {exc}") from None
        self.stats["sent"] += 1

    def connected_peers(self) -> set[str]:
        """Every peer the node is connected to now (one ``listpeers``)."""
        peers = self.node.listpeers().get("peers", [])
        return {str(p["id"]) for p in peers if p.get("connected")}

    def connected_members(self) -> set[str]:
        return self.connected_peers() & self.member_ids()

    def broadcast(self, env: Envelope, only: set[str] | None = None) -> int:
        """Send an origin-signed envelope to every connected member (relays do the rest),
        or only to the connected ones among ``only`` (not relayed: ``ttl`` 0)."""
        frame = encode_frame(env, ttl=MAX_TTL if only is None else 0)
        sent = 0
        targets = self.connected_members() - {self.me}
        if only is not None:
            targets &= only
        for peer in sorted(targets):
            try:
                self.send_frame(peer, frame, env.type)
                sent += 1
            except NotFound as exc:
                self.log("debug", exc.message)
        return sent

    def relay(self, frame: Frame, peer: str) -> None:
        """Forward a relayable frame to the connected members nobody before us covers.

        The origin sent it to all its connected members, and every relay on the path to
        all of its own except those already covered; so a member listed as a peer of
        the origin or of any relay on the path (by their latest records) has it or will
        get it from them. What stale records make us miss, anti-entropy repairs.
        """
        nxt = next_hop_frame(frame, self.me)
        if nxt is None:
            return
        origin = frame.env.sender
        covered: set[str] = set()
        for node in (origin, *frame.path):
            record = self.hivemap.get(node)
            if record is not None:
                covered.update(record.record.get("hive_peers", []))
        skip = {origin, peer, self.me, *frame.path, *covered}
        targets = sorted(self.connected_members() - skip)
        if not targets:
            return
        encoded = nxt.encode()
        for target in targets:
            try:
                self.send_frame(target, encoded, frame.env.type)
                self.stats["relayed"] += 1
            except NotFound as exc:
                self.log("debug", exc.message)

    def send_reliable(self, peer: str, env: Envelope, *, ttl: int = 0) -> None:
        self.outbox.enqueue(peer, encode_frame(env, ttl=ttl), env.msg_id)

    def flush_outbox(self) -> int:
        """Send every due outbox row; return how many left this node."""
        sent = 0
        with self.lock:
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
