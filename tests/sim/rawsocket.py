"""Talk to a node's socket byte by byte, for tests of malformed input."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any


def connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        sock.connect(f"/proc/self/fd/{dirfd}/{path.name}")
    finally:
        os.close(dirfd)
    sock.settimeout(10)
    return sock


def exchange(path: Path, data: bytes, replies: int = 1) -> list[Any]:
    """Send raw bytes; read until `replies` JSON objects arrived or the node closed."""
    sock = connect(path)
    try:
        sock.sendall(data)
        buf = b""
        out: list[Any] = []
        while len(out) < replies:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                part, buf = buf.split(b"\n\n", 1)
                if part.strip():
                    out.append(json.loads(part))
        return out
    finally:
        sock.close()
