"""Promotion from neophyte to member by vouches (spec §1.5), as evidence.

A member vouches for a neophyte with ``fleet.vouch`` ``{"hive_id", "target"}``
(origin-signed, relayed; one per voucher and target counts, no self-vouch, valid 7
days). Whoever sees enough vouches signs ``fleet.promotion``::

    {"hive_id", "target", "vouches": [<vouch envelopes>]}

which is membership evidence: every node re-verifies the embedded vouches and sets the
target's tier to ``member`` when the vouchers are distinct ``member``-tier nodes and
reach the quorum — 1 while the hive has a single member, else
``max(2, ceil(0.51 · members))`` (members 1, 2, 3, 4, 10 → 1, 2, 2, 3, 6).

Bootstrap (spec §1.2): while the hive has fewer than :data:`MIN_VOUCH_COUNT` members, a
member may promote with no vouches (``hive-force-promote``); every node checks that
condition against its roster when it applies the evidence.

Quorum counts all ``member``-tier nodes of the roster, not only recently seen ones, so
that every node decides a promotion identically from the same evidence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lnhive.core.store import Store
from lnhive.fleet.envelope import Envelope, MalformedEnvelope, is_node_id, parse_envelope
from lnhive.fleet.roster import body_hive_id

VOUCH, PROMOTION = "fleet.vouch", "fleet.promotion"
VOUCH_TTL_S = 7 * 86_400
MIN_VOUCH_COUNT = 3
MAX_VOUCHES = 50

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE promotion_vouches (
        target   TEXT NOT NULL,
        voucher  TEXT NOT NULL,
        ts       INTEGER NOT NULL,
        envelope TEXT NOT NULL,
        PRIMARY KEY (target, voucher)
    ) WITHOUT ROWID;
    """,
)


def migrations() -> list[str]:
    return list(_MIGRATIONS)


def quorum(members: int) -> int:
    """Vouches a promotion needs with ``members`` member-tier nodes in the roster."""
    if members <= 1:
        return 1
    return max(2, math.ceil(0.51 * members))


@dataclass(frozen=True)
class Vouch:
    envelope: Envelope
    hive_id: str
    target: str

    @property
    def voucher(self) -> str:
        return self.envelope.sender


def vouch_body(hive_id: str, target: str) -> dict[str, Any]:
    return {"hive_id": hive_id, "target": target}


def check_vouch(env: Envelope) -> Vouch:
    if env.type != VOUCH:
        raise MalformedEnvelope(f"expected a {VOUCH}, got {env.type}")
    if set(env.body) != {"hive_id", "target"}:
        raise MalformedEnvelope(f"{VOUCH} body must be exactly {{hive_id, target}}")
    hive_id = body_hive_id(env.body, VOUCH)
    target = env.body["target"]
    if not is_node_id(target) or target == env.sender:
        raise MalformedEnvelope(f"{VOUCH}: target must be another node's id (no self-vouch)")
    return Vouch(env, hive_id, str(target))


@dataclass(frozen=True)
class Promotion:
    envelope: Envelope
    hive_id: str
    target: str
    vouches: tuple[Vouch, ...]

    def vouchers(self) -> set[str]:
        return {v.voucher for v in self.vouches}

    def nested(self) -> list[Envelope]:
        return [v.envelope for v in self.vouches]


def promotion_body(hive_id: str, target: str, vouches: Iterable[Vouch]) -> dict[str, Any]:
    return {
        "hive_id": hive_id,
        "target": target,
        "vouches": [v.envelope.to_json() for v in vouches],
    }


def check_promotion(env: Envelope) -> Promotion:
    """Structure of a ``fleet.promotion`` and its vouches (signatures not checked)."""
    if env.type != PROMOTION:
        raise MalformedEnvelope(f"expected a {PROMOTION}, got {env.type}")
    body = env.body
    if set(body) != {"hive_id", "target", "vouches"}:
        raise MalformedEnvelope(f"{PROMOTION} body must be exactly {{hive_id, target, vouches}}")
    hive_id = body_hive_id(body, PROMOTION)
    target = body["target"]
    if not is_node_id(target) or target == env.sender:
        raise MalformedEnvelope(f"{PROMOTION}: target must be another node's id")
    raw = body["vouches"]
    if not isinstance(raw, list) or len(raw) > MAX_VOUCHES:
        raise MalformedEnvelope(f"{PROMOTION}: vouches must be a list of at most {MAX_VOUCHES}")
    vouches: list[Vouch] = []
    seen: set[str] = set()
    for item in raw:
        vouch = check_vouch(parse_envelope(item))
        if vouch.hive_id != hive_id or vouch.target != target:
            raise MalformedEnvelope(f"{PROMOTION}: a vouch is for another hive or target")
        if vouch.voucher in seen:
            raise MalformedEnvelope(f"{PROMOTION}: {vouch.voucher} vouches twice")
        if not env.ts - VOUCH_TTL_S <= vouch.envelope.ts <= env.ts + 300:
            raise MalformedEnvelope(f"{PROMOTION}: a vouch is older than 7 days")
        seen.add(vouch.voucher)
        vouches.append(vouch)
    return Promotion(env, hive_id, str(target), tuple(vouches))


class VouchBook:
    """The ``promotion_vouches`` table: vouches seen, per target."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, vouch: Vouch) -> bool:
        cur = self.store.execute(
            "INSERT INTO promotion_vouches (target, voucher, ts, envelope) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (target, voucher) DO UPDATE SET ts = excluded.ts, "
            "envelope = excluded.envelope WHERE excluded.ts > promotion_vouches.ts",
            (vouch.target, vouch.voucher, vouch.envelope.ts, vouch.envelope.canonical().decode()),
        )
        return cur.rowcount == 1

    def for_target(self, target: str, now: float) -> list[Vouch]:
        rows = self.store.query(
            "SELECT envelope FROM promotion_vouches WHERE target = ? AND ts >= ? "
            "ORDER BY ts, voucher",
            (target, int(now) - VOUCH_TTL_S),
        )
        return [check_vouch(parse_envelope(json.loads(r[0]))) for r in rows]

    def clear(self, target: str) -> None:
        self.store.execute("DELETE FROM promotion_vouches WHERE target = ?", (target,))
