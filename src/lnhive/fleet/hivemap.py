"""HiveMap: each member's state record, authored and signed by that member (spec §3).

A record is the body of a ``fleet.gossip`` envelope signed by the member it describes::

    {"version": 7,                       # strictly increasing per author, persisted
     "capacity_sats": 5000000,           # our normal channels to members
     "available_sats": 2100000,          # our side of those
     "channel_count": 9,                 # all our normal channels
     "external_capacity_sats": 40000000, # normal channels to non-members
     "fee_policy": {"base_fee": 1000, "fee_rate": 200, "min_htlc": 1,
                    "max_htlc": 990000000, "cltv_delta": 34},   # medians, msat/ppm/blocks
     "topology": ["02…", …],             # external peers with normal channels (<= 200)
     "hive_peers": ["03…", …],           # members we are connected to (relay pruning)
     "addresses": ["203.0.113.5:9735"],  # where to reach us (<= 8)
     "health": 80,                       # 0..100: share of our channels that are usable
     "liquidity_needs": [{"peer_id": "02…", "need": "inbound"|"outbound",
                          "amount_sats": 500000}],   # <= 20
     "capabilities": ["proto-v1"]}

The envelope is stored verbatim (``hive_state``), so anti-entropy can hand a peer the
author's own signed record instead of a copy it would have to trust. A record replaces
the stored one only with a higher ``version`` (version wins; the same version twice is
a duplicate). A record older than :data:`STALE_AFTER_S` is *stale*: still kept and
hashed (so every node hashes the same set), flagged in ``hive-members``.

``fleet_hash`` (spec §3.3) = lowercase hex SHA-256 of JCS of
``[[peer_id, version, ts], …]`` sorted by ``peer_id``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.canonical import canonical_json
from lnhive.core.hashing import sha256_hex
from lnhive.core.store import Store
from lnhive.fleet.envelope import Envelope, MalformedEnvelope, is_node_id, parse_envelope

GOSSIP = "fleet.gossip"
STALE_AFTER_S = 3_600.0
MAX_TOPOLOGY = 200
MAX_ADDRESSES = 8
MAX_NEEDS = 20
MAX_SATS = 21_000_000 * 100_000_000
FEE_KEYS: tuple[str, ...] = ("base_fee", "fee_rate", "min_htlc", "max_htlc", "cltv_delta")
MAX_FEE_VALUE = 10_000_000_000_000
"""``max_htlc`` is in msat, so fee policy values may reach a channel's size in msat."""
NORMAL = "CHANNELD_NORMAL"
FIELDS = frozenset(
    {
        "version",
        "capacity_sats",
        "available_sats",
        "channel_count",
        "external_capacity_sats",
        "fee_policy",
        "topology",
        "hive_peers",
        "addresses",
        "health",
        "liquidity_needs",
        "capabilities",
    }
)

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE hive_state (
        peer_id     TEXT PRIMARY KEY,
        version     INTEGER NOT NULL,
        ts          INTEGER NOT NULL,
        envelope    TEXT NOT NULL,
        received_at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
)


def migrations() -> list[str]:
    return list(_MIGRATIONS)


def _int(body: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    value = body.get(key)
    if type(value) is not int or not lo <= value <= hi:
        raise MalformedEnvelope(f"{GOSSIP}: {key} must be an integer {lo}..{hi}")
    return value


def _ids(value: object, key: str, limit: int) -> list[str]:
    if not isinstance(value, list) or len(value) > limit:
        raise MalformedEnvelope(f"{GOSSIP}: {key} must be a list of at most {limit} node ids")
    if not all(is_node_id(v) for v in value) or len(set(value)) != len(value):
        raise MalformedEnvelope(f"{GOSSIP}: {key} must hold distinct node ids")
    return list(value)


_ADDR_RE = re.compile(r"[\x21-\x7e]{1,256}")


def check_record(body: Mapping[str, Any]) -> int:
    """Raise :class:`MalformedEnvelope` unless ``body`` is a valid record; return its version."""
    keys = set(body)
    if keys != FIELDS:
        missing, extra = sorted(FIELDS - keys), sorted(str(k) for k in keys - FIELDS)
        raise MalformedEnvelope(f"{GOSSIP}: missing {missing}, unknown {extra}")
    version = _int(body, "version", 1, 2**53 - 1)
    capacity = _int(body, "capacity_sats", 0, MAX_SATS)
    available = _int(body, "available_sats", 0, MAX_SATS)
    if available > capacity:
        raise MalformedEnvelope(f"{GOSSIP}: available_sats exceeds capacity_sats")
    _int(body, "channel_count", 0, 100_000)
    _int(body, "external_capacity_sats", 0, MAX_SATS)
    _int(body, "health", 0, 100)
    fees = body["fee_policy"]
    if not isinstance(fees, dict) or set(fees) != set(FEE_KEYS):
        raise MalformedEnvelope(f"{GOSSIP}: fee_policy must have exactly {', '.join(FEE_KEYS)}")
    for key in FEE_KEYS:
        _int(fees, key, 0, MAX_FEE_VALUE)
    _ids(body["topology"], "topology", MAX_TOPOLOGY)
    _ids(body["hive_peers"], "hive_peers", 1_000)
    addresses = body["addresses"]
    if not isinstance(addresses, list) or len(addresses) > MAX_ADDRESSES:
        raise MalformedEnvelope(f"{GOSSIP}: addresses must be a list of at most {MAX_ADDRESSES}")
    if not all(isinstance(a, str) and _ADDR_RE.fullmatch(a) for a in addresses):
        raise MalformedEnvelope(f"{GOSSIP}: each address is 1-256 printable characters")
    caps = body["capabilities"]
    if (
        not isinstance(caps, list)
        or len(caps) > 32
        or not all(isinstance(c, str) and re.fullmatch(r"[a-z0-9-]{1,32}", c) for c in caps)
    ):
        raise MalformedEnvelope(f"{GOSSIP}: capabilities must be up to 32 lowercase names")
    needs = body["liquidity_needs"]
    if not isinstance(needs, list) or len(needs) > MAX_NEEDS:
        raise MalformedEnvelope(f"{GOSSIP}: liquidity_needs must be a list of at most {MAX_NEEDS}")
    for need in needs:
        if (
            not isinstance(need, dict)
            or set(need) != {"peer_id", "need", "amount_sats"}
            or not is_node_id(need["peer_id"])
            or need["need"] not in ("inbound", "outbound")
        ):
            raise MalformedEnvelope(
                f"{GOSSIP}: a liquidity need is {{peer_id, need: inbound|outbound, amount_sats}}"
            )
        _int(need, "amount_sats", 1, MAX_SATS)
    return version


@dataclass(frozen=True)
class Snapshot:
    """What this node would say about itself now (the record without ``version``)."""

    body: dict[str, Any]

    def capacity(self) -> int:
        return int(self.body["capacity_sats"])

    def differs(self, last: Mapping[str, Any] | None, threshold: float) -> str | None:
        """Why this snapshot is worth gossiping against the ``last`` record sent, or None."""
        if last is None:
            return "first"
        old = int(last["capacity_sats"])
        new = self.capacity()
        if old == 0 and new > 0:
            return "capacity"
        if old > 0 and abs(new - old) / old > threshold:
            return "capacity"
        for key in ("fee_policy", "liquidity_needs", "addresses"):
            if self.body[key] != last.get(key):
                return key
        for key in ("topology", "hive_peers"):
            if set(self.body[key]) != set(last.get(key, [])):
                return key
        return None


def _median(values: Iterable[int]) -> int:
    vals = list(values)
    return int(statistics.median_low(vals)) if vals else 0


def _msat(value: object) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("msat"):
        return int(value[:-4])
    return 0


def snapshot(node: NodeApi, me: str, members: set[str], needs: list[dict[str, Any]]) -> Snapshot:
    """Build this node's record from ``listpeerchannels``, ``listpeers`` and ``getinfo``."""
    channels = node.listpeerchannels().get("channels", [])
    normal = [c for c in channels if c.get("state") == NORMAL]
    to_members = [c for c in normal if c.get("peer_id") in members]
    external = [c for c in normal if c.get("peer_id") not in members]
    capacity = sum(_msat(c.get("total_msat")) for c in to_members) // 1000
    available = sum(_msat(c.get("to_us_msat")) for c in to_members) // 1000
    updates = [c.get("updates", {}).get("local", {}) for c in external or normal]
    fee_policy = {
        "base_fee": _median(_msat(u.get("fee_base_msat")) for u in updates),
        "fee_rate": _median(int(u.get("fee_proportional_millionths", 0)) for u in updates),
        "min_htlc": _median(_msat(u.get("htlc_minimum_msat")) for u in updates),
        "max_htlc": _median(_msat(u.get("htlc_maximum_msat")) for u in updates),
        "cltv_delta": _median(int(u.get("cltv_expiry_delta", 0)) for u in updates),
    }
    topology = sorted({str(c["peer_id"]) for c in external})[:MAX_TOPOLOGY]
    peers = node.listpeers().get("peers", [])
    hive_peers = sorted(
        str(p["id"]) for p in peers if p.get("connected") and p.get("id") in members
    )
    info = node.getinfo()
    addresses = [
        f"{a.get('address')}:{a.get('port')}" for a in info.get("address", []) if a.get("address")
    ][:MAX_ADDRESSES]
    usable = sum(1 for c in channels if c.get("state") == NORMAL and c.get("peer_connected"))
    health = 100 if not channels else round(100 * usable / len(channels))
    body = {
        "capacity_sats": capacity,
        "available_sats": min(available, capacity),
        "channel_count": len(normal),
        "external_capacity_sats": sum(_msat(c.get("total_msat")) for c in external) // 1000,
        "fee_policy": fee_policy,
        "topology": topology,
        "hive_peers": [p for p in hive_peers if p != me],
        "addresses": addresses,
        "health": health,
        "liquidity_needs": needs[:MAX_NEEDS],
        "capabilities": ["proto-v1"],
    }
    return Snapshot(body)


def fleet_hash(rows: Iterable[tuple[str, int, int]]) -> str:
    """Hex SHA-256 of JCS ``[[peer_id, version, ts], …]`` sorted by ``peer_id``."""
    return sha256_hex(canonical_json(sorted([list(r) for r in rows])))


@dataclass(frozen=True)
class StateRow:
    peer_id: str
    version: int
    ts: int
    envelope: Envelope
    received_at: float

    @property
    def record(self) -> dict[str, Any]:
        return self.envelope.body

    def stale(self, now: float) -> bool:
        return now - self.ts > STALE_AFTER_S


class HiveMap:
    """The ``hive_state`` table: the newest signed record of every member."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _row(self, row: sqlite3.Row) -> StateRow:
        return StateRow(
            peer_id=str(row["peer_id"]),
            version=int(row["version"]),
            ts=int(row["ts"]),
            envelope=parse_envelope(json.loads(row["envelope"])),
            received_at=float(row["received_at"]),
        )

    def get(self, peer_id: str) -> StateRow | None:
        row = self.store.query_one("SELECT * FROM hive_state WHERE peer_id = ?", (peer_id,))
        return None if row is None else self._row(row)

    def all(self) -> list[StateRow]:
        return [self._row(r) for r in self.store.query("SELECT * FROM hive_state ORDER BY peer_id")]

    def versions(self) -> dict[str, int]:
        rows = self.store.query("SELECT peer_id, version FROM hive_state")
        return {str(r[0]): int(r[1]) for r in rows}

    def offer(self, env: Envelope, now: float) -> bool:
        """Store ``env`` (a verified ``fleet.gossip``) if its version is newer."""
        version = check_record(env.body)
        cur = self.store.execute(
            "INSERT INTO hive_state (peer_id, version, ts, envelope, received_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (peer_id) DO UPDATE SET "
            "version = excluded.version, ts = excluded.ts, envelope = excluded.envelope, "
            "received_at = excluded.received_at WHERE excluded.version > hive_state.version",
            (env.sender, version, env.ts, env.canonical().decode(), float(now)),
        )
        return cur.rowcount == 1

    def forget(self, peer_ids: set[str]) -> int:
        """Drop records of nodes that are no longer members."""
        dropped = 0
        for peer in peer_ids:
            dropped += self.store.execute(
                "DELETE FROM hive_state WHERE peer_id = ?", (peer,)
            ).rowcount
        return dropped

    def fleet_hash(self, members: set[str]) -> str:
        rows = self.store.query("SELECT peer_id, version, ts FROM hive_state")
        return fleet_hash((str(r[0]), int(r[1]), int(r[2])) for r in rows if str(r[0]) in members)
