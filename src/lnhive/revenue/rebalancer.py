"""The budgeted circular rebalancer (spec revenue-ops §3.3) over a :class:`NodeApi`.

A cycle: reconcile pending payments (``listsendpays``), release stale reservations, sweep
orphaned exclusion layers, read the node (one ``listpeerchannels``, one ``listfunds``),
refuse to run below the wallet reserve or with a zero budget, select pairs
(:mod:`.rebalance_select`), and execute them one after another until the 120 s cycle
ceiling (**[ours]** execution is sequential, so ``rebalance-max-concurrent`` is an upper
bound never reached), then, inside the same single flight, ``after_cycle`` (the
defibrillator, :mod:`.defibrillator`).

Executing a pair: a throwaway askrene layer ``rebalance-exclude-<ms>-<n>`` disabling both
directions of our two channels (removed when the pair is done); ``getroutes`` for the
whole amount (``maxparts=1`` in place of the deprecated ``auto.no_mpp_support`` layer);
the EV ceiling (:mod:`.rebalance_ev`) with p = that route's ``probability_ppm`` / 1e6, or
without a route the pair's history or the default (the decision's ``probability_source``;
dry-run makes no layer and looks up no route); history row; reserve the ceiling in the
budget (refused → ``skipped``, no futility strike); then up to 6 attempts, each halving
the amount, not below max(1000, min(5000, amount / 2)) sat: ``invoice`` to ourselves
(label ``rebal-<ms>-<scid>-<history id>-<attempt>``), the route (the first attempt's is
the one already found; later ones ask ``getroutes`` again), route validation, the EV gate
with that route's probability (unless forced), ``sendpay`` + ``waitsendpay``. A failed attempt deletes its invoice and payment and excludes the
channel that failed. ``waitsendpay`` code 200 (timeout) makes the payment pending: no
retry, invoice, payment and reservation are kept, the destination counts as in flight
until a reconcile settles (actual fee) or releases it. Success settles the reservation
with the actual fee, logs ``rebalance_costs`` and so starts the success cooldown.

Exclusion layers: :mod:`.rebalance_layers`. Single flight: a second call while one runs fails with ``engine_busy``. In dry-run the
rebalancer selects and journals (``skipped``, ``dry_run``) but never reserves, invoices
or sends.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock
from lnhive.core.errors import Conflict
from lnhive.revenue import backoff
from lnhive.revenue.budget import Budget, BudgetConfig
from lnhive.revenue.rebalance_ev import EvConfig, EvDecision, EvInputs, evaluate, gate
from lnhive.revenue.rebalance_layers import ExclusionLayers
from lnhive.revenue.rebalance_log import RebalanceLog
from lnhive.revenue.rebalance_route import (
    RouteError,
    build_route,
    hops_through_us,
    last_hop_request,
    route_fee_msat,
    validate_route,
)
from lnhive.revenue.rebalance_select import Candidate, RebalanceChannel, SelectConfig, select
from lnhive.revenue.rebalance_view import NodeView, read_view

Log = Callable[[str, str], None]
FINAL_CLTV = 18
INVOICE_EXPIRY_S = 3600
WAIT_TIMEOUT_S = 60
MAX_STEPS = 6
CYCLE_CEILING_S = 120.0
PENDING_CODE = 200
UNKNOWN_PAYMENT_S = 3600.0
"""A pending rebalance whose payment the node does not know after this long was never sent."""


@dataclass(frozen=True)
class RebalanceConfig:
    """The rebalancer's options (spec §6.2), names as in :class:`RevenueOptions`."""

    rebalance_interval_s: int = 900
    daily_budget_sats: int = 5000
    weekly_budget_sats: int = 35_000
    growth_budget_enabled: bool = False
    growth_budget_earned_fraction: float = 0.25
    growth_budget_hard_ceiling_sats: int = 10_000
    min_wallet_reserve: int = 1_000_000
    reservation_timeout_hours: int = 4
    pair_fee_cap_ppm: int = 1000
    rebalance_hold_margin: int = 0
    rebalance_emergency_local_ratio: float = 0.10
    rebalance_drift_override_ratio: float = 0.30
    rebalance_chunk_sats: int = 500_000
    rebalance_min_amount: int = 50_000
    rebalance_max_concurrent: int = 5
    rebalancer: str = "native"
    askrene_layers: str = ""
    hive_rebalance_tolerance: int = 50

    def budget_config(self) -> BudgetConfig:
        return BudgetConfig(
            daily_budget_sats=self.daily_budget_sats,
            weekly_budget_sats=self.weekly_budget_sats,
            growth_budget_enabled=self.growth_budget_enabled,
            growth_budget_earned_fraction=self.growth_budget_earned_fraction,
            growth_budget_hard_ceiling_sats=self.growth_budget_hard_ceiling_sats,
            reservation_timeout_hours=float(self.reservation_timeout_hours),
        )

    def ev_config(self) -> EvConfig:
        return EvConfig(
            pair_fee_cap_ppm=self.pair_fee_cap_ppm,
            hold_margin_sat=self.rebalance_hold_margin,
            hive_rebalance_tolerance_sat=self.hive_rebalance_tolerance,
        )

    def layers(self) -> list[str]:
        return [x.strip() for x in self.askrene_layers.split(",") if x.strip()]


def rpc_error(exc: BaseException) -> tuple[int | None, str, Any]:
    """``(code, message, data)`` of a NodeApi failure (the stand-in's or pyln's)."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "cln_message", None) or getattr(exc, "message", None) or str(exc)
    data = getattr(exc, "data", None)
    return (code if isinstance(code, int) else None), str(message), data


@dataclass(frozen=True)
class RouteLookup:
    """A ``getroutes`` answer for ``amount_sat`` as the circular ``sendpay`` route and its
    probability, or why there is none (``kind``: ``no_route`` or ``other``)."""

    amount_sat: int
    route: list[dict[str, Any]] | None = None
    probability: float | None = None
    kind: str | None = None
    error: str | None = None


def answer_probability(answer: Mapping[str, Any]) -> float | None:
    """A one-route ``getroutes`` answer's probability (the route's ``probability_ppm``, else
    the top-level one) in [0, 1], or None when it reports none."""
    routes = answer.get("routes")
    ppm: object = None
    if isinstance(routes, list) and routes and isinstance(routes[0], Mapping):
        ppm = routes[0].get("probability_ppm")
    if ppm is None:
        ppm = answer.get("probability_ppm")
    if isinstance(ppm, bool) or not isinstance(ppm, int | float):
        return None
    return min(1.0, max(0.0, ppm / 1_000_000))


@dataclass
class Attempt:
    """One invoice → route → payment try."""

    amount_sat: int
    status: str
    """success | pending | failed | too_expensive | rejected"""
    kind: str | None = None
    fee_msat: int | None = None
    error: str | None = None
    exclude: list[str] = field(default_factory=list)
    payment_hash: str | None = None
    label: str | None = None
    probability: float | None = None
    """The route's ``probability_ppm`` / 1e6, when a route was found."""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


class Rebalancer:
    def __init__(
        self,
        node: NodeApi,
        log_store: RebalanceLog,
        budget: Budget,
        config: RebalanceConfig,
        clock: Clock,
        *,
        dry_run: bool = False,
        policy_of: Callable[[str], tuple[str, str]] | None = None,
        banned: Callable[[], frozenset[str]] | None = None,
        log: Log | None = None,
    ) -> None:
        self.node = node
        self.journal = log_store
        self.budget = budget
        self.config = config
        self.clock = clock
        self.dry_run = dry_run
        self.policy_of = policy_of
        self.banned = banned or frozenset
        """Peers never used as source, destination or hop (:mod:`.peer_lists`)."""
        self.log = log or (lambda level, msg: None)
        self._busy = threading.Lock()
        self.layers = ExclusionLayers(node, clock, self.log)
        self.after_cycle: Callable[[], dict[str, Any]] | None = None
        """More work at the end of a cycle that was not refused, inside its single flight
        (the defibrillator, :mod:`.defibrillator`); its answer is merged into the cycle's."""

    # -- single flight ---------------------------------------------------------------
    @contextmanager
    def single_flight(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise Conflict("a rebalance is already running", symbol="engine_busy")
        try:
            yield
        finally:
            self._busy.release()

    # -- reading the node ----------------------------------------------------------------
    def view(self) -> NodeView:
        """The node now, with destinations of pending rebalances marked in flight."""
        view = read_view(self.node, self.journal.store, self.clock.now(), self.policy_of)
        busy = self.journal.in_flight_channels()
        view.channels = [replace(c, in_flight=c.channel_id in busy) for c in view.channels]
        return view

    def blocked(self, view: NodeView) -> Callable[[RebalanceChannel, RebalanceChannel], str | None]:
        now = self.clock.now()
        cfg = self.config

        def check(src: RebalanceChannel, dst: RebalanceChannel) -> str | None:
            since = now - backoff.COUNT_LOOKBACK_S
            fails = self.journal.pair_failures(src.channel_id, dst.channel_id, since)
            if backoff.pair_futile(fails, now):
                return "pair_futile"
            last = self.journal.last_pair_success(src.channel_id, dst.channel_id)
            if backoff.pair_cooldown_until(fails, last, now) is not None:
                return "pair_cooldown"
            peer_fails = self.journal.peer_failures(dst.peer_id, now - backoff.DEST_WINDOW_S)
            if backoff.dest_futile(peer_fails, now):
                return "dest_futile"
            ls = self.journal.last_success(dst.channel_id)
            if ls is not None and backoff.success_cooldown_active(
                last_success_at=ls.timestamp,
                last_amount_sat=ls.amount_sat,
                ratio_after_success=ls.dest_ratio_after,
                local_ratio_now=dst.local_ratio,
                remaining_gap_sat=dst.gap_sat(),
                now=now,
                emergency_local_ratio=cfg.rebalance_emergency_local_ratio,
                drift_override_ratio=cfg.rebalance_drift_override_ratio,
            ):
                return "dest_success_cooldown"
            return None

        return check

    def refusal(self, view: NodeView) -> str | None:
        """Why no rebalance may run now (wallet reserve, zero budget), else None."""
        if view.wallet_sat < self.config.min_wallet_reserve:
            return "wallet_reserve"
        if self.budget.daily_limit(self.clock.now()) <= 0 or self.config.weekly_budget_sats <= 0:
            return "budget_zero"
        return None

    # -- the cycle -----------------------------------------------------------------------
    def cycle(self, max_candidates: int = 20) -> dict[str, Any]:
        with self.single_flight():
            start = self.clock.now()
            out: dict[str, Any] = {"dry_run": self.dry_run, "attempts": []}
            out["reconciled"] = self.reconcile()
            out["released_stale"] = self.budget.release_stale(start)
            out["layers_swept"] = self.layers.sweep()
            view = self.view()
            why = self.refusal(view)
            if why is not None:
                out["skipped"] = why
                return out
            sel = select(
                view.channels,
                SelectConfig(
                    chunk_sats=self.config.rebalance_chunk_sats,
                    min_amount_sats=self.config.rebalance_min_amount,
                    max_candidates=max_candidates,
                ),
                self.blocked(view),
            )
            out["candidates"] = [c.to_json() for c in sel.candidates]
            out["rejections"] = sel.rejections
            for cand in sel.candidates:
                if self.clock.now() - start > CYCLE_CEILING_S:
                    out["stopped"] = "cycle_ceiling"
                    break
                out["attempts"].append(self.execute(cand, view, manual=False))
            if self.after_cycle is not None and self.clock.now() - start <= CYCLE_CEILING_S:
                out.update(self.after_cycle())
            return out

    def evaluate(
        self,
        cand: Candidate,
        view: NodeView,
        amount_sat: int,
        route_probability: float | None = None,
    ) -> EvDecision:
        """The EV decision for moving ``amount_sat``; ``route_probability`` (a found route's
        ``probability_ppm`` / 1e6) takes precedence over the pair's history."""
        inputs = self.ev_inputs(cand, view, amount_sat)
        return evaluate(
            replace(inputs, route_probability=route_probability), self.config.ev_config()
        )

    def ev_inputs(self, cand: Candidate, view: NodeView, amount_sat: int) -> EvInputs:
        """What the EV gate knows about the pair before a route is found."""
        src, dst = cand.source, cand.dest
        attempts, successes = self.journal.pair_stats(src.channel_id, dst.channel_id)
        now = self.clock.now()
        strikes = [
            f
            for f in self.journal.pair_failures(
                src.channel_id, dst.channel_id, now - backoff.COUNT_LOOKBACK_S
            )
            if f.kind not in backoff.NOT_STRIKES
        ]
        return EvInputs(
            amount_msat=amount_sat * 1000,
            dest_fee_ppm=dst.fee_ppm,
            source_fee_ppm=src.fee_ppm,
            dest_fee_has_earned=dst.channel_id in view.earned,
            past_attempts=attempts,
            past_successes=successes,
            pair_failures=len(strikes),
            hive_dest=dst.peer_id in view.hive_peers,
            budget_multiplier_ppm=cand.budget_multiplier_ppm,
        )

    # -- one pair --------------------------------------------------------------------------
    def execute(
        self,
        cand: Candidate,
        view: NodeView,
        *,
        manual: bool,
        max_fee_msat: int | None = None,
        force: bool = False,
        purpose: str = "rebalance",
    ) -> dict[str, Any]:
        """One pair; ``max_fee_msat`` caps the fee (``force``: it alone, no EV gate);
        ``purpose`` names the budget reservation (``diagnostic`` for the defibrillator).

        The route is looked up first (inside the pair's exclusion layer) so that the EV
        gate uses its probability; without a route (or in dry-run, which never creates
        layers) p comes from the pair's history or the default."""
        inputs = self.ev_inputs(cand, view, cand.amount_sat)
        if self.dry_run:
            return self._execute(
                cand, view, inputs, None, None, manual, max_fee_msat, force, purpose
            )
        layer = self.layers.make(cand.source.channel_id, cand.dest.channel_id)
        try:
            first = self._lookup(cand, view, cand.amount_sat, layer)
            return self._execute(
                cand, view, inputs, layer, first, manual, max_fee_msat, force, purpose
            )
        finally:
            self.layers.remove(layer)

    def _execute(
        self,
        cand: Candidate,
        view: NodeView,
        inputs: EvInputs,
        layer: str | None,
        first: RouteLookup | None,
        manual: bool,
        max_fee_msat: int | None,
        force: bool,
        purpose: str,
    ) -> dict[str, Any]:
        src, dst = cand.source, cand.dest
        now = self.clock.now()
        p_route = first.probability if first is not None else None
        ev = evaluate(replace(inputs, route_probability=p_route), self.config.ev_config())
        ceiling = ev.ceiling_msat
        if manual or max_fee_msat is not None:
            cap = max_fee_msat if max_fee_msat is not None else ev.pair_budget_msat
            ceiling = cap if force else min(cap, ev.ceiling_msat)
        expected = (ev.probability * ev.efv_msat - ev.source_opportunity_msat) / 1000
        hid = self.journal.start(
            from_channel=src.channel_id,
            to_channel=dst.channel_id,
            dest_peer=dst.peer_id,
            amount_sat=cand.amount_sat,
            max_fee_msat=ceiling,
            status="pending",
            now=now,
            manual=manual,
            expected_profit_sat=round(expected, 3),
        )
        self.log(
            "debug",
            f"rebalance {hid} {src.channel_id} -> {dst.channel_id}: p {ev.probability:.4f} "
            f"({ev.probability_source}), ceiling {ceiling} msat",
        )
        result: dict[str, Any] = {
            "id": hid,
            **cand.to_json(),
            "ev": ev.to_json(),
            "max_fee_msat": ceiling,
        }
        if self.dry_run:
            self.journal.update(hid, now, status="skipped", reason_code="dry_run")
            return {**result, "status": "skipped", "reason": "dry_run"}
        grant = self.budget.reserve(
            math.ceil(ceiling / 1000), now, purpose=purpose, ref=f"{purpose}:{hid}"
        )
        if grant.reservation is None:
            self.journal.update(hid, now, status="skipped", reason_code=grant.reason)
            return {**result, "status": "skipped", "reason": grant.reason}
        rid = grant.reservation.id
        self.journal.update(hid, now, reservation_id=rid)
        try:
            attempts = self._attempts(
                cand, view, hid, ceiling, layer, None if force else inputs, first
            )
        except Exception as exc:  # e.g. the node stopped answering before anything was sent
            self.log("warn", f"rebalance {hid} aborted: {type(exc).__name__}: {exc}")
            self.budget.release(rid, self.clock.now(), "error")
            self.journal.update(
                hid,
                self.clock.now(),
                status="failed",
                reason_code="error",
                error=f"{type(exc).__name__}: {exc}",
            )
            return {**result, "status": "failed", "reason": "error", "error": str(exc)}
        return {
            **result,
            **self._finish(cand, hid, rid, attempts),
            "attempts": [a.to_json() for a in attempts],
        }

    def _lookup(
        self, cand: Candidate, view: NodeView, amount_sat: int, layer: str | None
    ) -> RouteLookup:
        """``getroutes`` from the source's peer to the destination's peer for ``amount_sat``
        (plus the destination peer's fee toward us), turned into the circular route."""
        src, dst = view.end(cand.source.channel_id), view.end(cand.dest.channel_id)
        amount_msat = amount_sat * 1000
        want, final_cltv = last_hop_request(dst, amount_msat, FINAL_CLTV)
        layers = [*self.config.layers(), *([layer] if layer else [])]
        try:
            answer = self.node.getroutes(
                source=src.peer_id,
                destination=dst.peer_id,
                amount_msat=want,
                layers=layers,
                maxfee_msat=want,
                final_cltv=final_cltv,
                maxparts=1,
            )
            route = build_route(answer, src, dst, view.our_id, amount_msat, FINAL_CLTV)
        except RouteError as exc:
            return RouteLookup(amount_sat, kind="other", error=str(exc))
        except Exception as exc:
            code, message, _ = rpc_error(exc)
            return RouteLookup(amount_sat, kind="no_route", error=f"getroutes: {code} {message}")
        return RouteLookup(amount_sat, route=route, probability=answer_probability(answer))

    def _attempts(
        self,
        cand: Candidate,
        view: NodeView,
        hid: int,
        ceiling_msat: int,
        layer: str | None,
        inputs: EvInputs | None,
        first: RouteLookup | None = None,
    ) -> list[Attempt]:
        attempts: list[Attempt] = []
        amount = cand.amount_sat
        floor = max(1000, min(5000, amount // 2))
        for step in range(MAX_STEPS):
            if step and amount < floor:
                break
            scaled = ceiling_msat * amount // cand.amount_sat
            known = (
                first if step == 0 and first is not None and first.amount_sat == amount else None
            )
            a = self._attempt(cand, view, hid, step, amount, scaled, layer, inputs, known)
            attempts.append(a)
            if a.status in ("success", "pending", "too_expensive"):
                break
            for scid_dir in a.exclude:
                self.layers.disable(layer, scid_dir)
            amount //= 2
        return attempts

    def _attempt(
        self,
        cand: Candidate,
        view: NodeView,
        hid: int,
        step: int,
        amount_sat: int,
        ceiling_msat: int,
        layer: str | None,
        inputs: EvInputs | None,
        known: RouteLookup | None = None,
    ) -> Attempt:
        """One try; ``known`` is a route already looked up for this amount, ``inputs`` the
        EV gate's (None: forced, no gate), evaluated with the route's probability."""
        src, dst = view.end(cand.source.channel_id), view.end(cand.dest.channel_id)
        amount_msat = amount_sat * 1000
        ms = int(self.clock.now() * 1000)
        label = f"rebal-{ms}-{dst.scid}-{hid}-{step}"
        inv = self.node.invoice(
            amount_msat=amount_msat,
            label=label,
            description=f"revenue-ops rebalance {src.scid} -> {dst.scid}",
            expiry=INVOICE_EXPIRY_S,
            cltv=FINAL_CLTV,
        )
        payment_hash = str(inv["payment_hash"])
        attempt = Attempt(amount_sat, "failed", payment_hash=payment_hash, label=label)
        found = known if known is not None else self._lookup(cand, view, amount_sat, layer)
        if found.route is None:
            return self._give_up(attempt, found.kind, found.error or "no route")
        route = found.route
        attempt.probability = found.probability
        fee = route_fee_msat(route, amount_msat)
        attempt.fee_msat = fee
        why = validate_route(
            route,
            our_id=view.our_id,
            source_scid=src.scid,
            dest_scid=dst.scid,
            amount_msat=amount_msat,
            ceiling_msat=ceiling_msat,
        )
        banned = sorted(self.banned().intersection(h["id"] for h in route))
        if why is None and banned:
            why = "route_through_banned_peer"
        note = ""
        if inputs is not None:
            ev = evaluate(
                replace(inputs, route_probability=found.probability), self.config.ev_config()
            )
            note = f" (p {ev.probability:.4f} {ev.probability_source})"
            self.log("debug", f"rebalance {hid} step {step}: fee {fee} msat{note}")
            if why is None:
                why = gate(ev, fee * cand.amount_sat // max(1, amount_sat), 0)
        if why == "below_hold_margin":
            self._give_up(
                attempt, "too_expensive", f"route fee {fee} msat over {ceiling_msat}{note}"
            )
            attempt.status = "too_expensive"
            return attempt
        if why is not None:
            attempt.status = "rejected"
            attempt.exclude = [
                x for node in (view.our_id, *banned) for x in hops_through_us(route, node)
            ]
            return self._give_up(attempt, None, why, status="rejected")
        return self._pay(attempt, route, inv, amount_msat, (src.scid, dst.scid))

    def _pay(
        self,
        attempt: Attempt,
        route: list[dict[str, Any]],
        inv: Mapping[str, Any],
        amount_msat: int,
        ours: tuple[str, str],
    ) -> Attempt:
        payment_hash = str(inv["payment_hash"])
        try:
            self.node.sendpay(
                route=route,
                payment_hash=payment_hash,
                amount_msat=amount_msat,
                bolt11=inv.get("bolt11"),
                payment_secret=inv.get("payment_secret"),
            )
            done = self.node.waitsendpay(payment_hash=payment_hash, timeout=WAIT_TIMEOUT_S)
        except Exception as exc:
            code, message, data = rpc_error(exc)
            if code == PENDING_CODE or code is None:
                # a timeout, or no answer (the payment may be out): never retry or cancel, a
                # reconcile settles it from listsendpays
                attempt.status, attempt.kind, attempt.error = "pending", "pending_timeout", message
                return attempt
            failcode = data.get("failcode") if isinstance(data, Mapping) else None
            kind = backoff.classify_failcode(failcode if isinstance(failcode, int) else None, code)
            erring = data.get("erring_channel") if isinstance(data, Mapping) else None
            if isinstance(erring, str) and erring not in ours:
                direction = data.get("erring_direction", 0) if isinstance(data, Mapping) else 0
                attempt.exclude = [f"{erring}/{direction}"]
            self._delpay(payment_hash)
            return self._give_up(attempt, kind, f"{code} {message}")
        sent_msat = done.get("amount_sent_msat")
        if isinstance(sent_msat, int):
            attempt.fee_msat = sent_msat - amount_msat
        attempt.status = "success"
        return attempt

    def _give_up(
        self, attempt: Attempt, kind: str | None, error: str, *, status: str = "failed"
    ) -> Attempt:
        attempt.status, attempt.kind, attempt.error = status, kind, error
        if attempt.label is not None:
            try:
                self.node.delinvoice(label=attempt.label, status="unpaid")
            except Exception as exc:
                self.log("debug", f"delinvoice {attempt.label}: {exc}")
        return attempt

    def _delpay(self, payment_hash: str) -> None:
        try:
            self.node.delpay(payment_hash=payment_hash, status="failed")
        except Exception as exc:
            self.log("debug", f"delpay {payment_hash}: {exc}")

    def _finish(
        self, cand: Candidate, hid: int, rid: int, attempts: list[Attempt]
    ) -> dict[str, Any]:
        now = self.clock.now()
        last = attempts[-1] if attempts else Attempt(cand.amount_sat, "failed", error="no attempt")
        src, dst = cand.source, cand.dest
        if last.status == "success":
            fee = max(0, last.fee_msat or 0)
            self.budget.settle(rid, math.ceil(fee / 1000), now)
            self.journal.update(
                hid,
                now,
                status="success",
                actual_fee_msat=fee,
                sent_amount_sat=last.amount_sat,
                payment_hash=last.payment_hash,
                label=last.label,
            )
            after = (
                (dst.local_sat + last.amount_sat) / dst.capacity_sat if dst.capacity_sat else None
            )
            self.journal.record_cost(
                rebalance_id=hid,
                from_channel=src.channel_id,
                to_channel=dst.channel_id,
                dest_peer=dst.peer_id,
                amount_sat=last.amount_sat,
                fee_msat=fee,
                dest_ratio_after=after,
                now=now,
            )
            return {"status": "success", "fee_msat": fee, "amount_sat": last.amount_sat}
        if last.status == "pending":
            self.budget.mark_pending(rid, now)
            self.journal.update(
                hid,
                now,
                status="pending_settlement",
                payment_hash=last.payment_hash,
                label=last.label,
                sent_amount_sat=last.amount_sat,
                reason_code="pending_timeout",
            )
            return {"status": "pending_settlement", "payment_hash": last.payment_hash}
        self.budget.release(rid, now, last.kind or last.status)
        status = "skipped" if last.status == "too_expensive" else "failed"
        reason = (
            "below_hold_margin" if last.status == "too_expensive" else (last.kind or last.error)
        )
        if last.kind is not None:
            self.journal.record_failure(src.channel_id, dst.channel_id, dst.peer_id, last.kind, now)
        self.journal.update(hid, now, status=status, reason_code=reason, error=last.error)
        return {"status": status, "reason": reason, "error": last.error}

    # -- pending payments ------------------------------------------------------------------
    def reconcile(self) -> list[dict[str, Any]]:
        """Settle or release every ``pending_settlement`` rebalance from ``listsendpays``."""
        out = []
        for row in self.journal.pending():
            now = self.clock.now()
            if not row["payment_hash"]:
                continue
            try:
                pays = self.node.listsendpays(payment_hash=row["payment_hash"]).get("payments", [])
            except Exception as exc:
                self.log("warn", f"reconcile {row['id']}: listsendpays failed: {exc}")
                continue
            states = {p.get("status") for p in pays}
            amount_msat = int(row["sent_amount_sat"] or row["amount_sat"]) * 1000
            rid = row["reservation_id"]
            if "complete" in states:
                sent = sum(
                    int(p.get("amount_sent_msat", 0)) for p in pays if p.get("status") == "complete"
                )
                fee = max(0, sent - amount_msat)
                if rid is not None:
                    self.budget.settle(int(rid), math.ceil(fee / 1000), now)
                self.journal.update(row["id"], now, status="success", actual_fee_msat=fee)
                self.journal.record_cost(
                    rebalance_id=int(row["id"]),
                    from_channel=row["from_channel"],
                    to_channel=row["to_channel"],
                    dest_peer=row["dest_peer"],
                    amount_sat=amount_msat // 1000,
                    fee_msat=fee,
                    dest_ratio_after=None,
                    now=now,
                )
                out.append({"id": row["id"], "status": "success", "fee_msat": fee})
            elif not pays and now - float(row["updated_at"]) > UNKNOWN_PAYMENT_S:
                # lightningd records a payment before sending it: never recorded, never sent
                if rid is not None:
                    self.budget.release(int(rid), now, "payment_unknown")
                self._delinvoice(row["label"])
                self.journal.update(row["id"], now, status="failed", reason_code="payment_unknown")
                out.append({"id": row["id"], "status": "failed"})
            elif pays and states <= {"failed"}:
                if rid is not None:
                    self.budget.release(int(rid), now, "payment_failed")
                self._delinvoice(row["label"])
                self.journal.record_failure(
                    row["from_channel"], row["to_channel"], row["dest_peer"], "pending_timeout", now
                )
                self.journal.update(row["id"], now, status="failed", reason_code="payment_failed")
                out.append({"id": row["id"], "status": "failed"})
        return out

    def _delinvoice(self, label: str | None) -> None:
        if label:
            try:
                self.node.delinvoice(label=label, status="unpaid")
            except Exception as exc:
                self.log("debug", f"delinvoice {label}: {exc}")
