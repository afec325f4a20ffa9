"""The defibrillator (spec revenue-ops §3.6): diagnostic rebalances of stagnant channels.

A channel whose last profitability snapshot (:mod:`.couplings`) is STAGNANT_CANDIDATE gets a
50 000 sat diagnostic rebalance: can liquidity still move through it? The rebalance runs
through the rebalancer's own pipeline (budget reservation, exclusion layer, ``getroutes``,
route checks, ``sendpay``, halving retries, journal) with a fee cap of min(10 000 sat, what
the budget has left), no EV gate (a diagnostic is not expected to pay for itself) and the
reservation purpose ``diagnostic``. At most 3 counterparty channels are tried, one after
another, until one succeeds.

- **Direction** **[ours]**: a channel below 50 % local is *filled* (the spec's reading: it is
  the destination, the counterparties are sources that stay at or above 50 % after giving
  50 000 sat, fullest first); a channel at or above 50 % local cannot take 50 000 sat more
  in most cases (a channel we opened that never routed sits at 100 %), so it is *drained*
  instead: it is the source and the counterparties are destinations that stay at or below
  50 %, emptiest first (never a ZOMBIE or an UNDERWATER one without margin).
- **Outcome**: a success sets the channel's LOW_FEE_EXPLORATION flag (:mod:`.exploration`);
  the controller then lowers its fee toward the floor until a forward goes out. Every
  attempt (one per diagnosis, whatever the number of counterparties tried) is a row of
  ``diagnostic_attempts``: ``success``, ``failed``, or ``pending`` while its payment's
  outcome is unknown (settled, and the flag set, once the rebalancer reconciles it). These
  rows feed the ZOMBIE rule and the capacity report's DEFIBRILLATE (§4). Nothing is
  recorded when nothing was sent (budget refused, dry-run).
- **Limits**: per channel at most one attempt per 24 h and two per 14 days (the capacity
  report recommends DEFIBRILLATE below two in 14 days, and the zombie rule needs two); at
  most one diagnosis per rebalance cycle, after the cycle's ordinary pairs and only when the
  cycle was not refused (wallet reserve, zero budget). Skipped: the peer's ``rebalance``
  policy forbidding the direction, a banned or disconnected peer, a congested channel or
  one with a payment pending, no room for 50 000 sat, no counterparty, an exhausted budget.
- **Dry-run** (the plugin's, or the RPC's ``dry_run``): the plan only, nothing sent or stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lnhive.core.errors import InvalidInput, NotFound, PolicyBlocked, RateLimited
from lnhive.revenue import profitability as pf
from lnhive.revenue.couplings import SNAPSHOT_MAX_AGE_S
from lnhive.revenue.flowclass import FlowClass
from lnhive.revenue.policy import RebalanceMode
from lnhive.revenue.rebalance_select import Candidate, RebalanceChannel
from lnhive.revenue.rebalance_view import NodeView
from lnhive.revenue.rebalancer import Rebalancer
from lnhive.revenue.store import RevenueStore

AMOUNT_SAT = 50_000
MAX_FEE_SAT = 10_000
MAX_COUNTERPARTIES = 3
SPACING_S = 86_400.0
WINDOW_S = 14 * 86_400.0
MAX_IN_WINDOW = 2
PER_CYCLE = 1
MIDDLE = 0.5

Flag = Callable[[RebalanceChannel], bool]
"""Sets a channel's LOW_FEE_EXPLORATION flag; True if it changed."""
Log = Callable[[str, str], None]


@dataclass(frozen=True)
class Diagnostic:
    """A ``diagnostic_attempts`` row."""

    id: int
    channel_id: str
    outcome: str
    timestamp: float
    rebalance_id: int | None
    counterparty: str | None
    direction: str | None
    fee_msat: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DiagnosticLog:
    """Typed access to ``diagnostic_attempts``."""

    def __init__(self, store: RevenueStore) -> None:
        self.store = store

    def record(self, channel_id: str, outcome: str, now: float, **extra: Any) -> int:
        cur = self.store.db.execute(
            "INSERT INTO diagnostic_attempts (channel_id, success, timestamp, outcome, "
            "rebalance_id, counterparty, direction, fee_msat) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                channel_id,
                int(outcome == "success"),
                now,
                outcome,
                extra.get("rebalance_id"),
                extra.get("counterparty"),
                extra.get("direction"),
                extra.get("fee_msat"),
            ),
        )
        return int(cur.lastrowid or 0)

    def resolve(self, row_id: int, outcome: str, fee_msat: int | None) -> None:
        self.store.db.execute(
            "UPDATE diagnostic_attempts SET outcome = ?, success = ?, fee_msat = ? WHERE id = ?",
            (outcome, int(outcome == "success"), fee_msat, row_id),
        )

    def _rows(self, where: str, params: tuple[Any, ...], limit: int = 1000) -> list[Diagnostic]:
        rows = self.store.db.query(
            "SELECT id, channel_id, success, timestamp, rebalance_id, counterparty, direction, "
            f"outcome, fee_msat FROM diagnostic_attempts {where} ORDER BY timestamp DESC, id DESC "
            "LIMIT ?",
            (*params, limit),
        )
        return [
            Diagnostic(
                int(r["id"]),
                str(r["channel_id"]),
                r["outcome"] or ("success" if r["success"] else "failed"),
                float(r["timestamp"]),
                r["rebalance_id"],
                r["counterparty"],
                r["direction"],
                r["fee_msat"],
            )
            for r in rows
        ]

    def times(self, channel_id: str, since: float) -> list[float]:
        return [
            d.timestamp
            for d in self._rows("WHERE channel_id = ? AND timestamp >= ?", (channel_id, since))
        ]

    def pending(self) -> list[Diagnostic]:
        return self._rows("WHERE outcome = 'pending'", ())

    def recent(self, channel_id: str | None = None, limit: int = 20) -> list[Diagnostic]:
        if channel_id is None:
            return self._rows("", (), limit)
        return self._rows("WHERE channel_id = ?", (channel_id,), limit)


def rate_limit(times: Sequence[float], now: float) -> tuple[str | None, float | None]:
    """(why a new attempt must wait, when it may run): one per 24 h, two per 14 days."""
    recent = sorted(t for t in times if now - t < WINDOW_S)
    if recent and now - recent[-1] < SPACING_S:
        return "diagnostic_spacing", recent[-1] + SPACING_S
    if len(recent) >= MAX_IN_WINDOW:
        return "diagnostic_window_full", recent[-MAX_IN_WINDOW] + WINDOW_S
    return None, None


def direction(ch: RebalanceChannel) -> str:
    return "fill" if ch.local_ratio < MIDDLE else "drain"


def target_reason(ch: RebalanceChannel, way: str, banned: frozenset[str]) -> str | None:
    """Why ``ch`` cannot take a diagnostic in direction ``way`` now (None: it can)."""
    reserve = ch.capacity_sat // 100
    if ch.peer_id in banned:
        return "banned_peer"
    if not ch.peer_connected:
        return "peer_disconnected"
    if ch.in_flight:
        return "payment_pending"
    if way == "fill":
        if ch.rebalance_mode in (RebalanceMode.DISABLED, RebalanceMode.SOURCE_ONLY):
            return f"rebalance_mode_{ch.rebalance_mode.value}"
        if ch.flow_class is FlowClass.CONGESTED:
            return "congested"
        if ch.capacity_sat - ch.local_sat - reserve < AMOUNT_SAT:
            return "no_room"
    else:
        if ch.rebalance_mode in (RebalanceMode.DISABLED, RebalanceMode.SINK_ONLY):
            return f"rebalance_mode_{ch.rebalance_mode.value}"
        if ch.local_sat - reserve < AMOUNT_SAT:
            return "no_room"
    return None


def counterparties(
    channels: Sequence[RebalanceChannel], target: RebalanceChannel, way: str, banned: frozenset[str]
) -> list[RebalanceChannel]:
    """Up to 3 channels to pair with ``target``, best first (see the module text)."""
    out = []
    for c in channels:
        if c.channel_id == target.channel_id or c.peer_id == target.peer_id:
            continue
        if c.peer_id in banned or not c.peer_connected or c.capacity_sat <= 0:
            continue
        if way == "fill":
            ok = c.rebalance_mode not in (RebalanceMode.DISABLED, RebalanceMode.SINK_ONLY)
            ok = ok and (c.local_sat - AMOUNT_SAT) / c.capacity_sat >= MIDDLE
        else:
            ok = c.rebalance_mode not in (RebalanceMode.DISABLED, RebalanceMode.SOURCE_ONLY)
            ok = ok and not c.in_flight and c.flow_class is not FlowClass.CONGESTED
            ok = ok and c.coupling.dest_exclusion() is None
            ok = ok and (c.local_sat + AMOUNT_SAT) / c.capacity_sat <= MIDDLE
        if ok:
            out.append(c)
    sign = -1 if way == "fill" else 1
    out.sort(key=lambda c: (sign * c.local_ratio, c.channel_id))
    return out[:MAX_COUNTERPARTIES]


class Defibrillator:
    def __init__(
        self,
        rebalancer: Rebalancer,
        diagnostics: DiagnosticLog,
        flag: Flag,
        log: Log | None = None,
    ) -> None:
        self.rb = rebalancer
        self.diagnostics = diagnostics
        self.flag = flag
        self.log = log or (lambda level, msg: None)

    # -- planning ---------------------------------------------------------------------------
    def stagnant(self, view: NodeView) -> list[RebalanceChannel]:
        """The channels whose fresh snapshot says STAGNANT_CANDIDATE."""
        return [
            c
            for c in view.channels
            if c.coupling.known and c.coupling.profit_class is pf.ProfitClass.STAGNANT_CANDIDATE
        ]

    def plan(self, view: NodeView, ch: RebalanceChannel) -> dict[str, Any]:
        """What a diagnosis of ``ch`` would do now; ``reason`` set when it would not run."""
        now = self.rb.clock.now()
        way = direction(ch)
        banned = self.rb.banned()
        times = self.diagnostics.times(ch.channel_id, now - WINDOW_S)
        limited, next_at = rate_limit(times, now)
        reason = limited or target_reason(ch, way, banned)
        cps = counterparties(view.channels, ch, way, banned)
        if reason is None and not cps:
            reason = "no_counterparty"
        headroom = int(self.rb.budget.summary(now)["daily_remaining_sat"])
        fee_sat = min(MAX_FEE_SAT, headroom)
        if reason is None and fee_sat <= 0:
            reason = "budget_exhausted"
        return {
            "channel_id": ch.channel_id,
            "peer_id": ch.peer_id,
            "class": str(ch.coupling.profit_class),
            "local_ratio": round(ch.local_ratio, 4),
            "direction": way,
            "amount_sat": AMOUNT_SAT,
            "max_fee_sat": fee_sat,
            "counterparties": [c.channel_id for c in cps],
            "attempts_14d": len(times),
            "next_allowed_at": next_at,
            "reason": reason,
        }

    # -- running ----------------------------------------------------------------------------
    def settle_pending(self) -> list[dict[str, Any]]:
        """Resolve ``pending`` attempts whose rebalance the rebalancer has reconciled."""
        out = []
        for d in self.diagnostics.pending():
            row = None if d.rebalance_id is None else self.rb.journal.get(d.rebalance_id)
            if row is None or row["status"] not in ("success", "failed"):
                continue
            outcome = str(row["status"])
            self.diagnostics.resolve(d.id, outcome, row["actual_fee_msat"])
            view_ch = self.rb.view().channel(d.channel_id)
            if outcome == "success" and view_ch is not None:
                self.flag(view_ch)
            self.log("info", f"defibrillator: pending diagnostic of {d.channel_id}: {outcome}")
            out.append({"channel_id": d.channel_id, "outcome": outcome})
        return out

    def diagnose(
        self, view: NodeView, ch: RebalanceChannel, plan: dict[str, Any]
    ) -> dict[str, Any]:
        """Try the plan's counterparties until one succeeds; record the attempt."""
        cap_msat = int(plan["max_fee_sat"]) * 1000
        tried: list[dict[str, Any]] = []
        outcome: str | None = None
        refused = "nothing_tried"
        last: dict[str, Any] = {}
        for cp_id in plan["counterparties"]:
            cp = view.channel(cp_id)
            if cp is None:
                continue
            src, dst = (cp, ch) if plan["direction"] == "fill" else (ch, cp)
            cand = Candidate(src, dst, AMOUNT_SAT, 0.0)
            res = self.rb.execute(
                cand, view, manual=False, max_fee_msat=cap_msat, force=True, purpose="diagnostic"
            )
            tried.append(
                {k: res.get(k) for k in ("id", "from_channel", "to_channel", "status", "reason")}
            )
            if res["status"] == "skipped" and res.get("reason") != "below_hold_margin":
                refused = str(res.get("reason"))
                break  # the budget refused: nothing was sent
            last = {**res, "counterparty": cp_id}
            if res["status"] == "success":
                outcome = "success"
                break
            if res["status"] == "pending_settlement":
                outcome = "pending"
                break
            outcome = "failed"
        out: dict[str, Any] = {"channel_id": ch.channel_id, "tried": tried, "outcome": outcome}
        if outcome is None:
            self.log("info", f"defibrillator: {ch.channel_id} not diagnosed: {refused}")
            out["reason"] = refused
            return out
        now = self.rb.clock.now()
        self.diagnostics.record(
            ch.channel_id,
            outcome,
            now,
            rebalance_id=last.get("id"),
            counterparty=last.get("counterparty"),
            direction=plan["direction"],
            fee_msat=last.get("fee_msat"),
        )
        if outcome == "success":
            out["flag_set"] = self.flag(ch)
        self.log(
            "info",
            f"defibrillator: diagnostic {plan['direction']} of {ch.channel_id} ({AMOUNT_SAT} sat, "
            f"fee cap {plan['max_fee_sat']} sat, {len(tried)} counterpart(ies) tried): {outcome}"
            + ("; LOW_FEE_EXPLORATION set" if outcome == "success" else ""),
        )
        return out

    def step(self, view: NodeView, *, dry_run: bool, limit: int = PER_CYCLE) -> dict[str, Any]:
        """Plan every stagnant channel (fewest recent attempts first) and diagnose up to
        ``limit`` runnable ones (none in dry-run)."""
        chans = self.stagnant(view)
        plans = sorted(
            (self.plan(view, c) for c in chans),
            key=lambda p: (p["attempts_14d"], p["channel_id"]),
        )
        done: list[dict[str, Any]] = []
        for p in plans:
            if p["reason"] is not None:
                self.log("debug", f"defibrillator: {p['channel_id']} skipped: {p['reason']}")
                continue
            if dry_run:
                self.log("info", f"defibrillator: dry-run: would diagnose {p['channel_id']}")
                continue
            if len(done) >= limit:
                break
            ch = view.channel(p["channel_id"])
            if ch is not None:
                done.append(self.diagnose(view, ch, p))
        return {"plans": plans, "diagnosed": done}

    def cycle_step(self) -> dict[str, Any]:
        """The rebalance cycle's tail (inside its single flight): ``{"defibrillator": …}``."""
        settled = self.settle_pending()
        result: dict[str, Any] = {"plans": [], "diagnosed": []}
        if self._any_stagnant():  # else spare the node another read
            result = self.step(self.rb.view(), dry_run=self.rb.dry_run)
        return {"defibrillator": {"settled": settled, **result, "dry_run": self.rb.dry_run}}

    def _any_stagnant(self) -> bool:
        row = self.diagnostics.store.db.query_one(
            "SELECT 1 FROM channel_profitability WHERE classification = ? AND updated_at >= ? "
            "LIMIT 1",
            (str(pf.ProfitClass.STAGNANT_CANDIDATE), self.rb.clock.now() - SNAPSHOT_MAX_AGE_S),
        )
        return row is not None

    def run(self, channel_id: object = None, dry_run: bool = False) -> dict[str, Any]:
        """``revenue-defibrillate [channel_id] [dry_run]``: one channel (any class) or the
        stagnant ones, now; explicit refusals are errors, ``dry_run`` only plans."""
        if channel_id is not None and (not isinstance(channel_id, str) or not channel_id):
            raise InvalidInput(f"channel_id must be a short channel id, got {channel_id!r}")
        scid = None if channel_id is None else channel_id.replace(":", "x")
        dry = dry_run or self.rb.dry_run
        with self.rb.single_flight():
            view = self.rb.view()
            ch = None if scid is None else view.channel(scid)
            if scid is not None and ch is None:
                raise NotFound(f"channel {scid} is not one of our normal channels")
            out: dict[str, Any] = {"dry_run": dry}
            refusal = self.rb.refusal(view)
            if ch is None:
                if refusal is not None and not dry:
                    out["skipped"] = refusal
                    return out
                if not dry:
                    out["settled"] = self.settle_pending()
                out.update(self.step(view, dry_run=dry))
            else:
                plan = self.plan(view, ch)
                if refusal is not None and plan["reason"] is None:
                    plan["reason"] = refusal
                out["plans"] = [plan]
                out["diagnosed"] = []
                if not dry:
                    self._refuse(plan)
                    out["diagnosed"] = [self.diagnose(view, ch, plan)]
            out["recent"] = [d.to_json() for d in self.diagnostics.recent(scid)]
            return out

    @staticmethod
    def _refuse(plan: dict[str, Any]) -> None:
        why = plan["reason"]
        if why is None:
            return
        where = f"{plan['channel_id']}"
        if why.startswith("diagnostic_"):
            raise RateLimited(
                f"{why}: {where} had {plan['attempts_14d']} diagnostic(s) in 14 days; "
                f"next allowed at {plan['next_allowed_at']}"
            )
        raise PolicyBlocked(f"{why}: no diagnostic rebalance of {where} now")
