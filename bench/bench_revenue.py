"""cl-revenue-ops: revenue of our fee controller against two baselines, in virtual time.

The scenario (:mod:`lnhive.cli.revmarket`): our node with four 5 M sat channels in a small
routing market with directional, fee-elastic demand (p0 and p1 mostly pay p2 and p3), the
budgeted circular rebalancer running every 15 minutes in every arm, and one fee policy per
arm, measured in the same run with the same seeded demand:

- ``controller``: the fee controller (discounted Thompson sampling + PI, rails, deadbands);
- ``static``: 200 ppm on every channel;
- ``proportional``: 50 + 950 x (1 - local ratio) ppm (charge-lnd's ``proportional``).

It prints each arm's routing revenue, rebalance spend, net, failed payments and fee
broadcasts, the ratios of the controller's revenue and net to each baseline (also over the
last two thirds of the run, after the learning phase), each arm's share of the expected
revenue ceiling (every fee at the demand curve's optimum, no payment short of liquidity),
and whether the rebalance spend stayed inside the daily budget (the largest spend in any
trailing 24 h and the largest daily commitment the budget ledger reported, both against the
budget).

The market is heterogeneous by default: payments toward peer p_j fall as e^(-fee/s_j), with
each destination's scale s_j (its revenue-optimal fee) drawn log-uniformly in [250, 1500] ppm
from a stream seeded by ``--seed`` (printed first). Real peers differ in how fee-sensitive
their senders are, and a fixed fee schedule cannot fit them all. ``--demand-scale S`` runs
the homogeneous market instead (every destination at scale S; at 600, spec §7 test 13's
elasticity, the proportional schedule's midpoint happens to sit at the optimum).

Default: 10 virtual days (about 30 s on 2 cores); ``--days 30`` (or ``--full``) runs
the issue's 30 days. Run:
``python bench/bench_revenue.py [--days N] [--seed S] [--budget SAT] [--demand-scale PPM]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lnhive.cli.revmarket import (
    ARMS,
    PEERS,
    MarketResult,
    heterogeneous_scales,
    revenue_ceiling_sat,
    simulate_market,
)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--full", action="store_true", help="30 virtual days")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=int, default=5000, help="daily rebalance budget, sat")
    ap.add_argument(
        "--demand-scale",
        type=float,
        default=None,
        help="homogeneous market: demand toward every peer falls as e^(-fee/scale), the "
        "revenue-optimal fee is the scale (ppm); default: a scale per destination peer, "
        "drawn log-uniformly in [250, 1500] ppm from the seed",
    )
    args = ap.parse_args()
    days = 30 if args.full else args.days
    scales: float | tuple[float, ...]
    if args.demand_scale is None:
        scales = heterogeneous_scales(args.seed)
        market = (
            "heterogeneous demand scales "
            + ", ".join(f"{p} {s:.0f}" for p, s in zip(PEERS, scales, strict=True))
            + " ppm"
        )
    else:
        scales = args.demand_scale
        market = f"demand scale {scales:.0f} ppm"

    results: dict[str, MarketResult] = {}
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arm in ARMS:
            t0 = time.perf_counter()
            results[arm] = simulate_market(
                Path(tmp),
                arm,
                days=days,
                seed=args.seed,
                daily_budget_sat=args.budget,
                demand_scale_ppm=scales,
            )
            walls[arm] = time.perf_counter() - t0

    print(
        f"market: 4 channels x 5 M sat, {days} virtual days, seed {args.seed}, "
        f"daily rebalance budget {args.budget} sat, {market}"
    )
    head = (
        f"{'arm':<13} {'revenue':>9} {'rebal':>7} {'net':>9} {'forwards':>8} {'failed':>6} "
        f"{'rebals':>6} {'bc/ch/d':>7} {'max24h':>6} {'wall':>6}  final local ratios"
    )
    print(head)
    for arm, r in results.items():
        print(
            f"{arm:<13} {r.revenue_sat:>9.0f} {r.rebalance_spend_sat:>7.0f} {r.net_sat:>9.0f} "
            f"{r.forwards:>8} {r.failed_payments:>6} {r.rebalances:>6} "
            f"{r.broadcasts / 4 / days:>7.1f} "
            f"{r.max_spent_24h_sat:>6} {walls[arm]:>5.1f}s  {r.final_local_ratios}"
        )
    c = results["controller"]
    later = days // 3
    for base in ("static", "proportional"):
        b = results[base]
        print(
            f"ratio controller/{base}: revenue {_ratio(c.revenue_sat, b.revenue_sat)}, "
            f"net {_ratio(c.net_sat, b.net_sat)}, revenue from day {later + 1} "
            f"{_ratio(c.revenue_from_day_sat(later), b.revenue_from_day_sat(later))}"
        )
    ceiling = revenue_ceiling_sat(days, scales)
    print(
        f"ceiling (every fee at the demand optimum, unlimited liquidity, expected): "
        f"{ceiling:.0f} sat; "
        + ", ".join(f"{arm} {r.revenue_sat / ceiling:.0%}" for arm, r in results.items())
    )
    for arm, r in results.items():
        verdict = "inside" if r.within_budget else "OVER"
        print(
            f"budget {arm}: max spend in 24 h {r.max_spent_24h_sat} sat, max committed "
            f"{r.max_committed_24h_sat} sat of {r.daily_budget_sat} -> {verdict}"
        )


if __name__ == "__main__":
    main()
