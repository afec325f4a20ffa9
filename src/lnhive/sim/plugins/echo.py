#!/usr/bin/env python3
"""A small sample plugin for the stand-in and the demo, written the usual pyln way.

- `echo [message]` answers with what it was given, the node's id and the option value;
- custom messages of the odd type 0xa1b1 (41393) are echoed back to their sender with
  the type 0xa1b3 (41395), and both are counted;
- `echo-stats` reports the counts; `echo-notify` emits the custom notification
  `echo-event`, which the plugin itself subscribes to.
"""

from __future__ import annotations

import threading
from typing import Any

from pyln.client import Plugin

ECHO_REQUEST = 0xA1B1
ECHO_REPLY = 0xA1B3

plugin = Plugin()
plugin.add_option("echo-greeting", "hello", "Text added to every echo reply", dynamic=True)
plugin.add_notification_topic("echo-event")

_lock = threading.Lock()
_stats: dict[str, Any] = {"requests": 0, "replies": 0, "events": 0, "connected": 0}


@plugin.init()
def init(
    options: dict[str, Any], configuration: dict[str, Any], plugin: Plugin, **kwargs: Any
) -> None:
    info = plugin.rpc.getinfo()
    plugin.log(f"echo plugin ready on {info['id']}")


@plugin.method("echo")
def echo(plugin: Plugin, message: str = "") -> dict[str, Any]:
    """Echo MESSAGE back, with the node id and the greeting option."""
    return {
        "message": message,
        "node_id": plugin.rpc.getinfo()["id"],
        "greeting": plugin.get_option("echo-greeting"),
    }


@plugin.method("echo-stats")
def echo_stats(plugin: Plugin) -> dict[str, Any]:
    """Counts of echo custom messages received and sent."""
    with _lock:
        return dict(_stats)


@plugin.method("echo-notify")
def echo_notify(plugin: Plugin, text: str = "ping") -> dict[str, Any]:
    """Emit the custom notification `echo-event` with TEXT."""
    plugin.notify("echo-event", {"text": text})
    return {"sent": text}


@plugin.subscribe("echo-event")
def on_echo_event(plugin: Plugin, origin: str | None = None, **kwargs: Any) -> None:
    with _lock:
        _stats["events"] += 1
    plugin.log(f"echo-event from {origin}: {kwargs.get('payload', kwargs)}")


@plugin.subscribe("connect")
def on_connect(plugin: Plugin, connect: dict[str, Any], **kwargs: Any) -> None:
    with _lock:
        _stats["connected"] += 1


@plugin.hook("custommsg")
def on_custommsg(peer_id: str, payload: str, plugin: Plugin, **kwargs: Any) -> dict[str, str]:
    msg_type = int(payload[:4], 16)
    if msg_type == ECHO_REQUEST:
        with _lock:
            _stats["requests"] += 1
        body = payload[4:]
        reply = f"{ECHO_REPLY:04x}{body}"
        # Reply from a thread: the hook must answer before we call back into lightningd.
        threading.Thread(target=_send, args=(peer_id, reply), daemon=True).start()
    elif msg_type == ECHO_REPLY:
        with _lock:
            _stats["replies"] += 1
    return {"result": "continue"}


def _send(peer_id: str, msg: str) -> None:
    try:
        plugin.rpc.sendcustommsg(peer_id, msg)
    except Exception as exc:  # the peer may have gone: log, never crash the plugin
        plugin.log(f"echo reply to {peer_id} failed: {exc}", level="warn")


def main() -> None:
    plugin.run()


if __name__ == "__main__":
    main()
