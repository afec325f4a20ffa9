"""Seen messages persisted in SQLite: dedupe survives a restart."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lnhive.core.errors import InvalidInput
from lnhive.core.store import Store
from lnhive.fleet import wire_migrations
from lnhive.fleet.dedupe import SeenMessages, migrations

A = "02" + "aa" * 32
B = "03" + "bb" * 32


def _mid(i: int) -> str:
    return f"{i:032x}"


def test_first_time_then_duplicate(tmp_path: Path) -> None:
    with Store(tmp_path / "hive.sqlite3", migrations()) as store:
        seen = SeenMessages(store)
        assert seen.add(_mid(1), sender=A, type="fleet.gossip", now=100.0) is True
        assert seen.add(_mid(1), sender=B, type="fleet.vouch", now=200.0) is False
        assert seen.seen(_mid(1)) and not seen.seen(_mid(2))
        got = seen.get(_mid(1))
        assert got is not None
        assert (got.first_seen, got.sender, got.type) == (100.0, A, "fleet.gossip")
        assert seen.get(_mid(2)) is None


def test_dedupe_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "lnhive-cl-hive.sqlite3"
    with Store(path, wire_migrations()) as store:
        seen = SeenMessages(store)
        for i in range(5):
            assert seen.add(_mid(i), sender=A, type="fleet.gossip", now=1000.0 + i)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with Store(path, wire_migrations()) as store:
        seen = SeenMessages(store)
        assert seen.count() == 5
        assert seen.add(_mid(3), sender=A, type="fleet.gossip", now=2000.0) is False
        assert seen.add(_mid(9), sender=A, type="fleet.gossip", now=2000.0) is True


def test_prune_by_horizon_and_cap(tmp_path: Path) -> None:
    with Store(tmp_path / "hive.sqlite3", migrations()) as store:
        seen = SeenMessages(store, horizon_s=100.0, max_entries=3)
        for i in range(6):
            seen.add(_mid(i), sender=A, type="fleet.gossip", now=float(i * 10))
        # at now=145 the horizon drops first_seen < 45: ids 0..4 are 0,10,20,30,40
        assert seen.prune(145.0) == 5
        assert seen.count() == 1 and seen.seen(_mid(5))
        for i in range(6, 10):
            seen.add(_mid(i), sender=A, type="fleet.gossip", now=150.0 + i)
        assert seen.prune(160.0) == 2  # cap of 3: the two oldest go
        assert not seen.seen(_mid(5)) and not seen.seen(_mid(6))
        assert all(seen.seen(_mid(i)) for i in (7, 8, 9))


def test_refuses_bad_ids_and_settings(tmp_path: Path) -> None:
    with Store(tmp_path / "hive.sqlite3", migrations()) as store:
        seen = SeenMessages(store)
        with pytest.raises(InvalidInput):
            seen.add("not-hex", sender=A, type="fleet.gossip", now=0.0)
        with pytest.raises(InvalidInput):
            SeenMessages(store, horizon_s=0)
