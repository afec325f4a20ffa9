#!/usr/bin/env python3
"""Holds the rpc_command hook (kept apart from ordinary.py: a single-threaded pyln plugin
with this hook cannot call the RPC from its own init, on a real lightningd too)."""

import threading

from pyln.client import Plugin

plugin = Plugin()
seen = []
lock = threading.Lock()


@plugin.method("hook-seen")
def hook_seen(plugin):
    """Methods the rpc_command hook has seen."""
    with lock:
        return {"methods": list(seen)}


@plugin.hook("rpc_command")
def on_rpc_command(plugin, rpc_command, **kwargs):
    method = rpc_command["method"]
    with lock:
        seen.append(method)
    if method == "ord-hooked-return":
        return {"return": {"result": {"from": "hook"}}}
    if method == "ord-hooked-error":
        return {"return": {"error": {"code": 999, "message": "refused by hook"}}}
    if method == "ord-hooked-replace":
        return {
            "replace": {
                "jsonrpc": "2.0",
                "id": rpc_command["id"],
                "method": "ord-args",
                "params": {"first": "replaced"},
            }
        }
    return {"result": "continue"}


@plugin.method("ord-hooked-return")
def hooked_return(plugin):
    """Never reached: the rpc_command hook answers for it."""
    return {"from": "method"}


@plugin.method("ord-hooked-error")
def hooked_error(plugin):
    """Never reached: the rpc_command hook refuses it."""
    return {"from": "method"}


@plugin.method("ord-hooked-replace")
def hooked_replace(plugin):
    """Never reached: the rpc_command hook replaces it with ord-args."""
    return {"from": "method"}


plugin.run()
