"""cl-revenue-ops in virtual time: the in-process network model and the revenue domain
stepped together under one :class:`~lnhive.core.clock.VirtualClock` (no processes, no
sockets). The controller's decisions are pure functions of (evidence, now, seeded RNG), so
a 30-day run takes seconds to minutes and repeats exactly for a seed.

Two harnesses, shared by the slow tests and ``bench/bench_revenue.py``:

- :func:`simulate_single` - spec §7 test 13: payer → us → payee, demand
  λ(f) = 40 forwards/h x e^(-f/600) of 50 000 sat each at our fee f on the us → payee
  channel (a Poisson process, paid by ``keysend`` through the model's routing), liquidity
  pinned at 50 % by resetting both channels through the model each cycle (spec
  "Clarifications"); ``fee_cycle`` every 30 min, ``flow_cycle`` every hour.
- :func:`lnhive.cli.revmarket.simulate_market` - several channels whose liquidity moves,
  with the budgeted rebalancer (the benchmark's scenario).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from lnhive.core.clock import VirtualClock
from lnhive.revenue.controller import ControllerConfig, FeeController
from lnhive.revenue.forwards import ForwardIngestor
from lnhive.revenue.policy import PolicyService
from lnhive.revenue.store import RevenueStore
from lnhive.sim.network.channel import Channel
from lnhive.sim.network.events import Event
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network

DAY = 86_400.0
CYCLE_S = 1800
CAPACITY_SAT = 10_000_000
AMOUNT_MSAT = 50_000 * 1000
BASE_RATE_PER_H = 40.0
DEMAND_SCALE_PPM = 600.0


@dataclass
class SimResult:
    """Per-day revenue and broadcasts, and the fee at every cycle, of one single-channel run."""

    days: int
    revenue_msat_by_day: list[int] = field(default_factory=list)
    fee_by_cycle: list[int] = field(default_factory=list)
    broadcasts_by_day: list[int] = field(default_factory=list)
    forwards: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.revenue_msat_by_day = self.revenue_msat_by_day or [0] * self.days
        self.broadcasts_by_day = self.broadcasts_by_day or [0] * self.days

    def revenue_sat(self, first_day: int, last_day: int) -> float:
        return sum(self.revenue_msat_by_day[first_day:last_day]) / 1000

    def mean_fee(self, first_day: int, last_day: int) -> float:
        per_day = DAY // CYCLE_S
        window = self.fee_by_cycle[int(first_day * per_day) : int(last_day * per_day)]
        return sum(window) / len(window)


def pin_half(chan: Channel) -> None:
    """Reset a channel's balance to 50/50 through the model (not through routing)."""
    half = chan.capacity_msat // 2
    chan.balance[0] = half
    chan.balance[1] = chan.capacity_msat - half


def simulate_single(
    tmp: Path, *, static_fee: int | None, seed: int = 13, days: int = 30
) -> SimResult:
    """Spec §7 test 13's run: the controller (``static_fee=None``) or a static fee."""
    clock = VirtualClock()
    net = Network(clock, seed)
    for name in ("payer", "us", "payee"):
        net.add_node(name)
    c_in = net.open_channel("payer", "us", CAPACITY_SAT)
    c_out = net.open_channel("us", "payee", CAPACITY_SAT)
    assert c_out.scid is not None
    us_id, payee_id = net.by_name["us"], net.by_name["payee"]
    side = c_out.side_of(us_id)
    clock.advance(3600)  # let the payer learn the channels by gossip before the first payment
    start = clock.now()
    result = SimResult(days)
    store = RevenueStore(tmp / f"revenue-{static_fee}-{seed}.sqlite3")
    ingestor = ForwardIngestor(store)

    def on_event(ev: Event) -> None:
        if ev.topic != "forward_event":
            return
        p = ev.payload
        if p.get("status") == "settled" and p.get("out_channel") == c_out.scid:
            day = int((clock.now() - start) // DAY)
            if day < days:
                result.revenue_msat_by_day[day] += int(p["fee_msat"])
            result.forwards += 1
        ingestor.ingest_event(p)

    us = InProcessNode(net, "us", on_event=on_event)
    payer = InProcessNode(net, "payer")
    controller = None
    net.setchannel(us_id, c_out.scid, feebase=0, feeppm=static_fee or 200)
    if static_fee is None:
        controller = FeeController(
            us, store, PolicyService(store), ControllerConfig(), clock, random.Random(seed)
        )
    demand = random.Random(seed)
    last_fee = c_out.policies[side].fee_ppm
    for cycle in range(days * int(DAY // CYCLE_S)):
        t0 = start + cycle * CYCLE_S
        clock.advance_to(t0)
        pin_half(c_in)
        pin_half(c_out)
        if controller is not None:
            if cycle % 2 == 0:
                controller.flow_cycle()
            controller.fee_cycle()
        fee = c_out.policies[side].fee_ppm
        if fee != last_fee:
            result.broadcasts_by_day[int((t0 - start) // DAY)] += 1
            last_fee = fee
        result.fee_by_cycle.append(fee)
        rate_per_s = BASE_RATE_PER_H * math.exp(-fee / DEMAND_SCALE_PPM) / 3600
        t = demand.expovariate(rate_per_s)
        while t < CYCLE_S:
            clock.advance_to(t0 + t)
            try:
                payer.keysend(destination=payee_id, amount_msat=AMOUNT_MSAT)
            except Exception as exc:
                result.failures += 1
                result.errors.append(f"day {(clock.now() - start) / DAY:.2f} fee {fee}: {exc}")
            t += demand.expovariate(rate_per_s)
    store.close()
    return result
