"""Counting a poll: a pure function of the poll and a set of signed votes (spec §1.5).

Every member that holds the same votes computes the same tally, whatever order they
arrived in: invalid votes (bad signature, not eligible, wrong poll, bad choice, dated
outside ``[created_at, deadline)``) are dropped; a voter with several different valid
votes (equivocation — an honest node never makes one, its store refuses a second
vote) counts once, with the vote that sorts first by ``(voted_at, vote_id)``;
duplicates of one vote count once.

Result rules (doc 09, non-ban polls): quorum when ballots cast (spoilt ones included)
are at least ``quorum_pct`` % of the eligible voters; the winner is the option with
strictly the most votes; equal leaders make a ``tie`` with no winner (``leaders`` in the
poll's option order); ``majority`` says whether the winner has more than half of the
non-spoilt ballots. ``tally_hash`` (SHA-256 of the JCS of everything else) lets members
compare their tallies in one value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import LnhiveError
from lnhive.core.hashing import sha256_hex
from lnhive.identity.polls import SPOIL, Poll, Vote, check_vote

DEFAULT_QUORUM_PCT = 50
NO_VOTES = "no_votes"
NO_QUORUM = "no_quorum"
TIE = "tie"
DECIDED = "decided"


@dataclass(frozen=True)
class Tally:
    poll_id: str
    eligible: int
    ballots: int
    """Voters counted, spoilt ballots included."""
    spoil: int
    counts: dict[str, int]
    """Votes per option, in the poll's option order."""
    ballot_ids: dict[str, str]
    """voter -> the vote_id counted for it."""
    winner: str | None
    tie: bool
    leaders: tuple[str, ...]
    majority: bool
    quorum_pct: int
    quorum_met: bool
    outcome: str
    rejected: int
    """Votes given that were not valid."""
    equivocators: tuple[str, ...]
    tally_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "poll_id": self.poll_id,
            "eligible": self.eligible,
            "ballots": self.ballots,
            "spoil": self.spoil,
            "counts": dict(self.counts),
            "ballot_ids": dict(self.ballot_ids),
            "winner": self.winner,
            "tie": self.tie,
            "leaders": list(self.leaders),
            "majority": self.majority,
            "quorum_pct": self.quorum_pct,
            "quorum_met": self.quorum_met,
            "outcome": self.outcome,
            "rejected": self.rejected,
            "equivocators": list(self.equivocators),
            "tally_hash": self.tally_hash,
        }


def select_ballots(poll: Poll, votes: Iterable[object]) -> tuple[dict[str, Vote], int, set[str]]:
    """The counted vote per voter, how many inputs were invalid, and who equivocated."""
    chosen: dict[str, Vote] = {}
    seen: dict[str, set[str]] = {}
    rejected = 0
    for raw in votes:
        try:
            vote = check_vote(raw, poll)
        except LnhiveError:
            rejected += 1
            continue
        seen.setdefault(vote.voter, set()).add(vote.vote_id)
        current = chosen.get(vote.voter)
        if current is None or (vote.voted_at, vote.vote_id) < (current.voted_at, current.vote_id):
            chosen[vote.voter] = vote
    equivocators = {voter for voter, ids in seen.items() if len(ids) > 1}
    return chosen, rejected, equivocators


def tally(poll: Poll, votes: Iterable[object], *, quorum_pct: int = DEFAULT_QUORUM_PCT) -> Tally:
    """Count ``votes`` (signed vote objects, any order, any validity) for ``poll``."""
    chosen, rejected, equivocators = select_ballots(poll, votes)
    counts = {option: 0 for option in poll.options}
    spoil = 0
    for vote in chosen.values():
        if vote.choice == SPOIL:
            spoil += 1
        else:
            counts[vote.choice] += 1
    ballots = len(chosen)
    eligible = len(poll.eligible)
    quorum_met = ballots * 100 >= quorum_pct * eligible
    top = max(counts.values())
    leaders = tuple(o for o in poll.options if counts[o] == top) if top > 0 else ()
    tie = len(leaders) > 1
    winner = leaders[0] if len(leaders) == 1 else None
    majority = winner is not None and counts[winner] * 2 > ballots - spoil
    if ballots == 0:
        outcome = NO_VOTES
    elif not quorum_met:
        outcome = NO_QUORUM
    elif winner is None:
        outcome = TIE
    else:
        outcome = DECIDED
    body: dict[str, Any] = {
        "poll_id": poll.poll_id,
        "eligible": eligible,
        "ballots": ballots,
        "spoil": spoil,
        "counts": counts,
        "ballot_ids": {v: chosen[v].vote_id for v in sorted(chosen)},
        "winner": winner,
        "tie": tie,
        "leaders": list(leaders),
        "majority": majority,
        "quorum_pct": quorum_pct,
        "quorum_met": quorum_met,
        "outcome": outcome,
        "rejected": rejected,
        "equivocators": sorted(equivocators),
    }
    return Tally(
        poll_id=poll.poll_id,
        eligible=eligible,
        ballots=ballots,
        spoil=spoil,
        counts=counts,
        ballot_ids=body["ballot_ids"],
        winner=winner,
        tie=tie,
        leaders=leaders,
        majority=majority,
        quorum_pct=quorum_pct,
        quorum_met=quorum_met,
        outcome=outcome,
        rejected=rejected,
        equivocators=tuple(sorted(equivocators)),
        tally_hash=sha256_hex(canonical_json(without_rejected(body))),
    )


def without_rejected(body: dict[str, Any]) -> dict[str, Any]:
    """The hashed part: ``rejected`` and ``equivocators`` depend on what else a node was
    sent (a store keeps one vote per voter), so they are left out."""
    return {k: v for k, v in body.items() if k not in ("rejected", "equivocators")}
