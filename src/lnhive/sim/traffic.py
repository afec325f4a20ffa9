"""A traffic generator: payments between random endpoints at a given rate.

Payments go through each node's own command path (`SimNode.call`), so `rpc_command`
hooks, payment hooks and notifications reach the plugins as on a real node. By default
each payment is a `keysend` (no BOLT11 encoding in the loop); ``mode="invoice"`` has
the payee create an invoice and the payer `xpay` it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

if TYPE_CHECKING:
    from lnhive.sim.node import SimNode
    from lnhive.sim.runtime import SimRuntime

AmountSampler = Callable[[random.Random], int]
Mode = Literal["keysend", "invoice"]


@dataclass
class TrafficSummary:
    """What a traffic run did. Amounts in msat; fees are what payers paid to route."""

    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    amount_msat: int = 0  # delivered by the successful payments
    fees_msat: int = 0
    elapsed_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)  # "code: message" -> count

    @property
    def in_flight(self) -> int:
        return self.attempted - self.succeeded - self.failed

    @property
    def success_rate(self) -> float:
        done = self.succeeded + self.failed
        return self.succeeded / done if done else 0.0

    def line(self) -> str:
        return (
            f"{self.succeeded} ok, {self.failed} failed, {self.in_flight} in flight, "
            f"{self.amount_msat} msat sent, {self.fees_msat} msat fees"
        )


class TrafficGenerator:
    """Send payments between random distinct ``nodes`` at ``rate_per_s``.

    ``amount`` draws a payment size in msat from the generator's own random source
    (seeded by ``seed``, so endpoints and amounts repeat run to run). At most
    ``concurrency`` payments are in flight; when that many are waiting, the next one
    starts late rather than being dropped. ``progress`` is True (own progress bar),
    False (none) or a ``rich`` Progress owned by the caller (a task is added to it).
    """

    def __init__(
        self,
        runtime: SimRuntime,
        nodes: Sequence[str],
        rate_per_s: float,
        amount: AmountSampler,
        seed: int = 0,
        *,
        mode: Mode = "keysend",
        concurrency: int = 8,
        progress: bool | Progress = True,
    ) -> None:
        if len(set(nodes)) < 2:
            raise ValueError("traffic needs at least two distinct endpoint nodes")
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be greater than 0")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if mode not in ("keysend", "invoice"):
            raise ValueError(f"unknown payment mode {mode!r}")
        missing = [n for n in nodes if n not in runtime.nodes]
        if missing:
            raise ValueError(f"unknown nodes: {', '.join(missing)}")
        self.runtime = runtime
        self.nodes = list(dict.fromkeys(nodes))
        self.rate_per_s = rate_per_s
        self.amount = amount
        self.seed = seed
        self.mode: Mode = mode
        self.concurrency = concurrency
        self.progress = progress
        self.rng = random.Random(seed)
        self.summary = TrafficSummary()
        self._labels = itertools.count()
        self._run_id = f"{seed}-{int(time.time() * 1000)}"

    def _pick(self) -> tuple[str, str, int]:
        payer, payee = self.rng.sample(self.nodes, 2)
        return payer, payee, self.amount(self.rng)

    async def run(
        self, *, count: int | None = None, duration_s: float | None = None
    ) -> TrafficSummary:
        """Send until ``count`` payments were started or ``duration_s`` passed (whichever
        comes first; with neither, until cancelled), then wait for those in flight."""
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if duration_s is not None and duration_s <= 0:
            raise ValueError("duration_s must be greater than 0")
        own = self.progress is True
        bar: Progress | None = None
        if isinstance(self.progress, Progress):
            bar = self.progress
        elif own:
            bar = make_progress()
        total: float | None = count if count is not None else duration_s
        label = "payments" if count is not None or duration_s is None else "payments (s)"
        task = bar.add_task(label, total=total, status="") if bar is not None else None
        if own and bar is not None:
            bar.start()
        start = time.monotonic()
        slots = asyncio.Semaphore(self.concurrency)
        pending: set[asyncio.Task[None]] = set()
        try:
            for i in itertools.count():
                if count is not None and i >= count:
                    break
                due = start + i / self.rate_per_s
                if duration_s is not None and due - start >= duration_s:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await slots.acquire()
                payer, payee, amount = self._pick()
                self.summary.attempted += 1
                t = asyncio.create_task(self._pay_slot(slots, payer, payee, amount))
                pending.add(t)
                t.add_done_callback(pending.discard)
                self._show(bar, task, start, count)
            if pending:
                await asyncio.gather(*pending)
            self._show(bar, task, start, count, final=count is None)
        finally:
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            self.summary.elapsed_s = time.monotonic() - start
            if own and bar is not None:
                bar.stop()
        return self.summary

    def _show(
        self,
        bar: Progress | None,
        task: TaskID | None,
        start: float,
        count: int | None,
        *,
        final: bool = False,
    ) -> None:
        if bar is None or task is None:
            return
        s = self.summary
        done: float = s.attempted if count is not None else time.monotonic() - start
        if final and duration_s_total(bar, task) is not None:
            done = duration_s_total(bar, task) or done
        bar.update(task, completed=done, status=s.line())

    async def _pay_slot(
        self, slots: asyncio.Semaphore, payer: str, payee: str, amount: int
    ) -> None:
        try:
            await self.pay(payer, payee, amount)
        finally:
            slots.release()

    async def pay(self, payer: str, payee: str, amount_msat: int) -> bool:
        """One payment from ``payer`` to ``payee``; counted in ``summary``; True on success."""
        s = self.summary
        try:
            src = self._running(payer)
            dst = self._running(payee)
            if self.mode == "keysend":
                # xkeysend: keysend's successor, served with allow-deprecated-apis off too.
                result = await src.call(
                    "xkeysend", {"destination": dst.node_id, "amount_msat": amount_msat}
                )
            else:
                label = f"lnhive-traffic-{self._run_id}-{next(self._labels)}"
                inv = await dst.call(
                    "invoice",
                    {"amount_msat": amount_msat, "label": label, "description": "lnhive traffic"},
                )
                result = await src.call("xpay", {"invstring": inv["bolt11"]})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            s.failed += 1
            s.errors[_describe(exc)] += 1
            return False
        s.succeeded += 1
        delivered = int(result.get("amount_msat", amount_msat))
        s.amount_msat += delivered
        s.fees_msat += int(result.get("amount_sent_msat", delivered)) - delivered
        return True

    def _running(self, name: str) -> SimNode:
        node = self.runtime.nodes[name]
        if node.state != "running":
            raise NodeDown(f"{name} is {node.state}")
        return node


def duration_s_total(bar: Progress, task: TaskID) -> float | None:
    return next((t.total for t in bar.tasks if t.id == task), None)


class NodeDown(Exception):
    pass


def _describe(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    first = str(message).splitlines()[0][:120]
    return f"{code}: {first}" if code is not None else f"{type(exc).__name__}: {first}"


def make_progress(**kwargs: Any) -> Progress:
    """The progress bar the generator draws: spinner, bar, count or time, and the tally."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        **kwargs,
    )
