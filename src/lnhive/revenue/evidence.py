"""The evidence a controller cycle decides on (spec revenue-ops §0, §2.3 "once per cycle").

One immutable snapshot per cycle, built from one ``listpeerchannels``, one ``feerates
style=perkb`` and the store's forwards. Everything the pure decision functions look at
comes from here, so a cycle can be replayed from its snapshot.

Readings: only channels in ``CHANNELD_NORMAL`` with a short channel id are controlled;
``opened_at`` is the first ``state_changes`` timestamp (None if the node reports none);
the current fee is ``updates.local`` (falling back to the top-level fee fields); the
feerate used by the rails is ``perkb.opening`` (sat per 1000 vB).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.revenue.flow import Forward
from lnhive.revenue.forwards import msat_total, normalize_scid
from lnhive.revenue.store import RevenueStore

NORMAL_STATE = "CHANNELD_NORMAL"


@dataclass(frozen=True)
class ChannelEvidence:
    """One of our channels as the node reports it at the start of a cycle."""

    channel_id: str
    """The short channel id, ``NxNxN``."""
    peer_id: str
    capacity_sat: int
    local_msat: int
    spendable_msat: int
    fee_ppm: int
    fee_base_msat: int
    htlc_max_msat: int
    htlcs_in_flight: int
    max_accepted_htlcs: int
    local_opener: bool
    opened_at: float | None
    last_forward_ts: float | None
    peer_connected: bool = True

    @property
    def capacity_msat(self) -> int:
        return self.capacity_sat * 1000

    @property
    def outbound_ratio(self) -> float:
        return self.local_msat / self.capacity_msat if self.capacity_sat > 0 else 0.5


@dataclass(frozen=True)
class CycleEvidence:
    """Everything one cycle reads from the node and the store."""

    now: float
    feerate_perkb: int | None
    channels: tuple[ChannelEvidence, ...]
    forwards: tuple[Forward, ...]
    """Settled forwards since ``forwards_since`` (oldest first)."""
    forwards_since: float
    flow_7d: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Per channel (gross, net) sat over the last 7 days."""

    def channel(self, channel_id: str) -> ChannelEvidence | None:
        for c in self.channels:
            if c.channel_id == channel_id:
                return c
        return None


def _iso_to_unix(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        dt = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    return dt.timestamp()


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def feerate_perkb(answer: Mapping[str, Any]) -> int | None:
    """The opening feerate (sat per 1000 vB) from a ``feerates style=perkb`` answer."""
    perkb = answer.get("perkb")
    if not isinstance(perkb, Mapping):
        return None
    rate = perkb.get("opening")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        return None
    return rate


def channel_from_json(
    item: Mapping[str, Any], last_forward: Mapping[str, float] | None = None
) -> ChannelEvidence | None:
    """One ``listpeerchannels`` entry, or None when it is not a controllable channel."""
    if item.get("state") != NORMAL_STATE:
        return None
    scid = normalize_scid(item.get("short_channel_id"))
    peer = item.get("peer_id")
    if scid is None or not isinstance(peer, str):
        return None
    updates = item.get("updates")
    local: Mapping[str, Any] = {}
    if isinstance(updates, Mapping) and isinstance(updates.get("local"), Mapping):
        local = updates["local"]
    fee_ppm = _int(
        local.get("fee_proportional_millionths"), _int(item.get("fee_proportional_millionths"))
    )
    fee_base = _int(local.get("fee_base_msat"), msat_total(item.get("fee_base_msat")))
    total_msat = msat_total(item.get("total_msat"))
    htlc_max = msat_total(local.get("htlc_maximum_msat", item.get("maximum_htlc_out_msat")))
    opened_at = None
    changes = item.get("state_changes")
    if isinstance(changes, list) and changes and isinstance(changes[0], Mapping):
        opened_at = _iso_to_unix(changes[0].get("timestamp"))
    htlcs = item.get("htlcs")
    return ChannelEvidence(
        channel_id=scid,
        peer_id=peer,
        capacity_sat=total_msat // 1000,
        local_msat=msat_total(item.get("to_us_msat")),
        spendable_msat=msat_total(item.get("spendable_msat")),
        fee_ppm=fee_ppm,
        fee_base_msat=fee_base,
        htlc_max_msat=htlc_max,
        htlcs_in_flight=len(htlcs) if isinstance(htlcs, list) else 0,
        max_accepted_htlcs=_int(item.get("max_accepted_htlcs")),
        local_opener=item.get("opener") == "local",
        opened_at=opened_at,
        last_forward_ts=None if last_forward is None else last_forward.get(scid),
        peer_connected=bool(item.get("peer_connected", True)),
    )


_LAST_OUT_SQL = "SELECT MAX(timestamp) FROM forwards WHERE out_channel = ? AND timestamp <= ?"
_LAST_IN_SQL = "SELECT MAX(timestamp) FROM forwards WHERE in_channel = ? AND timestamp <= ?"
_FORWARDS_SQL = (
    "SELECT in_channel, out_channel, in_msat, out_msat, timestamp FROM forwards "
    "WHERE timestamp >= ? AND timestamp <= ? ORDER BY timestamp, id"
)
_OUT_7D_SQL = (
    "SELECT COALESCE(SUM(out_msat), 0) FROM forwards WHERE out_channel = ? "
    "AND timestamp >= ? AND timestamp <= ?"
)
_IN_7D_SQL = (
    "SELECT COALESCE(SUM(in_msat), 0) FROM forwards WHERE in_channel = ? "
    "AND timestamp >= ? AND timestamp <= ?"
)
SEVEN_DAYS_S = 7 * 86_400.0


def stored_last_forward(store: RevenueStore, channel_id: str, now: float) -> float | None:
    """The newest stored forward through ``channel_id`` (either side), from the indexes."""
    conn = store.db.connection()
    times = [
        conn.execute(sql, (channel_id, now)).fetchone()[0] for sql in (_LAST_OUT_SQL, _LAST_IN_SQL)
    ]
    known = [float(t) for t in times if t is not None]
    return max(known) if known else None


def stored_forwards(store: RevenueStore, since: float, now: float) -> tuple[Forward, ...]:
    """Settled forwards with ``since <= timestamp <= now``, oldest first (one lean query)."""
    rows = store.db.connection().execute(_FORWARDS_SQL, (since, now)).fetchall()
    return tuple(Forward(r[0], r[1], r[2], r[3], r[4]) for r in rows)


def stored_flow_7d(store: RevenueStore, channel_id: str, now: float) -> tuple[int, int]:
    """(gross, net) sat through ``channel_id`` over the last 7 days: out + in, out - in."""
    conn = store.db.connection()
    args = (channel_id, now - SEVEN_DAYS_S, now)
    out = int(conn.execute(_OUT_7D_SQL, args).fetchone()[0])
    inn = int(conn.execute(_IN_7D_SQL, args).fetchone()[0])
    return (out + inn) // 1000, (out - inn) // 1000


def build_evidence(
    node: NodeApi, store: RevenueStore, now: float, *, forwards_since: float
) -> CycleEvidence:
    """Read the node (one ``feerates``, one ``listpeerchannels``) and the store's forwards."""
    rate = feerate_perkb(node.feerates(style="perkb"))
    forwards = stored_forwards(store, forwards_since, now)
    answer = node.listpeerchannels()
    items = answer.get("channels", [])
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            ev = channel_from_json(item)
            if ev is not None:
                last = stored_last_forward(store, ev.channel_id, now)
                found.append(replace(ev, last_forward_ts=last))
    channels = tuple(sorted(found, key=lambda c: c.channel_id))
    return CycleEvidence(
        now=now,
        feerate_perkb=rate,
        channels=channels,
        forwards=forwards,
        forwards_since=forwards_since,
        flow_7d={c.channel_id: stored_flow_7d(store, c.channel_id, now) for c in channels},
    )
