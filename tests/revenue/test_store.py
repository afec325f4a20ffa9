"""cl-revenue-ops store: schema, migrations, dedup and typed round trips on real SQLite files."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.core.errors import StoreError
from lnhive.core.store import Store
from lnhive.revenue.store import (
    DEFAULT_FILENAME,
    MIGRATIONS,
    TABLES,
    ChannelState,
    FeeChange,
    FeeStrategyState,
    ForwardRecord,
    RevenueStore,
    StoredPolicy,
)

T0 = 1_767_225_600.0
PEER = "02" + "ab" * 32


def fwd(
    in_ch: str = "100x1x0",
    out_ch: str = "101x2x1",
    in_msat: int = 1_001_000,
    out_msat: int = 1_000_000,
    t: float = T0,
    htlc: int | None = None,
) -> ForwardRecord:
    return ForwardRecord(in_ch, out_ch, in_msat, out_msat, in_msat - out_msat, t, t + 1.5, htlc)


def rows(path: Path, table: str) -> list[tuple[object, ...]]:
    """Rows as another connection sees them (proves the write was committed)."""
    with sqlite3.connect(path) as conn:
        return list(conn.execute(f"SELECT * FROM {table} ORDER BY 1"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / DEFAULT_FILENAME


@pytest.fixture
def store(db_path: Path) -> Iterator[RevenueStore]:
    s = RevenueStore(db_path)
    yield s
    s.close()


def test_file_mode_wal_and_tables(store: RevenueStore, db_path: Path) -> None:
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    mode = store.db.query_one("PRAGMA journal_mode")
    assert mode is not None and mode[0] == "wal"
    assert store.schema_version == len(MIGRATIONS) == 8
    assert len(TABLES) == 19 and set(TABLES) <= set(store.tables())
    assert "v2_state_json" in {
        r["name"] for r in store.db.query("PRAGMA table_info(fee_strategy_state)")
    }
    indexes = {r["name"]: r["unique"] for r in store.db.query("PRAGMA index_list(forwards)")}
    assert indexes["forwards_htlc"] == 1 and indexes["forwards_shape"] == 1
    assert "forwards_time" in indexes


def test_in_directory_uses_default_name(tmp_path: Path) -> None:
    with RevenueStore.in_directory(tmp_path) as s:
        assert s.path == str(tmp_path / "lnhive-cl-revenue-ops.sqlite3")


def test_migrations_idempotent_on_reopen(db_path: Path) -> None:
    with RevenueStore(db_path) as s:
        assert s.insert_forward(fwd())
        s.set_config_override("min_fee_ppm", 75, T0)
    for _ in range(2):
        with RevenueStore(db_path) as s:
            assert s.schema_version == len(MIGRATIONS)
            assert s.forward_totals() == (1, 1000)
            assert s.config_overrides() == {"min_fee_ppm": 75}
    with sqlite3.connect(db_path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert names.count("forwards") == 1


def test_upgrade_from_older_schema_keeps_data(db_path: Path) -> None:
    with Store(db_path, MIGRATIONS[:1]) as old:
        old.execute(
            "INSERT INTO forwards (in_channel, out_channel, in_msat, out_msat, fee_msat, "
            "received_time, received_ms, timestamp) VALUES ('1x1x1', '2x2x2', 10, 9, 1, 5, 5000, 5)"
        )
        assert old.schema_version == 1
    with RevenueStore(db_path) as s:
        assert s.schema_version == len(MIGRATIONS)
        assert s.forward_totals() == (1, 1)
        assert s.get_policy(PEER) is None


def test_newer_schema_is_refused(db_path: Path) -> None:
    RevenueStore(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 9")
    with pytest.raises(StoreError):
        RevenueStore(db_path)


def test_forward_dedup_and_htlc_claim(store: RevenueStore, db_path: Path) -> None:
    assert store.insert_forwards([fwd(), fwd()]) == (1, 1)
    # the same forward reported later with its HTLC id claims the row
    assert store.insert_forwards([fwd(htlc=4)]) == (0, 1)
    assert [r[3] for r in rows(db_path, "forwards")] == [4]
    assert store.insert_forwards([fwd(htlc=4), fwd()]) == (0, 2)
    # equal-shaped MPP parts with distinct HTLC ids are distinct forwards
    assert store.insert_forwards([fwd(htlc=5), fwd(htlc=6)]) == (2, 0)
    # a different time or amount is a different forward
    assert store.insert_forwards([fwd(t=T0 + 0.001), fwd(in_msat=1_002_000)]) == (2, 0)
    assert store.forward_totals() == (5, 4 * 1000 + 2000)
    assert len(rows(db_path, "forwards")) == 5


def test_forward_queries(store: RevenueStore) -> None:
    store.insert_forwards(
        [fwd(t=T0), fwd("100x1x0", "300x1x0", t=T0 + 100), fwd("300x1x0", "101x2x1", t=T0 + 200)]
    )
    assert len(store.forwards()) == 3
    assert [f.received_time for f in store.forwards(since=T0 + 50)] == [T0 + 100, T0 + 200]
    assert [f.received_time for f in store.forwards(until=T0 + 101.5)] == [T0]
    assert len(store.forwards(channel="300x1x0")) == 2
    assert store.forward_totals(channel="101x2x1") == (2, 2000)
    got = store.forwards()[0]
    assert got == fwd() and got.timestamp == T0 + 1.5


def test_failed_batch_rolls_back(store: RevenueStore, db_path: Path) -> None:
    bad = ForwardRecord("1x1x1", "2x2x2", 5, 10, -5, T0)
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_forwards([fwd(), bad])
    assert rows(db_path, "forwards") == []


def test_policy_rows_and_changes(store: RevenueStore, db_path: Path) -> None:
    p = StoredPolicy(PEER, "static", "sink_only", 300, ("a", "b"), 0.5, 2.0, T0 + 60, T0)
    store.put_policy(p)
    assert store.get_policy(PEER) == p
    assert len(rows(db_path, "peer_policies")) == 1
    assert store.list_policies() == [p]
    store.record_policy_change(PEER, "set", T0, {"strategy": "static"})
    store.record_policy_change(PEER, "tag", T0 + 1, {"tags": ["a"]}, via_batch=True)
    changes = store.policy_changes_since(T0 - 1)
    assert [(c.action, c.via_batch) for c in changes] == [("set", False), ("tag", True)]
    assert changes[0].policy == {"strategy": "static"}
    assert [c.action for c in store.policy_changes_since(T0)] == ["tag"]
    assert store.count_policy_writes(PEER, T0 - 60) == 1
    assert store.delete_policy(PEER) and not store.delete_policy(PEER)
    assert store.get_policy(PEER) is None
    with pytest.raises(sqlite3.IntegrityError):
        store.put_policy(StoredPolicy(PEER, "foo", "enabled", None, (), None, None, None, T0))


def test_controller_state_round_trips(db_path: Path) -> None:
    cs = ChannelState("100x1x0", PEER, "source", 0.4, 10, 20, 1_000_000, 0.8, 0.01, 3, T0)
    fs = FeeStrategyState("100x1x0", PEER, 250, 240, T0, True, T0 + 3600, '{"v": 2}', T0)
    with RevenueStore(db_path) as s:
        s.put_kalman_state("100x1x0", '{"v": 1, "x": [0.5, 0.0]}', T0)
        s.put_channel_state(cs)
        s.put_fee_strategy_state(fs)
        s.put_fee_strategy_state(fs)  # replace, not duplicate
        assert s.record_fee_change(FeeChange("100x1x0", PEER, 200, 250, "dts", T0)) == 1
        s.record_fee_change(FeeChange("200x1x0", PEER, 50, 60, "floor", T0 + 5, applied=False))
    with RevenueStore(db_path) as s:
        blob = s.get_kalman_state("100x1x0")
        assert blob is not None and blob.state_json == '{"v": 1, "x": [0.5, 0.0]}'
        assert s.get_channel_state("100x1x0") == cs and s.list_channel_states() == [cs]
        assert s.get_fee_strategy_state("100x1x0") == fs
        assert s.get_fee_strategy_state("999x1x0") is None
        changes = s.fee_changes()
        assert [(c.new_fee_ppm, c.applied, c.id) for c in changes] == [
            (250, True, 1),
            (60, False, 2),
        ]
        assert [c.reason for c in s.fee_changes(channel_id="200x1x0")] == ["floor"]
        assert [c.reason for c in s.fee_changes(since=T0 + 1)] == ["floor"]
        assert s.delete_kalman_state("100x1x0") and s.get_kalman_state("100x1x0") is None
    assert len(rows(db_path, "fee_strategy_state")) == 1


def test_config_overrides_versioned(store: RevenueStore, db_path: Path) -> None:
    assert store.config_version() == 0
    assert store.set_config_override("min_fee_ppm", 60, T0) == 1
    assert store.set_config_override("fee_profile", "active", T0) == 2
    assert store.set_config_override("min_fee_ppm", 70, T0 + 1) == 3
    assert store.config_overrides() == {"fee_profile": "active", "min_fee_ppm": 70}
    assert store.config_version() == 3
    assert len(rows(db_path, "config_overrides")) == 2
    assert store.delete_config_override("fee_profile", T0 + 2)
    assert not store.delete_config_override("fee_profile", T0 + 3)
    assert store.config_overrides() == {"min_fee_ppm": 70}
    assert store.config_version() == 4  # a deletion moves the version on, never back
    assert store.set_config_override("fee_profile", "passive", T0 + 4) == 5
    assert store.config_overrides()["fee_profile"] == "passive"


def test_transaction_groups_calls(store: RevenueStore, db_path: Path) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_forward(fwd())
        store.record_policy_change(PEER, "set", T0, None)
        raise RuntimeError("boom")
    assert rows(db_path, "forwards") == [] and rows(db_path, "policy_changes") == []
    with store.transaction():
        store.insert_forward(fwd())
        store.record_policy_change(PEER, "set", T0, None)
    assert len(rows(db_path, "forwards")) == 1 and len(rows(db_path, "policy_changes")) == 1
