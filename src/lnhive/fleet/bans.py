"""Bans by vote (spec §1.6, ARCHITECTURE §8.6): formats, the threshold, the ballot box.

A member proposes a ban with ``fleet.ban_proposal``::

    {"hive_id", "target": <node id>, "reason": <at most 512 characters>,
     "expires_at": <ts + 7 days>}

(its ``msg_id`` is the proposal id; the proposer approves by proposing). Members vote
with ``fleet.ban_vote`` ``{"hive_id", "proposal": <proposal msg_id>, "target",
"vote": "approve" | "reject"}``: one vote per member, not the target, before
``expires_at``. Silence is not approval.

A ban passes when at least two thirds of the *eligible* members approve — eligible
being every ``member``-tier node in the roster except the target:
``needed = ceil(2 · eligible / 3)`` (eligible 2, 4, 5 → 2, 3, 4). Whoever first sees
the threshold reached signs ``fleet.ban`` ``{"hive_id", "target", "proposal":
<proposal envelope>, "votes": [<approving vote envelopes>]}``: membership evidence
carrying its own proof, which every node re-verifies (each embedded signature) and
applies by removing the target and recording the ban. Later traffic from a banned
node is dropped, and it cannot be welcomed again.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import InvalidInput
from lnhive.core.store import Store
from lnhive.fleet.envelope import Envelope, MalformedEnvelope, is_msg_id, is_node_id, parse_envelope
from lnhive.fleet.roster import body_hive_id

PROPOSAL, VOTE, BAN = "fleet.ban_proposal", "fleet.ban_vote", "fleet.ban"
PROPOSAL_TTL_S = 7 * 86_400
COOLDOWN_S = 7 * 86_400
MAX_REASON = 512
MAX_VOTES = 100
APPROVE, REJECT = "approve", "reject"
OPEN, PASSED, EXPIRED = "open", "passed", "expired"

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE hive_bans (
        peer_id   TEXT PRIMARY KEY,
        banned_at INTEGER NOT NULL,
        evidence  TEXT NOT NULL,
        reason    TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE ban_proposals (
        id         TEXT PRIMARY KEY,
        target     TEXT NOT NULL,
        proposer   TEXT NOT NULL,
        ts         INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        reason     TEXT NOT NULL,
        status     TEXT NOT NULL,
        envelope   TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX ban_proposals_target ON ban_proposals (target, ts);
    CREATE TABLE ban_votes (
        proposal_id TEXT NOT NULL,
        voter       TEXT NOT NULL,
        vote        TEXT NOT NULL,
        ts          INTEGER NOT NULL,
        envelope    TEXT NOT NULL,
        PRIMARY KEY (proposal_id, voter)
    ) WITHOUT ROWID;
    """,
)


def migrations() -> list[str]:
    return list(_MIGRATIONS)


def needed(eligible: int) -> int:
    """Approvals a ban needs: at least two thirds of the eligible members (and one)."""
    return max(1, math.ceil(2 * eligible / 3))


def _closed(body: Mapping[str, Any], keys: set[str], what: str) -> None:
    if set(body) != keys:
        raise MalformedEnvelope(f"{what} body must be exactly {sorted(keys)}")


def check_reason(reason: object) -> str:
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(f"reason must be a string of at most {MAX_REASON} characters")
    return reason


@dataclass(frozen=True)
class Proposal:
    envelope: Envelope
    hive_id: str
    target: str
    reason: str
    expires_at: int

    @property
    def id(self) -> str:
        return self.envelope.msg_id

    @property
    def proposer(self) -> str:
        return self.envelope.sender


def proposal_body(hive_id: str, target: str, reason: str, now: float) -> dict[str, Any]:
    return {
        "hive_id": hive_id,
        "target": target,
        "reason": reason,
        "expires_at": int(now) + PROPOSAL_TTL_S,
    }


def check_proposal(env: Envelope) -> Proposal:
    if env.type != PROPOSAL:
        raise MalformedEnvelope(f"expected a {PROPOSAL}, got {env.type}")
    body = env.body
    _closed(body, {"hive_id", "target", "reason", "expires_at"}, PROPOSAL)
    hive_id = body_hive_id(body, PROPOSAL)
    target = body["target"]
    if not is_node_id(target) or target == env.sender:
        raise MalformedEnvelope(f"{PROPOSAL}: target must be another node's id")
    try:
        reason = check_reason(body["reason"])
    except InvalidInput as exc:
        raise MalformedEnvelope(f"{PROPOSAL}: {exc.message}") from None
    expires = body["expires_at"]
    if type(expires) is not int or not env.ts < expires <= env.ts + PROPOSAL_TTL_S:
        raise MalformedEnvelope(f"{PROPOSAL}: expires_at must be within 7 days of its ts")
    return Proposal(env, hive_id, target, reason, expires)


@dataclass(frozen=True)
class Vote:
    envelope: Envelope
    hive_id: str
    proposal_id: str
    target: str
    vote: str

    @property
    def voter(self) -> str:
        return self.envelope.sender


def vote_body(hive_id: str, proposal: Proposal, vote: str) -> dict[str, Any]:
    return {"hive_id": hive_id, "proposal": proposal.id, "target": proposal.target, "vote": vote}


def check_vote(env: Envelope) -> Vote:
    if env.type != VOTE:
        raise MalformedEnvelope(f"expected a {VOTE}, got {env.type}")
    body = env.body
    _closed(body, {"hive_id", "proposal", "target", "vote"}, VOTE)
    hive_id = body_hive_id(body, VOTE)
    if not is_msg_id(body["proposal"]):
        raise MalformedEnvelope(f"{VOTE}: proposal must be the proposal's msg_id")
    if not is_node_id(body["target"]):
        raise MalformedEnvelope(f"{VOTE}: target must be a node id")
    if body["vote"] not in (APPROVE, REJECT):
        raise MalformedEnvelope(f"{VOTE}: vote must be approve or reject")
    if body["target"] == env.sender:
        raise MalformedEnvelope(f"{VOTE}: the target cannot vote on its own ban")
    return Vote(env, hive_id, str(body["proposal"]), str(body["target"]), str(body["vote"]))


@dataclass(frozen=True)
class Ban:
    envelope: Envelope
    hive_id: str
    target: str
    proposal: Proposal
    votes: tuple[Vote, ...]

    def approvers(self) -> set[str]:
        return {self.proposal.proposer} | {v.voter for v in self.votes}

    def nested(self) -> list[Envelope]:
        return [self.proposal.envelope, *(v.envelope for v in self.votes)]


def ban_body(proposal: Proposal, votes: Iterable[Vote]) -> dict[str, Any]:
    return {
        "hive_id": proposal.hive_id,
        "target": proposal.target,
        "proposal": proposal.envelope.to_json(),
        "votes": [v.envelope.to_json() for v in votes],
    }


def check_ban(env: Envelope) -> Ban:
    """Structure of a ``fleet.ban`` and of everything embedded (signatures not checked)."""
    if env.type != BAN:
        raise MalformedEnvelope(f"expected a {BAN}, got {env.type}")
    body = env.body
    _closed(body, {"hive_id", "target", "proposal", "votes"}, BAN)
    hive_id = body_hive_id(body, BAN)
    proposal = check_proposal(parse_envelope(body["proposal"]))
    if proposal.hive_id != hive_id or proposal.target != body["target"]:
        raise MalformedEnvelope(f"{BAN}: the proposal is for another hive or target")
    raw_votes = body["votes"]
    if not isinstance(raw_votes, list) or len(raw_votes) > MAX_VOTES:
        raise MalformedEnvelope(f"{BAN}: votes must be a list of at most {MAX_VOTES}")
    votes: list[Vote] = []
    voters: set[str] = {proposal.proposer}
    for raw in raw_votes:
        vote = check_vote(parse_envelope(raw))
        if vote.proposal_id != proposal.id or vote.target != proposal.target:
            raise MalformedEnvelope(f"{BAN}: a vote is for another proposal")
        if vote.hive_id != hive_id or vote.vote != APPROVE:
            raise MalformedEnvelope(f"{BAN}: only approving votes of this hive count")
        if vote.voter in voters:
            raise MalformedEnvelope(f"{BAN}: {vote.voter} appears twice")
        if not proposal.envelope.ts <= vote.envelope.ts <= proposal.expires_at:
            raise MalformedEnvelope(f"{BAN}: a vote was cast outside the proposal's window")
        voters.add(vote.voter)
        votes.append(vote)
    return Ban(env, hive_id, proposal.target, proposal, tuple(votes))


class BallotBox:
    """The ``ban_proposals`` and ``ban_votes`` tables (local bookkeeping, not evidence)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add_proposal(self, proposal: Proposal) -> bool:
        cur = self.store.execute(
            "INSERT OR IGNORE INTO ban_proposals (id, target, proposer, ts, expires_at, reason, "
            "status, envelope) VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
            (
                proposal.id,
                proposal.target,
                proposal.proposer,
                proposal.envelope.ts,
                proposal.expires_at,
                proposal.reason,
                proposal.envelope.canonical().decode(),
            ),
        )
        return cur.rowcount == 1

    def proposal(self, proposal_id: str) -> tuple[Proposal, str] | None:
        row = self.store.query_one(
            "SELECT envelope, status FROM ban_proposals WHERE id = ?", (proposal_id,)
        )
        if row is None:
            return None
        return check_proposal(parse_envelope(json.loads(row[0]))), str(row[1])

    def latest_for(self, target: str) -> tuple[int, str] | None:
        """``(ts, status)`` of the newest proposal against ``target``."""
        row = self.store.query_one(
            "SELECT ts, status FROM ban_proposals WHERE target = ? ORDER BY ts DESC LIMIT 1",
            (target,),
        )
        return None if row is None else (int(row[0]), str(row[1]))

    def set_status(self, proposal_id: str, status: str) -> None:
        self.store.execute(
            "UPDATE ban_proposals SET status = ? WHERE id = ?", (status, proposal_id)
        )

    def add_vote(self, vote: Vote) -> bool:
        cur = self.store.execute(
            "INSERT OR IGNORE INTO ban_votes (proposal_id, voter, vote, ts, envelope) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                vote.proposal_id,
                vote.voter,
                vote.vote,
                vote.envelope.ts,
                vote.envelope.canonical().decode(),
            ),
        )
        return cur.rowcount == 1

    def votes(self, proposal_id: str) -> list[Vote]:
        rows = self.store.query(
            "SELECT envelope FROM ban_votes WHERE proposal_id = ? ORDER BY ts, voter",
            (proposal_id,),
        )
        return [check_vote(parse_envelope(json.loads(r[0]))) for r in rows]

    def open_proposals(self) -> list[tuple[Proposal, str]]:
        rows = self.store.query("SELECT envelope, status FROM ban_proposals ORDER BY ts")
        return [(check_proposal(parse_envelope(json.loads(r[0]))), str(r[1])) for r in rows]


def record_ban(conn: sqlite3.Connection, ban: Ban) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO hive_bans (peer_id, banned_at, evidence, reason) VALUES (?, ?, ?, ?)",
        (ban.target, ban.envelope.ts, ban.envelope.msg_id, ban.proposal.reason),
    )
