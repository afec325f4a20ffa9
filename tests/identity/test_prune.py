"""hive-archon-prune: old completed polls with their votes, old finished outbox entries
(spec §1.9, §6 tests 3 and 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import InvalidInput, NotFound
from lnhive.core.store import Store
from lnhive.identity import outbox
from lnhive.identity.governance import Governance
from lnhive.identity.store import open_archon_store
from lnhive.sim.network import InProcessNode, Network

T0 = 1_767_225_600
DAY = 86_400
DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[tuple[VirtualClock, Governance]]:
    clock = VirtualClock(float(T0))
    net = Network(clock, seed=5)
    net.add_node("a")
    net.add_node("b")
    net.open_channel("a", "b", 200_000)
    node = InProcessNode(net, "a")
    store = open_archon_store(tmp_path / "a.sqlite3")
    g = Governance(node, store, clock, node.getinfo()["id"], 50_000, lambda: DID)
    g.upgrade("governance", 100_000)
    try:
        yield clock, g
    finally:
        store.close()


def _snapshot(store: Store) -> list[Any]:
    tables = ("archon_polls", "archon_votes", "archon_outbox")
    return [[tuple(r) for r in store.query(f"SELECT * FROM {t}")] for t in tables]


def _poll(g: Governance, title: str, deadline: int, vote: bool = True) -> str:
    pid = str(g.create_poll("config", title, ["yes", "no"], deadline)["poll_id"])
    if vote:
        g.vote(pid, "yes")
    return pid


def test_prune_drops_only_old_completed_polls_votes_and_outbox_rows(
    gov: tuple[VirtualClock, Governance],
) -> None:
    clock, g = gov
    store = g.store
    old = _poll(g, "old", T0 + 3600)
    old_unvoted = _poll(g, "old, no votes", T0 + 7200, vote=False)
    clock.advance(50 * DAY)
    recent = _poll(g, "recent", int(clock.now()) + 3600)
    open_ = _poll(g, "open", int(clock.now()) + 300 * DAY)
    # outbox: old completed, old exhausted, old pending, recent completed
    now = int(clock.now())
    for i, final in enumerate(("completed", "exhausted", "pending")):
        eid = outbox.enqueue(store, "alias", {"n": i}, T0 + i, "503")
        entry = outbox.due(store, T0 + 10_000, 10)[-1]
        assert entry.entry_id == eid
        if final == "completed":
            outbox.complete(store, entry, {"did": "x"}, T0 + 100)
        elif final == "exhausted":
            outbox.fail(store, entry, "404", T0 + 100, permanent=True)
    fresh = outbox.enqueue(store, "alias", {"n": 9}, now, "503")
    outbox.complete(store, outbox.due(store, now + 60, 10)[-1], {}, now)

    clock.advance(1 * DAY)  # old polls ended ~51 days ago, recent one a day ago
    before = _snapshot(store)
    out = g.prune(90)  # nothing is that old
    assert out == {
        "ok": True,
        "polls_completed": 3,
        "polls_removed": 0,
        "votes_removed": 0,
        "outbox_pruned": 0,
        "retention_days": 90,
        "cutoff": int(clock.now()) - 90 * DAY,
    }
    assert _snapshot(store) == before

    out = g.prune(30)
    assert (out["polls_completed"], out["polls_removed"], out["votes_removed"]) == (3, 2, 1)
    assert out["outbox_pruned"] == 2  # old completed and exhausted; pending stays
    left = {r["poll_id"] for r in store.query("SELECT poll_id FROM archon_polls")}
    assert left == {recent, open_} and old not in left and old_unvoted not in left
    votes = {r["poll_id"] for r in store.query("SELECT poll_id FROM archon_votes")}
    assert votes == {recent, open_}
    statuses = sorted(r["status"] for r in store.query("SELECT status FROM archon_outbox"))
    assert statuses == ["completed", "pending"]
    kept = store.query_one("SELECT status FROM archon_outbox WHERE entry_id = ?", (fresh,))
    assert kept is not None and kept["status"] == "completed"
    assert g.my_votes()["count"] == 2 and g.counts()["total_polls"] == 2
    with pytest.raises(NotFound, match="no poll"):
        g.poll_status(old)

    clock.advance(2 * DAY)
    out = g.prune(1)  # the recent poll ended 3 days ago; the open one is still open
    assert (out["polls_removed"], out["votes_removed"], out["outbox_pruned"]) == (1, 1, 1)
    assert g.list_polls()["polls"][0]["poll_id"] == open_
    assert g.prune()["retention_days"] == 90


@pytest.mark.parametrize("days", [0, -1, "90", 1.5, True, None, 36_501])
def test_prune_refuses_bad_retention_and_changes_nothing(
    gov: tuple[VirtualClock, Governance], days: object
) -> None:
    clock, g = gov
    _poll(g, "old", T0 + 60)
    clock.advance(400 * DAY)
    before = _snapshot(g.store)
    with pytest.raises(InvalidInput, match="retention_days"):
        g.prune(days)
    assert _snapshot(g.store) == before
