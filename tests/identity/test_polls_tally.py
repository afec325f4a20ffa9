"""The tally is a pure function of the poll and the set of votes (spec §1.5)."""

from __future__ import annotations

import copy
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.identity.polls import SPOIL
from lnhive.identity.tally import DECIDED, NO_QUORUM, NO_VOTES, TIE, tally
from tests.identity.polls_helpers import IDS, T0, poll, vote

P = poll(options=["yes", "no", "later"])
VOTES = [
    vote(P, 0, "yes").doc,
    vote(P, 1, "no").doc,
    vote(P, 2, "yes", at=T0 + 90).doc,
    vote(P, 3, SPOIL).doc,
]


def test_counts_spoil_winner_majority_quorum() -> None:
    t = tally(P, VOTES)
    assert t.counts == {"yes": 2, "no": 1, "later": 0} and t.spoil == 1
    assert t.ballots == 4 and t.eligible == 4 and t.quorum_met
    assert t.winner == "yes" and not t.tie and t.outcome == DECIDED
    assert t.majority is True  # 2 of 3 non-spoilt ballots
    assert list(t.counts) == ["yes", "no", "later"]  # the poll's option order


def test_plurality_without_majority() -> None:
    votes = [*VOTES[:3], vote(P, 3, "later").doc]  # yes 2, no 1, later 1
    t = tally(P, votes)
    assert t.winner == "yes" and t.outcome == DECIDED and t.majority is False


def test_same_set_any_order_gives_the_same_tally() -> None:
    base = tally(P, VOTES)
    for seed in range(10):
        shuffled = list(VOTES)
        random.Random(seed).shuffle(shuffled)
        assert tally(P, shuffled + shuffled[:2]) == base  # duplicates count once
    assert len(base.tally_hash) == 64


def test_ties_have_no_winner_and_list_leaders_in_option_order() -> None:
    votes = [vote(P, 0, "no").doc, vote(P, 1, "yes").doc, vote(P, 2, "later").doc]
    t = tally(P, votes)
    assert t.tie and t.winner is None and t.leaders == ("yes", "no", "later")
    assert t.outcome == TIE and not t.majority


def test_no_votes_and_no_quorum() -> None:
    t = tally(P, [])
    assert t.outcome == NO_VOTES and t.winner is None and t.leaders == () and not t.quorum_met
    one = tally(P, [vote(P, 0, "yes").doc])
    assert one.outcome == NO_QUORUM and one.winner == "yes"  # 1 of 4 < 50 %
    assert tally(P, VOTES[:2], quorum_pct=50).quorum_met  # 2 of 4 = 50 %


def test_invalid_votes_are_dropped_and_do_not_change_the_hash() -> None:
    base = tally(P, VOTES)
    forged = copy.deepcopy(VOTES[1])
    forged["choice"] = "yes"  # signature no longer fits
    other_poll = vote(poll(nonce="33" * 16), 1, "yes").doc
    garbage: list[object] = [forged, other_poll, "junk", {"type": "LnhiveVote"}]
    t = tally(P, VOTES + garbage)
    assert t.rejected == 4 and t.counts == base.counts and t.tally_hash == base.tally_hash


def test_equivocation_counts_the_earliest_vote_whatever_the_order() -> None:
    first = vote(P, 1, "no", at=T0 + 60).doc
    second = vote(P, 1, "yes", at=T0 + 120).doc
    a = tally(P, [VOTES[0], first, second])
    b = tally(P, [second, VOTES[0], first])
    assert a == b and a.counts["no"] == 1 and a.counts["yes"] == 1
    assert a.equivocators == (IDS[1],)
    # same second: the smaller vote_id wins, again whatever the order
    x = vote(P, 2, "no", at=T0 + 60).doc
    y = vote(P, 2, "later", at=T0 + 60).doc
    assert tally(P, [x, y]) == tally(P, [y, x])
    assert tally(P, [x, y]).ballots == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(VOTES) - 1), max_size=12), st.randoms())
def test_property_tally_depends_on_the_set_only(picks: list[int], rnd: random.Random) -> None:
    chosen = [VOTES[i] for i in picks]
    shuffled = list(chosen)
    rnd.shuffle(shuffled)
    assert tally(P, chosen).tally_hash == tally(P, shuffled).tally_hash
    assert tally(P, chosen).ballots == len(set(picks))
