"""The outbox: backoff, acks, idempotence, give-up and persistence across a reopen."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import InvalidInput
from lnhive.core.store import Store
from lnhive.fleet import wire_migrations
from lnhive.fleet.envelope import MalformedEnvelope, verify_envelope
from lnhive.fleet.outbox import ACK_TYPE, Outbox, ack_body, new_ack, parse_ack
from lnhive.fleet.wire import decode_frame, encode_frame
from tests.fleet.conftest import Trio

P = "02" + "aa" * 32
Q = "03" + "bb" * 32
M1 = "11" * 16
M2 = "22" * 16


def _open(
    path: Path,
    clock: VirtualClock,
    *,
    jitter: float = 0.0,
    max_attempts: int = 20,
    max_age_s: float = 86_400.0,
) -> tuple[Store, Outbox]:
    store = Store(path, wire_migrations())
    box = Outbox(store, clock, jitter=jitter, max_attempts=max_attempts, max_age_s=max_age_s)
    return store, box


def test_exponential_backoff_30_60_120_capped(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock)
    assert box.enqueue(P, "8831aa", M1)
    sent_at: list[float] = []
    for _ in range(20_000):
        due = box.due()
        if due:
            assert [d.msg_id for d in due] == [M1]
            sent_at.append(clock.now())
        if len(sent_at) == 10:
            break
        clock.advance(1.0)
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert gaps == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    store.close()


def test_jitter_is_bounded_and_deterministic(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock, jitter=0.25)
    delays = [box.backoff(P, M1, n) for n in range(1, 12)]
    plain = [min(30 * 2 ** (n - 1), 3600) for n in range(1, 12)]
    assert all(p <= d <= 1.25 * p for d, p in zip(delays, plain, strict=True))
    assert delays != plain
    assert delays == [box.backoff(P, M1, n) for n in range(1, 12)]
    store.close()


def test_enqueue_is_idempotent_per_peer(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock)
    assert box.enqueue(P, "8831aa", M1) is True
    assert box.enqueue(P, "8831bb", M1) is False
    assert box.enqueue(Q, "8831aa", M1) is True
    due = box.due()
    assert sorted((d.peer, d.frame_hex, d.attempt) for d in due) == [
        (P, "8831aa", 1),
        (Q, "8831aa", 1),
    ]
    assert box.due() == []  # not due again until the backoff passes
    box.ack(P, M1)
    assert box.enqueue(P, "8831aa", M1) is False  # acked rows are not re-sent
    clock.advance(31)
    assert [(d.peer, d.attempt) for d in box.due()] == [(Q, 2)]
    store.close()


def test_ack_stops_retries(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock)
    box.enqueue(P, "8831aa", M1)
    box.enqueue(P, "8831bb", M2)
    assert len(box.due()) == 2
    assert box.ack(P, M1) is True
    assert box.ack(P, M1) is False
    assert box.ack(Q, M2) is False  # an ack from another peer clears nothing
    clock.advance(3600)
    assert [d.msg_id for d in box.due()] == [M2]
    entry = box.get(P, M1)
    assert entry is not None and entry.status == "acked" and entry.attempts == 1
    assert box.pending_count() == 1 and box.pending_count(Q) == 0
    store.close()


def test_give_up_after_max_attempts_is_recorded(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock, max_attempts=3, max_age_s=10**6)
    box.enqueue(P, "8831aa", M1)
    attempts = []
    for _ in range(1000):
        attempts += [d.attempt for d in box.due()]
        clock.advance(10.0)
    assert attempts == [1, 2, 3]
    entry = box.get(P, M1)
    assert entry is not None and entry.status == "failed"
    assert entry.last_error == "gave up: not acked after 3 attempts"
    assert [e.msg_id for e in box.given_up()] == [M1]
    assert box.ack(P, M1) is False
    store.close()


def test_give_up_by_age_is_recorded(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock, max_age_s=100.0)
    box.enqueue(P, "8831aa", M1)
    assert len(box.due()) == 1
    clock.advance(100.0)
    assert box.due() == []
    entry = box.get(P, M1)
    assert entry is not None and entry.status == "expired"
    assert entry.last_error is not None and "100 s" in entry.last_error
    assert box.prune(clock.now() + 1, keep_s=10) == 0
    assert box.prune(clock.now() + 11, keep_s=10) == 1
    assert box.get(P, M1) is None
    store.close()


def test_explicit_failure(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock)
    box.enqueue(P, "8831aa", M1)
    assert box.fail(P, M1, "peer said invalid")
    entry = box.get(P, M1)
    assert entry is not None and (entry.status, entry.last_error) == ("failed", "peer said invalid")
    assert box.due() == []
    store.close()


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "lnhive-cl-hive.sqlite3"
    clock = VirtualClock(0.0)
    store, box = _open(path, clock)
    box.enqueue(P, "8831aa", M1)
    box.enqueue(P, "8831bb", M2)
    assert len(box.due()) == 2
    box.ack(P, M2)
    store.close()
    clock.advance(29.0)
    store, box = _open(path, clock)
    assert box.due() == []  # the schedule survived
    clock.advance(1.0)
    assert [(d.msg_id, d.attempt, d.frame_hex) for d in box.due()] == [(M1, 2, "8831aa")]
    assert box.enqueue(P, "8831bb", M2) is False
    store.close()


def test_refuses_bad_input(tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    store, box = _open(tmp_path / "o.sqlite3", clock)
    with pytest.raises(InvalidInput):
        box.enqueue("peer", "8831aa", M1)
    with pytest.raises(InvalidInput):
        box.enqueue(P, "8831aa", "xyz")
    with pytest.raises(InvalidInput):
        box.enqueue(P, "", M1)
    with pytest.raises(InvalidInput):
        Outbox(store, clock, base_s=0)
    store.close()


def test_ack_envelope_round_trip(trio: Trio) -> None:
    now = trio.clock.now()
    ack = new_ack(trio.b, trio.b.node_id, M1, now)
    assert ack.type == ACK_TYPE and ack.body == {"ack": M1}
    frame = decode_frame(encode_frame(ack, 0, []))
    got = verify_envelope(trio.a, frame.env, now=now, max_skew_s=300)
    assert parse_ack(got) == M1
    with pytest.raises(MalformedEnvelope):
        parse_ack(type(got)(**{**got.__dict__, "body": {"ack": M1, "x": 1}}))
    with pytest.raises(MalformedEnvelope):
        parse_ack(type(got)(**{**got.__dict__, "type": "fleet.gossip"}))
    with pytest.raises(InvalidInput):
        ack_body("nope")
