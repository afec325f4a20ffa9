"""Replay protection: strictly increasing nonces, atomic, persisted (spec §5.3, §8 test 3)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lnhive.core.errors import InvalidInput, Replay, Unauthorized
from lnhive.transport.admission import admit_envelope
from lnhive.transport.nonces import NonceRegistry
from tests.transport.keys import ADVISOR, NODE_NOSTR, OTHER_ADVISOR, T0, comms_store, envelope


@pytest.fixture
def registry(tmp_path: Path) -> NonceRegistry:
    return NonceRegistry(comms_store(tmp_path / "comms.sqlite3"))


def test_strictly_increasing(registry: NonceRegistry) -> None:
    registry.consume(ADVISOR, 5, now=T0)
    registry.consume(ADVISOR, 6, now=T0)
    registry.consume(ADVISOR, 100, now=T0)
    for stale in (100, 99, 6, 1):
        with pytest.raises(Replay, match="replay rejected: nonce not monotonic"):
            registry.consume(ADVISOR, stale, now=T0)
    state = registry.last(ADVISOR)
    assert state is not None and state.last_nonce == 100


def test_senders_are_independent(registry: NonceRegistry) -> None:
    registry.consume(ADVISOR, 10, now=T0)
    registry.consume(OTHER_ADVISOR, 1, now=T0)
    with pytest.raises(Replay):
        registry.consume(OTHER_ADVISOR, 1, now=T0)
    assert registry.last("nostr:" + "0" * 64) is None


def test_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "comms.sqlite3"
    store = comms_store(path)
    NonceRegistry(store).consume(ADVISOR, 7, now=T0)
    store.close()
    again = NonceRegistry(comms_store(path))
    with pytest.raises(Replay):
        again.consume(ADVISOR, 7, now=T0 + 1)
    again.consume(ADVISOR, 8, now=T0 + 1)


def test_duplicate_flag(registry: NonceRegistry) -> None:
    registry.consume(ADVISOR, 3, now=T0, request_hash="a" * 64)
    with pytest.raises(Replay) as same:
        registry.consume(ADVISOR, 3, now=T0, request_hash="a" * 64)
    assert same.value.details == {"duplicate": True}
    with pytest.raises(Replay) as other:
        registry.consume(ADVISOR, 3, now=T0, request_hash="b" * 64)
    assert other.value.details == {"duplicate": False}


@pytest.mark.parametrize("bad", [0, -1, True, 2**53])
def test_bad_nonce_values(registry: NonceRegistry, bad: int) -> None:
    with pytest.raises(InvalidInput):
        registry.consume(ADVISOR, bad, now=T0)


def test_concurrent_same_nonce_exactly_one_wins(tmp_path: Path) -> None:
    store = comms_store(tmp_path / "comms.sqlite3")
    registry = NonceRegistry(store)
    threads = 8
    barrier = threading.Barrier(threads)
    wins: list[int] = []
    replays: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        barrier.wait()
        try:
            registry.consume(ADVISOR, 1, now=T0)
        except Replay:
            with lock:
                replays.append(i)
        else:
            with lock:
                wins.append(i)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(wins) == 1
    assert len(replays) == threads - 1


def test_prune_only_after_twice_the_skew(registry: NonceRegistry) -> None:
    registry.consume(ADVISOR, 1, now=T0)
    registry.consume(OTHER_ADVISOR, 1, now=T0 + 1000)
    with pytest.raises(InvalidInput):
        registry.prune(now=T0 + 10_000, older_than_s=599)
    assert registry.prune(now=T0 + 600, older_than_s=600) == 0
    assert registry.prune(now=T0 + 1000, older_than_s=600) == 1
    assert registry.last(ADVISOR) is None
    assert registry.last(OTHER_ADVISOR) is not None


# -- admission: steps 2-5 together --------------------------------------------------------


def test_admit_consumes_nonce_and_refuses_replays(registry: NonceRegistry) -> None:
    env = envelope(nonce=5)
    got = admit_envelope(env, recipient=NODE_NOSTR, now=T0, nonces=registry)
    assert got.nonce == 5
    with pytest.raises(Replay) as again:
        admit_envelope(env, recipient=NODE_NOSTR, now=T0, nonces=registry)
    assert again.value.details == {"duplicate": True}
    with pytest.raises(Replay):
        admit_envelope(envelope(nonce=4), recipient=NODE_NOSTR, now=T0, nonces=registry)
    assert admit_envelope(envelope(nonce=6), recipient=NODE_NOSTR, now=T0, nonces=registry)


def test_unauthenticated_requests_do_not_burn_nonces(registry: NonceRegistry) -> None:
    forged = envelope(nonce=50)
    forged["schema_payload"]["params"]["target_fee_ppm"] = 1
    with pytest.raises(Unauthorized):
        admit_envelope(forged, recipient=NODE_NOSTR, now=T0, nonces=registry)
    assert registry.last(ADVISOR) is None
    assert admit_envelope(envelope(nonce=50), recipient=NODE_NOSTR, now=T0, nonces=registry)


def test_replay_after_restart_through_admission(tmp_path: Path) -> None:
    path = tmp_path / "comms.sqlite3"
    env = envelope(nonce=9)
    store = comms_store(path)
    admit_envelope(env, recipient=NODE_NOSTR, now=T0, nonces=NonceRegistry(store))
    store.close()
    with pytest.raises(Replay):
        admit_envelope(
            env, recipient=NODE_NOSTR, now=T0 + 5, nonces=NonceRegistry(comms_store(path))
        )
