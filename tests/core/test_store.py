from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from lnhive.core.errors import InvalidInput, StoreError
from lnhive.core.store import Store

MIGRATIONS: list[str] = [
    "CREATE TABLE peers (id TEXT PRIMARY KEY, alias TEXT NOT NULL);",
    """
    CREATE TABLE channels (
        scid TEXT PRIMARY KEY,
        peer_id TEXT NOT NULL REFERENCES peers(id),
        note TEXT DEFAULT 'a;b'
    );
    CREATE INDEX channels_peer ON channels(peer_id);
    """,
]


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_file_0600_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "lnhive-test.sqlite3"
    store = Store(path, MIGRATIONS)
    try:
        assert path.exists()
        assert _mode(path) == 0o600
        assert store.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
        assert store.query_one("PRAGMA foreign_keys")[0] == 1  # type: ignore[index]
        assert store.query_one("PRAGMA busy_timeout")[0] == 5000  # type: ignore[index]
        assert store.schema_version == 2
        store.execute("INSERT INTO peers VALUES (?, ?)", ("02aa", "alice"))
        wal = Path(str(path) + "-wal")
        assert wal.exists()
        assert _mode(wal) == 0o600
        with pytest.raises(sqlite3.IntegrityError):
            store.execute("INSERT INTO channels (scid, peer_id) VALUES ('1x1x1', 'nobody')")
    finally:
        store.close()


def test_existing_wider_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "wide.sqlite3"
    path.touch()
    os.chmod(path, 0o644)
    Store(path, []).close()
    assert _mode(path) == 0o600


def test_memory_and_uri_paths_refused(tmp_path: Path) -> None:
    for bad in (":memory:", "", "file::memory:?cache=shared"):
        with pytest.raises(InvalidInput):
            Store(bad, MIGRATIONS)


def test_migrations_idempotent_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    calls: list[int] = []

    def third(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("ALTER TABLE peers ADD COLUMN score INTEGER NOT NULL DEFAULT 0")

    with Store(path, MIGRATIONS) as store:
        store.execute("INSERT INTO peers (id, alias) VALUES ('02aa', 'alice')")
        assert store.schema_version == 2
    with Store(path, MIGRATIONS) as store:
        assert store.schema_version == 2
        assert [tuple(r) for r in store.query("SELECT id, alias FROM peers")] == [("02aa", "alice")]
    with Store(path, [*MIGRATIONS, third]) as store:
        assert store.schema_version == 3
        assert store.query_one("SELECT score FROM peers WHERE id = ?", ("02aa",))["score"] == 0  # type: ignore[index]
    with Store(path, [*MIGRATIONS, third]) as store:
        assert store.schema_version == 3
    assert calls == [1]


def test_failing_migration_rolls_back_and_names_number(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    Store(path, MIGRATIONS).close()
    bad = "CREATE TABLE fees (x INTEGER); INSERT INTO nowhere VALUES (1);"
    with pytest.raises(StoreError) as info:
        Store(path, [*MIGRATIONS, bad])
    assert "migration 3" in info.value.message
    assert info.value.details == {"migration": 3}
    assert info.value.rpc_message().startswith("store_error: migration 3 failed")
    with Store(path, MIGRATIONS) as store:
        assert store.schema_version == 2
        # The first statement of the failed migration was rolled back too.
        tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master")}
        assert "fees" not in tables
        assert "channels" in tables


def test_failing_callable_migration_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"

    def boom(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    with pytest.raises(StoreError, match="migration 1 failed: boom"):
        Store(path, [boom])
    with Store(path, []) as store:
        assert store.schema_version == 0
        assert store.query("SELECT name FROM sqlite_master WHERE name = 'half'") == []


def test_newer_database_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    Store(path, MIGRATIONS).close()
    with pytest.raises(StoreError, match="newer"):
        Store(path, MIGRATIONS[:1])


def test_script_splitting_handles_triggers_and_comments(tmp_path: Path) -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE log (msg TEXT);
    CREATE TABLE t (x INTEGER);
    CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
        INSERT INTO log VALUES ('inserted; ' || NEW.x);
    END;
    /* trailing comment */
    """
    with Store(tmp_path / "db.sqlite3", [script]) as store:
        store.execute("INSERT INTO t VALUES (7)")
        assert store.query_one("SELECT msg FROM log")["msg"] == "inserted; 7"  # type: ignore[index]


def test_transaction_commits_and_rolls_back(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3", MIGRATIONS) as store:
        with store.transaction() as conn:
            conn.execute("INSERT INTO peers VALUES ('a', 'A')")
            conn.execute("INSERT INTO peers VALUES ('b', 'B')")
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute("INSERT INTO peers VALUES ('c', 'C')")
            raise RuntimeError("abort")
        ids = [r["id"] for r in store.query("SELECT id FROM peers ORDER BY id")]
        assert ids == ["a", "b"]
        assert not store.connection().in_transaction


def test_nested_transaction_is_a_savepoint(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3", MIGRATIONS) as store:
        with store.transaction() as conn:
            conn.execute("INSERT INTO peers VALUES ('a', 'A')")
            with pytest.raises(ValueError), store.transaction() as inner:
                inner.execute("INSERT INTO peers VALUES ('b', 'B')")
                raise ValueError("inner")
            conn.execute("INSERT INTO peers VALUES ('c', 'C')")
        ids = [r["id"] for r in store.query("SELECT id FROM peers ORDER BY id")]
        assert ids == ["a", "c"]


def test_savepoints_nest_three_deep_and_unwind_only_their_own_level(tmp_path: Path) -> None:
    """Every level shares one savepoint name: RELEASE and ROLLBACK TO must still act on
    the innermost level only."""
    with Store(tmp_path / "db.sqlite3", MIGRATIONS) as store:
        with store.transaction() as conn:
            conn.execute("INSERT INTO peers VALUES ('a', 'A')")
            with store.transaction() as mid:
                mid.execute("INSERT INTO peers VALUES ('b', 'B')")
                with pytest.raises(ValueError), store.transaction() as inner:
                    inner.execute("INSERT INTO peers VALUES ('c', 'C')")
                    raise ValueError("innermost")
                with store.transaction() as inner:
                    inner.execute("INSERT INTO peers VALUES ('d', 'D')")
            with pytest.raises(KeyError), store.transaction() as mid:
                mid.execute("INSERT INTO peers VALUES ('e', 'E')")
                with store.transaction() as inner:
                    inner.execute("INSERT INTO peers VALUES ('f', 'F')")
                raise KeyError("middle")
            assert conn.in_transaction
        ids = [r["id"] for r in store.query("SELECT id FROM peers ORDER BY id")]
        assert ids == ["a", "b", "d"]
        assert not store.connection().in_transaction


def test_committed_data_visible_to_other_store(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with Store(path, MIGRATIONS) as a, Store(path, MIGRATIONS) as b:
        with a.transaction() as conn:
            conn.execute("INSERT INTO peers VALUES ('x', 'X')")
        assert b.query_one("SELECT alias FROM peers WHERE id = 'x'")["alias"] == "X"  # type: ignore[index]
        assert b.query_one("SELECT alias FROM peers WHERE id = 'nope'") is None


def test_per_thread_connections_concurrent(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3", MIGRATIONS)
    n_threads, per_thread = 8, 25
    conns: dict[int, int] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            conns[t] = id(store.connection())
            assert store.connection() is store.connection()
            for i in range(per_thread):
                with store.transaction() as conn:
                    conn.execute("INSERT INTO peers VALUES (?, ?)", (f"{t}-{i}", "x"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    try:
        assert errors == []
        assert len(set(conns.values())) == n_threads
        assert store.query_one("SELECT COUNT(*) AS n FROM peers")["n"] == n_threads * per_thread  # type: ignore[index]
        assert id(store.connection()) not in conns.values()
    finally:
        store.close()


def test_close_closes_every_connection(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3", MIGRATIONS)
    main = store.connection()
    other: list[sqlite3.Connection] = []
    th = threading.Thread(target=lambda: other.append(store.connection()))
    th.start()
    th.join()
    store.close()
    for conn in (main, other[0]):
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    with pytest.raises(StoreError, match="closed"):
        store.connection()
