#!/usr/bin/env python3
"""Records every hook call and notification it gets; can fail HTLCs or refuse peers.

Options (dynamic): `watch-htlc` = continue | fail; `watch-refuse` = a peer id whose
connection is refused in peer_connected.
"""

import os
import threading

from pyln.client import Plugin

plugin = Plugin()
plugin.add_option("watch-htlc", "continue", "continue or fail incoming HTLCs", dynamic=True)
plugin.add_option("watch-refuse", "", "peer id to refuse in peer_connected", dynamic=True)

seen = {"hooks": [], "notifications": []}
lock = threading.Lock()


def record(kind, name, payload):
    with lock:
        seen[kind].append({"name": name, "payload": payload})


@plugin.method("watch-seen")
def watch_seen(plugin, kind="hooks", name=None):
    """What this plugin saw: hooks or notifications, optionally of one name."""
    with lock:
        return {"items": [i for i in seen[kind] if name is None or i["name"] == name]}


@plugin.hook("htlc_accepted")
def on_htlc(onion, htlc, plugin, **kwargs):
    record("hooks", "htlc_accepted", {"onion": onion, "htlc": htlc, **kwargs})
    if plugin.get_option("watch-htlc") == "fail":
        return {"result": "fail", "failure_message": "2002"}  # temporary_node_failure
    return {"result": "continue"}


@plugin.hook("invoice_payment")
def on_invoice_payment(payment, plugin, **kwargs):
    record("hooks", "invoice_payment", {"payment": payment})
    return {"result": "continue"}


@plugin.hook("peer_connected")
def on_peer_connected(peer, plugin, **kwargs):
    record("hooks", "peer_connected", {"peer": peer})
    if peer["id"] == plugin.get_option("watch-refuse"):
        return {"result": "disconnect", "error_message": "not welcome"}
    return {"result": "continue"}


@plugin.hook("custommsg")
def on_custommsg(peer_id, payload, plugin, **kwargs):
    record("hooks", "custommsg", {"peer_id": peer_id, "payload": payload})
    return {"result": "continue"}


@plugin.subscribe("*")
def on_any(plugin, **kwargs):
    topic = next((k for k in kwargs if k not in ("plugin", "origin")), None)
    record("notifications", topic, kwargs)
    if topic == "shutdown":
        os._exit(0)


plugin.run()
