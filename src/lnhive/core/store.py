"""The SQLite store every plugin keeps its state in (ARCHITECTURE decision 10).

One file per plugin, mode 0600, WAL journal, ``foreign_keys=ON``, a busy timeout,
and numbered migrations tracked by ``PRAGMA user_version``: migration *i* (1-based)
takes the schema from version *i - 1* to *i* inside one ``BEGIN IMMEDIATE``
transaction, so it applies completely or not at all, once, even when several
processes open the file together. Each thread gets its own connection.
Connections run in autocommit mode: a lone :meth:`Store.execute` is committed when
it returns; :meth:`Store.transaction` groups statements.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from lnhive.core.errors import InvalidInput, StoreError

Migration = str | Callable[[sqlite3.Connection], None]
"""SQL text (one or more statements) or a function given the connection."""

Params = Sequence[Any] | Mapping[str, Any]

FILE_MODE = 0o600


class Store:
    """A SQLite file with migrations and one connection per thread."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        migrations: Sequence[Migration],
        *,
        busy_timeout_ms: int = 5000,
    ) -> None:
        p = os.fspath(path)
        if p in ("", ":memory:") or p.startswith("file:"):
            raise InvalidInput(f"store path must be a file on disk, not {p!r}")
        self._path = p
        self._migrations = list(migrations)
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._create_file()
        self._migrate()

    @property
    def path(self) -> str:
        return self._path

    @property
    def schema_version(self) -> int:
        """The ``user_version`` of the file: how many migrations it has."""
        row = self.connection().execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _create_file(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            try:
                if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
                    os.fchmod(fd, FILE_MODE)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"cannot create {self._path}: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._path}: {exc}") from exc
        if str(mode).lower() != "wal":
            conn.close()
            raise StoreError(f"cannot put {self._path} in WAL mode (got {mode})")
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise StoreError("store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            with self._lock:
                if self._closed:
                    conn.close()
                    raise StoreError("store is closed")
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` if the block raises.

        Nested use in the same thread becomes a savepoint of the outer transaction.
        """
        conn = self.connection()
        if conn.in_transaction:
            # One name for every level: savepoints nest, and RELEASE / ROLLBACK TO act on
            # the innermost one of that name, which is this block's. A fixed text also
            # keeps the statements in sqlite3's statement cache (a fresh name per
            # savepoint was prepared anew every time and evicted the useful statements).
            conn.execute("SAVEPOINT lnhive_sp")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK TO lnhive_sp")
                conn.execute("RELEASE lnhive_sp")
                raise
            conn.execute("RELEASE lnhive_sp")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        """Run one statement on this thread's connection."""
        return self.connection().execute(sql, params)

    def executemany(self, sql: str, seq: Sequence[Params]) -> sqlite3.Cursor:
        """Run one statement for each parameter set."""
        return self.connection().executemany(sql, seq)

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        return list(self.connection().execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a query, or ``None``."""
        row: sqlite3.Row | None = self.connection().execute(sql, params).fetchone()
        return row

    def close(self) -> None:
        """Close every connection this store opened, in any thread."""
        with self._lock:
            self._closed = True
            conns, self._connections = self._connections, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        conn = self.connection()
        latest = len(self._migrations)
        current = self.schema_version
        if current > latest:
            raise StoreError(
                f"{self._path} has schema version {current}, newer than this code's {latest}",
                details={"schema_version": current, "known": latest},
            )
        for number in range(current + 1, latest + 1):
            migration = self._migrations[number - 1]
            try:
                conn.execute("BEGIN IMMEDIATE")
                # Another process may have applied it while we waited for the lock.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    conn.execute("COMMIT")
                    continue
                if isinstance(migration, str):
                    _run_script(conn, migration)
                else:
                    migration(conn)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except Exception as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(
                    f"migration {number} failed: {exc}", details={"migration": number}
                ) from exc


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run the statements of ``script`` one by one inside the open transaction.

    (``executescript`` would commit first.) Statements are cut where SQLite says a
    statement is complete, so ``;`` inside strings or trigger bodies is safe.
    """
    buffer = ""
    pieces = script.split(";")
    for index, piece in enumerate(pieces):
        buffer += piece if index == len(pieces) - 1 else piece + ";"
        if sqlite3.complete_statement(buffer):
            conn.execute(buffer)
            buffer = ""
    if buffer.strip():
        if not sqlite3.complete_statement(buffer + "\n;"):
            raise sqlite3.OperationalError(f"incomplete SQL statement: {buffer.strip()!r}")
        conn.execute(buffer)
