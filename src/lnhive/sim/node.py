"""One simulated node: its socket, its plugins, its built-in commands and its state.

The request path is lightningd's: parse and check the request, run the `rpc_command`
hook chain, then either a built-in command (parameters checked against our tables) or a
plugin's command (parameters passed verbatim, the id chained), then apply `filter`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from lnhive.core.derive import hkdf_secret
from lnhive.sim.errors import INVALID_REQUEST, METHOD_NOT_FOUND, SHUTTING_DOWN, RpcError
from lnhive.sim.fidelity import FidelityCheck
from lnhive.sim.host import PluginHost, PluginSpec, PluginStartError
from lnhive.sim.network.commands import COMMANDS as MODEL_COMMANDS
from lnhive.sim.network.commands import DEPRECATED, NodeCommands
from lnhive.sim.network.events import HookCall
from lnhive.sim.network.model import Network
from lnhive.sim.nodelog import NodeLog
from lnhive.sim.params import bind_params
from lnhive.sim.rest import RestServer, start_rest
from lnhive.sim.rpcserver import Connection, RpcServer, apply_filter
from lnhive.sim.runes import RuneBook

VERSION = "v26.06.6"
NETWORK = "regtest"


T = TypeVar("T")


class NodeRuntime(Protocol):
    """What a node needs from the runtime around it."""

    network: Network

    async def drive(self, gen: Generator[HookCall, dict[str, Any], T]) -> T: ...
    def schedule_delivery(self) -> None: ...
    def node_running(self, node_id: str) -> SimNode | None: ...
    @property
    def fidelity(self) -> FidelityCheck | None: ...


# The results lightningd accepts from each hook the model raises; anything else would
# make a real lightningd abort, so it is recorded as a fidelity violation.
HOOK_RESULTS: dict[str, frozenset[str]] = {
    "htlc_accepted": frozenset({"continue", "fail", "resolve"}),
    "invoice_payment": frozenset({"continue", "reject"}),
    "custommsg": frozenset({"continue"}),
    "peer_connected": frozenset({"continue", "disconnect"}),
}


@dataclass
class NodeConfig:
    name: str
    alias: str | None = None
    color: str | None = None
    developer: bool = True
    allow_deprecated_apis: bool = True
    plugins: list[PluginSpec] = field(default_factory=list)
    rest_port: int | None = None
    startup_timeout: float = 120.0
    shutdown_grace: float = 30.0
    secret: bytes | None = None  # the node key; derived from the scenario seed when None


@dataclass
class CallContext:
    """Who is calling: the request id (for chaining) and the connection (for messages)."""

    id: str
    conn: Connection | None = None


class SimNode:
    def __init__(
        self, base_dir: Path, config: NodeConfig, runtime: NodeRuntime, node_id: str
    ) -> None:
        self.config = config
        self.name = config.name
        self.runtime = runtime
        self.network = runtime.network
        self.node_id = node_id
        self.model = NodeCommands(runtime.network, node_id)
        secret = runtime.network.nodes[node_id].secret
        self.lightning_dir = base_dir / config.name
        self.network_dir = self.lightning_dir / NETWORK
        self.rpc_path = self.network_dir / "lightning-rpc"
        self.network_dir.mkdir(parents=True, exist_ok=True)
        self.version = VERSION
        self.developer = config.developer
        self.allow_deprecated_apis = config.allow_deprecated_apis
        self.alias = config.alias or config.name
        self.color = config.color or self.node_id[2:8]
        runtime.network.nodes[node_id].alias = self.alias
        runtime.network.nodes[node_id].color = self.color
        self._log = NodeLog(self.lightning_dir / "log", config.name)
        self.host = PluginHost(
            self, startup_timeout=config.startup_timeout, shutdown_grace=config.shutdown_grace
        )
        self.server = RpcServer(self.rpc_path, self.handle_request)
        self.violations: list[str] = []
        self.state = "new"  # new -> running -> stopped | aborted
        self.abort_reason: str | None = None
        self.datastore: dict[tuple[str, ...], tuple[bytes, int]] = {}
        # CLN's rune secret is makesecret("commando"); ours is derived the same way.
        self.runes = RuneBook(hkdf_secret(secret, b"commando"))
        self.rest: RestServer | None = None
        self._callers: dict[str, tuple[Connection, Any]] = {}  # caller id -> (conn, id as sent)
        self._ids = itertools.count()
        self._stop_requested = asyncio.Event()
        from lnhive.sim import commands  # the built-in command table

        self._commands = commands.COMMANDS

    # ---------------------------------------------------------------- NodeForHost

    def log(self, level: str, source: str, message: str) -> None:
        self._log.write(level, source, message)

    @property
    def logs(self) -> NodeLog:
        return self._log

    def plugin_configuration(self, startup: bool) -> dict[str, Any]:
        return {
            "lightning-dir": str(self.network_dir),
            "rpc-file": "lightning-rpc",
            "startup": startup,
            "network": NETWORK,
            "feature_set": {
                "init": "08a0880a8a59a1",
                "node": "88a0880a8a59a1",
                "channel": "",
                "invoice": "02000002024100",
                "bolt12_offer": "",
                "bolt12_invreq": "",
                "bolt12_invoice": "",
            },
        }

    def record_violation(self, text: str) -> None:
        self.violations.append(text)
        self.log("broken", "lightningd", f"FIDELITY: {text}")

    def route_message(self, request_id: str, method: str, params: Any) -> None:
        caller = request_id.rsplit("/", 1)[0] if "/" in request_id else request_id
        entry = self._callers.get(caller)
        if entry is not None and entry[0].notifications_enabled:
            conn, original_id = entry
            out = dict(params) if isinstance(params, dict) else {}
            out["id"] = original_id
            conn.send({"jsonrpc": "2.0", "method": method, "params": out})

    def builtin_names(self) -> list[str]:
        return [*self._commands, *MODEL_COMMANDS]

    def plugins_changed(self) -> None:
        """Even custom message types are accepted when some plugin lists them."""
        accepted: set[int] = set()
        for proc in self.host.plugins:
            if proc.manifest is not None:
                accepted.update(proc.manifest.custommessages)
        self.network.nodes[self.node_id].accepted_even_types = {t for t in accepted if t % 2 == 0}

    def abort(self, reason: str) -> None:
        self.abort_reason = reason
        self.log("broken", "lightningd", f"aborting node: {reason}")
        self.state = "aborted"
        self._stop_requested.set()

    # ---------------------------------------------------------------- life cycle

    async def start(self) -> None:
        """Bring the socket up, then start the configured plugins (socket first: plugins
        call it from their init handlers). An important plugin's failure aborts the node."""
        await self.server.start()
        if self.config.rest_port is not None:
            self.rest = await start_rest(
                "127.0.0.1", self.config.rest_port, self._rest_call, self._rest_checkrune
            )
            self.log("info", "plugin-clnrest", f"REST server listening on {self.rest.url}")
        self.state = "starting"
        self.log(
            "info",
            "lightningd",
            f"Server started with public key {self.node_id}, alias {self.alias}",
        )
        try:
            await self.host.start_at_boot(list(self.config.plugins))
        except PluginStartError as exc:
            self.abort(str(exc))
            await self.stop()
            raise
        self.state = "running"

    async def stop(self) -> None:
        if self.state == "stopped":
            return
        if self.state != "aborted":
            self.state = "stopping"
        await self.host.shutdown()
        if self.rest is not None:
            await self.rest.close()
            self.rest = None
        await self.server.close()
        if self.state != "aborted":
            self.state = "stopped"
        self.log("info", "lightningd", "shut down")
        self._log.close()

    async def wait_stop_requested(self) -> None:
        await self._stop_requested.wait()

    def request_stop(self) -> None:
        self._stop_requested.set()

    # ---------------------------------------------------------------- requests

    async def handle_request(self, req: Any, conn: Connection | None) -> dict[str, Any] | None:
        if not isinstance(req, dict):
            return _malformed("Expected {} for json command")
        if "id" not in req:
            return _malformed("No id")
        rid = req["id"]
        if isinstance(rid, (dict, list)):
            return _malformed("Expected string/primitive for id")
        if req.get("jsonrpc") != "2.0":
            return _malformed('jsonrpc: "2.0" must be specified in the request')
        try:
            result = await self._execute(req, conn)
        except RpcError as exc:
            return {"jsonrpc": "2.0", "id": rid, "error": exc.to_json()}
        except Exception as exc:  # a bug in the stand-in must not take the node down
            self.log("broken", "lightningd", f"internal error in {req.get('method')!r}: {exc!r}")
            return {
                "jsonrpc": "2.0",
                "id": rid,
                "error": {"code": -1, "message": f"internal error: {exc}"},
            }
        self._check_response(req, result)
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    @property
    def fidelity(self) -> FidelityCheck | None:
        return self.runtime.fidelity

    def _check_response(self, req: dict[str, Any], result: Any) -> None:
        """Built-in answers must fit CLN's schemas; plugins' answers are theirs (lightningd
        does not check them either), and a filtered answer is partial by design."""
        check = self.fidelity
        method = req.get("method")
        if check is None or "filter" in req or not isinstance(method, str):
            return
        if method in self.host.commands:
            return
        if problem := check.response(method, result):
            self.record_violation(f"the {method} response does not fit CLN's schema: {problem}")

    async def _execute(self, req: dict[str, Any], conn: Connection | None) -> Any:
        method = req.get("method")
        params = req.get("params")
        if method is None or params is None:
            raise RpcError(INVALID_REQUEST, "No params" if method is not None else "No method")
        if not isinstance(method, str):
            raise RpcError(INVALID_REQUEST, "Expected string for method")
        self._check_known(method)
        if not isinstance(params, (dict, list)):
            # lightningd refuses this in the command's parameter parsing, after the
            # rpc_command hook; we refuse it first, so no hook is ever handed params
            # its schema does not allow (spec §g.2), with the same error.
            raise RpcError(-32602, "Expected array or object for params")
        if self.state in ("stopping", "stopped") and method != "stop":
            raise RpcError(SHUTTING_DOWN, "lightningd is shutting down")
        caller = str(req["id"])
        hook = await self.host.call_hook(
            "rpc_command",
            {"rpc_command": {k: v for k, v in req.items() if k != "filter"}},
            filter_key=method,
            on_result=_rpc_command_verdict,
        )
        if "replace" in hook:
            new = hook["replace"]
            if not isinstance(new, dict) or new.get("jsonrpc") != "2.0":
                raise RpcError(
                    INVALID_REQUEST,
                    "Bad response to 'rpc_command' hook: jsonrpc: \"2.0\" must be specified in the request",
                )
            method, params = new.get("method"), new.get("params", {})
            if not isinstance(method, str):
                raise RpcError(
                    INVALID_REQUEST, "Bad response to 'rpc_command' hook: method is not a string"
                )
            self._check_known(method)
        elif "return" in hook:
            ret = hook["return"]
            if isinstance(ret, dict) and "error" in ret:
                err = ret["error"]
                raise RpcError(err.get("code", -1), err.get("message", ""), err.get("data"))
            return ret.get("result") if isinstance(ret, dict) else ret
        if conn is not None:
            self._callers[caller] = (conn, req["id"])
        try:
            result = await self.call_as(method, params, CallContext(caller, conn))
        finally:
            self._callers.pop(caller, None)
        if "filter" in req and isinstance(req["filter"], dict):
            result = apply_filter(result, req["filter"])
        return result

    def _check_known(self, method: str) -> None:
        builtin = self._commands.get(method)
        if builtin is None and method not in MODEL_COMMANDS and method not in self.host.commands:
            raise RpcError(METHOD_NOT_FOUND, f"Unknown command '{method}'")
        deprecated = builtin.deprecated if builtin is not None else method in DEPRECATED
        if deprecated and not self.allow_deprecated_apis:
            raise RpcError(METHOD_NOT_FOUND, f"Command {method} is deprecated")
        if builtin is not None and builtin.dev_only and not self.developer:
            raise RpcError(METHOD_NOT_FOUND, f"Command {method} is developer-only")

    async def call_as(self, method: str, params: Any, ctx: CallContext) -> Any:
        builtin = self._commands.get(method)
        if builtin is not None:
            args = (
                bind_params(method, params, developer=self.developer)
                if builtin.checked
                else _loose(params)
            )
            return await builtin.handler(self, args, ctx)
        if method in MODEL_COMMANDS:
            return await self.model_call(
                method, bind_params(method, params, developer=self.developer)
            )
        return await self.host.call_command(method, params, ctx.id)

    async def model_call(self, method: str, args: dict[str, Any]) -> Any:
        """Run a command of the network model, awaiting plugins at every hook point."""
        out = self.model.invoke(method, args)
        if inspect.isgenerator(out):
            gen = cast(Generator[HookCall, dict[str, Any], Any], out)
            return await self.runtime.drive(gen)
        return out

    async def model_hook(self, call: HookCall) -> dict[str, Any]:
        """Answer a hook point the model raised at this node with this node's plugins."""
        allowed = HOOK_RESULTS.get(call.hook, frozenset({"continue"}))

        def verdict(_proc: Any, result: Any) -> str:
            if not isinstance(result, dict) or result.get("result") not in allowed:
                return "invalid"
            return "continue" if result["result"] == "continue" else "stop"

        key: int | str | None = None
        if call.hook == "custommsg":
            key = int(call.params["payload"][:4], 16)
        result: dict[str, Any] = await self.host.call_hook(
            call.hook, call.params, filter_key=key, on_result=verdict
        )
        return result

    async def call(self, method: str, params: Any = None) -> Any:
        """Run a command as an internal caller (REST, tests), hooks included."""
        req = {
            "jsonrpc": "2.0",
            "id": f"lnhive-sim:{method}#{next(self._ids)}",
            "method": method,
            "params": params if params is not None else {},
        }
        reply = await self.handle_request(req, None)
        assert reply is not None
        if "error" in reply:
            err = reply["error"]
            raise RpcError(err["code"], err["message"], err.get("data"))
        return reply["result"]

    @property
    def rest_port(self) -> int | None:
        return self.rest.port if self.rest else None

    async def _rest_call(self, method: str, params: dict[str, Any]) -> Any:
        return await self.call(method, params)

    async def _rest_checkrune(self, rune: str, method: str, params: dict[str, Any]) -> Any:
        # clnrest asks the node through the RPC, without a nodeid (so `id` restrictions fail).
        return await self.call("checkrune", {"rune": rune, "method": method, "params": params})


def _malformed(message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}


def _loose(params: Any) -> dict[str, Any]:
    if isinstance(params, dict):
        return {k: v for k, v in params.items() if v is not None}
    if isinstance(params, list):
        return {"_positional": params}
    raise RpcError(-32602, "Expected array or object for params")


def _rpc_command_verdict(_proc: Any, result: Any) -> str:
    if not isinstance(result, dict):
        return "invalid"
    if result.get("result") == "continue" and len(result) == 1:
        return "continue"
    if "replace" in result or "return" in result:
        return "stop"
    return "invalid"
