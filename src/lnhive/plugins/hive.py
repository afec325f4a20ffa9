#!/usr/bin/env python3
"""cl-hive: fleet membership and the signed wire protocol for Core Lightning (slice 1).

A thin pyln-client shell over :class:`lnhive.fleet.hive.Hive`: options, RPC methods,
the ``custommsg`` hook and the ``connect`` notification are declared here, each a few
lines delegating to the service. Failures reach the caller as JSON-RPC errors in
20000-20999 whose message begins with the symbolic reason (``conflict: ...``). Wrong
option values disable the plugin at init with the reason; the node carries on.

Run it with ``plugin=/path/to/hive.py`` (or the ``cl-hive`` console script); see
docs/hive.md and docs/protocol.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pyln.client import Plugin

from lnhive.cln.rpc import RpcNodeApi
from lnhive.core.errors import HIVE_BASE, Internal, InvalidInput, LnhiveError
from lnhive.fleet.hive import DEFAULT_DB_NAME, Hive, HiveOptions
from lnhive.fleet.worker import HiveWorker
from lnhive.plugins.shell import developer_mode, rpc_call

PREFIX = "hive-"
LOG_LEVELS = ("debug", "info", "warn", "error")
_T = TypeVar("_T")

plugin = Plugin()
D = HiveOptions()
plugin.add_option(
    PREFIX + "db-path",
    None,
    f"SQLite file of this plugin (default: {DEFAULT_DB_NAME} in the node's network "
    "directory; a relative path is taken relative to that directory)",
)
plugin.add_option(
    PREFIX + "join-policy",
    D.join_policy,
    "How joiners qualify: ticket (an invitation), channel (a channel with the member "
    "they greet) or either",
)
plugin.add_option(
    PREFIX + "auto-join",
    D.auto_join,
    "When not in a hive, say HELLO to every peer that connects (channel admission)",
    opt_type="bool",
)
plugin.add_option(
    PREFIX + "max-members",
    D.max_members,
    "Largest roster this node admits joiners into (2-100)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "outbox-retry-seconds",
    int(D.outbox_retry_s),
    "First retry delay of unacknowledged reliable messages, doubling up to an hour (1-3600)",
    opt_type="int",
)

plugin.add_option(
    PREFIX + "heartbeat-interval",
    int(D.heartbeat_s),
    "Seconds between state gossips when nothing changed (60-3600; 1 in developer mode)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "gossip-threshold",
    str(D.gossip_threshold),
    "Relative capacity change that triggers a gossip before the heartbeat (0.01-1.0)",
)
plugin.add_option(
    PREFIX + "intent-hold-seconds",
    D.intent_hold_s,
    "How long an intent waits for conflicts before it commits (10-600; 1 in developer mode)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "intent-expire-seconds",
    D.intent_expire_s,
    "When an uncommitted intent expires (above the hold, at most 3600)",
    opt_type="int",
)

plugin.add_option(
    PREFIX + "governance-mode",
    D.governance_mode,
    "advisor (every fund-moving or membership action waits for approval) or failsafe",
)
plugin.add_option(
    PREFIX + "failsafe-actions-per-hour",
    D.failsafe_actions_per_hour,
    "Emergency bans failsafe mode runs without approval per hour (1-5)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "auto-vouch",
    D.auto_vouch,
    "Vouch automatically for neophytes that ask and meet every promotion criterion",
    opt_type="bool",
)
plugin.add_option(
    PREFIX + "auto-promote",
    D.auto_promote,
    "Sign the promotion as soon as vouches reach the quorum",
    opt_type="bool",
)
plugin.add_option(
    PREFIX + "probation-days",
    str(D.probation_days),
    "Days a neophyte waits before it can be promoted (1-365; 0 in developer mode)",
)
plugin.add_option(
    PREFIX + "min-uptime-pct",
    str(D.min_uptime_pct),
    "Least share of the last 30 days a neophyte was connected to us, percent",
)
plugin.add_option(
    PREFIX + "min-contribution-ratio",
    str(D.min_contribution_ratio),
    "Least ratio of sats it routed through us to sats we routed to it",
)
plugin.add_option(
    PREFIX + "min-unique-peers",
    D.min_unique_peers,
    "Least number of external peers it has that no other member has",
    opt_type="int",
)
plugin.add_notification_topic("hive-message")

hive: Hive | None = None
worker: HiveWorker | None = None


def _call(fn: Callable[[], _T]) -> _T:
    """Run a service call (errors become JSON-RPC errors in our range), then let the
    worker send whatever it queued."""
    result = rpc_call(plugin, HIVE_BASE, fn)
    if worker is not None:
        worker.wake()
    return result


def _hive() -> Hive:
    if hive is None:
        raise Internal("cl-hive is not initialised")
    return hive


def _log(level: str, message: str) -> None:
    plugin.log(message, level=level if level in LOG_LEVELS else "info")


def _options(options: dict[str, Any], developer: bool) -> HiveOptions:
    def get(name: str) -> Any:
        return options.get(PREFIX + name)

    try:
        return HiveOptions(
            join_policy=str(get("join-policy")),
            auto_join=bool(get("auto-join")),
            max_members=int(get("max-members")),
            outbox_retry_s=float(get("outbox-retry-seconds")),
            heartbeat_s=float(get("heartbeat-interval")),
            gossip_threshold=float(get("gossip-threshold")),
            intent_hold_s=int(get("intent-hold-seconds")),
            intent_expire_s=int(get("intent-expire-seconds")),
            governance_mode=str(get("governance-mode")),
            failsafe_actions_per_hour=int(get("failsafe-actions-per-hour")),
            auto_vouch=bool(get("auto-vouch")),
            auto_promote=bool(get("auto-promote")),
            probation_days=float(get("probation-days")),
            min_uptime_pct=float(get("min-uptime-pct")),
            min_contribution_ratio=float(get("min-contribution-ratio")),
            min_unique_peers=int(get("min-unique-peers")),
            developer=developer,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"bad option value: {exc}") from None


@plugin.init()
def init(
    options: dict[str, Any], configuration: dict[str, Any], plugin: Plugin, **kwargs: Any
) -> Any:
    global hive, worker
    network_dir = configuration["lightning-dir"]
    db = options.get(PREFIX + "db-path") or DEFAULT_DB_NAME
    try:
        opts = _options(options, developer_mode(plugin.rpc))
        opts.validate()
        node = RpcNodeApi.from_socket(os.path.join(network_dir, configuration["rpc-file"]))
        hive = Hive(
            node, os.path.join(network_dir, db), options=opts, log=_log, notify=plugin.notify
        )
    except LnhiveError as err:
        return {"disable": err.rpc_message()}
    except Exception as exc:  # e.g. a database that cannot be opened: disable, never crash
        return {"disable": f"internal: {type(exc).__name__}: {exc}"}
    worker = HiveWorker(hive, tick_s=1.0)
    worker.start()
    status = hive.status()
    plugin.log(
        f"cl-hive started: {status['status']}"
        + (f" in {status['hive_id']}" if status["hive_id"] else "")
        + f", database {hive.store.path}"
    )
    return None


@plugin.method("hive-genesis")
def hive_genesis(hive_id: str | None = None) -> dict[str, Any]:
    """Found a new hive with this node as its first member (HIVE_ID default: random)."""
    return _call(lambda: _hive().genesis(hive_id))


@plugin.method("hive-invite")
def hive_invite(valid_hours: int = 24, requirements: int = 0) -> dict[str, Any]:
    """Issue an invitation ticket valid VALID_HOURS; REQUIREMENTS is a feature bitmask
    (splice 1, dual-fund 2, anchor 4, onion-msg 8). Members only."""
    return _call(lambda: _hive().invite(valid_hours, requirements))


@plugin.method("hive-join")
def hive_join(ticket: str | None = None, peer_id: str | None = None) -> dict[str, Any]:
    """Ask to join: with TICKET (greets its issuer unless PEER_ID is given), or with
    PEER_ID alone when this node has a channel with that member."""
    return _call(lambda: _hive().join(ticket, peer_id))


@plugin.method("hive-status")
def hive_status() -> dict[str, Any]:
    """This node's hive, tier, member counts, membership hash and outbox."""
    return _call(lambda: _hive().status())


@plugin.method("hive-members")
def hive_members() -> dict[str, Any]:
    """Every member with tier, join time, who admitted it and when it was last heard."""
    return _call(lambda: _hive().members())


@plugin.method("hive-open-channel")
def hive_open_channel(peer_id: str, amount_sats: int) -> dict[str, Any]:
    """Propose a channel of AMOUNT_SATS to external node PEER_ID: it waits in the pending
    actions; once approved, a fresh intent is announced and the channel opens when it
    commits (after hive-intent-hold-seconds without a winning rival)."""
    return _call(lambda: _hive().open_channel(peer_id, amount_sats))


@plugin.method("hive-topology")
def hive_topology() -> dict[str, Any]:
    """Member links, each external node's members and the fleet's share of its public
    capacity, and the saturated ones (share >= 20%)."""
    return _call(lambda: _hive().topology())


@plugin.method("hive-pending-actions")
def hive_pending_actions() -> dict[str, Any]:
    """The governance mode and the queued actions with their status."""
    return _call(lambda: _hive().pending_actions())


@plugin.method("hive-approve-action")
def hive_approve_action(action_id: str, amount_sats: int | None = None) -> dict[str, Any]:
    """Approve ACTION_ID (or "all"); AMOUNT_SATS overrides a channel open's size."""
    return _call(lambda: _hive().approve_action(action_id, amount_sats))


@plugin.method("hive-reject-action")
def hive_reject_action(action_id: str, reason: str = "") -> dict[str, Any]:
    """Reject ACTION_ID (or "all") with an optional REASON."""
    return _call(lambda: _hive().reject_action(action_id, reason))


@plugin.method("hive-set-mode")
def hive_set_mode(mode: str) -> dict[str, Any]:
    """Set the governance MODE: advisor (everything queues) or failsafe (emergency bans
    run at once, locally, a few an hour)."""
    return _call(lambda: _hive().set_mode(mode))


@plugin.method("hive-emergency-ban")
def hive_emergency_ban(peer_id: str, reason: str = "") -> dict[str, Any]:
    """Ignore and disconnect PEER_ID here and file a ban proposal (queued in advisor
    mode, at once in failsafe mode)."""
    return _call(lambda: _hive().emergency_ban(peer_id, reason))


@plugin.method("hive-intent-status")
def hive_intent_status() -> dict[str, Any]:
    """Recent intents, ours and other members', with their status and reason."""
    return _call(lambda: _hive().intent_status())


@plugin.method("hive-gossip")
def hive_gossip() -> dict[str, Any]:
    """Sign and send this node's state record now (a new version)."""
    return _call(lambda: _hive().gossip_now())


@plugin.method("hive-leave")
def hive_leave(reason: str = "") -> dict[str, Any]:
    """Leave the hive: members are told (signed, reliably) and this node forgets it."""
    return _call(lambda: _hive().leave(reason))


@plugin.method("hive-broadcast")
def hive_broadcast(
    type: str, body: dict[str, Any], peers: list[str] | None = None
) -> dict[str, Any]:
    """Sign BODY as an envelope of TYPE (archon.*) and send it to every member, or
    directly to the connected members among PEERS; receivers emit hive-message."""
    return _call(lambda: _hive().broadcast_message(type, body, peers))


@plugin.method("hive-vouch")
def hive_vouch(peer_id: str) -> dict[str, Any]:
    """Vouch for neophyte PEER_ID's promotion (members only); with a quorum of member
    vouches (1 alone, else max(2, ceil(0.51 x members))) it becomes a member."""
    return _call(lambda: _hive().vouch(peer_id))


@plugin.method("hive-request-promotion")
def hive_request_promotion() -> dict[str, Any]:
    """Ask the members to promote this neophyte: each vouches (hive-auto-vouch) only
    when every criterion holds by its own observations (see hive-contribution)."""
    return _call(lambda: _hive().request_promotion())


@plugin.method("hive-contribution")
def hive_contribution(peer_id: str | None = None) -> dict[str, Any]:
    """Promotion criteria of PEER_ID (or every other member) as this node observes them:
    probation, uptime, contribution ratio, unique peers."""
    return _call(lambda: _hive().contribution_report(peer_id))


@plugin.method("hive-force-promote")
def hive_force_promote(peer_id: str) -> dict[str, Any]:
    """Promote neophyte PEER_ID without vouches: only while the hive has fewer than three
    members (bootstrapping)."""
    return _call(lambda: _hive().force_promote(peer_id))


@plugin.method("hive-propose-ban")
def hive_propose_ban(peer_id: str, reason: str = "") -> dict[str, Any]:
    """Propose banning PEER_ID (members only; the proposer approves); it passes when two
    thirds of the other members approve within 7 days."""
    return _call(lambda: _hive().propose_ban(peer_id, reason))


@plugin.method("hive-vote-ban")
def hive_vote_ban(proposal_id: str, vote: str) -> dict[str, Any]:
    """Vote approve or reject on ban proposal PROPOSAL_ID (members only, once)."""
    return _call(lambda: _hive().vote_ban(proposal_id, vote))


@plugin.method("hive-pending-bans")
def hive_pending_bans() -> dict[str, Any]:
    """Ban proposals with their tallies, and the nodes banned so far."""
    return _call(lambda: _hive().pending_bans())


@plugin.method("hive-config")
def hive_config() -> dict[str, Any]:
    """The options in effect and the database path."""
    return _call(lambda: _hive().config())


@plugin.method("hive-health")
def hive_health() -> dict[str, Any]:
    """Whether cl-hive's periodic work runs (status ok or stalled) and what waits."""
    return _call(lambda: _hive().health())


@plugin.method("hive-gossip-stats")
def hive_gossip_stats() -> dict[str, Any]:
    """Records held (and how many are stale), our version, gossip traffic counters."""
    return _call(lambda: _hive().gossip_stats())


@plugin.method("hive-bump-version")
def hive_bump_version() -> dict[str, Any]:
    """Publish our record with a new version now (e.g. after restoring a database)."""
    return _call(lambda: _hive().gossip_now("bump"))


@plugin.method("hive-proto-stats")
def hive_proto_stats() -> dict[str, Any]:
    """Wire counters: accepted, duplicates, refusals by reason, sends, queue."""
    return _call(lambda: _hive().proto_stats())


@plugin.hook("custommsg")
def on_custommsg(peer_id: str, payload: str, plugin: Plugin, **kwargs: Any) -> dict[str, Any]:
    if hive is not None and hive.receive(peer_id, payload) and worker is not None:
        worker.wake()
    return {"result": "continue"}


@plugin.subscribe("connect")
def on_connect(**kwargs: Any) -> None:
    payload = kwargs.get("connect", kwargs)  # CLN wraps it as {"connect": {...}}
    peer = payload.get("id") if isinstance(payload, dict) else None
    if hive is not None and isinstance(peer, str):
        try:
            hive.on_connect(peer)
        except Exception as exc:  # a failed sync must never stop the plugin
            plugin.log(f"connect handling failed: {exc!r}", level="warn")
        if worker is not None:
            worker.wake()


@plugin.subscribe("disconnect")
def on_disconnect(**kwargs: Any) -> None:
    payload = kwargs.get("disconnect", kwargs)
    peer = payload.get("id") if isinstance(payload, dict) else None
    if hive is not None and isinstance(peer, str):
        try:
            hive.on_disconnect(peer)
        except Exception as exc:
            plugin.log(f"disconnect handling failed: {exc!r}", level="warn")


@plugin.subscribe("forward_event")
def on_forward_event(**kwargs: Any) -> None:
    payload = kwargs.get("forward_event", kwargs)
    if hive is not None and isinstance(payload, dict):
        try:
            hive.on_forward(payload)
        except Exception as exc:  # a bad notification must never stop the plugin
            plugin.log(f"forward_event not counted: {exc!r}", level="warn")


@plugin.subscribe("shutdown")
def on_shutdown(**kwargs: Any) -> None:
    if worker is not None:
        worker.stop()
    if hive is not None:
        hive.close()
    plugin.log("cl-hive stopped")
    sys.exit(0)


def main() -> None:
    plugin.run()


if __name__ == "__main__":
    main()
