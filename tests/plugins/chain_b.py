#!/usr/bin/env python3
"""The middle of the A -> B -> A chain; b-die exits without replying."""

import os

from pyln.client import Plugin

plugin = Plugin()


@plugin.method("b-middle")
def b_middle(plugin):
    """Call a-leaf on the other plugin."""
    return {"b": plugin.rpc.call("a-leaf", {})}


@plugin.method("b-die")
def b_die(plugin):
    """Exit at once, leaving the caller without a reply."""
    os._exit(3)


plugin.run()
