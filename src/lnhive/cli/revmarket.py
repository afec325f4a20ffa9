"""A small routing market for cl-revenue-ops in virtual time (the benchmark's scenario).

Our node ``us`` has one channel (5 M sat, 50/50 at the start) to each of four peers
``p0``..``p3``; a hub ``hub`` has a 20 M sat channel to each peer, so circular rebalances
(us → p_src → hub → p_dst → us) have routes, but payments between peers go through us
(they are routed with the hub excluded). External fees are 25 ppm (a circular rebalance pays about 75 ppm).

Demand is directional, so liquidity moves: peers p0 and p1 mostly pay p2 and p3. Payments
from p_i to p_j arrive as a Poisson process at ``base_ij`` x e^(-f/s_j) per hour, where f is
our fee toward p_j at the time, each of 20 000 to 80 000 sat. A payment fails when our
channel toward p_j cannot carry it: that is the revenue a depleted channel loses.

The demand scale s_j (the revenue-optimal fee toward p_j: f x e^(-f/s) peaks at f = s) is
either one number for every destination (``demand_scale_ppm=600``, the default here, is
the elasticity of spec §7 test 13) or one per destination. The heterogeneous market
(:func:`heterogeneous_scales`) draws each destination's scale log-uniformly in
[250, 1500] ppm from its own stream seeded by the run's seed, independent of the demand
streams: real peers differ in how their senders react to fees.

Every arm runs the same budgeted rebalancer (every 15 min) and the same flow analysis
(hourly); they differ only in the fee policy, applied every 30 min:

- ``controller``: our fee controller (:class:`~lnhive.revenue.controller.FeeController`);
- ``static``: 200 ppm on every channel;
- ``proportional``: 50 + (1000 - 50) x (1 - local ratio) ppm (spec "Clarifications").

Everything is seeded: the same seed gives the same demand (one random stream per directed
pair, drawn independently of the fees' effect on other pairs) and the same result.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lnhive.core.clock import VirtualClock
from lnhive.core.hashing import sha256
from lnhive.revenue.service import RevenueOptions, RevenueService
from lnhive.sim.network import run_sync
from lnhive.sim.network.channel import Channel
from lnhive.sim.network.events import Event
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network
from lnhive.sim.network.pay import sendpay_gen
from lnhive.sim.network.routing import find_route

DAY = 86_400.0
STEP_S = 900
PEERS = ("p0", "p1", "p2", "p3")
OUR_CAPACITY_SAT = 5_000_000
HUB_CAPACITY_SAT = 20_000_000
EXTERNAL_FEE_PPM = 25
DEMAND_SCALE_PPM = 600.0
HETEROGENEOUS_SCALE_RANGE_PPM = (250.0, 1500.0)
STATIC_FEE_PPM = 200
PROPORTIONAL_MIN_PPM = 50
PROPORTIONAL_MAX_PPM = 1000
AMOUNT_RANGE_SAT = (20_000, 80_000)
ARMS = ("controller", "static", "proportional")


def base_rate_per_h(src: int, dst: int) -> float:
    """Payments per hour from peer ``src`` to peer ``dst`` at a zero fee."""
    if src == dst:
        return 0.0
    if src < 2 <= dst:
        return 3.0  # p0, p1 -> p2, p3: the main flow, draining our side toward p2 and p3
    if dst < 2 <= src:
        return 1.5
    return 1.0


def proportional_fee(local_ratio: float) -> int:
    """The charge-lnd-style baseline: 50 ppm when full, 1000 ppm when empty."""
    span = PROPORTIONAL_MAX_PPM - PROPORTIONAL_MIN_PPM
    return round(PROPORTIONAL_MIN_PPM + span * (1.0 - local_ratio))


DemandScale = float | Sequence[float]
"""One demand scale (ppm) for every destination, or one per destination peer (``PEERS`` order)."""


def demand_scales(demand_scale_ppm: DemandScale) -> tuple[float, ...]:
    """The demand scale toward each destination peer, in ``PEERS`` order."""
    if isinstance(demand_scale_ppm, int | float):
        scales = (float(demand_scale_ppm),) * len(PEERS)
    else:
        scales = tuple(float(s) for s in demand_scale_ppm)
    if len(scales) != len(PEERS) or not all(s > 0 for s in scales):
        raise ValueError(f"need {len(PEERS)} positive demand scales, got {demand_scale_ppm!r}")
    return scales


def heterogeneous_scales(seed: int) -> tuple[float, ...]:
    """Each destination peer's demand scale (ppm), drawn log-uniformly in
    ``HETEROGENEOUS_SCALE_RANGE_PPM`` from a stream of its own seeded by ``seed`` (so the
    draw neither depends on nor shifts the demand streams)."""
    lo, hi = HETEROGENEOUS_SCALE_RANGE_PPM
    rng = random.Random(f"scales:{seed}")
    return tuple(math.exp(rng.uniform(math.log(lo), math.log(hi))) for _ in PEERS)


def revenue_ceiling_sat(days: float, demand_scale_ppm: DemandScale = DEMAND_SCALE_PPM) -> float:
    """Expected revenue (sat) if every pair's fee sat at its demand curve's revenue optimum
    (f x e^(-f/s_j) peaks at f = s_j, the scale of the pair's destination) and no payment
    ever lacked liquidity: an upper bound, in expectation, for any fee policy in this market
    (a run's realized demand varies by a few per cent around it). A diagnostic; the market
    does not use it."""
    scales = demand_scales(demand_scale_ppm)
    mean_amount_sat = sum(AMOUNT_RANGE_SAT) / 2
    n = len(PEERS)
    per_hour_sat = sum(
        base_rate_per_h(i, j) * math.exp(-1.0) * mean_amount_sat * scales[j] / 1e6
        for i in range(n)
        for j in range(n)
    )
    return per_hour_sat * 24.0 * days


@dataclass
class MarketResult:
    arm: str
    days: int
    daily_budget_sat: int
    revenue_msat_by_day: list[int] = field(default_factory=list)
    rebalance_fee_msat_by_day: list[int] = field(default_factory=list)
    forwards: int = 0
    failed_payments: int = 0
    rebalances: int = 0
    rebalance_moved_sat: int = 0
    broadcasts: int = 0
    max_committed_24h_sat: int = 0
    """Largest daily budget commitment the budget ledger ever reported (sampled each step)."""
    max_spent_24h_sat: int = 0
    """Largest rebalance spend in any trailing 24 h (sampled each step)."""
    final_local_ratios: list[float] = field(default_factory=list)
    classes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.revenue_msat_by_day = self.revenue_msat_by_day or [0] * self.days
        self.rebalance_fee_msat_by_day = self.rebalance_fee_msat_by_day or [0] * self.days

    @property
    def revenue_sat(self) -> float:
        return sum(self.revenue_msat_by_day) / 1000

    @property
    def rebalance_spend_sat(self) -> float:
        return sum(self.rebalance_fee_msat_by_day) / 1000

    def revenue_from_day_sat(self, day: int) -> float:
        """Revenue of days ``day``.. (0-based) to the end, sat (after a learning phase)."""
        return sum(self.revenue_msat_by_day[day:]) / 1000

    @property
    def net_sat(self) -> float:
        return self.revenue_sat - self.rebalance_spend_sat

    @property
    def within_budget(self) -> bool:
        return self.max_spent_24h_sat <= self.daily_budget_sat


@dataclass
class _Market:
    net: Network
    clock: VirtualClock
    ours: list[Channel]
    hub_id: str
    peer_ids: list[str]


def _build(seed: int) -> _Market:
    clock = VirtualClock()
    net = Network(clock, seed)
    for name in ("us", "hub", *PEERS):
        net.add_node(name)
    ours = [net.open_channel("us", p, OUR_CAPACITY_SAT) for p in PEERS]
    hubs = [net.open_channel("hub", p, HUB_CAPACITY_SAT) for p in PEERS]
    for chan in ours + hubs:
        half = chan.capacity_msat // 2
        chan.balance[0], chan.balance[1] = half, chan.capacity_msat - half
        assert chan.scid is not None
        for node_id in chan.node_ids:
            if node_id != net.by_name["us"]:
                net.setchannel(node_id, chan.scid, feebase=0, feeppm=EXTERNAL_FEE_PPM)
    clock.advance(3600)  # gossip settles before the first payment
    return _Market(net, clock, ours, net.by_name["hub"], [net.by_name[p] for p in PEERS])


def _our_fee(m: _Market, j: int) -> int:
    chan = m.ours[j]
    return chan.policies[chan.side_of(m.net.by_name["us"])].fee_ppm


def _local_ratio(m: _Market, chan: Channel) -> float:
    return chan.balance[chan.side_of(m.net.by_name["us"])] / chan.capacity_msat


def _set_fee(m: _Market, chan: Channel, ppm: int) -> bool:
    us = m.net.by_name["us"]
    if chan.policies[chan.side_of(us)].fee_ppm == ppm:
        return False
    assert chan.scid is not None
    m.net.setchannel(us, chan.scid, feebase=0, feeppm=ppm)
    return True


def _pay(m: _Market, src: int, dst: int, amount_msat: int, rng: random.Random) -> bool:
    payer, payee = m.peer_ids[src], m.peer_ids[dst]
    route = find_route(m.net, payer, payee, amount_msat, exclude={m.hub_id})
    if route is None:
        return False
    preimage = rng.randbytes(32)
    sp = run_sync(
        sendpay_gen(
            m.net,
            payer,
            route,
            sha256(preimage).hex(),
            amount_msat=amount_msat,
            keysend_preimage=preimage.hex(),
        )
    )
    return bool(sp.status == "complete")


def simulate_market(
    tmp: Path,
    arm: str,
    *,
    days: int = 30,
    seed: int = 7,
    daily_budget_sat: int = 5000,
    demand_scale_ppm: DemandScale = DEMAND_SCALE_PPM,
) -> MarketResult:
    """Run one arm of the market for ``days`` virtual days; ``demand_scale_ppm`` is one
    scale for every destination or one per destination peer (e.g.
    :func:`heterogeneous_scales`)."""
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    scales = demand_scales(demand_scale_ppm)
    m = _build(seed)
    start = m.clock.now()
    res = MarketResult(arm, days, daily_budget_sat)
    us_name = "us"
    holder: list[RevenueService] = []

    def on_event(ev: Event) -> None:
        if ev.topic == "forward_event" and holder:
            p = ev.payload
            if p.get("status") == "settled":
                day = min(days - 1, int((m.clock.now() - start) // DAY))
                res.revenue_msat_by_day[day] += int(p["fee_msat"])
                res.forwards += 1
            holder[0].forward_event(p)

    node = InProcessNode(m.net, us_name, on_event=on_event)
    tmp.mkdir(parents=True, exist_ok=True)
    opts = RevenueOptions(
        db_path=str(tmp / f"market-{arm}-{seed}.sqlite3"),
        daily_budget_sats=daily_budget_sat,
        weekly_budget_sats=7 * daily_budget_sat,
    )
    svc = RevenueService(node, opts, clock=m.clock, rng=random.Random(seed))
    holder.append(svc)
    if arm == "static":
        for chan in m.ours:
            _set_fee(m, chan, STATIC_FEE_PPM)
    pairs = [(i, j) for i in range(len(PEERS)) for j in range(len(PEERS)) if i != j]
    streams = {pair: random.Random(f"{seed}:{pair[0]}:{pair[1]}") for pair in pairs}
    nxt = {pair: 0.0 for pair in pairs}  # exponential clocks in units of "demand at f=0"
    for pair in pairs:
        nxt[pair] = streams[pair].expovariate(1.0)
    spent_log: list[tuple[float, int]] = []
    seen: set[int] = set()
    steps = days * int(DAY // STEP_S)
    for step in range(steps):
        t0 = start + step * STEP_S
        m.clock.advance_to(t0)
        if step % 4 == 0:
            svc.controller.flow_cycle()
            svc.profits.refresh()
        if step % 2 == 0:
            if arm == "controller":
                out = svc.controller.fee_cycle()
                res.broadcasts += len(out["adjustments"])
            elif arm == "proportional":
                for chan in m.ours:
                    res.broadcasts += _set_fee(m, chan, proportional_fee(_local_ratio(m, chan)))
        svc.rebalancer.cycle()
        for row in svc.rebalancer.journal.costs(since=t0):
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            res.rebalances += 1
            res.rebalance_moved_sat += int(row["amount_sat"])
            day = min(days - 1, int((float(row["timestamp"]) - start) // DAY))
            res.rebalance_fee_msat_by_day[day] += int(row["fee_msat"])
            spent_log.append((float(row["timestamp"]), int(row["fee_msat"])))
        committed = int(svc.budget.summary(m.clock.now()).get("daily_committed_sat", 0))
        res.max_committed_24h_sat = max(res.max_committed_24h_sat, committed)
        spent_24h = sum(f for t, f in spent_log if t > t0 - DAY) // 1000
        res.max_spent_24h_sat = max(res.max_spent_24h_sat, spent_24h)
        _demand(m, res, streams, nxt, t0, scales)
    res.final_local_ratios = [round(_local_ratio(m, c), 3) for c in m.ours]
    for p in svc.profits.evaluate_all():
        res.classes[str(p.classification)] = res.classes.get(str(p.classification), 0) + 1
    svc.stop(0)
    return res


def _demand(
    m: _Market,
    res: MarketResult,
    streams: dict[tuple[int, int], random.Random],
    nxt: dict[tuple[int, int], float],
    t0: float,
    scales_ppm: tuple[float, ...],
) -> None:
    """One step of payments: each pair's Poisson clock runs at base x e^(-f/s_j) per hour
    (s_j: the scale of the pair's destination) with the fee of the step's start
    (time-rescaled, so a pair's draws never depend on another pair's fee)."""
    lo, hi = AMOUNT_RANGE_SAT
    events: list[tuple[float, tuple[int, int], int]] = []
    for pair, rng in streams.items():
        rate_h = base_rate_per_h(*pair) * math.exp(-_our_fee(m, pair[1]) / scales_ppm[pair[1]])
        if rate_h <= 0:
            continue
        budget = rate_h * STEP_S / 3600  # units of the unit-rate clock this step consumes
        while nxt[pair] <= budget:
            when = t0 + nxt[pair] / budget * STEP_S
            events.append((when, pair, rng.randint(lo, hi) * 1000))
            nxt[pair] += rng.expovariate(1.0)
        nxt[pair] -= budget
    for when, (i, j), amount in sorted(events):
        m.clock.advance_to(when)
        if not _pay(m, i, j, amount, streams[(i, j)]):
            res.failed_payments += 1
