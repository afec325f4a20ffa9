"""Membership for :class:`~lnhive.fleet.hive.Hive`: genesis, tickets, the handshake,
and applying and sending membership evidence.

The message formats and rules are in :mod:`lnhive.fleet.handshake`,
:mod:`lnhive.fleet.evidence` and :mod:`lnhive.fleet.rostersync`; this module runs them
against the node and the roster.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import TYPE_CHECKING, Any

from lnhive.core.errors import Conflict, InvalidInput, LnhiveError, NotFound, Unauthorized
from lnhive.fleet import bans, evidence, handshake, rostersync
from lnhive.fleet.envelope import MAX_FUTURE_S, Envelope, is_node_id, new_envelope, verify_embedded
from lnhive.fleet.governance import verify_nested
from lnhive.fleet.params import int_param
from lnhive.fleet.refused import Refused
from lnhive.fleet.roster import APPLIED, MEMBER, PENDING, check_hive_id, membership_hash
from lnhive.fleet.ticket import (
    Ticket,
    check_ticket,
    decode_ticket,
    issue_ticket,
    ticket_from_envelope,
)
from lnhive.fleet.wire import MAX_TTL, encode_frame

if TYPE_CHECKING:
    from lnhive.fleet.hive import Hive

PROOF_CHANNEL_STATES = frozenset(
    {"CHANNELD_NORMAL", "CHANNELD_AWAITING_LOCKIN", "DUALOPEND_AWAITING_LOCKIN"}
)
EVIDENCE_MAX_AGE_S = 100 * 365 * 86_400.0
"""Membership evidence is historical: a welcome stays valid evidence for good."""


class Membership:
    def __init__(self, hive: Hive) -> None:
        self.h = hive

    def genesis(self, hive_id: object = None) -> dict[str, Any]:
        """Found a hive with this node as its first member."""
        with self.h.lock:
            current = self.h.roster.hive_id
            if current is not None:
                raise Conflict(f"this node is already in hive {current}; genesis is refused")
            hid = "hive_" + secrets.token_hex(8) if hive_id is None else check_hive_id(hive_id)
            now = self.h.now()
            env = new_envelope(
                self.h.node, self.h.me, evidence.GENESIS, evidence.genesis_body(hid), now
            )
            with self.h.store.transaction() as conn:
                self.h.roster.set_meta(conn, "hive_id", hid)
                outcome = evidence.apply(self.h.roster, conn, env, hid, now)
            if outcome.status != APPLIED:  # pragma: no cover - a fresh roster always accepts
                raise Conflict(f"genesis not applied: {outcome.reason}")
            self.h.log("info", f"genesis: founded hive {hid}")
            return {
                "status": "genesis_complete",
                "hive_id": hid,
                "admin_pubkey": self.h.me,
                "genesis_msg_id": env.msg_id,
                "created_at": env.ts,
            }

    def require_member(self) -> str:
        hive_id = self.h.roster.hive_id
        if hive_id is None:
            raise Conflict("this node is not in a hive: run hive-genesis or hive-join first")
        tier = self.h.roster.tier(self.h.me)
        if tier != MEMBER:
            raise Unauthorized(
                f"only members may do this; this node is {tier or 'not yet admitted'}"
            )
        return hive_id

    def invite(self, valid_hours: object = 24, requirements: object = 0) -> dict[str, Any]:
        """Issue an invitation ticket (members only)."""
        with self.h.lock:
            hive_id = self.require_member()
            hours = int_param("valid_hours", valid_hours)
            reqs = int_param("requirements", requirements)
            ticket = issue_ticket(
                self.h.node, self.h.me, hive_id, self.h.now(), valid_hours=hours, requirements=reqs
            )
            return {
                "ticket": ticket.encode(),
                "hive_id": hive_id,
                "issuer": self.h.me,
                "tier": ticket.tier,
                "requirements": ticket.requirements,
                "expires_at": ticket.expires_at,
                "valid_hours": hours,
            }

    def join(self, ticket: object = None, peer_id: object = None) -> dict[str, Any]:
        """Say HELLO to a member: with a ticket (its issuer, unless ``peer_id`` names
        another member) or, without one, relying on a channel with ``peer_id``."""
        with self.h.lock:
            current = self.h.roster.hive_id
            if current is not None:
                raise Conflict(f"this node is already in hive {current}")
            now = self.h.now()
            parsed: Ticket | None = None
            if ticket is not None:
                parsed = check_ticket(self.h.node, decode_ticket(ticket), now)
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
            if peer == self.h.me:
                raise InvalidInput("cannot join through this node itself")
            if not self.connected(peer):
                raise NotFound(
                    f"not connected to {peer}: connect first "
                    f"(lightning-cli connect {peer}@<host>:<port>), then retry hive-join"
                )
            body = handshake.hello_body(None if parsed is None else parsed.envelope.to_json())
            env = new_envelope(self.h.node, self.h.me, handshake.HELLO, body, now)
            self.h.send_direct(peer, env)
            self.h.joins.start(peer, None if parsed is None else parsed.hive_id, now, env.msg_id)
            self.h.log("info", f"join: HELLO sent to {peer}")
            return {
                "status": "join_requested",
                "hive_id": None if parsed is None else parsed.hive_id,
                "peer_id": peer,
                "via": "ticket" if parsed is not None else "channel",
            }

    # -- handshake: member side

    def on_hello(self, peer: str, env: Envelope, now: float) -> None:
        hive_id = self.h.roster.hive_id
        assert hive_id is not None
        handshake.check_hello(env.body)
        if self.h.roster.is_member(peer):
            raise Refused("already_member", f"HELLO from {peer}, already in the roster")
        if self.h.roster.count()["total"] >= self.h.options.max_members:
            raise Refused(
                "hive_full", f"hive has {self.h.options.max_members} members (the maximum)"
            )
        via, required = self.admission(peer, env, now, hive_id)
        try:
            ch = self.h.challenges.issue(peer, hive_id, now, required=required, via=via)
        except LnhiveError as exc:
            raise Refused("challenge_rate", exc.message) from None
        body = {"hive_id": hive_id, "nonce": ch.nonce}
        self.h.send_direct(
            peer, new_envelope(self.h.node, self.h.me, handshake.CHALLENGE, body, now)
        )
        self.h.log("info", f"handshake: CHALLENGE sent to {peer} (admission by {via})")

    def admission(
        self, peer: str, env: Envelope, now: float, hive_id: str
    ) -> tuple[str, tuple[str, ...]]:
        policy = self.h.options.join_policy
        raw = env.body.get("ticket")
        if raw is not None and policy in ("ticket", "either"):
            ticket = check_ticket(self.h.node, ticket_from_envelope(raw), now)
            if ticket.hive_id != hive_id:
                raise Refused("bad_ticket", f"ticket is for hive {ticket.hive_id}, not {hive_id}")
            if self.h.roster.tier(ticket.issuer) != MEMBER:
                raise Refused("bad_ticket", f"ticket issuer {ticket.issuer} is not a member")
            return "ticket", tuple(ticket.required_features())
        if policy in ("channel", "either") and self.has_proof_channel(peer):
            return "channel", ()
        raise Refused(
            "no_admission",
            f"{peer} has no valid ticket"
            + (" and no channel with us" if policy != "ticket" else "")
            + f" (hive-join-policy={policy})",
        )

    def on_attest(self, peer: str, env: Envelope, now: float) -> None:
        ch = self.h.challenges.get(peer, now)
        if ch is None:
            raise Refused("no_challenge", f"ATTEST from {peer} without a live challenge")
        try:
            hive_id, nonce, features = handshake.check_attest(env.body)
            if hive_id != ch.hive_id or nonce != ch.nonce:
                raise Refused("bad_nonce", f"ATTEST from {peer} answers another challenge")
            missing = [f for f in ch.required if f not in features]
            if missing:
                raise Refused("requirements", f"{peer} lacks required feature(s) {missing}")
            if self.h.roster.is_member(peer):
                raise Refused("already_member", f"{peer} is already in the roster")
        finally:
            self.h.challenges.clear(peer)
        count = self.h.roster.count()["total"] + 1
        pairs = [(m.peer_id, m.tier) for m in self.h.roster.members()] + [(peer, "neophyte")]
        body = evidence.welcome_body(hive_id, peer, env.msg_id, count, membership_hash(pairs))
        welcome = new_envelope(self.h.node, self.h.me, evidence.WELCOME, body, now)
        with self.h.store.transaction() as conn:
            outcome = evidence.apply(self.h.roster, conn, welcome, hive_id, now)
        if outcome.status != APPLIED:
            raise Refused("not_admitted", outcome.reason or "welcome not applied")
        self.h.log("info", f"handshake: admitted {peer} as neophyte (by {ch.via})")
        self.h.send_reliable(peer, welcome)
        self.send_roster(peer, hive_id)
        for m in self.h.roster.members():
            if m.peer_id not in (self.h.me, peer):
                self.h.send_reliable(m.peer_id, welcome)

    # -- handshake: joiner side

    def on_challenge(self, peer: str, env: Envelope, now: float) -> None:
        attempt = self.h.joins.get(peer, now)
        assert attempt is not None
        hive_id, nonce = handshake.check_challenge(env.body)
        if attempt.hive_id is not None and attempt.hive_id != hive_id:
            raise Refused("wrong_hive", f"CHALLENGE for hive {hive_id}, we asked {attempt.hive_id}")
        self.h.joins.start(peer, hive_id, attempt.sent_at, attempt.hello_msg_id)
        body = handshake.attest_body(hive_id, nonce, handshake.local_features(self.h.node))
        self.h.send_direct(peer, new_envelope(self.h.node, self.h.me, handshake.ATTEST, body, now))
        self.h.log("info", f"handshake: ATTEST sent to {peer}")

    def on_welcome(self, peer: str, env: Envelope, now: float) -> None:
        hive_id, joiner = evidence.check_welcome(env)
        if joiner == self.h.me:
            attempt = self.h.joins.get(peer, now)
            assert attempt is not None
            if attempt.hive_id is not None and attempt.hive_id != hive_id:
                raise Refused(
                    "wrong_hive", f"WELCOME to hive {hive_id}, we asked {attempt.hive_id}"
                )
            current = self.h.roster.hive_id
            if current is not None and current != hive_id:
                raise Refused("wrong_hive", f"WELCOME to {hive_id}, but we are in {current}")
            with self.h.store.transaction() as conn:
                self.h.roster.set_meta(conn, "hive_id", hive_id)
                self.h.roster.set_meta(conn, "joined_via", peer)
                outcome = evidence.apply(self.h.roster, conn, env, hive_id, now)
            self.h.joins.clear()
            self.h.log("info", f"join: welcomed into hive {hive_id} by {peer} ({outcome.status})")
            evidence.settle_pending(self.h.roster, hive_id, now)
            if self.h.roster.evidence_list(PENDING):
                # The chain (the welcomer's roster) has not arrived yet, or arrived
                # before the welcome and was refused: ask for it again (spec §1.4 step 6).
                self.h.send_state_hash(peer, hive_id)
            return
        ours = self.h.roster.hive_id
        if ours is None or ours != hive_id:
            raise Refused("wrong_hive", f"WELCOME for hive {hive_id}, we are in {ours}")
        self.apply_evidence(env, ours, now)

    def apply_evidence(self, env: Envelope, hive_id: str, now: float) -> str:
        existing = self.h.roster.evidence(env.msg_id)
        if existing is not None and existing.status != PENDING:
            return existing.status
        with self.h.store.transaction() as conn:
            outcome = evidence.apply(self.h.roster, conn, env, hive_id, now)
        if outcome.status == APPLIED:
            change = {evidence.MEMBER_LEFT: "removed (left)", evidence.BAN: "removed (banned)"}.get(
                env.type, "added"
            )
            self.h.log(
                "info", f"roster: {outcome.subject} {change} by {env.type} from {env.sender}"
            )
            if env.type == evidence.MEMBER_LEFT:
                self.h.hivemap.forget({outcome.subject})
            if env.type == evidence.BAN:
                self.h.governance.on_ban_applied(bans.check_ban(env))
                self._tell_target(env, outcome.subject)
            evidence.settle_pending(self.h.roster, hive_id, now)
        elif outcome.reason:
            self.h.log(
                "debug", f"roster: {env.type} {env.msg_id} {outcome.status}: {outcome.reason}"
            )
        return outcome.status

    def _tell_target(self, env: Envelope, target: str) -> None:
        """Hand a ban to the banned node too (it is no longer a member, so broadcasts
        and relays skip it), so that it knows; we pass it on as a relay."""
        if target == self.h.me or target not in self.h.connected_peers():
            return
        frame = encode_frame(env, ttl=0, path=() if env.sender == self.h.me else (self.h.me,))
        try:
            self.h.send_frame(target, frame, env.type)
        except LnhiveError as exc:
            self.h.log("debug", f"ban: could not tell {target}: {exc.rpc_message()}")

    def leave(self, reason: object = "") -> dict[str, Any]:
        """Leave the hive: tell every member (reliably, signed), then forget the hive."""
        with self.h.lock:
            hive_id = self.h.require_admitted()
            if not isinstance(reason, str) or len(reason) > evidence.MAX_REASON:
                raise InvalidInput(f"reason must be a string of at most {evidence.MAX_REASON}")
            members = self.h.roster.members()
            others_admitting = [m for m in members if m.tier == MEMBER and m.peer_id != self.h.me]
            if self.h.roster.tier(self.h.me) == MEMBER and not others_admitting:
                raise Conflict(
                    "this node is the hive's only member: leaving would leave no one to "
                    "admit or vote; promote another member first"
                )
            now = self.h.now()
            env = new_envelope(
                self.h.node,
                self.h.me,
                evidence.MEMBER_LEFT,
                evidence.left_body(hive_id, reason),
                now,
            )
            # reliably to the members we are connected to; they relay it to the rest,
            # and anti-entropy carries it to anyone offline now
            told = sorted(self.h.connected_members() - {self.h.me})
            for peer in told:
                self.h.send_reliable(peer, env, ttl=MAX_TTL)
            self.h.policy.release_all(now)
            with self.h.store.transaction() as conn:
                self.h.roster.forget_hive(conn)
                conn.execute("DELETE FROM hive_state")
                conn.execute("DELETE FROM intent_locks WHERE status = 'pending'")
                for table in ("hive_bans", "ban_proposals", "ban_votes"):
                    conn.execute(f"DELETE FROM {table}")
            self.h.log("info", f"leave: left hive {hive_id} ({reason or 'no reason given'})")
            return {"status": "left", "hive_id": hive_id, "told": len(told), "msg_id": env.msg_id}

    def on_member_left(self, peer: str, env: Envelope, now: float) -> None:
        hive_id = evidence.check_left(env)
        ours = self.h.same_hive(hive_id)
        self.apply_evidence(env, ours, now)
        if not any(m.tier == MEMBER for m in self.h.roster.members()):
            self.h.log("warn", "roster: no member of tier 'member' remains; no one can admit")

    def on_roster(self, peer: str, env: Envelope, now: float) -> None:
        hive_id, items = rostersync.check_roster(env.body)
        ours = self.h.roster.hive_id
        if ours is None or ours != hive_id:
            raise Refused("wrong_hive", f"roster for hive {hive_id}, we are in {ours}")
        results: Counter[str] = Counter()
        for item in items:
            try:
                ev = verify_embedded(
                    self.h.node,
                    item,
                    now=now,
                    max_age_s=EVIDENCE_MAX_AGE_S,
                    max_future_s=MAX_FUTURE_S,
                )
                if ev.type not in evidence.EVIDENCE_TYPES:
                    raise Refused("not_evidence", f"{ev.type} is not membership evidence")
                evidence.check_structure(ev)
                verify_nested(self.h.node, ev)
            except (Refused, LnhiveError) as exc:
                results["invalid"] += 1
                self.h.log("debug", f"roster from {peer}: skipped an item: {exc}")
                continue
            if self.h.roster.evidence(ev.msg_id) is not None:
                results["known"] += 1
                continue
            # recorded first, applied together in causal order (not arrival order)
            with self.h.store.transaction() as conn:
                self.h.roster.record_evidence(conn, ev, evidence.subject_of(ev), PENDING, None, now)
            results["new"] += 1
        results["applied"] = evidence.settle_pending(self.h.roster, ours, now)
        if results["applied"]:
            self.h.hivemap.forget(self.h.former_members())
        self.h.log("debug", f"roster from {peer}: {dict(results)}")

    def send_roster(self, peer: str, hive_id: str) -> None:
        chain = [row.envelope for row in self.h.roster.evidence_list(APPLIED)]
        for body in rostersync.roster_bodies(hive_id, chain):
            env = new_envelope(self.h.node, self.h.me, rostersync.ROSTER, body, self.h.now())
            self.h.send_reliable(peer, env)

    def connected(self, peer: str) -> bool:
        peers = self.h.node.listpeers(id=peer).get("peers", [])
        return any(p.get("connected") for p in peers)

    def has_proof_channel(self, peer: str) -> bool:
        channels = self.h.node.listpeerchannels(id=peer).get("channels", [])
        return any(c.get("state") in PROOF_CHANNEL_STATES for c in channels)
