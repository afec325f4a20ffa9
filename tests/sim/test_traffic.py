"""The traffic generator: payments through the nodes' own command path, counted exactly."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lnhive.sim.runtime import SimThread
from lnhive.sim.scenario import parse_scenario, start_scenario
from lnhive.sim.traffic import TrafficGenerator, make_progress

# a -- b -- c, every channel balanced half and half.
LINE = """
[scenario]
name = "line"
seed = 3

[[node]]
name = "a"
[[node]]
name = "b"
[[node]]
name = "c"

[[channel]]
from = "a"
to = "b"
capacity_sat = 1_000_000
push_msat = 500_000_000

[[channel]]
from = "b"
to = "c"
capacity_sat = 1_000_000
push_msat = 500_000_000
"""
NODES_ONLY = '[scenario]\nname = "n"\n[[node]]\nname = "a"\n[[node]]\nname = "b"\n'


def started(tmp_path: Path, text: str) -> SimThread:
    scenario = parse_scenario(text, tmp_path / "scenario.toml")
    sim = SimThread(tmp_path / "sim", scenario.seed)
    try:
        sim.run(start_scenario(sim.runtime, scenario))
    except BaseException:
        sim.close()
        raise
    return sim


@pytest.fixture
def line(tmp_path: Path) -> Iterator[SimThread]:
    sim = started(tmp_path, LINE)
    try:
        yield sim
    finally:
        sim.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[SimThread]:
    """Two nodes without channels: enough for the generator's own pacing logic."""
    sim = started(tmp_path, NODES_ONLY)
    try:
        yield sim
    finally:
        sim.close()


def call(sim: SimThread, node: str, method: str, params: dict[str, Any] | None = None) -> Any:
    return sim.run(sim.runtime.nodes[node].call(method, params or {}))


def to_us(sim: SimThread, node: str, peer: str) -> int:
    peer_id = sim.runtime.nodes[peer].node_id
    chans = call(sim, node, "listpeerchannels", {"id": peer_id})["channels"]
    return int(sum(c["to_us_msat"] for c in chans))


def fixed(amount: int) -> Any:
    return lambda rng: amount


def replay(seed: int, nodes: list[str], count: int, amount: Any) -> list[tuple[str, str, int]]:
    """The generator's picks, drawn again from the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        payer, payee = rng.sample(nodes, 2)
        out.append((payer, payee, amount(rng)))
    return out


def test_keysend_traffic_moves_exactly_the_sent_amounts(line: SimThread) -> None:
    before = to_us(line, "a", "b")
    amount = lambda rng: rng.randint(1_000, 20_000)  # noqa: E731
    gen = TrafficGenerator(line.runtime, ["a", "b"], 100, amount, seed=11, progress=False)
    summary = line.run(gen.run(count=12))
    assert (summary.attempted, summary.succeeded, summary.failed) == (12, 12, 0), summary.errors
    picks = replay(11, ["a", "b"], 12, amount)
    assert summary.amount_msat == sum(a for _, _, a in picks)
    assert summary.fees_msat == 0  # direct channel: no routing fees
    net = sum(a if payer == "a" else -a for payer, _, a in picks)
    assert to_us(line, "a", "b") == before - net


def test_multi_hop_fees_match_the_forwards(line: SimThread) -> None:
    gen = TrafficGenerator(line.runtime, ["a", "c"], 100, fixed(50_000), seed=1, progress=False)
    summary = line.run(gen.run(count=6))
    assert summary.succeeded == 6, summary.errors
    forwards = call(line, "b", "listforwards", {"status": "settled"})["forwards"]
    assert len(forwards) == 6
    assert summary.fees_msat == sum(f["fee_msat"] for f in forwards) > 0
    assert summary.amount_msat == 6 * 50_000


def test_invoice_mode_pays_invoices_with_xpay(line: SimThread) -> None:
    gen = TrafficGenerator(
        line.runtime, ["a", "b"], 100, fixed(7_000), seed=2, mode="invoice", progress=False
    )
    summary = line.run(gen.run(count=4))
    assert summary.succeeded == 4, summary.errors
    picks = replay(2, ["a", "b"], 4, fixed(7_000))
    for node in ("a", "b"):
        invoices = call(line, node, "listinvoices")["invoices"]
        ours = [i for i in invoices if i["label"].startswith("lnhive-traffic-")]
        assert len(ours) == sum(1 for _, payee, _ in picks if payee == node)
        assert all(i["status"] == "paid" and i["amount_msat"] == 7_000 for i in ours)


def test_failures_are_counted_with_their_error(line: SimThread) -> None:
    too_big = 2_000_000_000  # more than either side of a 1M sat channel holds
    gen = TrafficGenerator(line.runtime, ["a", "b"], 100, fixed(too_big), seed=4, progress=False)
    summary = line.run(gen.run(count=3))
    assert (summary.succeeded, summary.failed) == (0, 3)
    assert summary.amount_msat == 0 and summary.fees_msat == 0
    assert sum(summary.errors.values()) == 3
    assert all(key.split(":")[0].lstrip("-").isdigit() for key in summary.errors), summary.errors


def test_stopped_node_counts_as_failure(pair: SimThread) -> None:
    pair.run(pair.runtime.nodes["b"].stop())
    gen = TrafficGenerator(pair.runtime, ["a", "b"], 100, fixed(1_000), progress=False)
    summary = pair.run(gen.run(count=2))
    assert (summary.attempted, summary.failed) == (2, 2)
    assert summary.errors == {"NodeDown: b is stopped": 2}


class Recording(TrafficGenerator):
    """Replaces the payment with a sleep, to watch pacing and the concurrency bound."""

    def __init__(self, *args: Any, delay: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay = delay
        self.in_flight = 0
        self.peak = 0
        self.calls: list[tuple[str, str, int]] = []

    async def pay(self, payer: str, payee: str, amount_msat: int) -> bool:
        self.calls.append((payer, payee, amount_msat))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        self.summary.succeeded += 1
        return True


def test_rate_is_respected(pair: SimThread) -> None:
    gen = Recording(pair.runtime, ["a", "b"], 20, fixed(5), seed=3, progress=False, delay=0)
    summary = pair.run(gen.run(count=10))
    assert summary.attempted == 10
    assert summary.elapsed_s >= 9 / 20
    assert summary.elapsed_s < 3
    assert {(p, q) for p, q, _ in gen.calls} <= {("a", "b"), ("b", "a")}


def test_concurrency_is_bounded(pair: SimThread) -> None:
    gen = Recording(
        pair.runtime, ["a", "b"], 1000, fixed(5), concurrency=3, progress=False, delay=0.1
    )
    summary = pair.run(gen.run(count=12))
    assert summary.succeeded == 12
    assert gen.peak == 3
    assert summary.elapsed_s >= 0.39  # four rounds of three


def test_duration_stops_the_run(pair: SimThread) -> None:
    gen = Recording(pair.runtime, ["a", "b"], 10, fixed(5), progress=False, delay=0)
    summary = pair.run(gen.run(duration_s=0.5))
    assert summary.attempted == 5  # at t = 0, 0.1, 0.2, 0.3, 0.4


def test_same_seed_same_traffic(pair: SimThread) -> None:
    runs = []
    for _ in range(2):
        gen = Recording(
            pair.runtime,
            ["a", "b"],
            1000,
            lambda rng: rng.randint(1, 10**6),
            seed=8,
            progress=False,
            delay=0,
        )
        pair.run(gen.run(count=20))
        runs.append(gen.calls)
    assert runs[0] == runs[1]
    assert runs[0] == replay(8, ["a", "b"], 20, lambda rng: rng.randint(1, 10**6))


def test_progress_bar_shows_the_tally(pair: SimThread) -> None:
    progress = make_progress(console=Console(file=io.StringIO(), force_terminal=False))
    gen = Recording(pair.runtime, ["a", "b"], 1000, fixed(5), progress=progress, delay=0)
    pair.run(gen.run(count=4))
    (task,) = progress.tasks
    assert task.total == 4 and task.completed == 4
    assert task.fields["status"].startswith("4 ok, 0 failed, 0 in flight")


def test_bad_arguments(pair: SimThread) -> None:
    rt = pair.runtime
    with pytest.raises(ValueError, match="two distinct"):
        TrafficGenerator(rt, ["a", "a"], 1, fixed(1))
    with pytest.raises(ValueError, match="rate_per_s"):
        TrafficGenerator(rt, ["a", "b"], 0, fixed(1))
    with pytest.raises(ValueError, match="unknown nodes: z"):
        TrafficGenerator(rt, ["a", "z"], 1, fixed(1))
    with pytest.raises(ValueError, match="concurrency"):
        TrafficGenerator(rt, ["a", "b"], 1, fixed(1), concurrency=0)
    gen = TrafficGenerator(rt, ["a", "b"], 1, fixed(1), progress=False)
    with pytest.raises(ValueError, match="count"):
        pair.run(gen.run(count=0))
