"""cl-revenue-ops persistence: the plugin's SQLite schema and typed access (spec §6.3).

One file per plugin (ARCHITECTURE decision 10): ``lnhive-cl-revenue-ops.sqlite3`` in the
node's network directory unless an option names another path. The schema is a list of
numbered migrations run by :class:`lnhive.core.store.Store` (WAL, mode 0600,
``PRAGMA user_version``); reopening a file applies only the migrations it lacks.

Every method that changes state commits before it returns, unless it runs inside an
outer :meth:`RevenueStore.transaction` (then the outer block commits or rolls back).
Money is integer msat; times are float UNIX seconds passed in by the caller.

Forward dedup: a settled forward is one row. CLN identifies a forward by
``(in_channel, in_htlc_id)``; when the id is missing (the ``forward_event`` schema does
not promise it) the forward is matched by ``(in_channel, out_channel, received time in
ms, in_msat, out_msat)``. Both keys are unique indexes, and a row stored without an
HTLC id is claimed (not duplicated) when the same forward later arrives with one.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from lnhive.core.store import Migration, Store

DEFAULT_FILENAME = "lnhive-cl-revenue-ops.sqlite3"
_T = TypeVar("_T")

_M1_FORWARDS = """
CREATE TABLE forwards (
    id INTEGER PRIMARY KEY, in_channel TEXT NOT NULL, out_channel TEXT NOT NULL,
    in_htlc_id INTEGER, in_msat INTEGER NOT NULL CHECK (in_msat >= 0),
    out_msat INTEGER NOT NULL CHECK (out_msat >= 0), fee_msat INTEGER NOT NULL CHECK (fee_msat >= 0),
    received_time REAL NOT NULL, received_ms INTEGER NOT NULL, resolved_time REAL,
    timestamp REAL NOT NULL, payment_hash TEXT);
CREATE UNIQUE INDEX forwards_htlc ON forwards (in_channel, in_htlc_id) WHERE in_htlc_id IS NOT NULL;
CREATE UNIQUE INDEX forwards_shape ON forwards (in_channel, out_channel, received_ms, in_msat, out_msat)
    WHERE in_htlc_id IS NULL;
CREATE INDEX forwards_match ON forwards (in_channel, out_channel, received_ms, in_msat, out_msat);
CREATE INDEX forwards_time ON forwards (timestamp);
CREATE INDEX forwards_out_time ON forwards (out_channel, timestamp);
CREATE INDEX forwards_in_time ON forwards (in_channel, timestamp);
"""

_M2_POLICIES = """
CREATE TABLE peer_policies (
    peer_id TEXT PRIMARY KEY,
    strategy TEXT NOT NULL CHECK (strategy IN ('dynamic', 'static', 'passive', 'hive')),
    rebalance_mode TEXT NOT NULL
        CHECK (rebalance_mode IN ('enabled', 'disabled', 'source_only', 'sink_only')),
    fee_ppm_target INTEGER CHECK (fee_ppm_target BETWEEN 0 AND 100000),
    tags_json TEXT NOT NULL DEFAULT '[]',
    fee_multiplier_min REAL CHECK (fee_multiplier_min BETWEEN 0.1 AND 5.0),
    fee_multiplier_max REAL CHECK (fee_multiplier_max BETWEEN 0.1 AND 5.0),
    expires_at REAL, updated_at REAL NOT NULL);
CREATE TABLE policy_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, peer_id TEXT NOT NULL, action TEXT NOT NULL,
    timestamp REAL NOT NULL, via_batch INTEGER NOT NULL DEFAULT 0, policy_json TEXT);
CREATE INDEX policy_changes_time ON policy_changes (timestamp);
CREATE INDEX policy_changes_peer ON policy_changes (peer_id, timestamp);
"""

_M3_CONTROLLER = """
CREATE TABLE kalman_state (
    channel_id TEXT PRIMARY KEY, state_json TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE channel_states (
    channel_id TEXT PRIMARY KEY, peer_id TEXT NOT NULL, state TEXT NOT NULL,
    flow_ratio REAL NOT NULL, sats_in INTEGER NOT NULL, sats_out INTEGER NOT NULL,
    capacity_sat INTEGER NOT NULL, confidence REAL NOT NULL, velocity REAL NOT NULL,
    forward_count INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE fee_strategy_state (
    channel_id TEXT PRIMARY KEY, peer_id TEXT NOT NULL, last_fee_ppm INTEGER NOT NULL,
    last_broadcast_fee_ppm INTEGER NOT NULL, last_update REAL NOT NULL,
    is_sleeping INTEGER NOT NULL DEFAULT 0, sleep_until REAL NOT NULL DEFAULT 0,
    v2_state_json TEXT, updated_at REAL NOT NULL);
CREATE TABLE fee_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel_id TEXT NOT NULL, peer_id TEXT NOT NULL,
    old_fee_ppm INTEGER NOT NULL, new_fee_ppm INTEGER NOT NULL, reason TEXT NOT NULL,
    applied INTEGER NOT NULL DEFAULT 1, timestamp REAL NOT NULL);
CREATE INDEX fee_changes_channel_time ON fee_changes (channel_id, timestamp);
CREATE INDEX fee_changes_time ON fee_changes (timestamp);
"""

_M4_CONFIG = """
CREATE TABLE config_overrides (
    key TEXT PRIMARY KEY, value_json TEXT NOT NULL, version INTEGER NOT NULL,
    updated_at REAL NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
"""

# The rebalancer (spec §3, §6.3): the budget ledger (reservations and spend events, sat),
# every attempt's history, the cost of each success and the failures backoff counts.
_M5_REBALANCE = """
CREATE TABLE budget_reservations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, purpose TEXT NOT NULL,
    amount_sat INTEGER NOT NULL CHECK (amount_sat >= 0),
    state TEXT NOT NULL CHECK (state IN ('active', 'spent', 'released')),
    pending INTEGER NOT NULL DEFAULT 0, spent_sat INTEGER, ref TEXT, reason TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX budget_reservations_state ON budget_reservations (state, created_at);
CREATE TABLE spend_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, reservation_id INTEGER, kind TEXT NOT NULL,
    amount_sat INTEGER NOT NULL CHECK (amount_sat >= 0), ref TEXT, timestamp REAL NOT NULL);
CREATE INDEX spend_events_time ON spend_events (timestamp);
CREATE TABLE rebalance_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, from_channel TEXT NOT NULL, to_channel TEXT NOT NULL,
    dest_peer TEXT, amount_sat INTEGER NOT NULL, max_fee_msat INTEGER NOT NULL,
    actual_fee_msat INTEGER, expected_profit_sat REAL, actual_profit_sat REAL,
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'pending_settlement', 'success', 'failed', 'skipped')),
    error TEXT, payment_hash TEXT, label TEXT, reason_code TEXT,
    manual INTEGER NOT NULL DEFAULT 0, reservation_id INTEGER, sent_amount_sat INTEGER,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX rebalance_history_time ON rebalance_history (created_at);
CREATE INDEX rebalance_history_status ON rebalance_history (status);
CREATE TABLE rebalance_costs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rebalance_id INTEGER NOT NULL,
    from_channel TEXT NOT NULL, to_channel TEXT NOT NULL, dest_peer TEXT,
    amount_sat INTEGER NOT NULL, fee_msat INTEGER NOT NULL, dest_ratio_after REAL,
    timestamp REAL NOT NULL);
CREATE INDEX rebalance_costs_to ON rebalance_costs (to_channel, timestamp);
CREATE TABLE rebalance_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, from_channel TEXT NOT NULL, to_channel TEXT NOT NULL,
    dest_peer TEXT, kind TEXT NOT NULL, timestamp REAL NOT NULL);
CREATE INDEX rebalance_failures_pair ON rebalance_failures (from_channel, to_channel, timestamp);
CREATE INDEX rebalance_failures_peer ON rebalance_failures (dest_peer, timestamp);
"""

# Profitability (spec §4, §6.3): recorded costs beside the rebalance ledger, the
# defibrillator's diagnostic attempts, and each channel's last profitability snapshot (its
# bleeder level is the hysteresis state of the next evaluation).
_M6_PROFITABILITY = """
CREATE TABLE channel_costs (
    channel_id TEXT PRIMARY KEY, peer_id TEXT NOT NULL,
    open_cost_sat INTEGER NOT NULL CHECK (open_cost_sat >= 0), source TEXT NOT NULL,
    updated_at REAL NOT NULL);
CREATE TABLE channel_closure_costs (
    channel_id TEXT PRIMARY KEY, peer_id TEXT,
    closure_cost_sat INTEGER NOT NULL CHECK (closure_cost_sat >= 0), timestamp REAL NOT NULL);
CREATE TABLE splice_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel_id TEXT NOT NULL, amount_sat INTEGER,
    cost_sat INTEGER NOT NULL CHECK (cost_sat >= 0), timestamp REAL NOT NULL);
CREATE INDEX splice_events_channel ON splice_events (channel_id, timestamp);
CREATE TABLE diagnostic_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel_id TEXT NOT NULL,
    success INTEGER NOT NULL, timestamp REAL NOT NULL);
CREATE INDEX diagnostic_attempts_channel ON diagnostic_attempts (channel_id, timestamp);
CREATE TABLE channel_profitability (
    channel_id TEXT PRIMARY KEY, peer_id TEXT NOT NULL, classification TEXT NOT NULL,
    bleeder TEXT NOT NULL CHECK (bleeder IN ('none', 'soft', 'hard')),
    roi REAL NOT NULL, marginal_roi REAL NOT NULL, net_msat INTEGER NOT NULL,
    snapshot_json TEXT NOT NULL, updated_at REAL NOT NULL);
"""

# Peer lists (spec §6.1 revenue-ignore/-ban, §6.3 ignored_peers): one row per listed peer;
# a banned peer is also ignored (see :mod:`.peer_lists`).
_M7_PEER_LISTS = """
CREATE TABLE ignored_peers (
    peer_id TEXT PRIMARY KEY, level TEXT NOT NULL CHECK (level IN ('ignored', 'banned')),
    reason TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
"""

# The defibrillator (spec §3.6): each diagnostic attempt names the rebalance that carried it,
# the counterparty channel and its outcome (success | failed | pending until reconciled).
_M8_DIAGNOSTICS = """
ALTER TABLE diagnostic_attempts ADD COLUMN rebalance_id INTEGER;
ALTER TABLE diagnostic_attempts ADD COLUMN counterparty TEXT;
ALTER TABLE diagnostic_attempts ADD COLUMN direction TEXT;
ALTER TABLE diagnostic_attempts ADD COLUMN outcome TEXT;
ALTER TABLE diagnostic_attempts ADD COLUMN fee_msat INTEGER;
"""

MIGRATIONS: tuple[Migration, ...] = (
    _M1_FORWARDS,
    _M2_POLICIES,
    _M3_CONTROLLER,
    _M4_CONFIG,
    _M5_REBALANCE,
    _M6_PROFITABILITY,
    _M7_PEER_LISTS,
    _M8_DIAGNOSTICS,
)
"""Migration *i* (1-based) takes the schema from version *i - 1* to *i*. Append only."""

TABLES: tuple[str, ...] = tuple(
    re.findall(r"CREATE TABLE (\w+)", "".join(m for m in MIGRATIONS if isinstance(m, str)))
)


@dataclass(frozen=True, slots=True)
class ForwardRecord:
    """One settled forward (msat amounts; ``fee_msat = in_msat - out_msat``)."""

    in_channel: str
    out_channel: str
    in_msat: int
    out_msat: int
    fee_msat: int
    received_time: float
    resolved_time: float | None = None
    in_htlc_id: int | None = None
    payment_hash: str | None = None

    @property
    def timestamp(self) -> float:
        """When it settled (``resolved_time``), else when it arrived."""
        return self.received_time if self.resolved_time is None else self.resolved_time


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A ``peer_policies`` row as stored (validation lives in :mod:`.policy`)."""

    peer_id: str
    strategy: str
    rebalance_mode: str
    fee_ppm_target: int | None
    tags: tuple[str, ...]
    fee_multiplier_min: float | None
    fee_multiplier_max: float | None
    expires_at: float | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """A ``policy_changes`` row: ``policy`` is the stored policy after the change (None: deleted)."""

    id: int
    peer_id: str
    action: str
    timestamp: float
    via_batch: bool
    policy: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class StateBlob:
    """A versioned JSON state blob (``kalman_state``); the caller parses and validates it."""

    channel_id: str
    state_json: str
    updated_at: float


@dataclass(frozen=True, slots=True)
class ChannelState:
    channel_id: str
    peer_id: str
    state: str
    flow_ratio: float
    sats_in: int
    sats_out: int
    capacity_sat: int
    confidence: float
    velocity: float
    forward_count: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class FeeStrategyState:
    """``v2_state_json`` is raw text: the controller parses it (corrupt → fresh state)."""

    channel_id: str
    peer_id: str
    last_fee_ppm: int
    last_broadcast_fee_ppm: int
    last_update: float
    is_sleeping: bool
    sleep_until: float
    v2_state_json: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class FeeChange:
    channel_id: str
    peer_id: str
    old_fee_ppm: int
    new_fee_ppm: int
    reason: str
    timestamp: float
    applied: bool = True
    id: int | None = None


_SHAPE = "in_channel = ? AND out_channel = ? AND received_ms = ? AND in_msat = ? AND out_msat = ?"


def _insert_sql(table: str, cols: Iterable[str], verb: str = "INSERT OR REPLACE") -> str:
    """``verb INTO table (cols) VALUES (:col, ...)``: named parameters."""
    names = list(cols)
    return f"{verb} INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + c for c in names)})"


def received_ms(t: float) -> int:
    """The dedup form of a received time: whole milliseconds."""
    return round(t * 1000)


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`` WHERE a AND b`` over the conditions whose value is not None (one value per ``?``)."""
    used = [(sql, value) for sql, value in conditions if value is not None]
    params = [value for sql, value in used for _ in range(sql.count("?"))]
    return (" WHERE " + " AND ".join(sql for sql, _ in used) if used else ""), params


def _forward_filter(
    since: float | None, until: float | None, channel: str | None
) -> tuple[str, list[Any]]:
    return _where(
        ("timestamp >= ?", since),
        ("timestamp < ?", until),
        ("(in_channel = ? OR out_channel = ?)", channel),
    )


def _tags(row: sqlite3.Row) -> tuple[str, ...]:
    return tuple(json.loads(row["tags_json"]))


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _load(cls: type[_T], row: sqlite3.Row, **override: Any) -> _T:
    """A dataclass from the row's columns of the same names; ``override`` converts some."""
    keys = set(row.keys())
    values = {f.name: row[f.name] for f in fields(cls) if f.name in keys}  # type: ignore[arg-type]
    values.update(override)
    return cls(**values)


class RevenueStore:
    """Typed access to cl-revenue-ops' tables over one :class:`~lnhive.core.store.Store`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.db = Store(path, MIGRATIONS)

    @classmethod
    def in_directory(cls, directory: str | os.PathLike[str]) -> RevenueStore:
        """The store at the default file name inside ``directory`` (the network dir)."""
        return cls(os.path.join(os.fspath(directory), DEFAULT_FILENAME))

    @property
    def path(self) -> str:
        return self.db.path

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RevenueStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Group several calls: all commit together or none does."""
        with self.db.transaction() as conn:
            yield conn

    def tables(self) -> list[str]:
        rows = self.db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [r["name"] for r in rows if not r["name"].startswith("sqlite_")]

    # -- forwards --------------------------------------------------------------
    def insert_forwards(self, records: Iterable[ForwardRecord]) -> tuple[int, int]:
        """Store settled forwards in one transaction: ``(stored, duplicates)``."""
        stored = duplicates = 0
        with self.db.transaction() as conn:
            for rec in records:
                if self._insert_forward(conn, rec):
                    stored += 1
                else:
                    duplicates += 1
        return stored, duplicates

    def insert_forward(self, rec: ForwardRecord) -> bool:
        """Store one settled forward; False if it was already there."""
        return self.insert_forwards([rec])[0] == 1

    @staticmethod
    def _insert_forward(conn: sqlite3.Connection, rec: ForwardRecord) -> bool:
        ms = received_ms(rec.received_time)
        shape = (rec.in_channel, rec.out_channel, ms, rec.in_msat, rec.out_msat)
        if rec.in_htlc_id is None:
            if conn.execute(f"SELECT 1 FROM forwards WHERE {_SHAPE} LIMIT 1", shape).fetchone():
                return False
        else:
            # a row stored without an HTLC id for this forward takes the id (OR IGNORE: unless
            # another row already has it, in which case the INSERT below finds the duplicate)
            claimed = conn.execute(
                "UPDATE OR IGNORE forwards SET in_htlc_id = ?, "
                "payment_hash = COALESCE(payment_hash, ?) WHERE id = (SELECT id FROM forwards "
                f"WHERE in_htlc_id IS NULL AND {_SHAPE} ORDER BY id LIMIT 1)",
                (rec.in_htlc_id, rec.payment_hash, *shape),
            )
            if claimed.rowcount:
                return False
        row = asdict(rec)
        row.update(received_ms=ms, timestamp=rec.timestamp)
        cur = conn.execute(_insert_sql("forwards", row, "INSERT") + " ON CONFLICT DO NOTHING", row)
        return cur.rowcount == 1

    def forwards(
        self, *, since: float | None = None, until: float | None = None, channel: str | None = None
    ) -> list[ForwardRecord]:
        """Forwards settled in ``[since, until)``, oldest first; ``channel`` matches in or out."""
        where, params = _forward_filter(since, until, channel)
        rows = self.db.query(f"SELECT * FROM forwards{where} ORDER BY timestamp, id", params)
        return [_load(ForwardRecord, r) for r in rows]

    def forward_totals(
        self, *, since: float | None = None, until: float | None = None, channel: str | None = None
    ) -> tuple[int, int]:
        """``(count, fee_msat sum)`` of the forwards :meth:`forwards` would return."""
        where, params = _forward_filter(since, until, channel)
        sql = f"SELECT COUNT(*), COALESCE(SUM(fee_msat), 0) FROM forwards{where}"
        row = self.db.connection().execute(sql, params).fetchone()
        return int(row[0]), int(row[1])

    # -- peer policies ---------------------------------------------------------
    def get_policy(self, peer_id: str) -> StoredPolicy | None:
        row = self.db.query_one("SELECT * FROM peer_policies WHERE peer_id = ?", (peer_id,))
        return None if row is None else _load(StoredPolicy, row, tags=_tags(row))

    def list_policies(self) -> list[StoredPolicy]:
        rows = self.db.query("SELECT * FROM peer_policies ORDER BY peer_id")
        return [_load(StoredPolicy, r, tags=_tags(r)) for r in rows]

    def put_policy(self, p: StoredPolicy) -> None:
        row = asdict(p)
        row["tags_json"] = json.dumps(list(row.pop("tags")))
        self.db.execute(_insert_sql("peer_policies", row), row)

    def delete_policy(self, peer_id: str) -> bool:
        cur = self.db.execute("DELETE FROM peer_policies WHERE peer_id = ?", (peer_id,))
        return cur.rowcount > 0

    def record_policy_change(
        self,
        peer_id: str,
        action: str,
        timestamp: float,
        policy: Mapping[str, Any] | None,
        *,
        via_batch: bool = False,
    ) -> int:
        policy_json = None if policy is None else json.dumps(dict(policy), sort_keys=True)
        row = dict(peer_id=peer_id, action=action, timestamp=timestamp, via_batch=int(via_batch))
        row["policy_json"] = policy_json
        cur = self.db.execute(_insert_sql("policy_changes", row, "INSERT"), row)
        return int(cur.lastrowid or 0)

    def policy_changes_since(self, since: float) -> list[PolicyChange]:
        """Changes recorded strictly after ``since``, oldest first."""
        rows = self.db.query(
            "SELECT * FROM policy_changes WHERE timestamp > ? ORDER BY timestamp, id", (since,)
        )
        return [
            _load(PolicyChange, r, via_batch=bool(r["via_batch"]), policy=_json(r["policy_json"]))
            for r in rows
        ]

    def count_policy_writes(self, peer_id: str, since: float) -> int:
        """Changes to ``peer_id`` recorded strictly after ``since`` by single writes (not by a
        batch, nor ``expire`` records of the expiry sweep): what the rate limit counts."""
        row = self.db.query_one(
            "SELECT COUNT(*) FROM policy_changes WHERE peer_id = ? AND timestamp > ? "
            "AND via_batch = 0 AND action != 'expire'",
            (peer_id, since),
        )
        return 0 if row is None else int(row[0])

    # -- controller state ------------------------------------------------------
    def get_kalman_state(self, channel_id: str) -> StateBlob | None:
        row = self.db.query_one("SELECT * FROM kalman_state WHERE channel_id = ?", (channel_id,))
        return None if row is None else _load(StateBlob, row)

    def put_kalman_state(self, channel_id: str, state_json: str, now: float) -> None:
        row = {"channel_id": channel_id, "state_json": state_json, "updated_at": now}
        self.db.execute(_insert_sql("kalman_state", row), row)

    def delete_kalman_state(self, channel_id: str) -> bool:
        cur = self.db.execute("DELETE FROM kalman_state WHERE channel_id = ?", (channel_id,))
        return cur.rowcount > 0

    def get_channel_state(self, channel_id: str) -> ChannelState | None:
        row = self.db.query_one("SELECT * FROM channel_states WHERE channel_id = ?", (channel_id,))
        return None if row is None else _load(ChannelState, row)

    def list_channel_states(self) -> list[ChannelState]:
        rows = self.db.query("SELECT * FROM channel_states ORDER BY channel_id")
        return [_load(ChannelState, r) for r in rows]

    def put_channel_state(self, s: ChannelState) -> None:
        row = asdict(s)
        self.db.execute(_insert_sql("channel_states", row), row)

    def get_fee_strategy_state(self, channel_id: str) -> FeeStrategyState | None:
        row = self.db.query_one(
            "SELECT * FROM fee_strategy_state WHERE channel_id = ?", (channel_id,)
        )
        if row is None:
            return None
        return _load(FeeStrategyState, row, is_sleeping=bool(row["is_sleeping"]))

    def put_fee_strategy_state(self, s: FeeStrategyState) -> None:
        row = asdict(s)
        row["is_sleeping"] = int(s.is_sleeping)
        self.db.execute(_insert_sql("fee_strategy_state", row), row)

    def record_fee_change(self, c: FeeChange) -> int:
        row = asdict(c)
        del row["id"]
        row["applied"] = int(c.applied)
        cur = self.db.execute(_insert_sql("fee_changes", row, "INSERT"), row)
        return int(cur.lastrowid or 0)

    def fee_changes(
        self, *, channel_id: str | None = None, since: float | None = None
    ) -> list[FeeChange]:
        """Fee changes, oldest first, optionally for one channel and at or after ``since``."""
        where, params = _where(("channel_id = ?", channel_id), ("timestamp >= ?", since))
        rows = self.db.query(f"SELECT * FROM fee_changes{where} ORDER BY timestamp, id", params)
        return [_load(FeeChange, r, applied=bool(r["applied"])) for r in rows]

    # -- config overrides ------------------------------------------------------
    def config_overrides(self) -> dict[str, Any]:
        """Every persisted override, key → value."""
        rows = self.db.query(
            "SELECT key, value_json FROM config_overrides WHERE deleted = 0 ORDER BY key"
        )
        return {r["key"]: json.loads(r["value_json"]) for r in rows}

    def config_version(self) -> int:
        """How many override writes and deletions there have been (0: none ever)."""
        row = self.db.query_one("SELECT COALESCE(MAX(version), 0) FROM config_overrides")
        return 0 if row is None else int(row[0])

    def set_config_override(self, key: str, value: Any, now: float) -> int:
        """Persist ``key = value`` (JSON-serialisable); returns the new config version."""
        return self._write_config(key, json.dumps(value), now, deleted=False)

    def delete_config_override(self, key: str, now: float) -> bool:
        """Drop an override (the version still moves on); False if there was none."""
        if key not in self.config_overrides():
            return False
        self._write_config(key, "null", now, deleted=True)
        return True

    def _write_config(self, key: str, text: str, now: float, *, deleted: bool) -> int:
        with self.db.transaction() as conn:
            sql = "SELECT COALESCE(MAX(version), 0) + 1 FROM config_overrides"
            version = int(conn.execute(sql).fetchone()[0])
            row = dict(key=key, value_json=text, version=version, updated_at=now)
            row["deleted"] = int(deleted)
            conn.execute(_insert_sql("config_overrides", row), row)
        return version
