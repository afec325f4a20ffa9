"""Write tiny hand-rolled plugins that misbehave in precise ways (no pyln involved)."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path
from typing import Any

_TEMPLATE = """#!/usr/bin/env python3
import json, os, sys, time
MANIFEST = json.loads({manifest!r})
BEHAVIOUR = {behaviour!r}
dec = json.JSONDecoder()
buf = ""
def send(obj):
    sys.stdout.write(json.dumps(obj) + "\\n\\n")
    sys.stdout.flush()
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    buf += chunk.decode()
    while True:
        buf = buf.lstrip()
        if not buf:
            break
        try:
            msg, end = dec.raw_decode(buf)
        except ValueError:
            break
        buf = buf[end:]
        method, rid = msg.get("method"), msg.get("id")
        if method == "getmanifest":
            if BEHAVIOUR == "hang-manifest":
                time.sleep(3600)
            if BEHAVIOUR == "die-manifest":
                sys.exit(5)
            send({{"jsonrpc": "2.0", "id": rid, "result": MANIFEST}})
        elif method == "init":
            if BEHAVIOUR == "hang-init":
                time.sleep(3600)
            if BEHAVIOUR == "die-init":
                sys.exit(6)
            if BEHAVIOUR == "garbage-init":
                sys.stdout.write("this is not json\\n\\n"); sys.stdout.flush()
                continue
            if BEHAVIOUR == "error-init":
                send({{"jsonrpc": "2.0", "id": rid, "error": {{"code": -1, "message": "nope"}}}})
                continue
            if BEHAVIOUR == "disable-init":
                send({{"jsonrpc": "2.0", "id": rid, "result": {{"disable": "not today"}}}})
                continue
            send({{"jsonrpc": "2.0", "id": rid, "result": {{}}}})
        elif method == "raw-garbage":
            sys.stdout.write("garbage!\\n\\n"); sys.stdout.flush()
        elif method == "raw-twice":
            # Two replies back to back, without the blank-line separator.
            sys.stdout.write(json.dumps({{"jsonrpc": "2.0", "id": rid, "result": {{"n": 1}}}}))
            sys.stdout.write(json.dumps({{"jsonrpc": "2.0", "method": "log", "params": {{"level": "info", "message": "after"}}}}))
            sys.stdout.flush()
        elif method == "raw-badlog":
            send({{"jsonrpc": "2.0", "method": "log", "params": {{"level": "shout", "message": "x"}}}})
        elif method == "custommsg":
            result = {{"result": "continue"}} if BEHAVIOUR != "bad-custommsg" else {{"result": "stop"}}
            send({{"jsonrpc": "2.0", "id": rid, "result": result}})
        elif rid is not None and BEHAVIOUR == "error-hooks" and method in [h["name"] for h in MANIFEST.get("hooks", [])]:
            send({{"jsonrpc": "2.0", "id": rid, "error": {{"code": -32600, "message": "hook failed"}}}})
        elif rid is not None and method in [m["name"] for m in MANIFEST.get("rpcmethods", [])]:
            send({{"jsonrpc": "2.0", "id": rid, "result": {{"method": method, "id": rid, "params": msg.get("params")}}}})
        elif rid is not None:
            send({{"jsonrpc": "2.0", "id": rid, "result": {{"result": "continue"}}}})
"""

BASE_MANIFEST: dict[str, Any] = {
    "options": [],
    "rpcmethods": [{"name": "raw-hello", "usage": ""}],
    "subscriptions": [],
    "hooks": [],
    "dynamic": True,
    "nonnumericids": True,
}


def write_raw_plugin(
    directory: Path, name: str, manifest: dict[str, Any] | None = None, behaviour: str = "ok"
) -> str:
    """Create an executable plugin script; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    body = _TEMPLATE.format(manifest=json.dumps(manifest or BASE_MANIFEST), behaviour=behaviour)
    path.write_text(textwrap.dedent(body))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def manifest_with(**changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(BASE_MANIFEST))
    out.update(changes)
    return out
