"""cl-revenue-ops as one object: store, ingestion, policies, the fee controller, its loops.

:class:`RevenueService` is what the plugin shell (``lnhive.plugins.revenue_ops``) holds.
It runs three background loops (spec revenue-ops §0): *flow* every ``flow-interval`` (first
tick after 30 s), *fee* every ``fee-interval`` (after 90 s) and *rebalance* every
``rebalance-interval`` (after 180 s), each a thread waiting on
one shutdown event; a failing cycle is logged and retried after a growing delay, never
ending its loop. Heartbeats tell when a loop last ticked and whether it is *stalled* (no
successful tick for 3x its interval). Intervals are at least :data:`INTERVAL_FLOOR_S`
(so *stalled* is never under 900 s) unless the node runs in ``developer`` mode, where 1 s
is allowed and the start offsets shrink in proportion (ARCHITECTURE §4).

Start-up hydration reads ``listforwards status=settled`` in the start-up thread; if it
fails, the flow loop retries it first (the store drops duplicates). Controller calls
hold one re-entrant lock, so a manual ``revenue-fee-cycle`` never runs beside the loop's;
the rebalancer is single-flight on its own (a manual call while a cycle runs gets
``engine_busy``; the loop skips a tick while a manual rebalance runs).
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock, WallClock
from lnhive.core.errors import Conflict, InvalidInput, NotFound
from lnhive.revenue import (
    cycles,
    dashboard,
    health,
    hive_status,
    profile_preview,
    rebalance_rpc,
    upkeep,
)
from lnhive.revenue.budget import Budget
from lnhive.revenue.config_overrides import ConfigOverrides
from lnhive.revenue.controller import FeeController
from lnhive.revenue.defibrillator import Defibrillator, DiagnosticLog
from lnhive.revenue.exploration import flag_low_fee_exploration
from lnhive.revenue.forwards import ForwardIngestor
from lnhive.revenue.options import RevenueOptions as RevenueOptions
from lnhive.revenue.peer_lists import Listing, PeerLists
from lnhive.revenue.policy import PolicyService, validate_fee_ppm, validate_peer_id
from lnhive.revenue.profit_service import ProfitConfig, ProfitService
from lnhive.revenue.rebalance_log import RebalanceLog
from lnhive.revenue.rebalance_select import RebalanceChannel
from lnhive.revenue.rebalancer import Rebalancer
from lnhive.revenue.report import VIEWS, build_report
from lnhive.revenue.store import RevenueStore

LogFn = Callable[[str, str], None]
"""``log(level, message)`` (the controller's order); level ``debug|info|warn|error``."""

STALL_FACTOR = 3
FLOW_START_OFFSET_S = 30.0
FEE_START_OFFSET_S = 90.0
REBALANCE_START_OFFSET_S = 180.0


def _int_param(name: str, value: object, lo: int, hi: int) -> int:
    """An integer RPC parameter (or its digits as text) from ``lo`` to ``hi``."""
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be from {lo} to {hi}, got {value}")
    return value


def parse_bool(name: str, value: object) -> bool:
    """A JSON bool, or ``"true"``/``"false"`` as ``lightning-cli`` may send it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInput(f"{name} must be true or false, got {value!r}")


@dataclass
class Heartbeat:
    """One loop's liveness: times are the service clock's, delays in seconds."""

    name: str
    interval: float
    offset: float
    running: bool = False
    started_at: float | None = None
    last_tick: float | None = None
    last_attempt: float | None = None
    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_result: dict[str, Any] = field(default_factory=dict)

    def stalled(self, now: float) -> bool:
        """No successful tick for 3x the interval (counted from the first due tick)."""
        if not self.running or self.started_at is None:
            return False
        since = self.last_tick if self.last_tick is not None else self.started_at + self.offset
        return now - since > STALL_FACTOR * self.interval

    def retry_delay(self) -> float:
        """After ``n`` failures in a row: interval/4 (at least 1 s) doubled n-1 times, at most
        4x the interval."""
        base = max(1.0, self.interval / 4)
        return float(min(self.interval * 4, base * 2 ** (self.consecutive_failures - 1)))

    def to_json(self, now: float) -> dict[str, Any]:
        out = asdict(self)
        out["stalled"] = self.stalled(now)
        return out


def _scaled_offset(offset: float, interval: float, default: float, developer: bool) -> float:
    """The spec's start offset, shrunk in proportion to a shortened interval in developer mode."""
    return offset * min(1.0, interval / default) if developer else offset


def _version() -> str:
    try:
        return metadata.version("lightning-hive")
    except metadata.PackageNotFoundError:
        return "unknown"


class RevenueService:
    """Everything cl-revenue-ops does, behind methods the plugin shell calls."""

    def __init__(
        self,
        node: NodeApi,
        options: RevenueOptions,
        *,
        clock: Clock | None = None,
        log: LogFn | None = None,
        rng: random.Random | None = None,
    ) -> None:
        options.validate()
        self.node = node
        self.options = options
        self.clock: Clock = clock or WallClock()
        self._log = log or (lambda level, message: None)
        self.store = RevenueStore(options.db_path)
        self.overrides = ConfigOverrides(
            self.store, options, apply=self._apply_options, log=self.log
        )
        self.options = options = self.overrides.current
        self.ingestor = ForwardIngestor(self.store)
        self.peer_lists = PeerLists(self.store, on_change=self._policy_changed, log=self.log)
        self.policies = PolicyService(
            self.store, on_change=self._policy_changed, listed=self.peer_lists.level
        )
        self._lock = threading.RLock()
        self._shutdown = threading.Event()
        self._threads: list[threading.Thread] = []
        self.hydration: dict[str, Any] = {"state": "pending"}
        self.heartbeats = {
            name: Heartbeat(name, every, _scaled_offset(offset, every, spec, options.developer))
            for name, every, offset, spec in (
                ("flow", options.flow_interval_s, FLOW_START_OFFSET_S, 3600),
                ("fee", options.fee_interval_s, FEE_START_OFFSET_S, 1800),
                ("rebalance", options.rebalance_interval_s, REBALANCE_START_OFFSET_S, 900),
            )
        }
        self.controller = FeeController(
            node, self.store, self.policies, options, self.clock, rng or random.Random(), self.log
        )
        self.budget = Budget(self.store, options.budget_config())
        self.rebalancer = Rebalancer(
            node,
            RebalanceLog(self.store),
            self.budget,
            options,
            self.clock,
            dry_run=options.dry_run,
            policy_of=self._policy_of,
            banned=self.peer_lists.banned,
            log=self.log,
        )
        self.defibrillator = Defibrillator(
            self.rebalancer, DiagnosticLog(self.store), self._flag_exploration, self.log
        )
        self.rebalancer.after_cycle = self.defibrillator.cycle_step

        self.profits = ProfitService(
            node,
            self.store,
            self.policies.effective,
            ProfitConfig(options.estimated_open_cost_sats, options.flow_window_days),
            self.clock,
        )

    def _apply_options(self, opts: RevenueOptions) -> None:
        """Hand a new option set (``revenue-config set``) to every component; a loop's new
        interval applies from its next tick."""
        with self._lock:
            self.options = opts
            self.controller.config = opts
            self.rebalancer.config = opts
            self.budget.config = opts.budget_config()
            self.profits.config = ProfitConfig(opts.estimated_open_cost_sats, opts.flow_window_days)
            for name in ("flow", "fee", "rebalance"):
                self.heartbeats[name].interval = getattr(opts, f"{name}_interval_s")

    # -- lifecycle -------------------------------------------------------------------
    def log(self, level: str, message: str) -> None:
        with contextlib.suppress(Exception):  # logging never takes a loop down
            self._log(level, message)

    def start(self) -> None:
        """Hydrate and start the loops in a background thread; returns at once."""
        self._spawn("revenue-ops-start", self._startup)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loops (waiting up to ``timeout`` for a running cycle) and close the store."""
        self._shutdown.set()
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            if t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
        for hb in self.heartbeats.values():
            hb.running = False
        with self._lock:
            self.store.close()

    @property
    def stopping(self) -> bool:
        return self._shutdown.is_set()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _startup(self) -> None:
        self.hydrate()
        for hb, job in (
            (self.heartbeats["flow"], self._flow_job),
            (self.heartbeats["fee"], self._fee_job),
            (self.heartbeats["rebalance"], self._rebalance_job),
        ):
            if not self._shutdown.is_set():
                self._spawn(f"revenue-ops-{hb.name}", functools.partial(self._loop, hb, job))

    def hydrate(self) -> bool:
        """Read settled forwards from ``listforwards``; True on success (status in ``hydration``)."""
        self.hydration = {**self.hydration, "state": "running", "started_at": self.clock.now()}
        try:
            counts = self.ingestor.hydrate(self.node)
        except Exception as exc:
            self.hydration.update(state="failed", error=str(exc), finished_at=self.clock.now())
            self.log("warn", f"start-up hydration from listforwards failed (will retry): {exc}")
            return False
        self.hydration = {
            "state": "done",
            "finished_at": self.clock.now(),
            "through_created_index": self.ingestor.hydrated_through,
            **counts.to_json(),
        }
        self.log(
            "info", f"hydrated {counts.stored} settled forwards ({counts.duplicates} already known)"
        )
        return True

    def _loop(self, hb: Heartbeat, job: Callable[[], dict[str, Any]]) -> None:
        hb.running, hb.started_at = True, self.clock.now()
        delay = hb.offset
        while not self._shutdown.wait(delay):
            hb.last_attempt = self.clock.now()
            try:
                result = job()
            except Exception as exc:
                hb.failures += 1
                hb.consecutive_failures += 1
                hb.last_error = f"{type(exc).__name__}: {exc}"
                delay = hb.retry_delay()
                self.log(
                    "warn", f"{hb.name} cycle failed, retrying in {delay:.0f} s: {hb.last_error}"
                )
                self.log("debug", traceback.format_exc())
                continue
            hb.runs += 1
            hb.consecutive_failures = 0
            hb.last_tick = self.clock.now()
            hb.last_result = _summary(result)
            delay = hb.interval
        hb.running = False

    def _flow_job(self) -> dict[str, Any]:
        if self.hydration.get("state") != "done":
            self.hydrate()
        with self._lock:
            result = self.controller.flow_cycle()
            profits = self.profits.refresh()
        result["profitability"] = len(profits)
        return result

    def _fee_job(self) -> dict[str, Any]:
        with self._lock:
            self.policies.purge_expired(self.clock.now())
            return self.controller.fee_cycle()

    def _rebalance_job(self) -> dict[str, Any]:
        try:
            return self.rebalancer.cycle()
        except Conflict as exc:
            if exc.error_symbol != "engine_busy":
                raise
            return {"skipped": "engine_busy"}

    def _flag_exploration(self, ch: RebalanceChannel) -> bool:
        """A successful diagnostic sets LOW_FEE_EXPLORATION, under the controller's lock."""
        with self._lock:
            now = self.clock.now()
            return flag_low_fee_exploration(self.store, ch.channel_id, ch.peer_id, ch.fee_ppm, now)

    def _policy_of(self, peer_id: str) -> tuple[str, str]:
        p = self.policies.effective(peer_id, self.clock.now())
        return p.strategy.value, p.rebalance_mode.value

    # -- ingestion and policies ---------------------------------------------------------
    def forward_event(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """One ``forward_event`` notification (its params or the inner object)."""
        counts = self.ingestor.ingest_event(payload)
        if counts.rejected:
            self.log("warn", f"forward_event rejected: {dict(counts.rejections)}")
        return counts.to_json()

    def policy(self, action: object, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.policies.handle(action, params, self.clock.now())

    def _policy_changed(self, peer_id: str) -> None:
        with self._lock:
            self.controller.on_policy_change(peer_id)

    # -- the controller's RPCs ------------------------------------------------------------
    def fee_cycle(self) -> dict[str, Any]:
        with self._lock:
            return self.controller.fee_cycle()

    def analyze(self, channel_id: str | None = None) -> dict[str, Any]:
        """The controller's flow metrics plus ``ingested``: forwards stored for the window."""
        if channel_id is not None and not isinstance(channel_id, str):
            raise InvalidInput(f"channel_id must be a string, got {channel_id!r}")
        since = self.clock.now() - self.options.flow_window_days * 86400
        count, fees = self.store.forward_totals(since=since, channel=channel_id)
        with self._lock:
            out: dict[str, Any] = dict(self.controller.analyze(channel_id))
        out["ingested"] = {
            "window_days": self.options.flow_window_days,
            "forward_count": count,
            "fee_msat": fees,
            "channel_id": channel_id,
        }
        return out

    def fee_debug(self, channel_id: str) -> dict[str, Any]:
        if not isinstance(channel_id, str):
            raise InvalidInput(f"channel_id must be a string, got {channel_id!r}")
        with self._lock:
            return self.controller.fee_debug(channel_id)

    def set_fee(self, channel_id: str, fee_ppm: object, force: object = False) -> dict[str, Any]:
        if not isinstance(channel_id, str):
            raise InvalidInput(f"channel_id must be a string, got {channel_id!r}")
        ppm, forced = validate_fee_ppm(fee_ppm), parse_bool("force", force)
        with self._lock:
            return self.controller.set_fee(channel_id, ppm, forced)

    # -- the rebalancer's RPCs ----------------------------------------------------------
    def rebalance(
        self,
        from_channel: object,
        to_channel: object,
        amount_sats: object = None,
        max_fee_sats: object = None,
        force: object = False,
    ) -> dict[str, Any]:
        forced = parse_bool("force", force)
        return rebalance_rpc.manual_rebalance(
            self.rebalancer, from_channel, to_channel, amount_sats, max_fee_sats, forced
        )

    def rebalance_cycle(self, max_candidates: object = 20) -> dict[str, Any]:
        n = _int_param("max_candidates", max_candidates, 1, 1000)
        return self.rebalancer.cycle(n)

    def rebalance_debug(
        self, channel_id: object = None, peer_id: object = None, summary_only: object = False
    ) -> dict[str, Any]:
        summary = parse_bool("summary_only", summary_only)
        if channel_id is not None and not isinstance(channel_id, str):
            raise InvalidInput(f"channel_id must be a string, got {channel_id!r}")
        if peer_id is not None and not isinstance(peer_id, str):
            raise InvalidInput(f"peer_id must be a string, got {peer_id!r}")
        return rebalance_rpc.debug(self.rebalancer, channel_id, peer_id, summary)

    def defibrillate(self, channel_id: object = None, dry_run: object = False) -> dict[str, Any]:
        """``revenue-defibrillate [channel_id] [dry_run]`` (spec §3.6)."""
        return self.defibrillator.run(channel_id, parse_bool("dry_run", dry_run))

    def budget_status(self) -> dict[str, Any]:
        return self.budget.summary(self.clock.now())

    def spend_ledger(self, window_hours: object = 24) -> dict[str, Any]:
        hours = _int_param("window_hours", window_hours, 1, 24 * 90)
        since = self.clock.now() - hours * 3600
        return {
            "window_hours": hours,
            "spend_events": self.budget.spend_events(since),
            "active_reservations": [r.to_json() for r in self.budget.active()],
            "rebalances": self.rebalancer.journal.history(since=since, limit=1000),
        }

    def clear_reservations(self) -> dict[str, Any]:
        """Release every active reservation except those of pending payments."""
        released = self.budget.release_all(self.clock.now())
        return {"released": released, "count": len(released)}

    def release_stale(self, max_age_seconds: object = 3600) -> dict[str, Any]:
        age = _int_param("max_age_seconds", max_age_seconds, 0, 10**9)
        released = self.budget.release_stale(self.clock.now(), float(age))
        return {"released": released, "count": len(released), "max_age_seconds": age}

    # -- profitability and reports ------------------------------------------------------
    def profitability(self, channel_id: object = None, refresh: object = False) -> dict[str, Any]:
        if channel_id is not None and not isinstance(channel_id, str):
            raise InvalidInput(f"channel_id must be a string, got {channel_id!r}")
        again = parse_bool("refresh", refresh)
        with self._lock:
            return self.profits.profitability(channel_id, again)

    def capacity_report(self) -> dict[str, Any]:
        with self._lock:
            return self.profits.capacity_report()

    def report(self, report_type: object = "summary", peer_id: object = None) -> dict[str, Any]:
        """``revenue-report [summary|peer|bleeders] [peer_id]``."""
        view = "summary" if report_type is None else report_type
        if view not in VIEWS:
            raise InvalidInput(
                f"report_type {view!r} is not valid; valid values: {', '.join(VIEWS)}"
            )
        peer = None
        if view == "peer" or peer_id is not None:
            if peer_id is None:
                raise InvalidInput("report_type peer needs peer_id")
            peer = validate_peer_id(peer_id)
        now = self.clock.now()
        with self._lock:
            profits = self.profits.evaluate_all(now)
            if peer is not None:
                profits = [p for p in profits if p.peer_id == peer]
                if not profits:
                    raise NotFound(f"no open channel with peer {peer}", details={"peer_id": peer})
            reasoning = {
                p.channel_id: self.profits.reasoning(p.channel_id).to_json() for p in profits
            }
            totals = self.profits.ledger.node_totals(now, since=now - 30 * 86_400)
        return build_report(
            str(view),
            profits,
            reasoning,
            now=now,
            totals_30d=totals,
            budget=self.budget.summary(now),
            mode="dry_run" if self.options.dry_run else "live",
        )

    # -- operator upkeep (spec §6.1) ----------------------------------------------------
    def config(self, action: object, key: object = None, value: object = None) -> dict[str, Any]:
        """``revenue-config action=get|set|list|reset [key] [value]``."""
        return self.overrides.handle(action, key, value, self.clock.now())

    def cycle(self, subsystem: object = None) -> dict[str, Any]:
        """``revenue-cycle [flow|fee|rebalance|profitability]``: run now."""
        return cycles.run(
            {
                "flow": self._locked(self.controller.flow_cycle),
                "fee": self.fee_cycle,
                "rebalance": self.rebalancer.cycle,
                "profitability": self._refresh_profits,
            },
            subsystem,
        )

    def _locked(self, fn: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            with self._lock:
                return fn()

        return run

    def _refresh_profits(self) -> dict[str, Any]:
        with self._lock:
            rows = self.profits.refresh()
        return {"channels": len(rows)}

    def wake_all(self) -> dict[str, Any]:
        with self._lock:
            return upkeep.wake_all(self.store, self.clock.now())

    def cleanup_closed(self) -> dict[str, Any]:
        with self._lock:
            result = upkeep.cleanup_closed(self.node, self.store)
        if result["count"]:
            self.log("info", f"cleanup-closed: dropped state of {', '.join(result['channels'])}")
        return result

    def peer_list(self, action: str, peer_id: object, reason: object = None) -> dict[str, Any]:
        """``revenue-ignore|unignore|ban|unban peer_id [reason]``."""
        now = self.clock.now()
        if action == "ignore":
            return self.peer_lists.ignore(peer_id, reason, now)
        if action == "ban":
            return self.peer_lists.ban(peer_id, reason, now)
        if reason is not None:
            raise InvalidInput(f"revenue-{action} takes no reason")
        if action == "unignore":
            return self.peer_lists.unignore(peer_id)
        return self.peer_lists.unban(peer_id)

    def listed_peers(self, level: str) -> dict[str, Any]:
        return self.peer_lists.listing(Listing(level))

    def health(self) -> dict[str, Any]:
        return health.health(self.status(), self.store.config_version())

    def dashboard(self, window_days: object = 30) -> dict[str, Any]:
        return dashboard.dashboard(self.store, self.clock.now(), window_days)

    def history(self) -> dict[str, Any]:
        return dashboard.history(self.store)

    def profile_preview(self, profile: object = None) -> dict[str, Any]:
        profile_preview.parse_profiles(profile)  # bad input before the lock
        with self._lock:
            return profile_preview.preview(self.controller, profile)

    def hive_status(self) -> dict[str, Any]:
        o = self.options
        return hive_status.hive_status(
            self.node,
            self.policies,
            self.peer_lists.level,
            now=self.clock.now(),
            hive_fee_ppm=o.hive_fee_ppm,
            hive_rebalance_tolerance=o.hive_rebalance_tolerance,
        )

    # -- status ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = self.clock.now()
        count, fees = self.store.forward_totals()
        loops = {name: hb.to_json(now) for name, hb in self.heartbeats.items()}
        return {
            "plugin": "cl-revenue-ops",
            "version": _version(),
            "mode": "dry_run" if self.options.dry_run else "live",
            "dry_run": self.options.dry_run,
            "developer": self.options.developer,
            "db_path": self.store.path,
            "schema_version": self.store.schema_version,
            "loops": loops,
            "jobs": [name for name, hb in self.heartbeats.items() if hb.running],
            "stalled": any(loop["stalled"] for loop in loops.values()),
            "hydration": dict(self.hydration),
            "ingest": self.ingestor.totals.to_json(),
            "forwards": {"count": count, "fee_msat": fees},
            "options": self.options.to_json(),
        }


def _summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """A small, JSON-safe digest of a cycle's result for the heartbeat."""
    out: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, list | dict):
            out[key] = len(value)
        elif isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
    return out
