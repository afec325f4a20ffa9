#!/usr/bin/env python3
"""An ordinary plugin written the usual pyln way, recording what lightningd gave it."""

import os
import threading

from pyln.client import Plugin

plugin = Plugin()
plugin.add_option("ord-str", "dflt", "a string option")
plugin.add_option("ord-int", 7, "an int option", opt_type="int")
plugin.add_option("ord-bool", False, "a bool option", opt_type="bool")
plugin.add_option("ord-flag", None, "a flag option", opt_type="flag")
plugin.add_option("ord-multi", None, "a multi option", multi=True)
plugin.add_option("ord-nodefault", None, "unset, no default")
plugin.add_option("ord-dyn", "start", "a dynamic option", dynamic=True)
plugin.add_notification_topic("ord-topic")

seen = {"notifications": [], "init": None, "env": None}
lock = threading.Lock()


@plugin.init()
def init(options, configuration, plugin, **kwargs):
    info = plugin.rpc.getinfo()  # the socket must already answer during init
    seen["init"] = {"options": options, "configuration": configuration, "getinfo_id": info["id"]}
    seen["env"] = {
        "LIGHTNINGD_PLUGIN": os.environ.get("LIGHTNINGD_PLUGIN"),
        "LIGHTNINGD_VERSION": os.environ.get("LIGHTNINGD_VERSION"),
        "cwd": os.getcwd(),
        "pgid_is_own": os.getpgid(0) == os.getpid(),
    }


@plugin.method("ord-seen")
def ord_seen(plugin):
    """Everything this plugin has seen so far."""
    with lock:
        return dict(seen)


@plugin.method("ord-args")
def ord_args(plugin, first, second=None, **kwargs):
    """Return the arguments exactly as bound by pyln."""
    return {"first": first, "second": second}


@plugin.method("ord-fail")
def ord_fail(plugin, code=1234):
    """Fail with a JSON-RPC error of the given code."""
    from pyln.client import RpcException

    raise RpcException("ord-fail: asked to fail", code=int(code))


@plugin.method("ord-emit")
def ord_emit(plugin, topic="ord-topic"):
    """Emit a custom notification on TOPIC (declared or not)."""
    plugin.notify(topic, {"value": 42})
    return {"emitted": topic}


@plugin.method("ord-log")
def ord_log(plugin, level="info", text="hello"):
    """Write a log line at LEVEL."""
    plugin.log(text, level=level)
    return {}


@plugin.method("ord-progress")
def ord_progress(plugin, request, **kwargs):
    """Send a message and a progress notification to the caller, then answer."""
    request.notify("working on it")
    request.progress(1, 2)
    return {"done": True}


@plugin.subscribe("*")
def on_any(plugin, **kwargs):
    with lock:
        seen["notifications"].append(kwargs)
    if "shutdown" in kwargs:
        os._exit(0)  # a well-behaved plugin exits when told the node shuts down


plugin.run()
