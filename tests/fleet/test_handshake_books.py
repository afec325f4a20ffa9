"""The handshake's in-memory books (spec §1.4, §8 test 26)."""

from __future__ import annotations

import pytest

from lnhive.core.errors import RateLimited
from lnhive.fleet.handshake import ChallengeBook, JoinBook


def _peer(i: int) -> str:
    return f"02{i:064x}"


def test_the_1001st_pending_challenge_evicts_the_oldest() -> None:
    book = ChallengeBook()
    for i in range(1_000):
        book.issue(_peer(i), "hive_x", float(i) / 10)
    assert len(book) == 1_000
    book.issue(_peer(1_000), "hive_x", 100.0)
    assert len(book) == 1_000
    assert book.get(_peer(0), 100.0) is None  # the oldest went
    assert book.get(_peer(1), 100.0) is not None
    assert book.get(_peer(1_000), 100.0) is not None


def test_one_challenge_per_peer_per_ten_seconds_and_ttl() -> None:
    book = ChallengeBook()
    first = book.issue(_peer(1), "hive_x", 0.0)
    with pytest.raises(RateLimited):
        book.issue(_peer(1), "hive_x", 9.9)
    assert book.get(_peer(1), 9.9) == first  # the refused one did not replace it
    second = book.issue(_peer(1), "hive_x", 10.0)
    assert second.nonce != first.nonce
    assert book.get(_peer(1), 310.0) == second
    assert book.get(_peer(1), 310.1) is None  # older than 300 s


def test_join_attempts_expire_after_300_seconds() -> None:
    joins = JoinBook()
    joins.start(_peer(1), "hive_x", 0.0, "a" * 32)
    assert joins.get(_peer(1), 300.0) is not None
    assert joins.get(_peer(1), 300.1) is None
    assert joins.active(300.1) == []
