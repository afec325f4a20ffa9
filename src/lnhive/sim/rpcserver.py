"""The `lightning-rpc` unix socket: JSON-RPC 2.0 exactly as lightningd serves it.

Clients may send several requests on one connection, without terminators; every reply
and notification we write ends with a blank line. Requests on a connection run
concurrently and replies go out as they complete (matched by id), as in lightningd.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lnhive.sim.jsonstream import FramingError, JsonStream, encode


class Connection:
    """One client connection; notifications reach it only after `notifications`."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.notifications_enabled = False

    def send(self, obj: Any) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(obj))


Handler = Callable[[Any, Connection], Awaitable[dict[str, Any] | None]]


def bind_unix_socket(path: Path) -> socket.socket:
    """Bind a listening unix socket, through its directory so long paths still fit.

    Unix socket paths are limited to 108 bytes; binding through
    `/proc/self/fd/<directory fd>/<name>` keeps the address short wherever the directory is.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        sock.bind(f"/proc/self/fd/{dirfd}/{path.name}")
    finally:
        os.close(dirfd)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


class RpcServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        sock = bind_unix_socket(self.path)
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=2**26)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        conn = Connection(writer)
        stream = JsonStream()
        inflight: set[asyncio.Task[None]] = set()
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                try:
                    requests = stream.feed(data)
                except FramingError:
                    conn.send(
                        {
                            "jsonrpc": "2.0",
                            "id": None,
                            "error": {
                                "code": -32600,
                                "message": f"Failed to parse RPC JSON response '{data[:200].decode(errors='replace')}'",
                            },
                        }
                    )
                    break
                for req in requests:
                    t = asyncio.create_task(self._one(req, conn))
                    inflight.add(t)
                    t.add_done_callback(inflight.discard)
            if inflight:
                await asyncio.gather(*inflight, return_exceptions=True)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for t in inflight:
                t.cancel()
            writer.close()
            self._conns.discard(task)

    async def _one(self, req: Any, conn: Connection) -> None:
        reply = await self._handler(req, conn)
        if reply is not None:
            conn.send(reply)
            with contextlib.suppress(ConnectionError):
                await conn.writer.drain()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def apply_filter(value: Any, template: Any) -> Any:
    """lightningd's `filter`: keep only the members the template marks `true`."""
    if template is True:
        return value
    if isinstance(template, dict) and isinstance(value, dict):
        return {k: apply_filter(value[k], sub) for k, sub in template.items() if k in value}
    if isinstance(template, list) and isinstance(value, list) and template:
        return [apply_filter(v, template[0]) for v in value]
    return value
