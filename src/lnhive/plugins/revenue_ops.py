#!/usr/bin/env python3
"""cl-revenue-ops: local profitability and fee control for Core Lightning (slices 1-3:
flow analysis, the fee controller, the budgeted circular rebalancer, profitability and
reports).

A thin pyln-client shell: options, RPC methods and subscriptions are declared here,
each a few lines delegating to :class:`lnhive.revenue.service.RevenueService`. Failures
reach the caller as JSON-RPC errors in 23000-23999 whose message begins with the
symbolic reason (``invalid_input: ...``). Wrong option values disable the plugin at
init with the reason; the node carries on.

Run it on a node with ``plugin=/path/to/revenue_ops.py`` (or the ``cl-revenue-ops``
console script); see docs/revenue-ops.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pyln.client import Plugin

from lnhive.cln.rpc import RpcNodeApi
from lnhive.core.errors import REVENUE_BASE, Internal, LnhiveError
from lnhive.plugins.shell import developer_mode, rpc_call
from lnhive.revenue.service import RevenueOptions, RevenueService

PREFIX = "revenue-ops-"
LOG_LEVELS = ("debug", "info", "warn", "error")
_T = TypeVar("_T")

plugin = Plugin()
D = RevenueOptions()
plugin.add_option(
    PREFIX + "db-path",
    None,
    "SQLite file of this plugin (default: lnhive-cl-revenue-ops.sqlite3 in the node's "
    "network directory; a relative path is taken relative to that directory)",
)
plugin.add_option(
    PREFIX + "dry-run",
    D.dry_run,
    "Decide, journal and log fee changes but never call setchannel",
    opt_type="bool",
)
plugin.add_option(
    PREFIX + "flow-interval",
    D.flow_interval_s,
    "Seconds between flow analyses (at least 300; 1 in developer mode)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "fee-interval",
    D.fee_interval_s,
    "Seconds between fee cycles (at least 300; 1 in developer mode)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "flow-window-days",
    D.flow_window_days,
    "Days of forwards the flow analysis looks at (1-90)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "min-fee-ppm", D.min_fee_ppm, "Lowest fee the controller sets, ppm", opt_type="int"
)
plugin.add_option(
    PREFIX + "min-fee-ppm-saturated",
    D.min_fee_ppm_saturated,
    "Lowest fee for draining or >=85%-outbound channels, ppm (at most min-fee-ppm)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "max-fee-ppm", D.max_fee_ppm, "Highest fee the controller sets, ppm", opt_type="int"
)
plugin.add_option(
    PREFIX + "fee-profile", D.fee_profile, "Fee controller profile: active or conservative"
)
plugin.add_option(
    PREFIX + "hive-fee-ppm",
    D.hive_fee_ppm,
    "Fee held toward peers whose policy strategy is hive, ppm",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "estimated-open-cost-sats",
    D.estimated_open_cost_sats,
    "On-chain cost of opening a channel, sat (for the chain-cost fee floor)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "vegas-reflex",
    D.vegas_reflex,
    "Raise fee floors while on-chain fee rates spike",
    opt_type="bool",
)
plugin.add_option(
    PREFIX + "enable-dynamic-htlcmax",
    D.enable_dynamic_htlcmax,
    "Adjust each channel's htlc_maximum_msat with its flow",
    opt_type="bool",
)

# -- the rebalancer's options (spec §6.2) -------------------------------------------------
_INT_OPTIONS = (
    ("rebalance-interval", D.rebalance_interval_s, "Seconds between rebalance cycles (>=300; 1 in developer mode)"),
    ("daily-budget-sats", D.daily_budget_sats, "Rebalance fees allowed per 24 h, sat (0: none)"),
    ("weekly-budget-sats", D.weekly_budget_sats, "Rebalance fees allowed per 7 days, sat"),
    ("growth-budget-hard-ceiling-sats", D.growth_budget_hard_ceiling_sats, "Daily budget ceiling with the growth credit, sat"),
    ("min-wallet-reserve", D.min_wallet_reserve, "No rebalancing below this on-chain + spendable total, sat"),
    ("reservation-timeout-hours", D.reservation_timeout_hours, "Release unused budget reservations after this many hours"),
    ("pair-fee-cap-ppm", D.pair_fee_cap_ppm, "Rebalance fee cap per pair, ppm of the amount"),
    ("rebalance-hold-margin", D.rebalance_hold_margin, "Least expected value a paid rebalance must keep, sat"),
    ("rebalance-chunk-sats", D.rebalance_chunk_sats, "Largest amount one rebalance moves, sat"),
    ("rebalance-min-amount", D.rebalance_min_amount, "Smallest amount worth an automatic rebalance, sat"),
    ("rebalance-max-concurrent", D.rebalance_max_concurrent, "Most rebalances in flight at once"),
    ("hive-rebalance-tolerance", D.hive_rebalance_tolerance, "Expected loss allowed toward hive peers, sat"),
)  # fmt: skip
_TEXT_OPTIONS = (
    ("growth-budget-earned-fraction", str(D.growth_budget_earned_fraction), "Share of 24 h net profit added to the daily budget (0-1)"),
    ("rebalance-emergency-local-ratio", str(D.rebalance_emergency_local_ratio), "Below this local ratio a destination skips its success cooldown (0-1)"),
    ("rebalance-drift-override-ratio", str(D.rebalance_drift_override_ratio), "Drift since the last success that skips the cooldown (0-1)"),
    ("rebalancer", D.rebalancer, "Rebalance executor: native (askrene + sendpay)"),
    ("askrene-layers", D.askrene_layers, "Comma-separated askrene layers added to every route query"),
)  # fmt: skip
for _name, _default, _text in _INT_OPTIONS:
    plugin.add_option(PREFIX + _name, _default, _text, opt_type="int")
for _name, _text_default, _text in _TEXT_OPTIONS:
    plugin.add_option(PREFIX + _name, _text_default, _text)
plugin.add_option(
    PREFIX + "growth-budget-enabled",
    D.growth_budget_enabled,
    "Add a share of recent net profit to the daily rebalance budget",
    opt_type="bool",
)

service: RevenueService | None = None


def _call(fn: Callable[[], _T]) -> _T:
    """Run a service call; its errors become JSON-RPC errors in our code range."""
    return rpc_call(plugin, REVENUE_BASE, fn)


def _service() -> RevenueService:
    if service is None:
        raise Internal("cl-revenue-ops is not initialised")
    return service


def _log(level: str, message: str) -> None:
    """The service's and controller's ``log(level, message)`` into the node's log."""
    plugin.log(message, level=level if level in LOG_LEVELS else "info")


@plugin.init()
def init(
    options: dict[str, Any], configuration: dict[str, Any], plugin: Plugin, **kwargs: Any
) -> Any:
    global service
    network_dir = configuration["lightning-dir"]
    ours = {k.removeprefix(PREFIX): v for k, v in options.items() if k.startswith(PREFIX)}
    try:
        opts = RevenueOptions.from_options(
            ours, network_dir=network_dir, developer=developer_mode(plugin.rpc)
        )
        node = RpcNodeApi.from_socket(os.path.join(network_dir, configuration["rpc-file"]))
        service = RevenueService(node, opts, log=_log)
    except LnhiveError as err:
        return {"disable": err.rpc_message()}
    except Exception as exc:  # e.g. a database that cannot be opened: disable, never crash
        return {"disable": f"internal: {type(exc).__name__}: {exc}"}
    service.start()
    mode = "dry-run" if opts.dry_run else "live"
    plugin.log(f"cl-revenue-ops started ({mode}), database {service.store.path}")
    return None


@plugin.method("revenue-status")
def revenue_status() -> dict[str, Any]:
    """Version, mode, loop heartbeats {last_tick, interval, stalled}, ingestion counts."""
    return _call(lambda: _service().status())


@plugin.method("revenue-analyze")
def revenue_analyze(channel_id: str | None = None) -> dict[str, Any]:
    """Flow metrics of every channel, or of CHANNEL_ID, and the forwards stored for them."""
    return _call(lambda: _service().analyze(channel_id))


@plugin.method("revenue-fee-cycle")
def revenue_fee_cycle() -> dict[str, Any]:
    """Run a fee cycle now: {adjustments, skip_reasons, dry_run}."""
    return _call(lambda: _service().fee_cycle())


@plugin.method("revenue-fee-debug")
def revenue_fee_debug(channel_id: str) -> dict[str, Any]:
    """How the controller reached CHANNEL_ID's fee: rails, targets, posterior, sleep."""
    return _call(lambda: _service().fee_debug(channel_id))


@plugin.method("revenue-set-fee")
def revenue_set_fee(channel_id: str, fee_ppm: int, force: bool = False) -> dict[str, Any]:
    """Set CHANNEL_ID's fee to FEE_PPM now (FORCE may leave [min-fee-ppm, max-fee-ppm])."""
    return _call(lambda: _service().set_fee(channel_id, fee_ppm, force))


@plugin.method("revenue-policy")
def revenue_policy(
    action: str,
    peer_id: str | None = None,
    strategy: str | None = None,
    rebalance: str | None = None,
    fee_ppm: int | None = None,
    tag: str | None = None,
    fee_multiplier_min: float | None = None,
    fee_multiplier_max: float | None = None,
    expires_in_hours: float | None = None,
    since: float | None = None,
    updates: list[dict[str, Any]] | str | None = None,
) -> dict[str, Any]:
    """Per-peer policies: ACTION list|get|set|delete|tag|untag|find|changes|batch."""
    params = {
        "peer_id": peer_id,
        "strategy": strategy,
        "rebalance": rebalance,
        "fee_ppm": fee_ppm,
        "tag": tag,
        "fee_multiplier_min": fee_multiplier_min,
        "fee_multiplier_max": fee_multiplier_max,
        "expires_in_hours": expires_in_hours,
        "since": since,
        "updates": updates,
    }
    return _call(lambda: _service().policy(action, params))


@plugin.method("revenue-rebalance")
def revenue_rebalance(
    from_channel: str,
    to_channel: str,
    amount_sats: int | None = None,
    max_fee_sats: int | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Move AMOUNT_SATS from FROM_CHANNEL to TO_CHANNEL round a circle, fee at most
    MAX_FEE_SATS (FORCE skips the EV gate and the peers' rebalance modes)."""
    return _call(
        lambda: _service().rebalance(from_channel, to_channel, amount_sats, max_fee_sats, force)
    )


@plugin.method("revenue-rebalance-cycle")
def revenue_rebalance_cycle(max_candidates: int = 20) -> dict[str, Any]:
    """Run a rebalance cycle now over at most MAX_CANDIDATES pairs."""
    return _call(lambda: _service().rebalance_cycle(max_candidates))


@plugin.method("revenue-rebalance-debug")
def revenue_rebalance_debug(
    channel_id: str | None = None, peer_id: str | None = None, summary_only: bool = False
) -> dict[str, Any]:
    """Candidates with their EV decomposition, rejections, budget and backoff."""
    return _call(lambda: _service().rebalance_debug(channel_id, peer_id, summary_only))


@plugin.method("revenue-defibrillate")
def revenue_defibrillate(channel_id: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Diagnostic rebalance of CHANNEL_ID (any class) or of the stagnant channels now;
    DRY_RUN only plans. Shows the recent diagnostics."""
    return _call(lambda: _service().defibrillate(channel_id, dry_run))


@plugin.method("revenue-budget")
def revenue_budget() -> dict[str, Any]:
    """Daily and weekly rebalance budget: limits, committed, remaining, reservations."""
    return _call(lambda: _service().budget_status())


@plugin.method("revenue-spend-ledger")
def revenue_spend_ledger(window_hours: int = 24) -> dict[str, Any]:
    """Spend events, active reservations and rebalances of the last WINDOW_HOURS."""
    return _call(lambda: _service().spend_ledger(window_hours))


@plugin.method("revenue-clear-reservations")
def revenue_clear_reservations() -> dict[str, Any]:
    """Release every active budget reservation except those of pending payments."""
    return _call(lambda: _service().clear_reservations())


@plugin.method("revenue-spend-release-stale")
def revenue_spend_release_stale(max_age_seconds: int = 3600) -> dict[str, Any]:
    """Release active reservations older than MAX_AGE_SECONDS (pending payments keep theirs)."""
    return _call(lambda: _service().release_stale(max_age_seconds))


@plugin.method("revenue-profitability")
def revenue_profitability(channel_id: str | None = None, refresh: bool = False) -> dict[str, Any]:
    """Per-channel revenue, costs, net profit, ROI, marginal ROI, class and bleeder level
    (REFRESH stores a new snapshot)."""
    return _call(lambda: _service().profitability(channel_id, refresh))


@plugin.method("revenue-capacity-report")
def revenue_capacity_report() -> dict[str, Any]:
    """Winners, losers and advisory splice/close recommendations behind protection gates."""
    return _call(lambda: _service().capacity_report())


@plugin.method("revenue-report")
def revenue_report(report_type: str = "summary", peer_id: str | None = None) -> dict[str, Any]:
    """Earnings, costs and the controller's reasoning per channel, with a readable
    `summary` text; REPORT_TYPE summary|peer|bleeders (peer needs PEER_ID)."""
    return _call(lambda: _service().report(report_type, peer_id))


@plugin.method("revenue-health")
def revenue_health() -> dict[str, Any]:
    """Verdict (ok|degraded|stalled|starting), version, mode, loop heartbeats and jobs."""
    return _call(lambda: _service().health())


@plugin.method("revenue-cycle")
def revenue_cycle(subsystem: str | None = None) -> dict[str, Any]:
    """Run SUBSYSTEM (flow|fee|rebalance|profitability) now, or all four in order."""
    return _call(lambda: _service().cycle(subsystem))


@plugin.method("revenue-wake-all")
def revenue_wake_all() -> dict[str, Any]:
    """End the sleep of every sleeping channel: the next fee cycle decides for it again."""
    return _call(lambda: _service().wake_all())


@plugin.method("revenue-cleanup-closed")
def revenue_cleanup_closed() -> dict[str, Any]:
    """Drop the working state of channels the node no longer has (accounting is kept)."""
    return _call(lambda: _service().cleanup_closed())


@plugin.method("revenue-config")
def revenue_config(action: str, key: str | None = None, value: Any = None) -> dict[str, Any]:
    """Runtime options: ACTION get|set|list|reset [KEY] [VALUE] (KEY: option name without
    the revenue-ops- prefix; db-path and dry-run are static)."""
    return _call(lambda: _service().config(action, key, value))


@plugin.method("revenue-ignore")
def revenue_ignore(peer_id: str, reason: str | None = None) -> dict[str, Any]:
    """The fee controller and the rebalancer leave PEER_ID's channels alone."""
    return _call(lambda: _service().peer_list("ignore", peer_id, reason))


@plugin.method("revenue-unignore")
def revenue_unignore(peer_id: str) -> dict[str, Any]:
    """Stop ignoring PEER_ID."""
    return _call(lambda: _service().peer_list("unignore", peer_id))


@plugin.method("revenue-ban")
def revenue_ban(peer_id: str, reason: str | None = None) -> dict[str, Any]:
    """Ignore PEER_ID and never route a rebalance to, from or through it."""
    return _call(lambda: _service().peer_list("ban", peer_id, reason))


@plugin.method("revenue-unban")
def revenue_unban(peer_id: str) -> dict[str, Any]:
    """Lift PEER_ID's ban (it is then neither banned nor ignored)."""
    return _call(lambda: _service().peer_list("unban", peer_id))


@plugin.method("revenue-list-ignored")
def revenue_list_ignored() -> dict[str, Any]:
    """Ignored peers with their reasons."""
    return _call(lambda: _service().listed_peers("ignored"))


@plugin.method("revenue-list-banned")
def revenue_list_banned() -> dict[str, Any]:
    """Banned peers with their reasons."""
    return _call(lambda: _service().listed_peers("banned"))


@plugin.method("revenue-dashboard")
def revenue_dashboard(window_days: int = 30) -> dict[str, Any]:
    """Revenue, rebalance costs, net, fee changes and rebalances of the last WINDOW_DAYS."""
    return _call(lambda: _service().dashboard(window_days))


@plugin.method("revenue-history")
def revenue_history() -> dict[str, Any]:
    """Everything stored, by month, with lifetime totals."""
    return _call(lambda: _service().history())


@plugin.method("revenue-profile-preview")
def revenue_profile_preview(profile: str | None = None) -> dict[str, Any]:
    """What each fee profile (or PROFILE) would decide per channel now; changes nothing."""
    return _call(lambda: _service().profile_preview(profile))


@plugin.method("revenue-hive-status")
def revenue_hive_status() -> dict[str, Any]:
    """Fleet members marked strategy=hive and what that means for their channels."""
    return _call(lambda: _service().hive_status())


@plugin.subscribe("forward_event")
def on_forward_event(forward_event: dict[str, Any], **kwargs: Any) -> None:
    if service is not None and not service.stopping:
        try:
            service.forward_event(forward_event)
        except Exception as exc:  # a bad notification must never stop the plugin
            plugin.log(f"forward_event not stored: {exc!r}", level="warn")


@plugin.subscribe("shutdown")
def on_shutdown(**kwargs: Any) -> None:
    if service is not None:
        service.stop()
    plugin.log("cl-revenue-ops stopped")
    sys.exit(0)


def main() -> None:
    plugin.run()


if __name__ == "__main__":
    main()
