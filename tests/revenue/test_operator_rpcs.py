"""The operator's upkeep RPCs of spec §6.1 through RevenueService over the in-process
network model: ``revenue-config`` (runtime overrides of §6.2's dynamic options, persisted
in ``config_overrides``), ignored and banned peers, ``revenue-health``, ``revenue-cycle``,
``revenue-wake-all`` and ``revenue-cleanup-closed``. Every bad input is refused with a
clear error and leaves the state as it was."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import Conflict, InvalidInput, LnhiveError, NotFound
from lnhive.revenue.config_overrides import ConfigOverrides
from lnhive.revenue.controller_cycle import ChannelControl
from lnhive.revenue.service import RevenueOptions, RevenueService
from lnhive.revenue.stages import SleepState
from lnhive.revenue.store import ChannelState, FeeStrategyState, ForwardRecord
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network

DAY = 86_400.0


@dataclass
class World:
    svc: RevenueService
    clock: VirtualClock
    net: Network
    tmp: Path
    a: str
    b: str
    alice: str
    bob: str

    def reopen(self, **options: Any) -> RevenueService:
        """A new service on the same database (a plugin restart), with these node options."""
        self.svc.stop(0)
        opts = RevenueOptions.from_options(options, network_dir=str(self.tmp), developer=False)
        self.svc = RevenueService(InProcessNode(self.net, "us"), opts, clock=self.clock)
        return self.svc


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = VirtualClock(1_800_000_000.0)
    net = Network(clock, seed=4)
    for name in ("us", "alice", "bob"):
        net.add_node(name)
    ca = net.open_channel("us", "alice", 2_000_000)
    cb = net.open_channel("us", "bob", 2_000_000)
    clock.advance(3 * DAY)
    opts = RevenueOptions.from_options({}, network_dir=str(tmp_path), developer=False)
    svc = RevenueService(InProcessNode(net, "us"), opts, clock=clock)
    assert ca.scid and cb.scid
    w = World(svc, clock, net, tmp_path, ca.scid, cb.scid, net.by_name["alice"], net.by_name["bob"])
    yield w
    w.svc.stop(0)


def _refused(fn: Any, *args: Any, text: str, kind: type[LnhiveError] = InvalidInput) -> None:
    with pytest.raises(kind) as info:
        fn(*args)
    assert text in info.value.message, info.value.message


# -- revenue-config -----------------------------------------------------------------------
def test_config_set_applies_persists_and_survives_a_restart(world: World) -> None:
    svc = world.svc
    listing = svc.config("list")
    assert listing["version"] == 0 and listing["overrides"] == {}
    assert listing["options"]["fee-interval"] == 1800
    assert listing["immutable"] == ["db-path", "dry-run"]
    out = svc.config("set", "fee-interval", 600)
    assert out == {"key": "fee-interval", "old_value": 1800, "new_value": 600, "version": 1}
    assert svc.options.fee_interval_s == 600 and svc.controller.config.fee_interval_s == 600
    assert svc.heartbeats["fee"].interval == 600
    assert svc.status()["options"]["fee_interval_s"] == 600
    # `_` for `-`, numbers and booleans as text (as lightning-cli may send them)
    assert svc.config("set", "min_fee_ppm", "80")["new_value"] == 80
    assert svc.controller.config.min_fee_ppm == 80
    assert svc.config("set", "rebalance-emergency-local-ratio", "0.2")["version"] == 3
    assert svc.rebalancer.config.rebalance_emergency_local_ratio == 0.2
    assert svc.config("set", "vegas-reflex", "false")["new_value"] is False
    svc.config("set", "daily-budget-sats", 1234)
    assert svc.budget.config.daily_budget_sats == 1234
    svc.config("set", "flow-window-days", 14)
    assert svc.profits.config.flow_window_days == 14
    got = svc.config("get", "fee_interval")
    assert got["value"] == 600 and got["startup_value"] == 1800 and got["overridden"] is True
    assert got["version"] == 6
    # read back before use at the next start-up, on top of the node's options
    again = world.reopen()
    assert again.options.fee_interval_s == 600 and again.options.min_fee_ppm == 80
    assert again.heartbeats["fee"].interval == 600
    assert again.controller.config.vegas_reflex is False
    assert again.budget.config.daily_budget_sats == 1234


def test_config_reset_returns_to_the_start_up_value(world: World) -> None:
    svc = world.svc
    svc.config("set", "max-fee-ppm", 3000)
    out = svc.config("reset", "max-fee-ppm")
    assert out == {"key": "max-fee-ppm", "old_value": 3000, "new_value": 2000, "version": 2}
    assert svc.options.max_fee_ppm == 2000 and svc.config("list")["overrides"] == {}
    _refused(svc.config, "reset", "max-fee-ppm", text="has no override to reset")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("set", "db-path", "x.db"), "db-path is static"),
        (("set", "dry_run", True), "dry-run is static"),
        (("reset", "dry-run"), "dry-run is static"),
        (("set", "no-such-option", 1), "unknown option 'no-such-option'"),
        (("set", None, 1), "key must be an option name"),
        (("set", "fee-interval"), "action set needs a value for fee-interval"),
        (("set", "fee-interval", "soon"), "fee-interval takes a whole number"),
        (("set", "fee-interval", 1.5), "fee-interval takes a whole number"),
        (("set", "fee-interval", True), "fee-interval takes a whole number"),
        (("set", "fee-interval", 10), "revenue-ops-fee-interval must be at least 300"),
        (("set", "min-fee-ppm", 4), "revenue-ops-min-fee-ppm must be from 5 to 100000"),
        (("set", "max-fee-ppm", 40), "revenue-ops-max-fee-ppm must be from 70"),
        (("set", "vegas-reflex", "maybe"), "vegas-reflex takes true or false"),
        (("set", "growth-budget-earned-fraction", "1.5"), "must be from 0 to 1"),
        (("set", "growth-budget-earned-fraction", "nan"), "takes a decimal number"),
        (("set", "fee-profile", "wild"), "valid values: active, conservative"),
        (("set", "fee-profile", 3), "fee-profile takes text"),
        (("set", "rebalancer", "sling"), "valid values: native"),
        (("get", "fee-interval", 5), "action get takes no value"),
        (("list", "fee-interval"), "action list takes no key or value"),
        (("delete", "fee-interval"), "action 'delete' is not valid; valid values: get, set"),
    ],
)
def test_config_refuses_bad_input_and_changes_nothing(
    world: World, args: tuple[Any, ...], text: str
) -> None:
    svc = world.svc
    svc.config("set", "min-fee-ppm", 70)
    before, listing = svc.options, svc.config("list")
    _refused(svc.config, *args, text=text)
    assert svc.options == before and svc.controller.config == before
    assert svc.config("list") == listing


def test_every_config_change_is_logged(world: World) -> None:
    lines: list[tuple[str, str]] = []
    overrides = ConfigOverrides(
        world.svc.store, world.svc.options, log=lambda level, msg: lines.append((level, msg))
    )
    overrides.handle("set", "pair-fee-cap-ppm", 800, world.clock.now())
    overrides.handle("reset", "pair-fee-cap-ppm", None, world.clock.now())
    assert lines == [
        ("info", "revenue-config: pair-fee-cap-ppm 1000 -> 800 (version 1)"),
        ("info", "revenue-config: pair-fee-cap-ppm reset 800 -> 1000 (version 2)"),
    ]


def test_a_stored_override_the_new_options_contradict_is_skipped(world: World) -> None:
    world.svc.config("set", "min-fee-ppm", 1500)
    svc = world.reopen(**{"max-fee-ppm": 1000})
    assert svc.options.min_fee_ppm == 50 and svc.options.max_fee_ppm == 1000
    listing = svc.config("list")
    assert "min-fee-ppm" in listing["rejected"] and listing["overrides"] == {}


# -- ignored and banned peers ---------------------------------------------------------
def test_ignored_peer_is_left_alone_and_unignore_restores_it(world: World) -> None:
    svc = world.svc
    svc.policy("set", {"peer_id": world.alice, "strategy": "static", "fee_ppm": 300})
    out = svc.peer_list("ignore", world.alice, "flaky")
    assert out == {"peer_id": world.alice, "previous": "normal", "status": "ignored",
                   "changed": True}  # fmt: skip
    assert svc.peer_list("ignore", world.alice)["changed"] is False
    listed = svc.listed_peers("ignored")
    assert listed["count"] == 1 and listed["ignored"][0]["reason"] == "flaky"
    assert svc.listed_peers("banned") == {"banned": [], "count": 0}
    eff = svc.policies.effective(world.alice, world.clock.now())
    assert (eff.strategy.value, eff.rebalance_mode.value) == ("passive", "disabled")
    assert svc.policy("get", {"peer_id": world.alice})["source"] == "ignored"
    assert svc._policy_of(world.alice) == ("passive", "disabled")
    cycle = svc.fee_cycle()
    assert cycle["skip_reasons"].get(world.a) == "policy_passive"
    assert world.a not in {a["channel_id"] for a in cycle["adjustments"]}
    # the stored policy was kept and applies again
    svc.peer_list("unignore", world.alice)
    assert svc.policies.effective(world.alice, world.clock.now()).strategy.value == "static"
    assert svc.listed_peers("ignored")["count"] == 0


def test_a_listing_change_wakes_the_peers_channels(world: World) -> None:
    svc = world.svc
    svc.fee_cycle()  # clears the queue of woken peers
    svc.peer_list("ban", world.bob)
    assert world.bob in svc.controller._woken_peers


def test_ban_is_stronger_than_ignore(world: World) -> None:
    svc = world.svc
    svc.peer_list("ignore", world.bob)
    assert svc.peer_list("ban", world.bob)["previous"] == "ignored"
    assert svc.rebalancer.banned() == frozenset({world.bob})
    assert svc.peer_list("ignore", world.bob) == {
        "peer_id": world.bob, "previous": "banned", "status": "banned", "changed": False,
    }  # fmt: skip
    _refused(svc.peer_list, "unignore", world.bob, text="is banned, not ignored; use revenue-unban",
             kind=Conflict)  # fmt: skip
    assert svc.peer_list("unban", world.bob)["status"] == "normal"
    assert svc.rebalancer.banned() == frozenset()
    assert svc._policy_of(world.bob) == ("dynamic", "enabled")


@pytest.mark.parametrize(
    ("args", "text", "kind"),
    [
        (("ignore", "02abc"), "peer_id must be a 66-character hex public key", InvalidInput),
        (("ban", 5), "peer_id must be a 66-character hex public key", InvalidInput),
        (("ignore", "04" + "ab" * 32), "starting with 02 or 03", InvalidInput),
        (("ban", "02" + "ab" * 32, "x" * 201), "reason must be text of at most 200", InvalidInput),
        (("unignore", "02" + "ab" * 32), "is not ignored", NotFound),
        (("unban", "02" + "ab" * 32), "is not banned", NotFound),
        (("unignore", "02" + "ab" * 32, "why"), "revenue-unignore takes no reason", InvalidInput),
    ],
)
def test_peer_lists_refuse_bad_input(
    world: World, args: tuple[Any, ...], text: str, kind: type[LnhiveError]
) -> None:
    svc = world.svc
    svc.peer_list("ignore", world.alice)
    _refused(svc.peer_list, *args, text=text, kind=kind)
    assert svc.listed_peers("ignored")["count"] == 1 and svc.listed_peers("banned")["count"] == 0


def test_unban_of_an_only_ignored_peer_is_refused(world: World) -> None:
    world.svc.peer_list("ignore", world.alice)
    _refused(world.svc.peer_list, "unban", world.alice, text="use revenue-unignore", kind=Conflict)
    assert world.svc.peer_lists.level(world.alice) == "ignored"


# -- health and cycles --------------------------------------------------------------------
def test_health_reports_version_mode_and_heartbeats(world: World) -> None:
    h = world.svc.health()
    assert h["status"] == "starting" and h["mode"] == "live" and h["dry_run"] is False
    assert set(h["loops"]) == {"flow", "fee", "rebalance"}
    assert h["loops"]["fee"]["interval"] == 1800 and h["loops"]["fee"]["stalled"] is False
    assert h["jobs"] == [] and h["config_version"] == 0 and isinstance(h["version"], str)
    hb = world.svc.heartbeats["fee"]
    hb.running, hb.started_at = True, world.clock.now() - 10 * 1800
    assert world.svc.health()["status"] == "stalled"
    hb.last_tick, hb.consecutive_failures = world.clock.now(), 2
    assert world.svc.health()["status"] == "degraded"


def test_cycle_runs_one_or_every_subsystem(world: World) -> None:
    svc = world.svc
    one = svc.cycle("flow")
    assert one["ran"] == ["flow"] and one["results"]["flow"]["channels"] == 2
    every = svc.cycle()
    assert every["ran"] == ["flow", "fee", "rebalance", "profitability"]
    assert (
        every["errors"] == {} and every["skip_reasons"] == every["results"]["fee"]["skip_reasons"]
    )
    assert every["results"]["profitability"] == {"channels": 2}
    for bad in ("fees", 3, ""):
        _refused(svc.cycle, bad, text="valid values: flow, fee, rebalance, profitability")
    with svc.rebalancer.single_flight():
        _refused(svc.cycle, "rebalance", text="", kind=Conflict)
        assert svc.cycle()["errors"]["rebalance"].startswith("engine_busy:")


# -- wake-all and cleanup-closed ---------------------------------------------------------
def _sleeping(world: World, scid: str, peer: str) -> None:
    control = ChannelControl()
    until = world.clock.now() + 3600
    control.cycle.sleep = SleepState(is_sleeping=True, sleep_until=until, stable_cycles=3)
    control.cycle.last_fee_ppm = 100
    now = world.clock.now()
    world.svc.store.put_fee_strategy_state(
        FeeStrategyState(scid, peer, 100, 100, now, True, until, control.to_blob(), now)
    )


def test_wake_all_ends_every_sleep(world: World) -> None:
    _sleeping(world, world.a, world.alice)
    out = world.svc.wake_all()
    assert [w["channel_id"] for w in out["woken"]] == [world.a] and out["count"] == 1
    row = world.svc.store.get_fee_strategy_state(world.a)
    assert row is not None and row.is_sleeping is False
    control, warning = ChannelControl.from_blob(row.v2_state_json)
    assert warning is None and control.cycle.sleep.is_sleeping is False
    assert control.cycle.last_fee_ppm == 100  # the rest of the state is kept
    assert world.svc.wake_all() == {"woken": [], "count": 0}


def test_cleanup_closed_drops_state_of_vanished_channels_only(world: World) -> None:
    svc, now = world.svc, world.clock.now()
    svc.cycle("flow")
    gone = "999x1x0"
    svc.store.put_channel_state(ChannelState(gone, world.bob, "balanced", 0, 0, 0, 1, 0, 0, 0, now))
    svc.store.put_kalman_state(gone, "{}", now)
    _sleeping(world, gone, world.bob)
    svc.store.insert_forward(ForwardRecord(gone, world.a, 1_001_000, 1_000_000, 1000, now - 60))
    out = svc.cleanup_closed()
    assert out["channels"] == [gone] and out["count"] == 1
    assert out["rows_removed"]["channel_states"] == 1 and out["rows_removed"]["kalman_state"] == 1
    assert out["rows_removed"]["fee_strategy_state"] == 1
    assert svc.store.get_channel_state(gone) is None
    assert svc.store.get_channel_state(world.a) is not None  # open channels keep theirs
    assert svc.store.forward_totals() == (1, 1000)  # accounting is kept
    assert svc.cleanup_closed()["count"] == 0


def test_cleanup_closed_removes_nothing_when_the_node_cannot_be_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, now = world.svc, world.clock.now()
    svc.store.put_kalman_state("999x1x0", "{}", now)

    def broken(**kwargs: Any) -> dict[str, Any]:
        raise ConnectionError("lightningd went away")

    monkeypatch.setattr(svc.node, "listpeerchannels", broken)
    with pytest.raises(ConnectionError):
        svc.cleanup_closed()
    assert svc.store.get_kalman_state("999x1x0") is not None
