"""The governance tier, fleet polls and votes of cl-hive-archon (spec §1.4, §1.5; ARCHITECTURE §8.5).

:class:`Governance` stores the node's tier, its polls and the votes it holds, and talks
to the fleet through a :class:`~lnhive.identity.fleetlink.FleetLink`:

- a poll made here names the fleet's members at that moment as its eligible voters
  (just this node without a fleet), is signed with the node key and goes out as
  ``archon.poll`` ``{"poll"}``;
- a vote is signed with the node key (the voter is the node, never the DID) and goes
  out as ``archon.vote`` ``{"poll", "vote"}`` — the poll rides along so a vote that
  arrives first is not lost;
- an inbound ``archon.*`` envelope (cl-hive's ``hive-message``) is re-verified here from
  the signed objects alone: a new poll must come from a member and name only members
  (in this node's view); a vote must verify against its poll, arrive no later than
  ``deadline + GRACE_S`` and be dated no more than ``MAX_SKEW_S`` ahead of arrival.
- one vote per (poll, voter): ``hive-vote`` refuses a second one; of several different
  signed votes by one voter the store keeps the one that sorts first by
  ``(voted_at, vote_id)``, so every member converges on the same ballots whatever the
  order of arrival, and :func:`lnhive.identity.tally.tally` is a pure function of them.

Bans are not here: they are cl-hive's own vote.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock
from lnhive.core.errors import (
    Conflict,
    InvalidInput,
    LnhiveError,
    NodeRpcError,
    NotFound,
    RateLimited,
    Unauthorized,
)
from lnhive.core.store import Store
from lnhive.identity import outbox
from lnhive.identity.credentials import parse_json
from lnhive.identity.fleetlink import FleetLink, LocalOnly
from lnhive.identity.polls import (
    Poll,
    Vote,
    check_poll,
    check_reason,
    check_vote,
    make_poll,
    make_vote,
)
from lnhive.identity.tally import Tally, tally
from lnhive.identity.tier import (
    BASIC,
    GOVERNANCE,
    check_target,
    decide_upgrade,
    local_balance_sats,
)

POLL_MSG = "archon.poll"
VOTE_MSG = "archon.vote"
MAX_POLLS = 5000
MAX_VOTES = 50_000
GRACE_S = 600
"""Votes arriving later than this after the deadline are refused: the tally is final then."""
MAX_SKEW_S = 300
MAX_LIST = 500
DAY = 86_400
MAX_RETENTION_DAYS = 36_500
ACTIVE = "active"
COMPLETED = "completed"


class Governance:
    """Tier, polls and votes over the archon store."""

    def __init__(
        self,
        node: NodeApi,
        store: Store,
        clock: Clock,
        node_id: str,
        min_bond_sats: int,
        require_identity: Callable[[], str],
        fleet: FleetLink | None = None,
    ) -> None:
        self.node = node
        self.store = store
        self.clock = clock
        self.me = node_id
        self.min_bond_sats = min_bond_sats
        self.require_identity = require_identity
        """Returns the node's DID, or raises ``not_found`` when it is not provisioned."""
        self.fleet: FleetLink = fleet or LocalOnly()
        self.lock = threading.RLock()

    def _now(self) -> int:
        return int(self.clock.now())

    def _sign(self, text: str) -> str:
        try:
            return str(self.node.signmessage(message=text)["zbase"])
        except Exception as exc:
            raise NodeRpcError(f"signing failed: signmessage {type(exc).__name__}") from exc

    # -- tier -------------------------------------------------------------------------

    def tier(self) -> str:
        row = self.store.query_one("SELECT governance_tier FROM archon_tier WHERE singleton_id = 1")
        return str(row["governance_tier"]) if row else BASIC

    def upgrade(self, target_tier: object = GOVERNANCE, bond_sats: object = 0) -> dict[str, Any]:
        """Move to ``target_tier``; governance needs a bond the node's own channels cover."""
        check_target(target_tier)
        did = self.require_identity()
        balance: int | None = None
        if target_tier == GOVERNANCE:
            try:
                funds = self.node.listfunds()
            except Exception as exc:
                raise NodeRpcError(
                    f"bond verification failed: listfunds {type(exc).__name__}"
                ) from exc
            balance = local_balance_sats(funds)
        decision = decide_upgrade(target_tier, bond_sats, self.min_bond_sats, balance)
        now = self._now()
        with self.lock, self.store.transaction() as conn:
            previous = self.tier()
            conn.execute(
                "INSERT INTO archon_tier (singleton_id, governance_tier, bond_sats, "
                "balance_sats, updated_at) VALUES (1, ?, ?, ?, ?) ON CONFLICT (singleton_id) "
                "DO UPDATE SET governance_tier = excluded.governance_tier, "
                "bond_sats = excluded.bond_sats, balance_sats = excluded.balance_sats, "
                "updated_at = excluded.updated_at",
                (decision.tier, decision.bond_sats, decision.balance_sats, now),
            )
            conn.execute(
                "INSERT INTO archon_tier_log (from_tier, to_tier, bond_sats, balance_sats, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (previous, decision.tier, decision.bond_sats, decision.balance_sats, now),
            )
        return {
            "ok": True,
            "did": did,
            "governance_tier": decision.tier,
            "previous_tier": previous,
            "bond_sats": decision.bond_sats,
            "local_balance_sats": decision.balance_sats,
            "required_bond_sats": self.min_bond_sats,
        }

    def _require_governance(self) -> None:
        self.require_identity()
        if self.tier() != GOVERNANCE:
            raise Unauthorized(
                "governance tier required; run hive-archon-upgrade target_tier=governance"
            )

    # -- polls ------------------------------------------------------------------------

    def _poll(self, poll_id: object) -> Poll:
        if not isinstance(poll_id, str) or not poll_id:
            raise InvalidInput("poll_id must be a non-empty string")
        row = self.store.query_one(
            "SELECT poll_json FROM archon_polls WHERE poll_id = ?", (poll_id,)
        )
        if row is None:
            raise NotFound(f"no poll {poll_id[:40]}")
        return check_poll(json.loads(row["poll_json"]))  # stored JSON is re-checked

    def _votes(self, poll_id: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT vote_json FROM archon_votes WHERE poll_id = ? ORDER BY voter", (poll_id,)
        )
        return [json.loads(r["vote_json"]) for r in rows]

    def _count(self, table: str) -> int:
        row = self.store.query_one(f"SELECT COUNT(*) AS n FROM {table}")
        return int(row["n"]) if row else 0

    @staticmethod
    def _insert_poll(conn: sqlite3.Connection, poll: Poll, source: str | None, now: int) -> None:
        conn.execute(
            "INSERT INTO archon_polls (poll_id, poll_type, title, creator, created_at, deadline, "
            "poll_json, received_from, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                poll.poll_id,
                poll.poll_type,
                poll.title,
                poll.creator,
                poll.created_at,
                poll.deadline,
                json.dumps(poll.doc, sort_keys=True),
                source,
                now,
            ),
        )

    def create_poll(
        self,
        poll_type: object,
        title: object,
        options_json: object,
        deadline: object,
        metadata_json: object = "{}",
    ) -> dict[str, Any]:
        """Make, store and send a poll whose voters are the fleet's members now."""
        self._require_governance()
        options = parse_json(options_json, "options_json")
        metadata = parse_json(metadata_json if metadata_json is not None else "{}", "metadata_json")
        now = self._now()
        with self.lock:
            if self._count("archon_polls") >= MAX_POLLS:
                raise RateLimited(f"poll capacity reached ({MAX_POLLS})")
            members = self.fleet.members()
            poll = make_poll(
                self._sign,
                creator=self.me,
                poll_type=poll_type,
                title=title,
                options=options,
                metadata=metadata,
                eligible=members if members is not None else [self.me],
                created_at=now,
                deadline=deadline,
            )
            with self.store.transaction() as conn:
                self._insert_poll(conn, poll, None, now)
        sent, error = self._send(POLL_MSG, {"poll": poll.doc}, members is not None)
        return {
            "ok": True,
            "poll_id": poll.poll_id,
            "status": ACTIVE,
            "deadline": poll.deadline,
            "eligible": list(poll.eligible),
            "scope": "fleet" if members is not None else "local",
            "sent_to": sent,
            "broadcast_error": error,
        }

    def _send(self, type: str, body: dict[str, Any], fleet: bool) -> tuple[int, str | None]:
        """Broadcast after the local commit; a failure is reported, never undone."""
        if not fleet:
            return 0, None
        try:
            return self.fleet.broadcast(type, body), None
        except LnhiveError as exc:
            return 0, exc.message[:160]

    def vote(self, poll_id: object, choice: object, reason: object = "") -> dict[str, Any]:
        """Cast this node's one vote on a poll (an option or ``spoil``) and send it."""
        self._require_governance()
        if reason is None:
            reason = ""
        with self.lock:
            poll = self._poll(poll_id)
            if not isinstance(choice, str) or choice not in poll.choices:
                raise InvalidInput(
                    f"invalid choice; valid_choices: {', '.join(poll.choices)}"[:190]
                )
            check_reason(reason)
            now = self._now()
            if not poll.is_open(now):
                raise Conflict(f"poll is not active: status {COMPLETED}")
            if self.me not in poll.eligible:
                raise Unauthorized("this node is not an eligible voter of this poll")
            if self.store.query_one(
                "SELECT 1 FROM archon_votes WHERE poll_id = ? AND voter = ?",
                (poll.poll_id, self.me),
            ):
                raise Conflict("vote already exists for this voter and poll")
            if self._count("archon_votes") >= MAX_VOTES:
                raise RateLimited(f"vote capacity reached ({MAX_VOTES})")
            vote = make_vote(
                self._sign, poll, voter=self.me, choice=choice, reason=reason, voted_at=now
            )
            with self.store.transaction() as conn:
                self._insert_vote(conn, vote, None, now)
        in_fleet = self.fleet.members() is not None
        sent, error = self._send(VOTE_MSG, {"poll": poll.doc, "vote": vote.doc}, in_fleet)
        return {
            "ok": True,
            "vote_id": vote.vote_id,
            "poll_id": poll.poll_id,
            "voter_id": self.me,
            "choice": vote.choice,
            "voted_at": vote.voted_at,
            "sent_to": sent,
            "broadcast_error": error,
        }

    @staticmethod
    def _insert_vote(conn: sqlite3.Connection, vote: Vote, source: str | None, now: int) -> None:
        conn.execute(
            "INSERT INTO archon_votes (vote_id, poll_id, voter, choice, voted_at, vote_json, "
            "received_from, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                vote.vote_id,
                vote.poll_id,
                vote.voter,
                vote.choice,
                vote.voted_at,
                json.dumps(vote.doc, sort_keys=True),
                source,
                now,
            ),
        )

    # -- inbound ----------------------------------------------------------------------

    def on_message(self, envelope: dict[str, Any], from_peer: str) -> dict[str, Any]:
        """Take in an ``archon.poll`` / ``archon.vote`` envelope carried by cl-hive.

        Returns what happened; a refused poll raises (nothing is stored), refused votes
        are listed in ``rejected`` with their reasons.
        """
        kind = envelope.get("type")
        body = envelope.get("body")
        if kind not in (POLL_MSG, VOTE_MSG):
            return {"ignored": f"not a poll message: {str(kind)[:40]}"}
        if not isinstance(body, dict):
            raise InvalidInput("archon poll message body must be an object")
        poll = check_poll(body.get("poll"))
        raw_votes: list[object] = []
        if kind == VOTE_MSG:
            raw_votes.append(body.get("vote"))
        elif isinstance(body.get("votes"), list):
            raw_votes.extend(body["votes"])
        now = self._now()
        with self.lock:
            new_poll = self._accept_poll(poll, from_peer, now)
            result: dict[str, Any] = {
                "poll_id": poll.poll_id,
                "new_poll": new_poll,
                "stored": 0,
                "duplicate": 0,
                "kept_earlier": 0,
                "replaced": 0,
                "rejected": [],
            }
            for raw in raw_votes:
                try:
                    outcome = self._accept_vote(poll, raw, from_peer, now)
                except LnhiveError as exc:
                    result["rejected"].append(exc.rpc_message()[:160])
                    continue
                result[outcome] += 1
        return result

    def _accept_poll(self, poll: Poll, from_peer: str, now: int) -> bool:
        if self.store.query_one("SELECT 1 FROM archon_polls WHERE poll_id = ?", (poll.poll_id,)):
            return False  # the id commits to the content: same id, same poll
        members = self.fleet.members()
        if members is None:
            raise Unauthorized("not in a fleet: polls from other nodes are not taken in")
        if poll.creator not in members:
            raise Unauthorized("poll creator is not a member of this fleet")
        outsiders = sorted(set(poll.eligible) - set(members))
        if outsiders:
            raise Unauthorized(f"poll names {len(outsiders)} eligible voter(s) who are not members")
        if self._count("archon_polls") >= MAX_POLLS:
            raise RateLimited(f"poll capacity reached ({MAX_POLLS})")
        with self.store.transaction() as conn:
            self._insert_poll(conn, poll, from_peer, now)
        return True

    def _accept_vote(self, poll: Poll, raw: object, from_peer: str, now: int) -> str:
        vote = check_vote(raw, poll)
        if now > poll.deadline + GRACE_S:
            raise Conflict("vote arrived after the poll closed")
        if vote.voted_at > now + MAX_SKEW_S:
            raise InvalidInput("vote is dated in the future")
        row = self.store.query_one(
            "SELECT vote_id, voted_at FROM archon_votes WHERE poll_id = ? AND voter = ?",
            (poll.poll_id, vote.voter),
        )
        if row is not None:
            if row["vote_id"] == vote.vote_id:
                return "duplicate"
            if (int(row["voted_at"]), str(row["vote_id"])) <= (vote.voted_at, vote.vote_id):
                return "kept_earlier"
        elif self._count("archon_votes") >= MAX_VOTES:
            raise RateLimited(f"vote capacity reached ({MAX_VOTES})")
        with self.store.transaction() as conn:
            if row is not None:
                conn.execute("DELETE FROM archon_votes WHERE vote_id = ?", (row["vote_id"],))
            self._insert_vote(conn, vote, from_peer, now)
        return "replaced" if row is not None else "stored"

    # -- queries ----------------------------------------------------------------------

    def _tally(self, poll: Poll) -> Tally:
        return tally(poll, self._votes(poll.poll_id))

    def _poll_json(self, poll: Poll, now: int) -> dict[str, Any]:
        return {
            "poll_id": poll.poll_id,
            "poll_type": poll.poll_type,
            "title": poll.title,
            "options": list(poll.options),
            "metadata": poll.metadata,
            "creator": poll.creator,
            "eligible": list(poll.eligible),
            "created_at": poll.created_at,
            "deadline": poll.deadline,
            "status": ACTIVE if poll.is_open(now) else COMPLETED,
        }

    def poll_status(self, poll_id: object) -> dict[str, Any]:
        """The poll, its tally and the ballots held here."""
        with self.lock:
            poll = self._poll(poll_id)
            result = self._tally(poll)
            rows = self.store.query(
                "SELECT voter, choice, voted_at, vote_id FROM archon_votes WHERE poll_id = ? "
                "ORDER BY voter",
                (poll.poll_id,),
            )
        now = self._now()
        voters = [dict(r) for r in rows]
        mine = next((v["choice"] for v in voters if v["voter"] == self.me), None)
        return {
            "ok": True,
            "poll": self._poll_json(poll, now),
            "tally": {**result.counts, "spoil": result.spoil},
            "result": result.to_json(),
            "vote_count": result.ballots,
            "voters": voters,
            "my_vote": mine,
        }

    def poll_result(self, poll_id: object) -> dict[str, Any]:
        """The tally for consumers (cl-hive's planner): ``final`` once no vote can arrive."""
        with self.lock:
            poll = self._poll(poll_id)
            result = self._tally(poll)
        now = self._now()
        return {
            "ok": True,
            "poll_id": poll.poll_id,
            "poll_type": poll.poll_type,
            "title": poll.title,
            "metadata": poll.metadata,
            "status": ACTIVE if poll.is_open(now) else COMPLETED,
            "final": now > poll.deadline + GRACE_S,
            **{k: v for k, v in result.to_json().items() if k != "poll_id"},
        }

    def list_polls(self, status: object = "", limit: object = 50) -> dict[str, Any]:
        """Polls held here, newest first; STATUS ``active`` or ``completed`` filters."""
        if status not in ("", None, ACTIVE, COMPLETED):
            raise InvalidInput("status must be active, completed or empty")
        if type(limit) is not int or limit < 1:
            raise InvalidInput("limit must be a positive integer")
        now = self._now()
        sql = "SELECT poll_id, poll_type, title, creator, created_at, deadline FROM archon_polls"
        params: list[Any] = []
        if status == ACTIVE:
            sql += " WHERE deadline > ?"
            params.append(now)
        elif status == COMPLETED:
            sql += " WHERE deadline <= ?"
            params.append(now)
        sql += " ORDER BY created_at DESC, poll_id LIMIT ?"
        params.append(min(limit, MAX_LIST))
        rows = self.store.query(sql, params)
        polls = [
            {**dict(r), "status": ACTIVE if now < int(r["deadline"]) else COMPLETED} for r in rows
        ]
        return {"ok": True, "count": len(polls), "polls": polls}

    def my_votes(self, limit: object = 50) -> dict[str, Any]:
        """This node's votes, newest first (limit 1-500)."""
        if type(limit) is not int or limit < 1:
            raise InvalidInput("limit must be a positive integer")
        now = self._now()
        rows = self.store.query(
            "SELECT v.vote_id, v.poll_id, v.choice, v.voted_at, p.title, p.poll_type, "
            "p.deadline FROM archon_votes v JOIN archon_polls p ON p.poll_id = v.poll_id "
            "WHERE v.voter = ? ORDER BY v.voted_at DESC, v.vote_id LIMIT ?",
            (self.me, min(limit, MAX_LIST)),
        )
        votes = [
            {**dict(r), "status": ACTIVE if now < int(r["deadline"]) else COMPLETED} for r in rows
        ]
        return {"ok": True, "voter_id": self.me, "count": len(votes), "votes": votes}

    def counts(self) -> dict[str, Any]:
        now = self._now()
        row = self.store.query_one(
            "SELECT COUNT(*) AS total, SUM(deadline > ?) AS active FROM archon_polls", (now,)
        )
        total = int(row["total"] or 0) if row else 0
        active = int(row["active"] or 0) if row else 0
        return {
            "governance_tier": self.tier(),
            "active_polls": active,
            "completed_polls": total - active,
            "total_polls": total,
            "total_votes": self._count("archon_votes"),
        }

    # -- maintenance ------------------------------------------------------------------

    def prune(self, retention_days: object = 90) -> dict[str, Any]:
        """Drop polls completed before the cutoff (now - ``retention_days`` days) with their
        votes, and completed/exhausted gateway outbox entries created before it, in one
        transaction (spec §1.9)."""
        if type(retention_days) is not int or not 1 <= retention_days <= MAX_RETENTION_DAYS:
            raise InvalidInput(f"retention_days must be an integer from 1 to {MAX_RETENTION_DAYS}")
        now = self._now()
        cutoff = now - retention_days * DAY
        with self.lock, self.store.transaction() as conn:
            completed = conn.execute(
                "SELECT COUNT(*) FROM archon_polls WHERE deadline <= ?", (now,)
            ).fetchone()[0]
            votes = conn.execute(
                "DELETE FROM archon_votes WHERE poll_id IN "
                "(SELECT poll_id FROM archon_polls WHERE deadline < ?)",
                (cutoff,),
            ).rowcount
            polls = conn.execute("DELETE FROM archon_polls WHERE deadline < ?", (cutoff,)).rowcount
            pruned = outbox.prune(self.store, cutoff)  # a savepoint of this transaction
        return {
            "ok": True,
            "polls_completed": int(completed),
            "polls_removed": int(polls),
            "votes_removed": int(votes),
            "outbox_pruned": pruned,
            "retention_days": retention_days,
            "cutoff": cutoff,
        }
