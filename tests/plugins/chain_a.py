#!/usr/bin/env python3
"""Calls into chain_b.py, which calls back into this plugin (A -> B -> A)."""

import threading

from pyln.client import Plugin, RpcError

plugin = Plugin()


@plugin.async_method("a-start")
def a_start(request, plugin, **kwargs):
    """Call b-middle on the other plugin; it calls a-leaf here."""

    def work():
        try:
            request.set_result({"via_b": plugin.rpc.call("b-middle", {})})
        except RpcError as exc:
            request.set_result({"error": exc.error})

    threading.Thread(target=work, daemon=True).start()


@plugin.method("a-leaf")
def a_leaf(plugin):
    """The innermost call of the chain."""
    return {"leaf": "A"}


@plugin.async_method("a-call-dying")
def a_call_dying(request, plugin, **kwargs):
    """Call b-die, which kills plugin B mid-call, and report what we got."""

    def work():
        try:
            plugin.rpc.call("b-die", {})
            request.set_result({"error": None})
        except RpcError as exc:
            request.set_result({"error": exc.error})

    threading.Thread(target=work, daemon=True).start()


plugin.run()
