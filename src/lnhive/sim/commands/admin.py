"""getinfo, help, listconfigs, setconfig, plugin, stop, notifications."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lnhive.sim.commands.registry import COMMANDS, command, usage
from lnhive.sim.errors import INVALID_PARAMS, RpcError
from lnhive.sim.host import OptionState, PluginSpec
from lnhive.sim.network.commands import COMMANDS as MODEL_COMMANDS

if TYPE_CHECKING:
    from lnhive.sim.node import CallContext, SimNode


@command("help")
async def help_(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    entries: dict[str, str] = {name: usage(name) for name in (*COMMANDS, *MODEL_COMMANDS)}
    for name, proc in node.host.commands.items():
        plugin_usage = proc.manifest.rpcmethods.get(name, "") if proc.manifest else ""
        entries[name] = f"{name} {plugin_usage}".rstrip()
    wanted = args.get("command")
    if wanted is not None:
        if wanted not in entries:
            raise RpcError(-32601, f"Unknown command {wanted}")
        return {"help": [{"command": entries[wanted]}], "format-hint": "simple"}
    return {"help": [{"command": entries[n]} for n in sorted(entries)]}


def _node_configs(node: SimNode) -> dict[str, dict[str, Any]]:
    """The node-level options the stand-in honours, in listconfigs' shape."""
    plugins = [p for p in node.config.plugins]
    configs: dict[str, dict[str, Any]] = {
        "lightning-dir": {"value_str": str(node.lightning_dir), "source": "cmdline"},
        "network": {"value_str": "regtest", "source": "cmdline"},
        "regtest": {"set": True, "source": "cmdline"},
        "rpc-file": {"value_str": "lightning-rpc", "source": "default"},
        "alias": {"value_str": node.alias, "source": "cmdline"},
        "rgb": {"value_str": node.color, "source": "cmdline"},
        "developer": {"set": node.developer, "source": "cmdline" if node.developer else "default"},
        "allow-deprecated-apis": {"value_bool": node.allow_deprecated_apis, "source": "default"},
        "funding-confirms": {"value_int": 3, "source": "default"},
        "cltv-delta": {"value_int": 34, "source": "default"},
        "cltv-final": {"value_int": 18, "source": "default"},
        "fee-base": {"value_int": 1000, "source": "default"},
        "fee-per-satoshi": {"value_int": 10, "source": "default"},
    }
    if plugins:
        configs["plugin"] = {
            "values_str": [os.path.abspath(p.path) for p in plugins if not p.important],
            "sources": ["cmdline" for p in plugins if not p.important],
        }
        important = [p for p in plugins if p.important]
        if important:
            configs["important-plugin"] = {
                "values_str": [os.path.abspath(p.path) for p in important],
                "sources": ["cmdline" for _ in important],
            }
        if not configs["plugin"]["values_str"]:
            del configs["plugin"]
    return configs


def plugin_option_json(st: OptionState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    spec, value = st.spec, st.value
    if spec.type == "flag":
        out["set"] = bool(value)
    elif spec.multi:
        vals = value or []
        out["values_str" if spec.type.startswith("string") else "values_int"] = vals
        out["sources"] = [st.source for _ in vals]
    elif spec.type == "int":
        out["value_int"] = value
    elif spec.type == "bool":
        out["value_bool"] = value
    else:
        out["value_str"] = value
    if not spec.multi:
        out["source"] = st.source
    out["plugin"] = st.plugin.path
    if spec.dynamic:
        out["dynamic"] = True
    return out


@command("listconfigs")
async def listconfigs(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    configs = _node_configs(node)
    for name, st in node.host.options.items():
        if st.value is None and st.spec.type != "flag" and not st.spec.multi:
            continue  # unset without default: lightningd omits it
        configs[name] = plugin_option_json(st)
    wanted = args.get("config")
    if wanted is not None:
        if wanted not in configs:
            raise RpcError(
                INVALID_PARAMS, f"config: Unknown config option: invalid token '\"{wanted}\"'"
            )
        return {"configs": {wanted: configs[wanted]}}
    return {"configs": configs}


@command("setconfig")
async def setconfig(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    name = args["config"]
    st = node.host.options.get(name)
    if st is None:
        if name in _node_configs(node):
            raise RpcError(
                INVALID_PARAMS, f"config: Not a dynamic config option: invalid token '\"{name}\"'"
            )
        raise RpcError(INVALID_PARAMS, f"config: Unknown config option: invalid token '\"{name}\"'")
    if not st.spec.dynamic:
        raise RpcError(
            INVALID_PARAMS, f"config: Not a dynamic config option: invalid token '\"{name}\"'"
        )
    val = args.get("val")
    if st.spec.multi and val is not None and not isinstance(val, list):
        raise RpcError(INVALID_PARAMS, f"{name} is a multi option: val must be an array")
    if not st.spec.multi and isinstance(val, list):
        raise RpcError(INVALID_PARAMS, f"{name} is not a multi option: val must not be an array")
    if st.spec.type == "flag" and val is not None:
        raise RpcError(INVALID_PARAMS, f"{name} does not take a value")
    if st.spec.type != "flag" and val is None:
        raise RpcError(INVALID_PARAMS, f"{name} requires a value")
    st = await node.host.set_option(name, val)
    out = plugin_option_json(st)
    out.pop("sources", None)
    if st.spec.multi:
        out["sources"] = [st.source for _ in (st.value or [])]
    return {"config": {"config": name, **out, "dynamic": True}}


def _plugin_list(node: SimNode, command_name: str) -> dict[str, Any]:
    return {
        "command": command_name,
        "plugins": [
            {"name": p.path, "active": p.active, "dynamic": p.dynamic} for p in node.host.plugins
        ],
    }


@command("plugin", checked=True)
async def plugin(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    sub = args["subcommand"]
    known = {"subcommand", "plugin", "directory", "options"}
    extra = {k: v for k, v in args.items() if k not in known}
    if sub == "list":
        return _plugin_list(node, "list")
    if sub == "rescan":
        return _plugin_list(node, "rescan")
    if sub == "stop":
        target = args.get("plugin")
        if target is None:
            raise RpcError(INVALID_PARAMS, "missing required parameter: plugin")
        result = await node.host.stop_plugin(target)
        return {"command": "stop", "result": result}
    if sub == "start":
        target = args.get("plugin")
        if target is None:
            raise RpcError(INVALID_PARAMS, "missing required parameter: plugin")
        options: dict[str, Any] = {}
        for item in args.get("options") or []:
            if not isinstance(item, str) or "=" not in item:
                options[str(item)] = ""
            else:
                k, v = item.split("=", 1)
                options[k] = v
        options.update({k: v for k, v in extra.items()})
        await node.host.start_runtime(PluginSpec(path=target, options=options))
        return _plugin_list(node, "start")
    if sub == "startdir":
        directory = args.get("directory")
        if directory is None:
            raise RpcError(INVALID_PARAMS, "missing required parameter: directory")
        if not os.path.isdir(directory):
            raise RpcError(
                INVALID_PARAMS, f"Could not open directory {directory}: No such file or directory"
            )
        for entry in sorted(os.listdir(directory)):
            path = os.path.join(directory, entry)
            if os.path.isfile(path) and os.access(path, os.X_OK) and node.host.find(path) is None:
                await node.host.start_runtime(PluginSpec(path=path))
        return _plugin_list(node, "startdir")
    raise RpcError(INVALID_PARAMS, f"subcommand: unknown subcommand: invalid token '\"{sub}\"'")


@command("stop")
async def stop(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    node.request_stop()
    return {"result": "Shutdown complete"}


@command("notifications")
async def notifications(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    if ctx.conn is not None:
        ctx.conn.notifications_enabled = bool(args["enable"])
    return {}
