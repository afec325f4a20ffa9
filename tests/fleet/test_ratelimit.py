"""Per-sender token buckets with injected time."""

from __future__ import annotations

import pytest

from lnhive.core.errors import InvalidInput, RateLimited
from lnhive.fleet.ratelimit import DEFAULT_RATES, Rate, RateLimiter

A = "02" + "aa" * 32
B = "03" + "bb" * 32


def test_burst_then_refill() -> None:
    rl = RateLimiter({"default": Rate(1.0, 3)})
    assert [rl.allow(A, "fleet.x", 0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.allow(A, "fleet.x", 0.5) is False
    assert rl.allow(A, "fleet.x", 1.0) is True
    assert rl.allow(A, "fleet.x", 1.0) is False
    # a long pause refills to the burst, never beyond
    assert sum(rl.allow(A, "fleet.x", 1000.0) for _ in range(10)) == 3


def test_senders_are_independent() -> None:
    rl = RateLimiter({"default": Rate(1.0, 1)})
    assert rl.allow(A, "fleet.x", 0.0) and not rl.allow(A, "fleet.x", 0.0)
    assert rl.allow(B, "fleet.x", 0.0)


def test_classes_are_independent_and_default_rates_follow_the_spec() -> None:
    rl = RateLimiter()
    assert rl.class_of("fleet.full_sync") == "sync" and rl.class_of("fleet.other") == "default"
    assert rl.allow(A, "fleet.full_sync", 0.0)
    assert not rl.allow(A, "fleet.full_sync", 59.0)  # 1 per 60 s
    assert rl.allow(A, "fleet.gossip", 59.0)  # another class
    assert rl.allow(A, "fleet.full_sync", 60.0)
    # 1000 peer_available in a minute: at most the burst plus a minute's refill
    accepted = sum(rl.allow(B, "fleet.peer_available", i * 0.06) for i in range(1000))
    assert accepted <= 10 + 10
    assert DEFAULT_RATES["peer_event"].per_s == pytest.approx(10 / 60)


def test_clock_stepping_back_adds_nothing() -> None:
    rl = RateLimiter({"default": Rate(1.0, 1)})
    assert rl.allow(A, "fleet.x", 100.0)
    assert not rl.allow(A, "fleet.x", 50.0)
    assert not rl.allow(A, "fleet.x", 100.5)
    assert rl.allow(A, "fleet.x", 101.0)


def test_check_raises_rate_limited() -> None:
    rl = RateLimiter({"default": Rate(1.0, 1)})
    rl.check(A, "fleet.x", 0.0)
    with pytest.raises(RateLimited, match=r"default rate for fleet\.x") as info:
        rl.check(A, "fleet.x", 0.0)
    assert info.value.rpc_code(20000) == 20008


def test_tracked_senders_are_bounded() -> None:
    rl = RateLimiter({"default": Rate(1.0, 1)}, max_senders=3)
    for i in range(10):
        rl.allow(f"{i:066x}", "fleet.x", 0.0)
    assert rl.tracked_senders() == 3
    # the most recent senders are still limited
    assert not rl.allow(f"{9:066x}", "fleet.x", 0.0)


def test_bad_configuration() -> None:
    with pytest.raises(InvalidInput):
        Rate(0, 1)
    with pytest.raises(InvalidInput):
        RateLimiter({"x": Rate(1, 1)})
    with pytest.raises(InvalidInput):
        RateLimiter({"default": Rate(1, 1)}, {"fleet.x": "nope"})
    with pytest.raises(InvalidInput):
        RateLimiter(max_senders=0)


def test_least_recently_seen_sender_is_forgotten_first() -> None:
    rl = RateLimiter({"default": Rate(1.0, 1)}, max_senders=2)
    assert rl.allow(A, "fleet.x", 0.0)
    assert rl.allow(B, "fleet.x", 0.0)
    assert not rl.allow(A, "fleet.x", 0.0)  # A is now the most recently seen
    assert rl.allow("02" + "cc" * 32, "fleet.x", 0.0)  # evicts B, not A
    assert not rl.allow(A, "fleet.x", 0.0)  # A's empty bucket was kept
    assert rl.allow(B, "fleet.x", 0.0)  # B starts over with a full bucket
