"""One plugin child process, spoken to exactly as lightningd speaks to it.

The process gets `LIGHTNINGD_PLUGIN=1` and `LIGHTNINGD_VERSION`, runs in the node's
network directory in its own process group, and exchanges JSON-RPC over its
stdin/stdout. Everything we write ends with a blank line. What it writes is parsed as a
stream of JSON objects; anything else gets it killed, as lightningd would.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lnhive.sim.errors import PLUGIN_TERMINATED, RpcError
from lnhive.sim.jsonstream import FramingError, JsonStream, encode
from lnhive.sim.manifest import Manifest

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")


class PluginState(enum.Enum):
    STARTING = "starting"
    AWAITING_INIT = "awaiting_init"
    ACTIVE = "active"
    STOPPED = "stopped"


@dataclass
class PluginEvents:
    """What a plugin process reports to its node."""

    log: Callable[[PluginProcess, str, str], None]
    notification: Callable[[PluginProcess, str, Any], None]
    died: Callable[[PluginProcess, str], None]


@dataclass
class PluginProcess:
    path: str
    cwd: Path
    version: str
    events: PluginEvents
    developer: bool = False
    important: bool = False
    startup: bool = True
    manifest: Manifest | None = None
    state: PluginState = PluginState.STARTING
    options: dict[str, Any] = field(default_factory=dict)  # typed option values for init
    _proc: asyncio.subprocess.Process | None = None
    _pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Short name, as lightningd uses in logs and for custom notification origins."""
        return os.path.basename(self.path)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def active(self) -> bool:
        return self.state is PluginState.ACTIVE

    @property
    def dynamic(self) -> bool:
        return self.manifest.dynamic if self.manifest else True

    async def spawn(self) -> None:
        env = dict(os.environ)
        env["LIGHTNINGD_PLUGIN"] = "1"
        env["LIGHTNINGD_VERSION"] = self.version
        # Plugins are found the way a shell that activated this environment finds them:
        # `#!/usr/bin/env python3` scripts run on the interpreter that runs the node.
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        args = [self.path] + (["--developer"] if self.developer else [])
        self._proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(self.cwd),
            env=env,
            start_new_session=True,  # own process group, killed as a group
            limit=2**26,
        )
        self._tasks.append(asyncio.create_task(self._read_stdout()))
        self._tasks.append(asyncio.create_task(self._read_stderr()))
        self._tasks.append(asyncio.create_task(self._watch_exit()))

    def next_id(self, method: str, caller: str | None = None) -> str:
        own = f"cln:{method}#{next(self._counter)}"
        return f"{caller}/{own}" if caller else own

    async def request(
        self, method: str, params: Any, *, caller: str | None = None, req_id: str | None = None
    ) -> Any:
        """Send a request and wait for its reply; an error reply raises RpcError."""
        if self.state is PluginState.STOPPED or self._proc is None:
            raise RpcError(PLUGIN_TERMINATED, "Plugin terminated before replying to RPC call.")
        rid = req_id or self.next_id(method, caller)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            self._write({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            return await fut
        finally:
            self._pending.pop(rid, None)

    def notify(self, method: str, params: Any, origin: str | None = None) -> None:
        if self.state is PluginState.STOPPED:
            return
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if origin is not None:
            msg["origin"] = origin
        msg["params"] = params
        self._write(msg)

    def _write(self, obj: Any) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            raise RpcError(PLUGIN_TERMINATED, "Plugin terminated before replying to RPC call.")
        proc.stdin.write(encode(obj))

    async def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stream = JsonStream()
        out = self._proc.stdout
        try:
            while True:
                chunk = await out.read(1 << 16)
                if not chunk:
                    self._fail("exited")
                    return
                for msg in stream.feed(chunk):
                    self._handle(msg)
        except FramingError as exc:
            self._fail(f"sent invalid output: {exc}")
        except _BadMessage as exc:
            self._fail(str(exc))

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while True:
            line = await self._proc.stderr.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\n")
            self.events.log(self, "info", text)

    async def _watch_exit(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        self._fail(f"exited with status {code}" if code >= 0 else f"killed by signal {-code}")

    def _handle(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            raise _BadMessage("sent a JSON value that is not an object")
        if "method" in msg:
            if "id" in msg:
                raise _BadMessage(
                    "sent a request on stdout (plugins call lightningd over the RPC socket)"
                )
            method = msg["method"]
            params = msg.get("params", {})
            if not isinstance(method, str):
                raise _BadMessage("sent a notification whose method is not a string")
            if method == "log":
                level = params.get("level", "info") if isinstance(params, dict) else None
                if level not in LOG_LEVELS:
                    raise _BadMessage(f"sent a log notification with unknown level {level!r}")
                message = params.get("message", "")
                self.events.log(self, level, str(message))
                return
            self.events.notification(self, method, params)
            return
        rid = msg.get("id")
        if rid is None or ("result" not in msg and "error" not in msg):
            raise _BadMessage(
                f"sent a message that is neither a notification nor a reply: {msg!r:.200}"
            )
        fut = self._pending.get(str(rid)) if not isinstance(rid, str) else self._pending.get(rid)
        if fut is None:
            raise _BadMessage(f"sent a reply to a request we never made (id {rid!r})")
        if fut.done():
            return
        if "error" in msg:
            err = msg["error"]
            if not isinstance(err, dict):
                err = {"code": -1, "message": str(err)}
            code = err.get("code", -1)
            fut.set_exception(
                RpcError(
                    code if isinstance(code, int) else -1,
                    str(err.get("message", "")),
                    err.get("data"),
                )
            )
        else:
            fut.set_result(msg["result"])

    def _fail(self, reason: str) -> None:
        """Mark the plugin stopped, fail what it owed us, tell the node once."""
        if self.state is PluginState.STOPPED:
            return
        self.state = PluginState.STOPPED
        for fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(
                    RpcError(PLUGIN_TERMINATED, "Plugin terminated before replying to RPC call.")
                )
        self._kill_group()
        self.events.died(self, reason)

    def _kill_group(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def kill(self, reason: str = "killed") -> None:
        self._fail(reason)

    async def wait_exit(self, timeout: float) -> bool:
        """Wait for the process to exit by itself; True if it did within the timeout."""
        if self._proc is None:
            return True
        try:
            await asyncio.wait_for(self._proc.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        """Kill if still running and reap every helper task."""
        self._fail("stopped")
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 5)
            # Close the pipes now, on this loop: left to the garbage collector they would
            # be closed after the loop is gone.
            transport = getattr(self._proc, "_transport", None)
            if transport is not None:
                transport.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class _BadMessage(Exception):
    pass
