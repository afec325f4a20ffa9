"""Forward ingestion: parsing, rejection, dedup, hydration, and a forward from the network model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.revenue.forwards import (
    ForwardIngestor,
    msat_or_none,
    msat_total,
    normalize_scid,
    parse_forward,
)
from lnhive.revenue.store import RevenueStore
from lnhive.sim.network import Event, InProcessNode, Network

T0 = 1_767_225_600.0


def event(**over: Any) -> dict[str, Any]:
    """A settled forward_event payload in CLN's shape (schema `response`)."""
    payload: dict[str, Any] = {
        "payment_hash": "aa" * 32,
        "in_channel": "103x1x0",
        "out_channel": "105x1x1",
        "in_msat": 2_001_020,
        "out_msat": 2_000_000,
        "fee_msat": 1020,
        "status": "settled",
        "style": "tlv",
        "received_time": T0 + 0.123,
        "resolved_time": T0 + 0.456,
    }
    payload.update(over)
    return {k: v for k, v in payload.items() if v is not None}


class Millisatoshi:
    """Stands for pyln's Millisatoshi (an object carrying ``millisatoshis``)."""

    def __init__(self, n: int) -> None:
        self.millisatoshis = n


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RevenueStore]:
    s = RevenueStore(tmp_path / "revenue.sqlite3")
    yield s
    s.close()


@pytest.fixture
def ingestor(store: RevenueStore) -> ForwardIngestor:
    return ForwardIngestor(store)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("103x1x0", "103x1x0"),
        ("103:1:0", "103x1x0"),
        (" 0103X01x2 ", "103x1x2"),
        ((103 << 40) | (1 << 16) | 2, "103x1x2"),
        ("103x1", None),
        ("103x1x0/1", None),
        ("16777216x0x0", None),
        ("1x1x65536", None),
        (True, None),
        (None, None),
        (-1, None),
        (1.5, None),
    ],
)
def test_normalize_scid(raw: object, want: str | None) -> None:
    assert normalize_scid(raw) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (1234, 1234),
        ("1234", 1234),
        ("1234msat", 1234),
        ("5sat", 5000),
        ("0.00000001btc", 1000),
        ({"msat": 77}, 77),
        (Millisatoshi(88), 88),
        (None, 0),
        (True, 0),
        (False, 0),
        ("abc", 0),
        ("1.5msat", 0),
        (-5, 0),
        (1.0, 0),
        ([1], 0),
        (10**30, 0),
    ],
)
def test_msat_total_is_total(raw: object, want: int) -> None:
    assert msat_total(raw) == want
    assert msat_or_none(raw) == (want or None)  # no case here is a genuine zero


def test_zero_is_an_amount() -> None:
    assert msat_or_none(0) == 0 and msat_or_none("0msat") == 0


def test_settled_event_is_stored_with_normalised_fields(
    ingestor: ForwardIngestor, store: RevenueStore
) -> None:
    counts = ingestor.ingest_event(
        {"forward_event": event(in_channel="103:1:0", in_msat="2001020msat", out_msat="2000000")}
    )
    assert (counts.stored, counts.duplicates, counts.rejected, counts.ignored) == (1, 0, 0, 0)
    [f] = store.forwards()
    assert (f.in_channel, f.out_channel, f.in_msat, f.out_msat, f.fee_msat) == (
        "103x1x0",
        "105x1x1",
        2_001_020,
        2_000_000,
        1020,
    )
    assert f.received_time == T0 + 0.123 and f.resolved_time == T0 + 0.456
    assert f.payment_hash == "aa" * 32


def test_out_msat_derived_from_fee(ingestor: ForwardIngestor, store: RevenueStore) -> None:
    assert ingestor.ingest_event(event(out_msat=None)).stored == 1
    assert store.forwards()[0].out_msat == 2_000_000


@pytest.mark.parametrize("status", ["offered", "failed", "local_failed"])
def test_unsettled_statuses_are_ignored(
    ingestor: ForwardIngestor, store: RevenueStore, status: str
) -> None:
    counts = ingestor.ingest_event(event(status=status, out_channel=None))
    assert (counts.ignored, counts.rejected, counts.stored) == (1, 0, 0)
    assert store.forward_totals() == (0, 0)


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"in_msat": "abc"}, "bad_in_msat"),
        ({"in_msat": True}, "bad_in_msat"),
        ({"in_msat": None}, "bad_in_msat"),
        ({"out_channel": None}, "missing_out_channel"),
        ({"out_channel": "junk"}, "bad_out_channel"),
        ({"in_channel": "1x2"}, "bad_in_channel"),
        ({"out_msat": "xyz"}, "bad_out_msat"),
        ({"out_msat": None, "fee_msat": None}, "bad_out_msat"),
        ({"fee_msat": False}, "bad_fee_msat"),
        ({"fee_msat": 999}, "fee_mismatch"),
        ({"out_msat": 3_000_000, "fee_msat": None}, "negative_fee"),
        ({"received_time": "yesterday"}, "bad_received_time"),
        ({"status": "weird"}, "bad_status"),
    ],
)
def test_malformed_settled_forward_is_rejected_not_zeroed(
    ingestor: ForwardIngestor, store: RevenueStore, over: dict[str, Any], reason: str
) -> None:
    counts = ingestor.ingest_event(event(**over))
    assert (counts.rejected, counts.stored) == (1, 0)
    assert counts.rejections == {reason: 1}
    assert store.forward_totals() == (0, 0)
    # and the good forward that arrives later is counted exactly once
    assert ingestor.ingest_event(event()).stored == 1
    assert ingestor.ingest_event(event()).duplicates == 1
    assert store.forward_totals() == (1, 1020)
    assert ingestor.totals.to_json() == {
        "stored": 1,
        "duplicates": 1,
        "rejected": 1,
        "ignored": 0,
        "rejections": {reason: 1},
    }


def test_duplicate_event_is_not_double_counted(
    ingestor: ForwardIngestor, store: RevenueStore
) -> None:
    for _ in range(3):
        ingestor.ingest_event(event())
    assert (ingestor.totals.stored, ingestor.totals.duplicates) == (1, 2)
    assert store.forward_totals() == (1, 1020)


def test_page_with_mixed_items(ingestor: ForwardIngestor, store: RevenueStore) -> None:
    page = {
        "forwards": [
            event(in_htlc_id=1, received_time=T0 + 1),
            event(in_htlc_id=2, received_time=T0 + 2, in_msat="abc"),
            event(in_htlc_id=3, status="failed"),
            "not an object",
            event(in_htlc_id=1, received_time=T0 + 1),
        ]
    }
    counts = ingestor.ingest_page(page)
    assert (counts.stored, counts.duplicates, counts.rejected, counts.ignored) == (1, 1, 2, 1)
    assert counts.rejections == {"bad_in_msat": 1, "not_an_object": 1}
    assert ingestor.ingest_page({"forwards": "garbage"}).to_json()["stored"] == 0
    assert store.forward_totals() == (1, 1020)


def test_parse_forward_keeps_htlc_id_only_when_valid() -> None:
    rec = parse_forward(event(in_htlc_id=7))
    assert rec is not None and rec.in_htlc_id == 7
    rec = parse_forward(event(in_htlc_id=True, payment_hash="zz"))
    assert rec is not None and rec.in_htlc_id is None and rec.payment_hash is None


# -- the network model -------------------------------------------------------------
@dataclass
class Line:
    clock: VirtualClock
    net: Network
    events: list[Event] = field(default_factory=list)

    def pay(self, amount_msat: int, label: str) -> dict[str, Any]:
        inv = InProcessNode(self.net, "c").call(
            "invoice", {"amount_msat": amount_msat, "label": label, "description": label}
        )
        return InProcessNode(self.net, "a").call("xpay", {"invstring": inv["bolt11"]})

    def settled(self) -> list[Event]:
        return [
            e
            for e in self.events
            if e.topic == "forward_event" and e.payload["status"] == "settled"
        ]


@pytest.fixture
def line() -> Iterator[Line]:
    """a — b — c, each channel opened by its left node; b's notifications captured."""
    clock = VirtualClock()
    net = Network(clock, seed=11)
    for name in "abc":
        net.add_node(name)
    net.open_channel("a", "b", 2_000_000)
    net.open_channel("b", "c", 2_000_000)
    clock.advance(120)
    ln = Line(clock, net)
    b = InProcessNode(net, "b", on_event=ln.events.append)
    yield ln
    b.close_events()


def test_forward_event_from_the_network_model(line: Line, store: RevenueStore) -> None:
    line.pay(3_000_000, "one")
    [ev] = line.settled()
    ingestor = ForwardIngestor(store)
    assert ingestor.ingest_event(ev.params()).stored == 1
    listed = InProcessNode(line.net, "b").call("listforwards", {"status": "settled"})["forwards"]
    assert len(listed) == 1
    lf = listed[0]
    [f] = store.forwards()
    assert f.in_channel == lf["in_channel"] and f.out_channel == lf["out_channel"]
    assert (f.in_msat, f.out_msat, f.fee_msat) == (lf["in_msat"], lf["out_msat"], lf["fee_msat"])
    assert f.fee_msat > 0 and f.out_msat == 3_000_000
    assert f.received_time == lf["received_time"] and f.resolved_time == lf["resolved_time"]
    # the same forward from listforwards is a duplicate, not a second forward
    assert ingestor.ingest_page({"forwards": listed}).duplicates == 1
    assert store.forward_totals() == (1, lf["fee_msat"])


def test_hydration_pages_dedup_against_notifications(line: Line, store: RevenueStore) -> None:
    for i in range(5):
        line.pay(1_000_000 + i, f"p{i}")
        line.clock.advance(10)
    events = line.settled()
    assert len(events) == 5
    ingestor = ForwardIngestor(store)
    for ev in events[:2]:  # the plugin saw two notifications before a restart
        ingestor.ingest_event(ev.params())
    b = InProcessNode(line.net, "b")
    counts = ingestor.hydrate(b, page_size=2)
    assert (counts.stored, counts.duplicates, counts.rejected) == (3, 2, 0)
    assert ingestor.hydrated_through == 5
    fees = sum(f["fee_msat"] for f in b.call("listforwards", {"status": "settled"})["forwards"])
    assert store.forward_totals() == (5, fees)
    # a second hydration and the late notifications add nothing
    assert ingestor.hydrate(b, page_size=100).duplicates == 5
    for ev in events:
        assert ingestor.ingest_event(ev.params()).duplicates == 1
    assert store.forward_totals() == (5, fees)


def test_hydration_claims_rows_stored_without_htlc_id(line: Line, store: RevenueStore) -> None:
    """A notification without ``in_htlc_id`` (the schema does not promise one) still dedups."""
    line.pay(1_500_000, "x")
    [ev] = line.settled()
    bare = {k: v for k, v in ev.payload.items() if k not in ("in_htlc_id", "created_index")}
    ingestor = ForwardIngestor(store)
    assert ingestor.ingest_event(bare).stored == 1
    assert ingestor.hydrate(InProcessNode(line.net, "b")).duplicates == 1
    [f] = store.forwards()
    assert f.in_htlc_id == ev.payload["in_htlc_id"]


def test_hydrate_rejects_bad_page_size(ingestor: ForwardIngestor, line: Line) -> None:
    with pytest.raises(ValueError):
        ingestor.hydrate(InProcessNode(line.net, "b"), page_size=0)
