"""Forward ingestion: ``forward_event`` notifications and start-up hydration (spec §0, §7 test 30).

Settled forwards become rows of ``forwards``; other statuses are counted as ignored
(failed forwards feed peer reputation in a later slice). Parsing follows §0: SCIDs
are normalised to ``NxNxN`` and :func:`msat_total` is total (int, ``"Nmsat"`` and CLN's
other amount strings, msat objects; None, bools and garbage give 0). A *forward*,
however, is never stored with a made-up amount: one whose amounts do not parse, whose
fee does not add up, or that has no ``out_channel`` is rejected and counted, so a bad
notification can never be counted twice (once as 0, once when hydration finds it).
Duplicates (a notification seen again, or a forward that both a notification and
``listforwards`` report) are dropped by the store's unique indexes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.amounts import MAX_MSAT, AmountError, parse_msat
from lnhive.revenue.store import ForwardRecord, RevenueStore

STATUSES = ("offered", "settled", "local_failed", "failed")
"""``forward_event``/``listforwards`` statuses; only ``settled`` is stored."""

_SCID = re.compile(r"([0-9]+)[xX:]([0-9]+)[xX:]([0-9]+)")
_HASH = re.compile(r"[0-9a-fA-F]{64}")


def normalize_scid(value: object) -> str | None:
    """``"NxNxN"`` from ``"NxNxN"``, ``"N:N:N"`` or CLN's u64 form; ``None`` if it is not one.

    Block and transaction index must fit 24 bits, the output index 16 bits.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not 0 <= value < 1 << 64:
            return None
        block, tx, out = value >> 40, (value >> 16) & 0xFFFFFF, value & 0xFFFF
    elif isinstance(value, str):
        m = _SCID.fullmatch(value.strip())
        if m is None:
            return None
        block, tx, out = (int(g) for g in m.groups())
    else:
        return None
    if block >= 1 << 24 or tx >= 1 << 24 or out >= 1 << 16:
        return None
    return f"{block}x{tx}x{out}"


def msat_or_none(value: object) -> int | None:
    """An amount in msat, or ``None`` when it is not one.

    Accepts a non-negative int, CLN's amount strings (``"N"``, ``"Nmsat"``, ``"Nsat"``,
    ``"Nbtc"``), an object with an int ``millisatoshis`` attribute (pyln's
    ``Millisatoshi``) and a mapping ``{"msat": ...}``. Bools, floats, negatives and
    anything above 21 million BTC are refused.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_MSAT else None
    if isinstance(value, str):
        try:
            return parse_msat(value.strip())
        except AmountError:
            return None
    if isinstance(value, Mapping):
        return msat_or_none(value.get("msat"))
    inner = getattr(value, "millisatoshis", None)
    if isinstance(inner, int) and not isinstance(inner, bool):
        return msat_or_none(inner)
    return None


def msat_total(value: object) -> int:
    """Total msat parsing (spec §0): what :func:`msat_or_none` accepts, else 0."""
    parsed = msat_or_none(value)
    return 0 if parsed is None else parsed


def _time(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    t = float(value)
    return t if math.isfinite(t) and t >= 0 else None


class Rejected(ValueError):
    """A forward that cannot be stored; ``reason`` is a short symbolic cause."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def parse_forward(item: Mapping[str, Any]) -> ForwardRecord | None:
    """The stored form of one forward object (``forward_event`` or ``listforwards`` entry).

    ``None`` for a forward that is not settled; :class:`Rejected` for one that is
    malformed.
    """
    status = item.get("status")
    if status not in STATUSES:
        raise Rejected("bad_status", f"status {status!r} is not one of {', '.join(STATUSES)}")
    if status != "settled":
        return None
    in_channel = normalize_scid(item.get("in_channel"))
    if in_channel is None:
        raise Rejected("bad_in_channel", f"in_channel {item.get('in_channel')!r}")
    if item.get("out_channel") is None:
        raise Rejected("missing_out_channel", "a settled forward without out_channel")
    out_channel = normalize_scid(item.get("out_channel"))
    if out_channel is None:
        raise Rejected("bad_out_channel", f"out_channel {item.get('out_channel')!r}")
    in_msat = msat_or_none(item.get("in_msat"))
    if in_msat is None:
        raise Rejected("bad_in_msat", f"in_msat {item.get('in_msat')!r}")
    fee_raw = item.get("fee_msat")
    fee = None if fee_raw is None else msat_or_none(fee_raw)
    if fee_raw is not None and fee is None:
        raise Rejected("bad_fee_msat", f"fee_msat {fee_raw!r}")
    out_raw = item.get("out_msat")
    if out_raw is None and fee is not None:
        out_msat: int | None = in_msat - fee
    else:
        out_msat = msat_or_none(out_raw)
    if out_msat is None or out_msat < 0:
        raise Rejected("bad_out_msat", f"out_msat {out_raw!r}")
    if out_msat > in_msat:
        raise Rejected("negative_fee", f"out_msat {out_msat} exceeds in_msat {in_msat}")
    if fee is not None and fee != in_msat - out_msat:
        raise Rejected("fee_mismatch", f"fee_msat {fee} != in_msat - out_msat")
    received = _time(item.get("received_time"))
    if received is None:
        raise Rejected("bad_received_time", f"received_time {item.get('received_time')!r}")
    htlc = item.get("in_htlc_id")
    payment_hash = item.get("payment_hash")
    return ForwardRecord(
        in_channel=in_channel,
        out_channel=out_channel,
        in_msat=in_msat,
        out_msat=out_msat,
        fee_msat=in_msat - out_msat,
        received_time=received,
        resolved_time=_time(item.get("resolved_time")),
        in_htlc_id=htlc
        if isinstance(htlc, int) and not isinstance(htlc, bool) and htlc >= 0
        else None,
        payment_hash=payment_hash.lower()
        if isinstance(payment_hash, str) and _HASH.fullmatch(payment_hash)
        else None,
    )


@dataclass
class IngestCounts:
    """What one ingestion call did. ``rejections`` counts each rejection reason."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    ignored: int = 0
    rejections: Counter[str] = field(default_factory=Counter)

    def add(self, other: IngestCounts) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.ignored += other.ignored
        self.rejections.update(other.rejections)

    def to_json(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "ignored": self.ignored,
            "rejections": dict(sorted(self.rejections.items())),
        }


class ForwardIngestor:
    """Feeds ``forward_event`` payloads and ``listforwards`` pages into a :class:`RevenueStore`.

    ``totals`` accumulates the counts of every call since construction;
    ``hydrated_through`` is the highest ``created_index`` :meth:`hydrate` has read.
    """

    def __init__(self, store: RevenueStore) -> None:
        self.store = store
        self.totals = IngestCounts()
        self.hydrated_through = 0

    def ingest_event(self, payload: Mapping[str, Any]) -> IngestCounts:
        """One notification: its ``params`` (``{"forward_event": {...}}``) or the inner object."""
        inner = payload.get("forward_event")
        return self._ingest([inner if isinstance(inner, Mapping) else payload])

    def ingest_page(self, page: Mapping[str, Any] | Iterable[Any]) -> IngestCounts:
        """One ``listforwards`` result (``{"forwards": [...]}``) or its list, in one transaction."""
        items = page.get("forwards", []) if isinstance(page, Mapping) else page
        if not isinstance(items, Iterable) or isinstance(items, str | bytes):
            items = []
        return self._ingest(list(items))

    def hydrate(self, node: NodeApi, *, page_size: int = 1000, start: int = 0) -> IngestCounts:
        """Read ``listforwards status=settled`` page by page (``index=created``) and ingest it."""
        if page_size < 1:
            raise ValueError("page_size must be positive")
        total = IngestCounts()
        while True:
            page = node.listforwards(
                status="settled", index="created", start=start, limit=page_size
            )
            items = page.get("forwards", [])
            total.add(self.ingest_page(page))
            indexes = [
                i["created_index"]
                for i in items
                if isinstance(i, Mapping) and isinstance(i.get("created_index"), int)
            ]
            if indexes:
                self.hydrated_through = max(self.hydrated_through, max(indexes))
            if len(items) < page_size or not indexes or max(indexes) < start:
                return total
            start = max(indexes) + 1

    def _ingest(self, items: list[Any]) -> IngestCounts:
        counts = IngestCounts()
        records: list[ForwardRecord] = []
        for item in items:
            try:
                if not isinstance(item, Mapping):
                    raise Rejected("not_an_object", f"{type(item).__name__}")
                rec = parse_forward(item)
            except Rejected as exc:
                counts.rejected += 1
                counts.rejections[exc.reason] += 1
                continue
            if rec is None:
                counts.ignored += 1
            else:
                records.append(rec)
        if records:
            counts.stored, counts.duplicates = self.store.insert_forwards(records)
        self.totals.add(counts)
        return counts
