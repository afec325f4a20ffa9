"""The plugin protocol as lightningd speaks it (spec cln-interface §a; conformance 1-12, 22-23)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pyln.client import RpcError

from lnhive.sim.host import PluginStartError
from lnhive.sim.testing import NodeFactory, wait_for
from tests.plugins.raw import manifest_with, write_raw_plugin
from tests.schemas import requires_schemas, validate_notification, validate_response

PLUGINS = Path(__file__).parent.parent / "plugins"
ORDINARY = str(PLUGINS / "ordinary.py")


def test_ordinary_pyln_plugin_gets_environment_options_and_configuration(
    node_factory: NodeFactory,
) -> None:
    node = node_factory.get_node(
        plugins=[
            (
                ORDINARY,
                {
                    "ord-str": "x",
                    "ord-int": "42",
                    "ord-bool": "true",
                    "ord-flag": "",
                    "ord-multi": ["a", "b"],
                },
            )
        ]
    )
    seen = node.rpc.call("ord-seen")
    env = seen["env"]
    assert env["LIGHTNINGD_PLUGIN"] == "1"
    assert env["LIGHTNINGD_VERSION"] == "v26.06.6"
    assert env["cwd"] == str(node.sim.network_dir)
    assert env["pgid_is_own"] is True
    init = seen["init"]
    assert init["getinfo_id"] == node.id  # the socket answered from inside init
    assert init["options"] == {
        "ord-str": "x", "ord-int": 42, "ord-bool": True, "ord-flag": True,
        "ord-multi": ["a", "b"], "ord-dyn": "start",
    }  # fmt: skip
    assert "ord-nodefault" not in init["options"]
    conf = init["configuration"]
    assert conf["lightning-dir"] == str(node.sim.network_dir)
    assert conf["rpc-file"] == "lightning-rpc"
    assert conf["startup"] is True
    assert conf["network"] == "regtest"
    assert set(conf["feature_set"]) >= {"init", "node", "channel", "invoice"}


def test_defaults_and_unset_flag(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    opts = node.rpc.call("ord-seen")["init"]["options"]
    assert opts == {"ord-str": "dflt", "ord-int": 7, "ord-bool": False, "ord-dyn": "start"}


def test_method_params_pass_verbatim_positional_and_named(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    assert node.rpc.call("ord-args", ["one", 2]) == {"first": "one", "second": 2}
    assert node.rpc.call("ord-args", {"first": {"nested": [1]}}) == {
        "first": {"nested": [1]},
        "second": None,
    }


def test_forwarded_ids_chain_through_the_node(node_factory: NodeFactory, tmp_path: Path) -> None:
    raw = write_raw_plugin(tmp_path / "p", "raw.py")
    node = node_factory.get_node(plugins=[raw])
    node.rpc.caller_name = "cli"
    out = node.rpc.call("raw-hello", ["a", None, 3])
    assert out["params"] == ["a", None, 3]
    assert out["id"].startswith("cli:raw-hello#")
    assert "/cln:raw-hello#" in out["id"]


def test_plugin_error_is_relayed_with_its_code(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    with pytest.raises(RpcError) as err:
        node.rpc.call("ord-fail", {"code": 21042})
    assert err.value.error["code"] == 21042
    assert "asked to fail" in err.value.error["message"]


def test_plugin_calls_nest_a_b_a(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[str(PLUGINS / "chain_a.py"), str(PLUGINS / "chain_b.py")])
    assert node.rpc.call("a-start") == {"via_b": {"b": {"leaf": "A"}}}


def test_plugin_dying_mid_call_gives_minus_4(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[str(PLUGINS / "chain_a.py"), str(PLUGINS / "chain_b.py")])
    out = node.rpc.call("a-call-dying")
    assert out["error"]["code"] == -4
    assert out["error"]["message"] == "Plugin terminated before replying to RPC call."
    node.wait_for_log(r"chain_b.py: Killing plugin: exited")
    names = {p["name"]: p["active"] for p in node.rpc.plugin("list")["plugins"]}
    assert str(PLUGINS / "chain_b.py") not in names
    # The node and the other plugin keep serving.
    assert node.rpc.call("a-leaf") == {"leaf": "A"}
    with pytest.raises(RpcError) as err:
        node.rpc.call("b-middle")
    assert err.value.error["code"] == -32601


def test_garbage_on_stdout_stops_the_plugin_not_the_node(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    raw = write_raw_plugin(
        tmp_path / "p", "raw.py", manifest_with(rpcmethods=[{"name": "raw-garbage", "usage": ""}])
    )
    node = node_factory.get_node(plugins=[raw, ORDINARY])
    with pytest.raises(RpcError) as err:
        node.rpc.call("raw-garbage")
    assert err.value.error["code"] == -4
    node.wait_for_log(r"raw.py: Killing plugin: sent invalid output")
    assert node.rpc.call("ord-args", ["still"])["first"] == "still"


def test_back_to_back_output_without_separator_is_parsed(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    raw = write_raw_plugin(
        tmp_path / "p", "raw.py", manifest_with(rpcmethods=[{"name": "raw-twice", "usage": ""}])
    )
    node = node_factory.get_node(plugins=[raw])
    assert node.rpc.call("raw-twice") == {"n": 1}
    node.wait_for_log(r"plugin-raw.py: after")


def test_unknown_log_level_kills_the_plugin(node_factory: NodeFactory, tmp_path: Path) -> None:
    raw = write_raw_plugin(
        tmp_path / "p", "raw.py", manifest_with(rpcmethods=[{"name": "raw-badlog", "usage": ""}])
    )
    node = node_factory.get_node(plugins=[raw])
    with pytest.raises(RpcError):
        node.rpc.call("raw-badlog")
    node.wait_for_log(r"unknown level 'shout'")


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (
            manifest_with(options=[{"name": "x", "type": "float", "description": "d"}]),
            "type 'float'",
        ),
        (
            manifest_with(
                options=[{"name": "x", "type": "flag", "default": True, "description": "d"}]
            ),
            "flag's default",
        ),
        (
            manifest_with(options=[{"name": "Bad Name", "type": "string", "description": "d"}]),
            "option name",
        ),
        (
            manifest_with(
                options=[{"name": "x", "type": "int", "default": "abc", "description": "d"}]
            ),
            "default does not parse",
        ),
        (manifest_with(rpcmethods=[{"name": "m"}]), "'usage' must be a string"),
        (
            manifest_with(rpcmethods=[{"name": "m", "usage": ""}, {"name": "m", "usage": ""}]),
            "registered twice",
        ),
        (manifest_with(rpcmethods=[{"name": "getinfo", "usage": ""}]), "already registered"),
        (manifest_with(notifications=[{"method": "forward_event"}]), "native notification topic"),
        (manifest_with(hooks=[{"name": "no_such_hook"}]), "Unknown hook name"),
        (
            manifest_with(hooks=[{"name": "peer_connected", "filters": [1]}]),
            "does not take filters",
        ),
        (manifest_with(hooks=[{"name": "custommsg"}, {"name": "custommsg"}]), "registered twice"),
    ],
)
def test_bad_manifests_are_refused_at_plugin_start(
    node_factory: NodeFactory, tmp_path: Path, manifest: dict[str, object], reason: str
) -> None:
    node = node_factory.get_node()
    raw = write_raw_plugin(tmp_path / "p", "bad.py", manifest)
    with pytest.raises(RpcError) as err:
        node.rpc.plugin_start(raw)
    assert reason in err.value.error["message"]
    assert node.rpc.plugin("list")["plugins"] == []
    assert node.rpc.getinfo()["id"] == node.id  # the node carries on


def test_bad_manifest_at_boot_skips_plugin_but_node_runs(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    raw = write_raw_plugin(tmp_path / "p", "bad.py", manifest_with(hooks=[{"name": "nope"}]))
    node = node_factory.get_node(plugins=[raw, ORDINARY])
    node.wait_for_log(r"Unknown hook name nope")
    assert [p["name"] for p in node.rpc.plugin("list")["plugins"]] == [ORDINARY]


def test_getmanifest_carries_allow_deprecated_apis(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    # pyln records the flag as plugin.deprecated_apis; read it back through a method.
    script = tmp_path / "p" / "dep.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "#!/usr/bin/env python3\nfrom pyln.client import Plugin\nplugin = Plugin()\n"
        "@plugin.method('dep')\ndef dep(plugin):\n    return {'deprecated_apis': plugin.deprecated_apis}\n"
        "plugin.run()\n"
    )
    script.chmod(0o755)
    on = node_factory.get_node(plugins=[str(script)])
    off = node_factory.get_node(plugins=[str(script)], allow_deprecated_apis=False)
    assert on.rpc.call("dep") == {"deprecated_apis": True}
    assert off.rpc.call("dep") == {"deprecated_apis": False}


def test_important_plugin_failing_at_boot_aborts_only_that_node(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    good = node_factory.get_node(plugins=[ORDINARY])
    raw = write_raw_plugin(tmp_path / "p", "dies.py", behaviour="die-init")
    with pytest.raises(PluginStartError):
        node_factory.get_node(name="doomed", important=[raw])
    assert good.rpc.getinfo()["id"] == good.id


def test_ordinary_plugin_dying_in_init_leaves_node_running(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    raw = write_raw_plugin(tmp_path / "p", "dies.py", behaviour="die-init")
    node = node_factory.get_node(plugins=[raw])
    assert node.rpc.plugin("list")["plugins"] == []
    node.wait_for_log(r"dies.py")


def test_init_timeout_aborts_the_node(node_factory: NodeFactory, tmp_path: Path) -> None:
    raw = write_raw_plugin(tmp_path / "p", "slow.py", behaviour="hang-init")
    with pytest.raises(PluginStartError, match="init"):
        node_factory.get_node(plugins=[raw], startup_timeout=1.0)


@pytest.mark.parametrize("behaviour", ["die-init", "error-init", "garbage-init"])
def test_plugin_start_failure_is_reported_by_the_command(
    node_factory: NodeFactory, tmp_path: Path, behaviour: str
) -> None:
    node = node_factory.get_node()
    raw = write_raw_plugin(tmp_path / "p", f"{behaviour}.py", behaviour=behaviour)
    with pytest.raises(RpcError) as err:
        node.rpc.plugin_start(raw)
    assert err.value.error["code"] == -3
    assert node.rpc.plugin("list")["plugins"] == []


def test_plugin_that_disables_itself_is_not_an_error(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    node = node_factory.get_node()
    raw = write_raw_plugin(tmp_path / "p", "off.py", behaviour="disable-init")
    out = node.rpc.plugin_start(raw)
    assert out["plugins"] == []
    node.wait_for_log(r"disabled itself at init: not today")


@requires_schemas
def test_plugin_start_stop_list_and_lifecycle_notifications(node_factory: NodeFactory) -> None:
    watcher = node_factory.get_node(plugins=[ORDINARY])
    started = watcher.rpc.plugin_start(str(PLUGINS / "chain_b.py"))
    validate_response("plugin", started)
    assert started["command"] == "start"
    assert {p["name"] for p in started["plugins"]} == {ORDINARY, str(PLUGINS / "chain_b.py")}
    listed = watcher.rpc.plugin("list")
    validate_response("plugin", listed)
    stopped = watcher.rpc.plugin_stop("chain_b.py")
    validate_response("plugin", stopped)
    assert stopped == {"command": "stop", "result": "Successfully stopped chain_b.py."}
    seen = wait_for(
        lambda: [n for n in watcher.rpc.call("ord-seen")["notifications"] if "plugin_stopped" in n]
    )
    inner = seen[0]["plugin_stopped"]
    validate_notification("plugin_stopped", inner)
    assert inner["plugin_name"] == "chain_b.py"
    assert inner["methods"] == ["b-middle", "b-die"]
    started_events = [
        n["plugin_started"]
        for n in watcher.rpc.call("ord-seen")["notifications"]
        if "plugin_started" in n
    ]
    assert any(e["plugin_name"] == "chain_b.py" for e in started_events)
    for e in started_events:
        validate_notification("plugin_started", e)


def test_plugin_start_not_executable_or_missing(node_factory: NodeFactory, tmp_path: Path) -> None:
    node = node_factory.get_node()
    plain = tmp_path / "plain.py"
    plain.write_text("print('hi')\n")
    with pytest.raises(RpcError) as err:
        node.rpc.plugin_start(str(plain))
    assert err.value.error["code"] == -32602
    with pytest.raises(RpcError) as err:
        node.rpc.plugin_start(str(tmp_path / "missing.py"))
    assert err.value.error["code"] == -32602


def test_stop_of_non_dynamic_plugin_is_refused(node_factory: NodeFactory, tmp_path: Path) -> None:
    raw = write_raw_plugin(tmp_path / "p", "static.py", manifest_with(dynamic=False))
    node = node_factory.get_node(plugins=[raw])
    with pytest.raises(RpcError) as err:
        node.rpc.plugin_stop("static.py")
    assert err.value.error == {
        "code": -32602,
        "message": "static.py cannot be managed when lightningd is up",
    }


def test_plugin_start_with_options(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    node.rpc.call(
        "plugin",
        {"subcommand": "start", "plugin": ORDINARY, "ord-int": "9", "options": ["ord-str=y"]},
    )
    init = node.rpc.call("ord-seen")["init"]
    assert init["options"]["ord-int"] == 9
    assert init["options"]["ord-str"] == "y"
    assert init["configuration"]["startup"] is False
    with pytest.raises(RpcError):
        node.rpc.call(
            "plugin",
            {"subcommand": "start", "plugin": str(PLUGINS / "chain_b.py"), "no-such-opt": "1"},
        )


@requires_schemas
def test_setconfig_on_dynamic_plugin_option(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    out = node.rpc.setconfig("ord-dyn", "changed")
    validate_response("setconfig", out)
    assert out["config"]["value_str"] == "changed"
    assert out["config"]["plugin"] == ORDINARY
    conf = node.rpc.listconfigs("ord-dyn")
    validate_response("listconfigs", conf)
    assert conf["configs"]["ord-dyn"]["value_str"] == "changed"
    with pytest.raises(RpcError) as err:
        node.rpc.setconfig("ord-str", "nope")
    assert err.value.error["code"] == -32602
    assert "Not a dynamic config option" in err.value.error["message"]
    with pytest.raises(RpcError) as err:
        node.rpc.setconfig("no-such-option", "x")
    assert "Unknown config option" in err.value.error["message"]


def test_setconfig_error_from_plugin_is_relayed(node_factory: NodeFactory, tmp_path: Path) -> None:
    script = tmp_path / "p" / "picky.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "#!/usr/bin/env python3\nfrom pyln.client import Plugin, RpcException\nplugin = Plugin()\n"
        "def check(plugin, name, value):\n    if value == 'bad':\n        raise RpcException('picky: no bad values', code=21500)\n"
        "plugin.add_option('picky', 'ok', 'picky option', dynamic=True, on_change=check)\nplugin.run()\n"
    )
    script.chmod(0o755)
    node = node_factory.get_node(plugins=[str(script)])
    with pytest.raises(RpcError) as err:
        node.rpc.setconfig("picky", "bad")
    assert "no bad values" in err.value.error["message"]
    assert node.rpc.listconfigs("picky")["configs"]["picky"]["value_str"] == "ok"


def test_custom_notifications_reach_subscribers_with_origin(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(
        plugins=[ORDINARY, str(Path(__file__).parents[2] / "src/lnhive/sim/plugins/echo.py")]
    )
    node.rpc.call("echo-notify", {"text": "hi"})
    got = wait_for(
        lambda: [n for n in node.rpc.call("ord-seen")["notifications"] if "echo-event" in n]
    )
    # pyln passes top-level `origin` and the params as sent (flat fields plus a copy under the topic).
    assert got[0]["origin"] == "echo.py"
    assert got[0]["echo-event"] == {"text": "hi"}


def test_undeclared_custom_topic_is_dropped(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    node.rpc.call("ord-emit", {"topic": "undeclared-topic"})
    node.wait_for_log(r'topic "undeclared-topic" it hasn\'t declared')
    node.rpc.call("ord-emit", {"topic": "ord-topic"})
    wait_for(lambda: [n for n in node.rpc.call("ord-seen")["notifications"] if "ord-topic" in n])
    assert not [n for n in node.rpc.call("ord-seen")["notifications"] if "undeclared-topic" in n]


@requires_schemas
def test_warn_log_raises_warning_notification(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    node.rpc.call("ord-log", {"level": "warn", "text": "careful"})
    got = wait_for(
        lambda: [n for n in node.rpc.call("ord-seen")["notifications"] if "warning" in n]
    )
    validate_notification("warning", got[0]["warning"])
    assert got[0]["warning"]["log"] == "careful"


def test_rpc_command_hook_return_error_replace_and_continue(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY, str(PLUGINS / "rpc_hook.py")])
    assert node.rpc.call("ord-hooked-return") == {"from": "hook"}
    with pytest.raises(RpcError) as err:
        node.rpc.call("ord-hooked-error")
    assert err.value.error == {"code": 999, "message": "refused by hook"}
    assert node.rpc.call("ord-hooked-replace") == {"first": "replaced", "second": None}
    node.rpc.getinfo()
    assert "getinfo" in node.rpc.call("hook-seen")["methods"]


def test_hook_chain_honours_before_and_after(node_factory: NodeFactory, tmp_path: Path) -> None:
    # Three rpc_command hooks: z.py asks to run before a.py, m.py after a.py.
    def hooker(name: str, before: list[str], after: list[str]) -> str:
        return write_raw_plugin(
            tmp_path / "p",
            name,
            manifest_with(
                rpcmethods=[],
                hooks=[
                    {
                        "name": "rpc_command",
                        "before": before,
                        "after": after,
                        "filters": ["getinfo"],
                    }
                ],
            ),
        )

    a = hooker("a.py", [], [])
    m = hooker("m.py", [], ["a.py"])
    z = hooker("z.py", ["a.py"], [])
    node = node_factory.get_node(plugins=[m, a, z])
    order = [p.name for p in node.sim.host.hook_chain("rpc_command")]
    assert order.index("z.py") < order.index("a.py") < order.index("m.py")


def test_unsatisfiable_hook_order_refuses_the_plugin(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    first = write_raw_plugin(
        tmp_path / "p",
        "first.py",
        manifest_with(rpcmethods=[], hooks=[{"name": "rpc_command", "before": ["second.py"]}]),
    )
    second = write_raw_plugin(
        tmp_path / "p",
        "second.py",
        manifest_with(rpcmethods=[], hooks=[{"name": "rpc_command", "before": ["first.py"]}]),
    )
    node = node_factory.get_node(plugins=[first])
    with pytest.raises(RpcError) as err:
        node.rpc.plugin_start(second)
    assert "cannot be satisfied" in err.value.error["message"]


def test_node_shutdown_notifies_subscribers_and_kills_the_rest(tmp_path: Path) -> None:
    factory = NodeFactory(tmp_path / "sim")
    try:
        node = factory.get_node(plugins=[ORDINARY, str(PLUGINS / "chain_b.py")])
        pids = node.plugin_pids()
        assert len(pids) == 2
        t0 = time.monotonic()
        assert node.rpc.stop() == {"result": "Shutdown complete"}
        wait_for(lambda: node.sim.state == "stopped", timeout=40)
        assert time.monotonic() - t0 < 35
        for pid in pids:
            wait_for(lambda pid=pid: not _alive(pid), timeout=10)
    finally:
        factory.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; the runtime reaps it soon after.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_plugin_ignoring_shutdown_is_killed_after_the_grace(tmp_path: Path) -> None:
    stubborn = write_raw_plugin(
        tmp_path / "p", "stubborn.py", manifest_with(subscriptions=["shutdown"])
    )
    factory = NodeFactory(tmp_path / "sim")
    try:
        node = factory.get_node(plugins=[stubborn], shutdown_grace=1.0)
        (pid,) = node.plugin_pids()
        t0 = time.monotonic()
        node.stop()
        assert 0.9 <= time.monotonic() - t0 < 10
        wait_for(lambda: not _alive(pid), timeout=10)
        node.wait_for_log(r"stubborn.py|shut down")
    finally:
        factory.close()
