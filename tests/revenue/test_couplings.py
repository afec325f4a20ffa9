"""Profitability → rebalancer couplings (spec §4 "Couplings", §3.1): priority and budget
multiplier by the destination's class, in integer money."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from lnhive.revenue import couplings
from lnhive.revenue.couplings import PPM, Coupling, multiplier_ppm, scale_msat, stored_couplings
from lnhive.revenue.profit_ledger import ProfitLedger, Snapshot
from lnhive.revenue.profitability import ProfitClass as C
from lnhive.revenue.rebalance_ev import EvConfig, EvInputs, evaluate
from lnhive.revenue.rebalance_select import RebalanceChannel, SelectConfig, select
from lnhive.revenue.store import RevenueStore

CAP = 5_000_000
PEER_A, PEER_B, PEER_C = "02" + "aa" * 32, "02" + "bb" * 32, "02" + "cc" * 32


@pytest.mark.parametrize(
    ("cls", "roi", "priority", "mult"),
    [
        (C.PROFITABLE, 0.25, 1.5, 1_250_000),
        (C.PROFITABLE, 0.5, 1.5, 1_500_000),
        (C.PROFITABLE, 3.0, 1.5, 1_500_000),  # capped at 1.5
        (C.PROFITABLE, 0.06, 1.5, 1_060_000),  # the confident 5 % threshold
        (C.PROFITABLE, 0.1000004, 1.5, 1_100_000),  # ppm, rounded
        (C.PROFITABLE, math.inf, 1.5, 1_000_000),  # not finite → 1
        (C.PROFITABLE, math.nan, 1.5, 1_000_000),
        (C.BREAK_EVEN, 0.05, 1.0, 1_000_000),
        (C.BREAK_EVEN, -0.09, 1.0, 1_000_000),
        (C.UNDERWATER, -0.4, 0.5, 500_000),
        (C.STAGNANT_CANDIDATE, -1.0, 0.3, 300_000),
        (C.ZOMBIE, -1.0, 0.0, 0),
    ],
)
def test_priority_and_multiplier_by_class(cls: C, roi: float, priority: float, mult: int) -> None:
    c = Coupling(cls, roi, 0.5, known=True)
    assert c.priority == priority
    assert multiplier_ppm(cls, roi) == c.multiplier_ppm == mult


def test_unknown_is_break_even() -> None:
    assert couplings.UNKNOWN.priority == 1.0 and couplings.UNKNOWN.multiplier_ppm == PPM
    assert couplings.UNKNOWN.dest_exclusion() is None and not couplings.UNKNOWN.known


@pytest.mark.parametrize(
    ("msat", "mult", "out"),
    [
        (500_000, 300_000, 150_000),
        (1_001_999, 1_500_000, 1_502_000),  # 1 502 998 msat → 1502 sat, rounded down
        (999, PPM, 0),  # under a sat
        (50_000_000, 1_250_000, 62_500_000),
        (0, PPM, 0),
        (-5, PPM, 0),
        (5_000, 0, 0),
    ],
)
def test_scale_rounds_down_to_whole_sat(msat: int, mult: int, out: int) -> None:
    assert scale_msat(msat, mult) == out
    assert out % 1000 == 0


@pytest.mark.parametrize(
    ("cls", "marginal", "reason"),
    [
        (C.ZOMBIE, 1.0, "dest_zombie"),
        (C.UNDERWATER, 0.0, "dest_underwater"),
        (C.UNDERWATER, -0.3, "dest_underwater"),
        (C.UNDERWATER, 0.01, None),
        (C.STAGNANT_CANDIDATE, -1.0, None),
        (C.PROFITABLE, -0.5, None),
    ],
)
def test_destination_exclusions(cls: C, marginal: float, reason: str | None) -> None:
    assert Coupling(cls, -0.5, marginal, known=True).dest_exclusion() == reason


def _ch(
    scid: str, peer: str, local: float, cls: C | None = None, roi: float = 0.0
) -> RebalanceChannel:
    cp = couplings.UNKNOWN if cls is None else Coupling(cls, roi, 0.5, known=True)
    return RebalanceChannel(scid, peer, CAP, int(CAP * local), coupling=cp)


def test_priority_orders_candidates() -> None:
    src = _ch("1x1x1", PEER_A, 0.90)
    stagnant = _ch("2x2x2", PEER_B, 0.05, C.STAGNANT_CANDIDATE, -1.0)  # more urgent
    profitable = _ch("3x3x3", PEER_C, 0.10, C.PROFITABLE, 0.3)
    unknown = [replace(c, coupling=couplings.UNKNOWN) for c in (stagnant, profitable)]
    plain = select([src, *unknown], SelectConfig())
    assert plain.candidates[0].dest.channel_id == "2x2x2"  # urgency alone
    sel = select([src, stagnant, profitable], SelectConfig())
    (cand,) = sel.candidates  # one source: one pair
    assert cand.dest.channel_id == "3x3x3"
    assert cand.priority == 1.5 and cand.budget_multiplier_ppm == 1_300_000
    assert cand.to_json()["dest_class"] == "profitable" and cand.to_json()["priority"] == 1.5


def test_zombie_is_never_a_destination() -> None:
    sel = select(
        [_ch("1x1x1", PEER_A, 0.90), _ch("2x2x2", PEER_B, 0.05, C.ZOMBIE, -1.0)], SelectConfig()
    )
    assert sel.candidates == []
    assert {"channel_id": "2x2x2", "reason": "dest_zombie"} in sel.rejections


def test_multiplier_scales_the_pair_budget() -> None:
    base = EvInputs(amount_msat=500_000_000, dest_fee_ppm=2000, source_fee_ppm=0)
    cfg = EvConfig()
    assert evaluate(base, cfg).pair_budget_msat == 500_000  # 1000 ppm of 500 000 sat
    stagnant = evaluate(replace(base, budget_multiplier_ppm=300_000), cfg)
    assert stagnant.pair_budget_msat == 150_000 and stagnant.ceiling_msat == 150_000
    rich = evaluate(replace(base, budget_multiplier_ppm=1_500_000), cfg)
    assert rich.pair_budget_msat == 750_000
    assert rich.ceiling_msat == rich.ev_max_fee_msat == 250_000  # the EV maximum still binds
    zombie = evaluate(replace(base, budget_multiplier_ppm=0), cfg)
    assert zombie.ceiling_msat == 0


def test_stored_couplings_skip_stale_and_unknown(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    with RevenueStore(tmp_path / "r.sqlite3") as store:

        def snap(scid: str, cls: str, age: float) -> Snapshot:
            return Snapshot(scid, PEER_A, cls, "none", -0.5, -0.1, -1000, {}, now - age)

        ProfitLedger(store).put_snapshots(
            [
                snap("1x1x1", "underwater", 3600),
                snap("2x2x2", "zombie", 3 * 86_400),  # stale
                snap("3x3x3", "martian", 0),  # unknown class
            ]
        )
        got = stored_couplings(store, now)
    assert list(got) == ["1x1x1"]
    assert got["1x1x1"] == Coupling(C.UNDERWATER, -0.5, -0.1, known=True)
    assert got["1x1x1"].dest_exclusion() == "dest_underwater"


@pytest.mark.parametrize(
    ("marginal", "known", "factor"),
    [(0.5, True, 1.0), (0.0, True, 1.0), (-0.1, True, 1 / 1.05), (-0.3, True, 1 / 1.10),
     (-0.9, True, 1 / 1.15), (-0.9, False, 1.0), (math.nan, True, 1.0)],
)  # fmt: skip
def test_ceiling_factor_by_marginal_roi(marginal: float, known: bool, factor: float) -> None:
    c = Coupling(C.UNDERWATER, -0.2, marginal, known=known)
    assert c.ceiling_factor == pytest.approx(factor)
