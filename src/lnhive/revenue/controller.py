"""The fee controller (spec revenue-ops §2.3): the I/O around the pure cycle.

:class:`FeeController` reads one evidence snapshot per cycle (:mod:`.evidence`), asks
:func:`lnhive.revenue.controller_cycle.decide` for each channel's decision, executes it
(``setchannel id feebase=0 feeppm [htlcmax]``, re-read, one retry, else a reported
conflict), journals ``fee_changes`` and persists every channel's state in one
transaction before returning. In dry-run it decides, journals (``applied = 0``) and
logs, and never calls ``setchannel``.

Kept in memory only (not persisted in v1): the Vegas state and its 24 h feerate history,
and the wake flags raised by policy changes and ``revenue-set-fee``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock
from lnhive.core.errors import InvalidInput, NotFound
from lnhive.revenue import flow as flowmod
from lnhive.revenue import vegas
from lnhive.revenue.controller_cycle import (
    ChannelControl,
    ChannelInputs,
    Decision,
    DecisionConfig,
    decide,
    describe_state,
)
from lnhive.revenue.couplings import UNKNOWN, Coupling, stored_couplings
from lnhive.revenue.ema import EmaState
from lnhive.revenue.evidence import ChannelEvidence, CycleEvidence, build_evidence
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.kalman import KalmanState
from lnhive.revenue.policy import PolicyService
from lnhive.revenue.profiles import get_profile
from lnhive.revenue.store import (
    ChannelState,
    FeeChange,
    FeeStrategyState,
    RevenueStore,
)

DAY_S = 86_400.0
FEE_FORWARDS_DAYS = 7
VEGAS_MA_WINDOW_S = DAY_S

Log = Callable[[str, str], None]


@dataclass(frozen=True)
class ControllerConfig:
    dry_run: bool = False
    fee_interval_s: int = 1800
    flow_interval_s: int = 3600
    flow_window_days: int = 7
    min_fee_ppm: int = 50
    min_fee_ppm_saturated: int = 0
    max_fee_ppm: int = 2000
    fee_profile: str = "active"
    hive_fee_ppm: int = 0
    estimated_open_cost_sats: int = 5000
    vegas_reflex: bool = True
    enable_dynamic_htlcmax: bool = True

    def decision_config(self) -> DecisionConfig:
        return DecisionConfig(
            profile=get_profile(self.fee_profile),
            fee_interval_s=self.fee_interval_s,
            flow_interval_s=self.flow_interval_s,
            min_fee_ppm=self.min_fee_ppm,
            min_fee_ppm_saturated=self.min_fee_ppm_saturated,
            max_fee_ppm=self.max_fee_ppm,
            hive_fee_ppm=self.hive_fee_ppm,
            estimated_open_cost_sats=self.estimated_open_cost_sats,
            vegas_reflex=self.vegas_reflex,
            enable_dynamic_htlcmax=self.enable_dynamic_htlcmax,
        )


def _noop_log(level: str, msg: str) -> None:
    return None


class FeeController:
    """The §2.3 fee cycle and §1 flow cycle over one node and one store."""

    def __init__(
        self,
        node: NodeApi,
        store: RevenueStore,
        policies: PolicyService,
        config: ControllerConfig,
        clock: Clock,
        rng: random.Random,
        log: Log = _noop_log,
    ) -> None:
        self.node = node
        self.store = store
        self.policies = policies
        self.config = config
        self.clock = clock
        self.rng = rng
        self.log = log
        self.vegas_state = vegas.VegasState()
        self._feerates: list[tuple[float, float]] = []
        self._woken_peers: set[str] = set()
        self._manual: set[str] = set()

    # -- state -------------------------------------------------------------------
    def _control(self, channel_id: str) -> tuple[ChannelControl, FeeStrategyState | None]:
        row = self.store.get_fee_strategy_state(channel_id)
        control, warning = ChannelControl.from_blob(None if row is None else row.v2_state_json)
        if warning is not None:
            self.log("warn", f"{channel_id}: {warning}")
        return control, row

    def _flow_inputs(self, channel_id: str, now: float) -> tuple[FlowClass, float, float]:
        cls = FlowClass.BALANCED
        cs = self.store.get_channel_state(channel_id)
        if cs is not None:
            try:
                usable = flowmod.usable_stored_class(
                    FlowClass(cs.state), cs.updated_at, now, self.config.flow_interval_s
                )
            except ValueError:
                usable = None
            cls = usable if usable is not None else FlowClass.BALANCED
        blob = self.store.get_kalman_state(channel_id)
        if blob is None:
            return cls, 0.0, 0.0
        k = self._kalman(blob.state_json)
        return cls, k.ratio, k.velocity

    @staticmethod
    def _kalman(text: str) -> KalmanState:
        try:
            return KalmanState.from_json(json.loads(text))
        except ValueError:
            return KalmanState.from_json(None)

    def _persist(self, ev: ChannelEvidence, d: Decision, fee_ppm: int, now: float) -> None:
        cyc = d.state.cycle
        self.store.put_fee_strategy_state(
            FeeStrategyState(
                channel_id=ev.channel_id,
                peer_id=ev.peer_id,
                last_fee_ppm=fee_ppm,
                last_broadcast_fee_ppm=(
                    cyc.last_broadcast_fee_ppm
                    if cyc.last_broadcast_fee_ppm is not None
                    else ev.fee_ppm
                ),
                last_update=cyc.last_update if cyc.last_update is not None else now,
                is_sleeping=cyc.sleep.is_sleeping,
                sleep_until=cyc.sleep.sleep_until,
                v2_state_json=d.state.to_blob(),
                updated_at=now,
            )
        )

    # -- vegas -------------------------------------------------------------------
    def _vegas_update(self, feerate_perkb: int | None, now: float) -> None:
        if feerate_perkb is None:
            self.vegas_state = vegas.update(self.vegas_state, None, None, self.rng)
            return
        rate = feerate_perkb / 1000.0
        self._feerates = [(t, r) for t, r in self._feerates if now - t < VEGAS_MA_WINDOW_S]
        self._feerates.append((now, rate))
        ma = sum(r for _, r in self._feerates) / len(self._feerates)
        self.vegas_state = vegas.update(self.vegas_state, rate, ma, self.rng)

    # -- cycles --------------------------------------------------------------------
    def _evidence(self, now: float, days: float) -> CycleEvidence:
        return build_evidence(self.node, self.store, now, forwards_since=now - days * DAY_S)

    def _inputs(
        self, ev: ChannelEvidence, now: float, links: Mapping[str, Coupling] | None = None
    ) -> ChannelInputs:
        cls, kratio, kvel = self._flow_inputs(ev.channel_id, now)
        if links is None:
            links = stored_couplings(self.store, now)
        live = flowmod.is_congested(ev.htlcs_in_flight, ev.max_accepted_htlcs)
        return ChannelInputs(
            policy=self.policies.effective(ev.peer_id, now),
            flow_class=FlowClass.CONGESTED if live else cls,
            kalman_ratio=kratio,
            kalman_velocity=kvel,
            policy_changed=ev.peer_id in self._woken_peers,
            manual_wake=ev.channel_id in self._manual,
            vegas_intensity=self.vegas_state.intensity,
            vegas_multiplier=vegas.multiplier(self.vegas_state.intensity),
            ceiling_factor=links.get(ev.channel_id, UNKNOWN).ceiling_factor,
        )

    def _fee_window_start(self, now: float) -> float:
        """The oldest open window's start (at most 7 days back): the forwards a cycle needs."""
        row = self.store.db.query_one("SELECT MIN(last_update) FROM fee_strategy_state")
        oldest = now - FEE_FORWARDS_DAYS * DAY_S
        if row is None or row[0] is None:
            return oldest
        return max(oldest, min(float(row[0]), now))

    def fee_cycle(self) -> dict[str, Any]:
        """One pass of §2.3 over every channel."""
        cfg = self.config
        dcfg = cfg.decision_config()
        now = self.clock.now()
        evidence = build_evidence(
            self.node, self.store, now, forwards_since=self._fee_window_start(now)
        )
        if cfg.vegas_reflex:
            self._vegas_update(evidence.feerate_perkb, now)
        adjustments: list[dict[str, Any]] = []
        skips: dict[str, str] = {}
        conflicts: list[dict[str, Any]] = []
        done: list[tuple[ChannelEvidence, Decision, int, FeeChange | None]] = []
        links = stored_couplings(self.store, now)
        for ev in evidence.channels:
            control, _ = self._control(ev.channel_id)
            try:
                d = decide(ev, evidence, control, self._inputs(ev, now, links), dcfg, self.rng)
            except Exception as exc:  # one bad channel never stops the cycle
                self.log("warn", f"{ev.channel_id}: decision failed: {exc!r}")
                skips[ev.channel_id] = f"error: {type(exc).__name__}"
                continue
            if not d.apply:
                skips[ev.channel_id] = d.reason
                self.log("debug", d.explain)
                done.append((ev, d, ev.fee_ppm, None))
                continue
            journal = FeeChange(
                ev.channel_id, ev.peer_id, ev.fee_ppm, d.new_fee_ppm, d.reason, now, applied=False
            )
            if cfg.dry_run:
                self.log("info", "dry-run: " + d.explain)
                adjustments.append(self._adjustment(d))
                done.append((ev, d, ev.fee_ppm, journal))
                continue
            try:
                observed = self._execute(ev, d.new_fee_ppm, d.htlcmax_msat)
            except Exception as exc:  # the node refused: keep the old state, retry next cycle
                self.log("warn", f"{ev.channel_id}: setchannel failed: {exc}")
                skips[ev.channel_id] = f"setchannel_failed: {exc}"
                continue
            if observed == d.new_fee_ppm:
                self.log("info", d.explain)
                adjustments.append(self._adjustment(d))
                done.append((ev, d, d.new_fee_ppm, _applied(journal)))
                continue
            conflict = {
                "channel_id": ev.channel_id,
                "peer_id": ev.peer_id,
                "wanted_fee_ppm": d.new_fee_ppm,
                "observed_fee_ppm": observed,
                "attempts": 2,
                "reason": "conflict: another fee manager reverted our fee",
            }
            self.log(
                "warn",
                f"{ev.channel_id}: conflict: set {d.new_fee_ppm} ppm twice, the channel shows "
                f"{observed} ppm (another fee manager?)",
            )
            conflicts.append(conflict)
            skips[ev.channel_id] = "conflict"
            d.state.cycle.last_fee_ppm = observed if observed is not None else ev.fee_ppm
            fc = FeeChange(
                ev.channel_id, ev.peer_id, ev.fee_ppm, d.new_fee_ppm, "conflict", now, False
            )
            done.append((ev, d, d.state.cycle.last_fee_ppm, fc))
        with self.store.transaction():
            for ev, d, fee, change in done:
                self._persist(ev, d, fee, now)
                if change is not None:
                    self.store.record_fee_change(change)
        self._woken_peers.clear()
        self._manual.clear()
        return {
            "adjustments": adjustments,
            "skip_reasons": skips,
            "conflicts": conflicts,
            "dry_run": cfg.dry_run,
        }

    @staticmethod
    def _adjustment(d: Decision) -> dict[str, Any]:
        return {
            "channel_id": d.channel_id,
            "peer_id": d.peer_id,
            "old_fee_ppm": d.old_fee_ppm,
            "new_fee_ppm": d.new_fee_ppm,
            "reason": d.reason,
        }

    def _read_fee(self, channel_id: str) -> int | None:
        for item in self.node.listpeerchannels(short_channel_id=channel_id).get("channels", []):
            local = item.get("updates", {}).get("local", {})
            fee = local.get("fee_proportional_millionths", item.get("fee_proportional_millionths"))
            if isinstance(fee, int):
                return fee
        return None

    def _execute(self, ev: ChannelEvidence, fee_ppm: int, htlcmax: int | None) -> int | None:
        """setchannel, re-read; if reverted, one retry. Returns the fee the channel shows."""
        observed: int | None = None
        for _attempt in range(2):
            self.node.setchannel(id=ev.channel_id, feebase=0, feeppm=fee_ppm, htlcmax=htlcmax)
            observed = self._read_fee(ev.channel_id)
            if observed == fee_ppm:
                return observed
            self.log("warn", f"{ev.channel_id}: fee reverted to {observed} ppm after setchannel")
        return observed

    def flow_cycle(self) -> dict[str, Any]:
        """Kalman, EMA and classification for every channel; states persisted."""
        now = self.clock.now()
        evidence = self._evidence(now, self.config.flow_window_days + 1)
        classes: dict[str, str] = {}
        rows: list[tuple[ChannelEvidence, flowmod.ChannelFlow]] = []
        for ev in evidence.channels:
            result = self._analyze_one(ev, evidence, now)
            rows.append((ev, result))
            classes[ev.channel_id] = str(result.flow_class)
            self.log(
                "debug",
                f"{ev.channel_id}: class {result.flow_class}, kalman {result.kalman.ratio:+.4f} "
                f"(±{result.kalman.uncertainty:.3f}), ema {result.ema.flow_ratio:+.4f}",
            )
        with self.store.transaction():
            for ev, r in rows:
                blob = r.kalman.to_json()
                blob["ema"] = r.ema.state.to_json()
                self.store.put_kalman_state(ev.channel_id, json.dumps(blob), now)
                self.store.put_channel_state(
                    ChannelState(
                        channel_id=ev.channel_id,
                        peer_id=ev.peer_id,
                        state=str(r.flow_class),
                        flow_ratio=r.ema.flow_ratio,
                        sats_in=sum(b.in_msat for b in r.buckets) // 1000,
                        sats_out=sum(b.out_msat for b in r.buckets) // 1000,
                        capacity_sat=ev.capacity_sat,
                        confidence=r.ema.confidence,
                        velocity=r.ema.velocity,
                        forward_count=r.ema.forward_count,
                        updated_at=now,
                    )
                )
        return {"channels": len(rows), "classes": classes}

    def _analyze_one(
        self, ev: ChannelEvidence, evidence: CycleEvidence, now: float
    ) -> flowmod.ChannelFlow:
        kblob = self.store.get_kalman_state(ev.channel_id)
        kalman, ema = KalmanState(), EmaState()
        if kblob is not None:
            try:
                data = json.loads(kblob.state_json)
            except ValueError:
                data = None
            kalman = KalmanState.from_json(data)
            if kalman.was_reset:
                self.log("warn", f"{ev.channel_id}: corrupt kalman state, reset")
            ema = EmaState.from_json(data.get("ema") if isinstance(data, dict) else None)
            if ema.was_reset:
                ema = EmaState()
        cs = self.store.get_channel_state(ev.channel_id)
        previous = None
        if cs is not None and cs.state in {c.value for c in FlowClass}:
            previous = FlowClass(cs.state)
        control, _ = self._control(ev.channel_id)
        return flowmod.analyze_channel(
            evidence.forwards,
            ev.channel_id,
            now=now,
            capacity_msat=ev.capacity_msat,
            local_msat=ev.local_msat,
            kalman=kalman,
            ema=ema,
            previous=previous,
            fee_posterior_variance=control.thompson.posterior_std**2,
            htlcs_in_flight=ev.htlcs_in_flight,
            max_accepted_htlcs=ev.max_accepted_htlcs,
            window_days=self.config.flow_window_days,
        )

    # -- RPC backends ----------------------------------------------------------------
    def analyze(self, channel_id: str | None = None) -> dict[str, Any]:
        """``revenue-analyze``: flow metrics per channel (computed now, nothing persisted)."""
        now = self.clock.now()
        evidence = self._evidence(now, self.config.flow_window_days + 1)
        chans = [c for c in evidence.channels if channel_id in (None, c.channel_id)]
        if channel_id is not None and not chans:
            raise NotFound(f"unknown channel {channel_id}", details={"channel_id": channel_id})
        out = []
        for ev in chans:
            r = self._analyze_one(ev, evidence, now)
            days = max(1, self.config.flow_window_days)
            out.append(
                {
                    "channel_id": ev.channel_id,
                    "peer_id": ev.peer_id,
                    "capacity": ev.capacity_sat,
                    "sats_in": sum(b.in_msat for b in r.buckets) // 1000,
                    "sats_out": sum(b.out_msat for b in r.buckets) // 1000,
                    "flow_ratio": r.ema.flow_ratio,
                    "state": str(r.flow_class),
                    "daily_volume": sum(b.volume_msat for b in r.buckets) // 1000 // days,
                    "confidence": r.ema.confidence,
                    "velocity": r.ema.velocity,
                    "kalman_flow_ratio": r.kalman.ratio,
                    "kalman_velocity": r.kalman.velocity,
                    "kalman_uncertainty": r.kalman.uncertainty,
                    "kalman_regime_change": r.kalman.regime_change,
                    "forward_count": r.ema.forward_count,
                    "outbound_ratio": ev.outbound_ratio,
                    "depletion_eta_days": r.depletion_eta_days,
                }
            )
        return {"channels": out, "count": len(out)}

    def fee_debug(self, channel_id: str) -> dict[str, Any]:
        """``revenue-fee-debug``: what a cycle would decide now, stage by stage (nothing is
        persisted or sent; the sample uses its own seeded random source)."""
        now = self.clock.now()
        evidence = self._evidence(now, FEE_FORWARDS_DAYS)
        ev = evidence.channel(channel_id)
        if ev is None:
            raise NotFound(f"unknown channel {channel_id}", details={"channel_id": channel_id})
        control, _ = self._control(channel_id)
        inputs = self._inputs(ev, now)
        d = decide(ev, evidence, control, inputs, self.config.decision_config(), random.Random(0))
        return {
            "channel_id": ev.channel_id,
            "peer_id": ev.peer_id,
            "current_fee_ppm": ev.fee_ppm,
            "policy": inputs.policy.strategy.value,
            "decision": {"apply": d.apply, "new_fee_ppm": d.new_fee_ppm, "reason": d.reason},
            "floor": d.debug.get("floor_ppm"),
            "ceiling": d.debug.get("ceiling_ppm"),
            "targets": d.debug.get("targets"),
            "blend": d.debug.get("blend"),
            "cap": d.debug.get("cap"),
            "posterior_mean": control.thompson.posterior_mean,
            "posterior_std": control.thompson.posterior_std,
            "observations": describe_state(control)["observations"],
            "context": d.debug.get("context"),
            "sleep": {
                "is_sleeping": control.cycle.sleep.is_sleeping,
                "sleep_until": control.cycle.sleep.sleep_until,
            },
            "pending": control.cycle.pending_target_ppm,
            "flow_class": str(inputs.flow_class),
            "vegas_intensity": self.vegas_state.intensity,
            "detail": d.debug,
        }

    def set_fee(self, channel_id: str, fee_ppm: int, force: bool = False) -> dict[str, Any]:
        """``revenue-set-fee``: clamp to [min, max] unless ``force``; wakes the channel."""
        if isinstance(fee_ppm, bool) or not isinstance(fee_ppm, int) or fee_ppm < 0:
            raise InvalidInput(f"fee_ppm must be a non-negative integer, got {fee_ppm!r}")
        now = self.clock.now()
        evidence = self._evidence(now, 1)
        ev = evidence.channel(channel_id)
        if ev is None:
            raise NotFound(f"unknown channel {channel_id}", details={"channel_id": channel_id})
        cfg = self.config
        applied = fee_ppm if force else max(cfg.min_fee_ppm, min(cfg.max_fee_ppm, fee_ppm))
        if not cfg.dry_run:
            self.node.setchannel(id=channel_id, feebase=0, feeppm=applied)
        control, _ = self._control(channel_id)
        cyc = control.cycle
        cyc.last_fee_ppm = cyc.last_broadcast_fee_ppm = applied
        cyc.last_broadcast_ts = now
        cyc.pending_target_ppm = None
        cyc.sleep = type(cyc.sleep)()
        if cyc.last_update is not None:
            cyc.last_update = now
        reason = "manual_forced" if force else "manual"
        with self.store.transaction():
            d = Decision(ev.channel_id, ev.peer_id, True, ev.fee_ppm, applied, reason, control)
            self._persist(ev, d, applied, now)
            self.store.record_fee_change(
                FeeChange(channel_id, ev.peer_id, ev.fee_ppm, applied, reason, now, not cfg.dry_run)
            )
        self._manual.add(channel_id)
        self.log("info", f"{channel_id}: {ev.fee_ppm} -> {applied} ppm ({reason})")
        return {
            "channel_id": channel_id,
            "peer_id": ev.peer_id,
            "old_fee_ppm": ev.fee_ppm,
            "requested_fee_ppm": fee_ppm,
            "new_fee_ppm": applied,
            "clamped": applied != fee_ppm,
            "dry_run": cfg.dry_run,
        }

    def on_policy_change(self, peer_id: str) -> None:
        """A peer's policy changed: its channels wake on the next cycle."""
        self._woken_peers.add(peer_id)
        self.log("debug", f"policy change for {peer_id}: its channels wake next cycle")


def _applied(fc: FeeChange) -> FeeChange:
    return FeeChange(
        fc.channel_id, fc.peer_id, fc.old_fee_ppm, fc.new_fee_ppm, fc.reason, fc.timestamp, True
    )
