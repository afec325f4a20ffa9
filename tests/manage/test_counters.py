"""The persisted action log behind the counting rules."""

from __future__ import annotations

from lnhive.core.store import Store
from lnhive.manage.counters import ActionLog
from lnhive.manage.effects import effects_of
from tests.manage.conftest import ADVISOR, OTHER_ADVISOR, SNAPSHOT, T0, prep

ADDR = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def test_counts_by_advisor_effect_window_and_danger(store: Store) -> None:
    log = ActionLog(store)
    fee = prep("fee-policy", "set_single", channel_id="100x1x0", fee_ppm=120)
    ban = prep("peer", "ban", node_id="03" + "dd" * 32, reason="spam")
    log.record(ADVISOR, fee, effects_of(fee, SNAPSHOT), SNAPSHOT, T0)
    log.record(ADVISOR, ban, effects_of(ban, SNAPSHOT), SNAPSHOT, T0 + 10)
    log.record(OTHER_ADVISOR, fee, effects_of(fee, SNAPSHOT), SNAPSHOT, T0 + 20)
    mine = log.advisor(ADVISOR)
    assert mine.count(since=T0) == 2
    assert mine.count(since=T0, effects=["fee_change"]) == 1
    assert mine.count(since=T0 + 5) == 1
    assert mine.count(since=0, min_danger=5) == 1
    assert log.node().count(since=0, effects=["fee_change"]) == 2
    assert log.node().fee_at_window_start("100x1x0", T0) == 100
    assert log.node().fee_at_window_start("100x1x0", T0 + 30) is None


def test_pending_sats_count_until_dropped(store: Store) -> None:
    log = ActionLog(store)
    send = prep("wallet", "send_onchain", destination=ADDR, amount_sats=50_000, feerate=2)
    row = log.record(ADVISOR, send, effects_of(send, SNAPSHOT), SNAPSHOT, T0, status="pending")
    hist = log.advisor(ADVISOR)
    assert hist.onchain_since(0) == 50_000 and hist.sats_out_since(0) == 50_000
    log.settle(row, spent=False)
    assert hist.onchain_since(0) == 0
    row2 = log.record(ADVISOR, send, effects_of(send, SNAPSHOT), SNAPSHOT, T0, status="pending")
    log.settle(row2, spent=True)
    log.settle(row2, spent=False)  # only a pending row can be settled
    assert hist.onchain_since(0) == 50_000


def test_prune_drops_old_rows(store: Store) -> None:
    log = ActionLog(store)
    fee = prep("fee-policy", "set_single", channel_id="100x1x0", fee_ppm=120)
    log.record(ADVISOR, fee, effects_of(fee, SNAPSHOT), SNAPSHOT, T0)
    log.record(ADVISOR, fee, effects_of(fee, SNAPSHOT), SNAPSHOT, T0 + 100)
    assert log.prune(T0 + 50) == 1
    assert log.advisor(ADVISOR).count(since=0) == 1
    assert log.node().fee_at_window_start("100x1x0", 0) == 100
