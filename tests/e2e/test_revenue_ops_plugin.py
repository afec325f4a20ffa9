"""cl-revenue-ops as a real plugin subprocess on stand-in nodes (spec revenue-ops §0, §5, §6).

The plugin is started by the path of its module, as `plugin=` on a real node would.
Tests that drive the fee controller skip while `lnhive.revenue.controller` is absent.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.revenue.store import DEFAULT_FILENAME
from lnhive.sim.testing import NodeFactory, TestNode, wait_for

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "revenue_ops.py")
FAST = {"revenue-ops-flow-interval": "1", "revenue-ops-fee-interval": "1"}
"""Short intervals: allowed because node_factory's nodes run in developer mode."""


def _active(node: TestNode) -> list[str]:
    plugins = node.rpc.call("plugin", {"subcommand": "list"})["plugins"]
    return [os.path.basename(p["name"]) for p in plugins if p["active"]]


def _line(nf: NodeFactory, **options: str) -> tuple[TestNode, TestNode, TestNode]:
    """l1 -> l2 -> l3 with the plugin on l2 only."""
    l1 = nf.get_node()
    l2 = nf.get_node(plugins=[(PLUGIN, {**FAST, **options})])
    l3 = nf.get_node()
    nf.join_nodes([l1, l2, l3])
    return l1, l2, l3


def _pay(payer: TestNode, payee: TestNode, label: str, msat: int = 100_000_000) -> dict[str, Any]:
    inv = payee.rpc.invoice(msat, label, "revenue-ops test")
    result: dict[str, Any] = payer.rpc.pay(inv["bolt11"])
    assert result["status"] == "complete"
    return result


def _out_channel(l2: TestNode, l3: TestNode) -> dict[str, Any]:
    channel: dict[str, Any] = l2.rpc.listpeerchannels(l3.id)["channels"][0]
    return channel


def _gossiped_fee_ppm(viewer: TestNode, scid: str, source: str) -> int:
    chans = viewer.rpc.listchannels(scid)["channels"]
    return int(next(c["fee_per_millionth"] for c in chans if c["source"] == source))


def test_plugin_loads_alone_and_reports_status(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, FAST)])
    assert "revenue_ops.py" in _active(node)
    status = node.rpc.call("revenue-status")
    assert status["plugin"] == "cl-revenue-ops"
    assert status["dry_run"] is False and status["mode"] == "live"
    assert status["developer"] is True
    assert status["loops"]["flow"]["interval"] == 1
    assert status["loops"]["fee"]["interval"] == 1
    assert status["forwards"] == {"count": 0, "fee_msat": 0}
    wait_for(lambda: node.rpc.call("revenue-status")["hydration"]["state"] == "done")
    # decision 10: the database is in the node's network directory, mode 0600
    db = Path(node.sim.network_dir) / DEFAULT_FILENAME
    assert status["db_path"] == str(db)
    assert db.exists()
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert node.rpc.getinfo()["id"] == node.id


def test_relative_db_path_lands_in_the_network_directory(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, {**FAST, "revenue-ops-db-path": "ro.db"})])
    status = node.rpc.call("revenue-status")
    assert status["db_path"] == str(Path(node.sim.network_dir) / "ro.db")
    assert (Path(node.sim.network_dir) / "ro.db").exists()
    assert not (Path(node.sim.network_dir) / DEFAULT_FILENAME).exists()


def test_forwards_through_the_middle_node_are_ingested(node_factory: NodeFactory) -> None:
    l1, l2, l3 = _line(node_factory)
    scid = _out_channel(l2, l3)["short_channel_id"]
    _pay(l1, l3, "a")
    _pay(l1, l3, "b", 50_000_000)

    def ingested() -> dict[str, Any]:
        out: dict[str, Any] = l2.rpc.call("revenue-analyze", {"channel_id": scid})["ingested"]
        return out

    wait_for(lambda: ingested()["forward_count"] == 2)
    fees = sum(f["fee_msat"] for f in l2.rpc.listforwards(status="settled")["forwards"])
    assert ingested()["fee_msat"] == fees > 0
    status = l2.rpc.call("revenue-status")
    assert status["ingest"]["stored"] == 2
    assert status["forwards"] == {"count": 2, "fee_msat": fees}
    # without a channel: every forward once (each has an in and an out channel here)
    assert l2.rpc.call("revenue-analyze")["ingested"]["forward_count"] == 2
    # the payer and the payee forwarded nothing
    assert l1.rpc.listforwards()["forwards"] == []


def test_start_up_hydration_reads_earlier_forwards(node_factory: NodeFactory) -> None:
    l1, l2, l3 = node_factory.get_nodes(3)
    node_factory.join_nodes([l1, l2, l3])
    _pay(l1, l3, "before")
    l2.rpc.call("plugin", {"subcommand": "start", "plugin": PLUGIN, **FAST})
    wait_for(lambda: l2.rpc.call("revenue-status")["hydration"]["state"] == "done")
    status = l2.rpc.call("revenue-status")
    assert status["hydration"]["stored"] == 1
    assert status["forwards"]["count"] == 1
    _pay(l1, l3, "after")  # then live notifications; the earlier forward is not doubled
    wait_for(lambda: l2.rpc.call("revenue-status")["forwards"]["count"] == 2)


def test_bad_policy_input_is_a_json_rpc_error_in_our_range(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, FAST)])
    with pytest.raises(RpcError) as info:
        node.rpc.call("revenue-policy", {"action": "set", "peer_id": "zz", "strategy": "foo"})
    assert info.value.error["code"] == 23001
    assert info.value.error["message"].startswith("invalid_input:")
    with pytest.raises(RpcError) as info:
        node.rpc.call("revenue-policy", {"action": "nope"})
    assert info.value.error["code"] == 23001
    # and good input is stored and read back
    peer = "02" + "ab" * 32
    node.rpc.call(
        "revenue-policy", {"action": "set", "peer_id": peer, "strategy": "static", "fee_ppm": 300}
    )
    got = node.rpc.call("revenue-policy", {"action": "get", "peer_id": peer})
    assert got["policy"]["strategy"] == "static" and got["policy"]["fee_ppm_target"] == 300


@pytest.mark.parametrize(
    ("options", "developer", "reason"),
    [
        ({"revenue-ops-fee-profile": "foo"}, True, "revenue-ops-fee-profile 'foo' is not valid"),
        ({"revenue-ops-flow-interval": "-5"}, True, "revenue-ops-flow-interval must be at least 1"),
        (
            {"revenue-ops-fee-interval": "10"},
            False,
            "revenue-ops-fee-interval must be at least 300",
        ),
        ({"revenue-ops-max-fee-ppm": "10"}, True, "revenue-ops-max-fee-ppm must be from 50"),
        ({"revenue-ops-db-path": "/nonexistent/dir/x.db"}, True, "store_error: cannot create"),
    ],
)
def test_a_bad_option_disables_the_plugin_and_the_node_carries_on(
    node_factory: NodeFactory, options: dict[str, str], developer: bool, reason: str
) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, options)], developer=developer)
    line = node.wait_for_log("disabled itself at init")
    assert reason in line
    assert "revenue_ops.py" not in _active(node)
    with pytest.raises(RpcError):
        node.rpc.call("revenue-status")
    assert node.rpc.getinfo()["id"] == node.id


def test_production_intervals_are_accepted_outside_developer_mode(
    node_factory: NodeFactory,
) -> None:
    node = node_factory.get_node(plugins=[PLUGIN], developer=False)
    status = node.rpc.call("revenue-status")
    assert status["developer"] is False
    assert status["loops"]["fee"]["interval"] == 1800
    assert status["loops"]["flow"]["interval"] == 3600
    assert status["stalled"] is False


def test_shutdown_stops_the_loops_and_exits_promptly(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, FAST)])
    node.rpc.call("revenue-status")
    started = time.monotonic()
    node.rpc.call("plugin", {"subcommand": "stop", "plugin": PLUGIN})
    assert time.monotonic() - started < 10
    node.wait_for_log("cl-revenue-ops stopped")
    assert not any("did not exit" in line for line in node.sim.logs.lines())
    assert "revenue_ops.py" not in _active(node)


def test_set_fee_checks_its_input_before_anything_else(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, FAST)])
    for fee in ("abc", -1, 100_001):
        with pytest.raises(RpcError) as info:
            node.rpc.call("revenue-set-fee", {"channel_id": "1x1x1", "fee_ppm": fee})
        assert info.value.error["code"] == 23001
        assert info.value.error["message"].startswith("invalid_input: fee_ppm")
    with pytest.raises(RpcError) as info:
        node.rpc.call("revenue-set-fee", {"channel_id": "1x1x1", "fee_ppm": 5, "force": "maybe"})
    assert info.value.error["message"].startswith("invalid_input: force")


def test_loops_tick_and_report_heartbeats(node_factory: NodeFactory) -> None:
    fast = {**FAST, "revenue-ops-rebalance-interval": "1"}
    node = node_factory.get_node(plugins=[(PLUGIN, fast)])

    def loops() -> dict[str, Any]:
        out: dict[str, Any] = node.rpc.call("revenue-status")["loops"]
        return out

    wait_for(lambda: all(loops()[name]["runs"] >= 2 for name in ("flow", "fee", "rebalance")))
    status = node.rpc.call("revenue-status")
    assert sorted(status["jobs"]) == ["fee", "flow", "rebalance"]
    # a node without channels is below the wallet reserve: the cycle ticks and skips
    assert status["loops"]["rebalance"]["last_result"]["skipped"] == "wallet_reserve"
    assert status["stalled"] is False
    assert all(loop["last_tick"] is not None for loop in status["loops"].values())


def test_static_policy_sets_the_fee_and_what_the_payer_pays(node_factory: NodeFactory) -> None:
    l1, l2, l3 = _line(node_factory)
    chan = _out_channel(l2, l3)
    scid = chan["short_channel_id"]
    before = _pay(l1, l3, "before")["amount_sent_msat"]
    l2.rpc.call(
        "revenue-policy",
        {"action": "set", "peer_id": l3.id, "strategy": "static", "fee_ppm": 300},
    )
    cycle = l2.rpc.call("revenue-fee-cycle")
    assert cycle["dry_run"] is False
    wait_for(lambda: _out_channel(l2, l3)["updates"]["local"]["fee_proportional_millionths"] == 300)
    wait_for(lambda: _gossiped_fee_ppm(l1, scid, l2.id) == 300)
    after = _pay(l1, l3, "after")["amount_sent_msat"]
    local = _out_channel(l2, l3)["updates"]["local"]
    expected_fee = local["fee_base_msat"] + 100_000_000 * 300 // 1_000_000
    assert after - 100_000_000 == expected_fee
    assert after > before


def test_dry_run_reports_adjustments_but_leaves_the_channel(node_factory: NodeFactory) -> None:
    l1, l2, l3 = _line(node_factory, **{"revenue-ops-dry-run": "true"})
    del l1
    assert l2.rpc.call("revenue-status")["dry_run"] is True
    before = _out_channel(l2, l3)["updates"]["local"]
    l2.rpc.call(
        "revenue-policy",
        {"action": "set", "peer_id": l3.id, "strategy": "static", "fee_ppm": 300},
    )
    cycle = l2.rpc.call("revenue-fee-cycle")
    assert cycle["dry_run"] is True
    assert [a for a in cycle["adjustments"] if a["new_fee_ppm"] == 300]
    assert _out_channel(l2, l3)["updates"]["local"] == before


def test_analyze_set_fee_and_fee_debug_through_the_plugin(node_factory: NodeFactory) -> None:
    # a fee loop that stays out of the way: the fee set by hand must still be there when read
    l1, l2, l3 = _line(node_factory, **{"revenue-ops-fee-interval": "3600"})
    scid = _out_channel(l2, l3)["short_channel_id"]
    _pay(l1, l3, "a")
    _pay(l1, l3, "b")

    def analyzed() -> dict[str, Any]:
        out: dict[str, Any] = l2.rpc.call("revenue-analyze", {"channel_id": scid})
        return out

    wait_for(lambda: analyzed()["ingested"]["forward_count"] == 2)
    chan = analyzed()["channels"][0]
    assert chan["channel_id"] == scid and chan["peer_id"] == l3.id
    assert chan["forward_count"] == 2
    assert chan["sats_out"] == 200_000
    set_result = l2.rpc.call("revenue-set-fee", {"channel_id": scid, "fee_ppm": 250})
    assert set_result
    assert _out_channel(l2, l3)["updates"]["local"]["fee_proportional_millionths"] == 250
    debug = l2.rpc.call("revenue-fee-debug", [scid])
    assert debug["channel_id"] == scid
    for method, params in (
        ("revenue-fee-debug", {"channel_id": "9x9x9"}),
        ("revenue-set-fee", {"channel_id": "9x9x9", "fee_ppm": 100}),
    ):
        with pytest.raises(RpcError) as info:
            l2.rpc.call(method, params)
        assert info.value.error["code"] == 23002
        assert info.value.error["message"].startswith("not_found:")


def _refused(node: TestNode, method: str, params: Any, code: int, text: str) -> None:
    with pytest.raises(RpcError) as info:
        node.rpc.call(method, params)
    assert info.value.error["code"] == code, info.value.error
    assert text in info.value.error["message"], info.value.error


def test_operator_upkeep_rpcs_through_the_plugin(node_factory: NodeFactory) -> None:
    """revenue-config, the peer lists, health, cycle, wake-all, cleanup-closed and the
    read-only summaries as a node's operator calls them (spec §6.1)."""
    l1, l2, l3 = _line(node_factory, **{"revenue-ops-fee-interval": "3600"})
    # revenue-config: positional form as lightning-cli sends it; static options refused
    out = l2.rpc.call("revenue-config", ["set", "min-fee-ppm", 70])
    assert out == {"key": "min-fee-ppm", "old_value": 50, "new_value": 70, "version": 1}
    assert l2.rpc.call("revenue-config", {"action": "get", "key": "min_fee_ppm"})["value"] == 70
    assert l2.rpc.call("revenue-status")["options"]["min_fee_ppm"] == 70
    _refused(
        l2, "revenue-config", ["set", "dry-run", "true"], 23001, "invalid_input: dry-run is static"
    )
    _refused(l2, "revenue-config", ["set", "min-fee-ppm", 1], 23001, "must be from 5 to 100000")
    assert l2.rpc.call("revenue-config", ["list"])["version"] == 1
    # ignore / ban
    assert l2.rpc.call("revenue-ignore", [l3.id])["status"] == "ignored"
    assert [p["peer_id"] for p in l2.rpc.call("revenue-list-ignored")["ignored"]] == [l3.id]
    _refused(l2, "revenue-unban", [l3.id], 23003, "conflict:")
    assert l2.rpc.call("revenue-ban", {"peer_id": l1.id, "reason": "test"})["changed"] is True
    assert l2.rpc.call("revenue-list-banned")["count"] == 1
    _refused(l2, "revenue-ignore", ["02zz"], 23001, "invalid_input: peer_id")
    _refused(l2, "revenue-unignore", [l1.id], 23003, "use revenue-unban")
    # health and cycles
    health = l2.rpc.call("revenue-health")
    assert health["mode"] == "live" and set(health["loops"]) == {"flow", "fee", "rebalance"}
    cycle = l2.rpc.call("revenue-cycle", ["fee"])
    scid = _out_channel(l2, l3)["short_channel_id"]
    assert cycle["ran"] == ["fee"] and cycle["skip_reasons"][scid] == "policy_passive"
    _refused(l2, "revenue-cycle", ["fees"], 23001, "valid values: flow, fee, rebalance")
    assert l2.rpc.call("revenue-wake-all")["count"] == 0
    assert l2.rpc.call("revenue-cleanup-closed")["count"] == 0
    # read-only summaries
    assert l2.rpc.call("revenue-dashboard", [7])["window_days"] == 7
    _refused(l2, "revenue-dashboard", [0], 23001, "window_days must be from 1 to 365")
    assert "totals" in l2.rpc.call("revenue-history")
    preview = l2.rpc.call("revenue-profile-preview", ["conservative"])
    assert list(preview["profiles"]) == ["conservative"] and preview["applied"] is False
    hive = l2.rpc.call("revenue-hive-status")
    assert hive["mode"] == "policy" and hive["cl_hive_available"] is False


def test_defibrillate_checks_its_input_and_plans(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(PLUGIN, FAST)])
    for params, code, start in (
        ({"channel_id": "1x1x1"}, 23002, "not_found:"),
        ({"dry_run": "maybe"}, 23001, "invalid_input: dry_run"),
        ({"channel_id": 5}, 23001, "invalid_input: channel_id"),
    ):
        with pytest.raises(RpcError) as info:
            node.rpc.call("revenue-defibrillate", params)
        assert info.value.error["code"] == code
        assert info.value.error["message"].startswith(start)
    out = node.rpc.call("revenue-defibrillate", {"dry_run": True})
    assert out["dry_run"] is True and out["plans"] == [] and out["recent"] == []
