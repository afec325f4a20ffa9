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
import os
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock, WallClock
from lnhive.core.errors import Conflict, InvalidInput, NotFound
from lnhive.revenue import rebalance_rpc
from lnhive.revenue.budget import Budget
from lnhive.revenue.controller import ControllerConfig, FeeController
from lnhive.revenue.forwards import ForwardIngestor
from lnhive.revenue.policy import PolicyService, validate_fee_ppm, validate_peer_id
from lnhive.revenue.profiles import PROFILES
from lnhive.revenue.profit_service import ProfitConfig, ProfitService
from lnhive.revenue.rebalance_log import RebalanceLog
from lnhive.revenue.rebalancer import RebalanceConfig, Rebalancer
from lnhive.revenue.report import VIEWS, build_report
from lnhive.revenue.store import DEFAULT_FILENAME, RevenueStore

LogFn = Callable[[str, str], None]
"""``log(level, message)`` (the controller's order); level ``debug|info|warn|error``."""

INTERVAL_FLOOR_S = 300
"""Smallest flow/fee interval outside developer mode."""
DEVELOPER_INTERVAL_FLOOR_S = 1
STALL_FACTOR = 3
FLOW_START_OFFSET_S = 30.0
FEE_START_OFFSET_S = 90.0
REBALANCE_START_OFFSET_S = 180.0
MAX_FEE_PPM = 100_000
REBALANCERS = ("native",)
"""Executors available (the spec's optional sling adapter is not built yet)."""
INTERVALS = ("flow_interval_s", "fee_interval_s", "rebalance_interval_s")


@dataclass(frozen=True)
class RevenueOptions(ControllerConfig, RebalanceConfig):
    """The plugin's options (``revenue-ops-`` prefix dropped, ``-`` as ``_``), validated.

    ``db_path`` empty means :data:`~lnhive.revenue.store.DEFAULT_FILENAME` in the node's
    network directory. The controller's and the rebalancer's settings are inherited from
    ``ControllerConfig`` and ``RebalanceConfig``, so the options are handed to each as its
    config. Float options may arrive as strings (pyln has no float option type).
    """

    db_path: str = ""
    developer: bool = False

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, network_dir: str, developer: bool
    ) -> RevenueOptions:
        """From option values keyed by option name without the prefix (``fee-interval``).

        Unset (``None``) values take the defaults; :class:`InvalidInput` names the first
        bad value. A relative ``db-path`` is taken relative to ``network_dir``.
        """
        renames = {
            "fee-interval": "fee_interval_s",
            "flow-interval": "flow_interval_s",
            "rebalance-interval": "rebalance_interval_s",
        }
        known = {f.name for f in fields(cls)} - {"developer"}
        floats = {f.name for f in fields(cls) if isinstance(getattr(_DEFAULTS, f.name), float)}
        values: dict[str, Any] = {}
        for key, value in options.items():
            name = renames.get(key, key.replace("-", "_"))
            if name not in known:
                raise InvalidInput(f"unknown option revenue-ops-{key}")
            if value is not None:
                values[name] = _float(name, value) if name in floats else value
        db_path = str(values.pop("db_path", "") or DEFAULT_FILENAME)
        db_path = os.path.join(network_dir, os.path.expanduser(db_path))
        opts = cls(db_path=db_path, developer=developer, **values)
        opts.validate()
        return opts

    def validate(self) -> None:
        """Raise :class:`InvalidInput` naming the option and the allowed values."""
        defaults = _DEFAULTS
        for f in fields(self):
            value, want = getattr(self, f.name), type(getattr(defaults, f.name))
            if isinstance(value, bool) != (want is bool) or not isinstance(value, want):
                raise InvalidInput(f"{_opt(f.name)} must be a {want.__name__}, got {value!r}")
        floor = DEVELOPER_INTERVAL_FLOOR_S if self.developer else INTERVAL_FLOOR_S
        for name in INTERVALS:
            if getattr(self, name) < floor:
                hint = "" if self.developer else " (1 s is allowed only in developer mode)"
                raise InvalidInput(
                    f"{_opt(name)} must be at least {floor} s{hint}, got {getattr(self, name)}"
                )
        _range("flow_window_days", self.flow_window_days, 1, 90)
        _range("min_fee_ppm", self.min_fee_ppm, 5, MAX_FEE_PPM)
        _range("min_fee_ppm_saturated", self.min_fee_ppm_saturated, 0, self.min_fee_ppm)
        _range("max_fee_ppm", self.max_fee_ppm, self.min_fee_ppm, MAX_FEE_PPM)
        _range("hive_fee_ppm", self.hive_fee_ppm, 0, MAX_FEE_PPM)
        _range("estimated_open_cost_sats", self.estimated_open_cost_sats, 0, 10_000_000)
        self._validate_rebalancer()
        if self.fee_profile not in PROFILES:
            raise InvalidInput(
                f"revenue-ops-fee-profile {self.fee_profile!r} is not valid; "
                f"valid values: {', '.join(PROFILES)}"
            )

    def _validate_rebalancer(self) -> None:
        _range("daily_budget_sats", self.daily_budget_sats, 0, 100_000_000)
        _range("weekly_budget_sats", self.weekly_budget_sats, 0, 700_000_000)
        _range("growth_budget_hard_ceiling_sats", self.growth_budget_hard_ceiling_sats, 0, 10**9)
        _range("min_wallet_reserve", self.min_wallet_reserve, 0, 21 * 10**14)
        _range("reservation_timeout_hours", self.reservation_timeout_hours, 1, 168)
        _range("pair_fee_cap_ppm", self.pair_fee_cap_ppm, 0, MAX_FEE_PPM)
        _range("rebalance_hold_margin", self.rebalance_hold_margin, -1_000_000, 1_000_000)
        _range("rebalance_chunk_sats", self.rebalance_chunk_sats, 1000, 100_000_000)
        _range("rebalance_min_amount", self.rebalance_min_amount, 1000, self.rebalance_chunk_sats)
        _range("rebalance_max_concurrent", self.rebalance_max_concurrent, 1, 20)
        _range("hive_rebalance_tolerance", self.hive_rebalance_tolerance, 0, 1_000_000)
        for name in (
            "growth_budget_earned_fraction",
            "rebalance_emergency_local_ratio",
            "rebalance_drift_override_ratio",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidInput(f"{_opt(name)} must be from 0 to 1, got {value}")
        if self.rebalancer not in REBALANCERS:
            raise InvalidInput(
                f"revenue-ops-rebalancer {self.rebalancer!r} is not valid; valid values: "
                f"{', '.join(REBALANCERS)} (the sling executor is not available yet)"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_DEFAULTS = RevenueOptions()


def _float(name: str, value: object) -> object:
    """A float option from a number or its text (anything else is left for validate)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise InvalidInput(f"{_opt(name)} must be a number, got {value!r}") from None
    return value


def _opt(name: str) -> str:
    return "revenue-ops-" + name.removesuffix("_s").replace("_", "-")


def _range(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise InvalidInput(f"{_opt(name)} must be from {lo} to {hi}, got {value}")


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
        self.ingestor = ForwardIngestor(self.store)
        self.policies = PolicyService(self.store, on_change=self._policy_changed)
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
            log=self.log,
        )

        self.profits = ProfitService(
            node,
            self.store,
            self.policies.effective,
            ProfitConfig(options.estimated_open_cost_sats, options.flow_window_days),
            self.clock,
        )

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
