#!/usr/bin/env python3
"""Lists the even custom message type 0xa1b0 in its manifest, so the node accepts it,
and counts what it receives through a custommsg hook filtered to that type."""

import threading

from pyln.client import Plugin

EVEN_TYPE = 0xA1B0
plugin = Plugin(custom_msgs=[EVEN_TYPE])
got = []
lock = threading.Lock()


@plugin.hook("custommsg", filters=[EVEN_TYPE])
def on_custommsg(peer_id, payload, plugin, **kwargs):
    with lock:
        got.append(payload)
    return {"result": "continue"}


@plugin.method("even-seen")
def even_seen(plugin):
    """Payloads of the even-typed messages received."""
    with lock:
        return {"payloads": list(got)}


plugin.run()
