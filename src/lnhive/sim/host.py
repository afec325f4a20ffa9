"""A node's plugins: start-up, the command table, hook chains and notifications.

Rules follow lightningd: getmanifest and init each have a time limit; a plugin whose
manifest lightningd would refuse does not start; hooks run in load order adjusted by
`before`/`after`; `{"result": "continue"}` passes an event on and anything else ends the
chain; notifications use the wrapped shape; custom topics must be declared.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lnhive.sim.errors import INVALID_PARAMS, PLUGIN_TERMINATED, RpcError
from lnhive.sim.fidelity import FidelityCheck
from lnhive.sim.manifest import HookSpec, Manifest, ManifestError, OptionSpec, parse_manifest
from lnhive.sim.plugin import PluginEvents, PluginProcess, PluginState

STARTUP_TIMEOUT = 120.0  # each of getmanifest and init, as in lightningd's code
SHUTDOWN_GRACE = 30.0


class NodeForHost(Protocol):
    """What the plugin host needs from its node."""

    name: str
    network_dir: Path
    version: str
    developer: bool
    allow_deprecated_apis: bool

    def log(self, level: str, source: str, message: str) -> None: ...
    def plugin_configuration(self, startup: bool) -> dict[str, Any]: ...
    def record_violation(self, text: str) -> None: ...
    def route_message(self, request_id: str, method: str, params: Any) -> None: ...
    def builtin_names(self) -> Iterable[str]: ...
    def plugins_changed(self) -> None: ...
    @property
    def fidelity(self) -> FidelityCheck | None: ...
    def abort(self, reason: str) -> None: ...


class PluginStartError(Exception):
    pass


@dataclass
class PluginSpec:
    """A plugin to start: its path, its option values, whether it is important."""

    path: str
    options: dict[str, Any] = field(default_factory=dict)
    important: bool = False


@dataclass
class OptionState:
    spec: OptionSpec
    plugin: PluginProcess
    value: Any  # typed value, or None when unset without default
    source: str


class PluginHost:
    def __init__(
        self,
        node: NodeForHost,
        *,
        startup_timeout: float = STARTUP_TIMEOUT,
        shutdown_grace: float = SHUTDOWN_GRACE,
    ) -> None:
        self.node = node
        self.plugins: list[PluginProcess] = []
        self.commands: dict[str, PluginProcess] = {}
        self.options: dict[str, OptionState] = {}
        self.startup_timeout = startup_timeout
        self.shutdown_grace = shutdown_grace
        self._hook_order: dict[str, list[PluginProcess]] = {}
        self._stopping = False
        self._spawned: list[PluginProcess] = []  # every process ever started, reaped at shutdown

    # ---------------------------------------------------------------- start-up

    def _new_process(self, spec: PluginSpec, startup: bool) -> PluginProcess:
        path = os.path.abspath(spec.path) if os.sep in spec.path else spec.path
        proc = PluginProcess(
            path=path,
            cwd=self.node.network_dir,
            version=self.node.version,
            developer=self.node.developer,
            important=spec.important,
            startup=startup,
            events=PluginEvents(
                log=self._on_log, notification=self._on_notification, died=self._on_died
            ),
        )
        self._spawned.append(proc)
        return proc

    async def start_at_boot(self, specs: list[PluginSpec]) -> None:
        """Start the node's configured plugins: every manifest first, then every init.

        A failure of an important plugin, or any init timeout, aborts the node (raises
        PluginStartError); an ordinary plugin that fails is logged and left stopped.
        """
        procs = [self._new_process(s, startup=True) for s in specs]
        for spec, proc in zip(specs, procs, strict=True):
            try:
                await self._manifest(proc, spec.options)
            except PluginStartError as exc:
                self.node.log("unusual", proc.name, str(exc))
                if proc.important:
                    raise
        live = [p for p in procs if p.state is PluginState.AWAITING_INIT]
        results = await asyncio.gather(*(self._init(p) for p in live), return_exceptions=True)
        for proc, res in zip(live, results, strict=True):
            if isinstance(res, BaseException):
                self.node.log("unusual", proc.name, f"init failed: {res}")
                if proc.important or isinstance(res, TimeoutError):
                    raise PluginStartError(f"{proc.name}: init failed: {res}") from None

    async def start_runtime(self, spec: PluginSpec) -> PluginProcess:
        """`plugin start`: returns once the plugin finished init, or raises RpcError."""
        path = spec.path
        if os.sep in path and not os.path.exists(path):
            raise RpcError(INVALID_PARAMS, f"{path}: file does not exist")
        if os.sep in path and not os.access(path, os.X_OK):
            raise RpcError(INVALID_PARAMS, f"{path} is not executable: Permission denied")
        full = os.path.abspath(path) if os.sep in path else path
        for existing in self.plugins:
            if existing.path == full and existing.state is not PluginState.STOPPED:
                raise RpcError(INVALID_PARAMS, f"{existing.name}: already registered")
        proc = self._new_process(spec, startup=False)
        try:
            await self._manifest(proc, spec.options)
            await self._init(proc)
        except (PluginStartError, TimeoutError, RpcError) as exc:
            await proc.close()
            raise RpcError(-3, f"{proc.name}: {exc}") from None
        return proc

    async def _manifest(self, proc: PluginProcess, configured: dict[str, Any]) -> None:
        try:
            await proc.spawn()
        except OSError as exc:
            raise PluginStartError(f"{proc.name}: could not start: {exc}") from None
        self.plugins.append(proc)
        try:
            raw = await asyncio.wait_for(
                proc.request(
                    "getmanifest", {"allow-deprecated-apis": self.node.allow_deprecated_apis}
                ),
                self.startup_timeout,
            )
        except TimeoutError:
            await proc.close()
            raise PluginStartError(
                f"{proc.name}: timed out before replying to getmanifest"
            ) from None
        except RpcError as exc:
            await proc.close()
            raise PluginStartError(f"{proc.name}: getmanifest failed: {exc.message}") from None
        try:
            manifest = parse_manifest(raw)
            self._register(proc, manifest, configured)
        except ManifestError as exc:
            self._unregister(proc)
            await proc.close()
            raise PluginStartError(f"{proc.name}: {exc}") from None
        proc.manifest = manifest
        if manifest.disable is not None:
            self.node.log("info", proc.name, f"disabled itself: {manifest.disable}")
            self._unregister(proc)
            await proc.close()
            return
        proc.state = PluginState.AWAITING_INIT

    def _register(
        self, proc: PluginProcess, manifest: Manifest, configured: dict[str, Any]
    ) -> None:
        declared = {o.name: o for o in manifest.options}
        for name in configured:
            if name not in declared:
                raise ManifestError(f"unknown option '{name}' (the plugin does not declare it)")
        for opt in manifest.options:
            if opt.name in self.options:
                raise ManifestError(f"option {opt.name} is already registered by another plugin")
        builtins = set(self.node.builtin_names())
        for method in manifest.rpcmethods:
            if method in builtins or method in self.commands:
                raise ManifestError(f"method {method} is already registered")
        values: dict[str, OptionState] = {}
        for opt in manifest.options:
            if opt.name in configured:
                raw = configured[opt.name]
                value = (
                    [opt.coerce(v) for v in raw]
                    if opt.multi and isinstance(raw, list)
                    else opt.coerce(raw)
                )
                if opt.multi and not isinstance(value, list):
                    value = [value]
                values[opt.name] = OptionState(opt, proc, value, "cmdline")
            else:
                default = opt.default
                if opt.multi and default is not None:
                    default = [default]
                values[opt.name] = OptionState(opt, proc, default, "default")
        # Hooks: check before/after can be satisfied with what is registered now.
        for hook in manifest.hooks:
            chain = self._hook_order.get(hook.name, [])
            self._order_with(hook.name, chain, proc, manifest)
        self.options.update(values)
        for method in manifest.rpcmethods:
            self.commands[method] = proc
        proc.manifest = manifest
        for hook in manifest.hooks:
            chain = self._hook_order.setdefault(hook.name, [])
            self._hook_order[hook.name] = self._order_with(hook.name, chain, proc, manifest)
        self.node.plugins_changed()

    def _order_with(
        self, hook: str, chain: list[PluginProcess], new: PluginProcess, manifest: Any
    ) -> list[PluginProcess]:
        """Insert `new` into a hook chain honouring every before/after constraint."""
        members = [*chain, new]

        def spec_of(p: PluginProcess) -> HookSpec:
            m = manifest if p is new else p.manifest
            assert m is not None, "a plugin in a hook chain always has a manifest"
            return next(h for h in m.hooks if h.name == hook)

        edges: dict[int, set[int]] = {i: set() for i in range(len(members))}
        names = [p.name for p in members]
        for i, p in enumerate(members):
            spec = spec_of(p)
            for other in spec.before:
                for j, n in enumerate(names):
                    if n == other and j != i:
                        edges[i].add(j)  # i runs before j
            for other in spec.after:
                for j, n in enumerate(names):
                    if n == other and j != i:
                        edges[j].add(i)
        order: list[int] = []
        remaining = set(range(len(members)))
        while remaining:
            ready = [i for i in sorted(remaining) if not any(i in edges[j] for j in remaining)]
            if not ready:
                raise ManifestError(f"hook {hook}: before/after constraints cannot be satisfied")
            order.append(ready[0])
            remaining.remove(ready[0])
        return [members[i] for i in order]

    async def _init(self, proc: PluginProcess) -> None:
        options = {
            name: st.value
            for name, st in self.options.items()
            if st.plugin is proc and st.value is not None
        }
        params = {"options": options, "configuration": self.node.plugin_configuration(proc.startup)}
        proc.options = options
        try:
            result = await asyncio.wait_for(proc.request("init", params), self.startup_timeout)
        except TimeoutError:
            proc.kill("timed out before replying to init")
            raise
        except RpcError as exc:
            proc.kill(f"init failed: {exc.message}")
            raise PluginStartError(f"init returned an error: {exc.message}") from None
        if isinstance(result, dict) and "disable" in result:
            self.node.log("info", proc.name, f"disabled itself at init: {result['disable']}")
            self._unregister(proc)
            await proc.close()
            return
        proc.state = PluginState.ACTIVE
        self.node.log("debug", proc.name, "plugin active")
        self.emit(
            "plugin_started",
            {"plugin_name": proc.name, "plugin_path": proc.path, "methods": self._methods_of(proc)},
        )

    # ---------------------------------------------------------------- stopping

    def _methods_of(self, proc: PluginProcess) -> list[str]:
        return list(proc.manifest.rpcmethods) if proc.manifest else []

    def _unregister(self, proc: PluginProcess) -> None:
        for method in [m for m, p in self.commands.items() if p is proc]:
            del self.commands[method]
        for name in [n for n, st in self.options.items() if st.plugin is proc]:
            del self.options[name]
        for hook, chain in self._hook_order.items():
            self._hook_order[hook] = [p for p in chain if p is not proc]
        if proc in self.plugins:
            self.plugins.remove(proc)
        self.node.plugins_changed()

    def find(self, name_or_path: str) -> PluginProcess | None:
        for proc in self.plugins:
            if name_or_path in (proc.path, proc.name) or os.path.abspath(name_or_path) == proc.path:
                return proc
        return None

    async def stop_plugin(self, name_or_path: str) -> str:
        proc = self.find(name_or_path)
        if proc is None:
            raise RpcError(INVALID_PARAMS, f"Could not find plugin {name_or_path}")
        if not proc.dynamic:
            raise RpcError(INVALID_PARAMS, f"{proc.name} cannot be managed when lightningd is up")
        await self._stop(proc)
        return f"Successfully stopped {proc.name}."

    async def _stop(self, proc: PluginProcess) -> None:
        was_active = proc.active
        methods = self._methods_of(proc)
        subscribed = proc.manifest is not None and (
            "shutdown" in proc.manifest.subscriptions or "*" in proc.manifest.subscriptions
        )
        self._unregister(proc)
        if was_active and subscribed:
            proc.notify("shutdown", {"shutdown": {}})
            if not await proc.wait_exit(self.shutdown_grace):
                self.node.log("unusual", proc.name, "did not exit within 30 s of shutdown: killed")
        proc.state = PluginState.STOPPED if proc.state is PluginState.STOPPED else proc.state
        await proc.close()
        self.emit(
            "plugin_stopped",
            {"plugin_name": proc.name, "plugin_path": proc.path, "methods": methods},
        )

    async def shutdown(self) -> None:
        """Node shutdown: subscribers of `shutdown` get it and up to 30 s; the rest are killed."""
        self._stopping = True
        procs = list(self.plugins)
        waiting = []
        for proc in procs:
            m = proc.manifest
            if (
                proc.active
                and m is not None
                and ("shutdown" in m.subscriptions or "*" in m.subscriptions)
            ):
                proc.notify("shutdown", {"shutdown": {}})
                waiting.append(proc)
            else:
                await proc.close()
        if waiting:
            await asyncio.gather(*(p.wait_exit(self.shutdown_grace) for p in waiting))
        for proc in self._spawned:  # the live ones, and the dead ones' reader tasks
            await proc.close()
        self._spawned.clear()
        self.plugins.clear()
        self.commands.clear()
        self._hook_order.clear()

    # ---------------------------------------------------------------- events from plugins

    def _on_log(self, proc: PluginProcess, level: str, message: str) -> None:
        self.node.log(level, f"plugin-{proc.name}", message)
        if level in ("warn", "error"):
            import datetime
            import time

            now = time.time()
            stamp = (
                datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[
                    :-3
                ]
                + "Z"
            )
            self.emit(
                "warning",
                {
                    "level": level,
                    "time": f"{now:.9f}",
                    "timestamp": stamp,
                    "source": f"plugin-{proc.name}",
                    "log": message,
                },
            )

    def _on_notification(self, proc: PluginProcess, method: str, params: Any) -> None:
        if method in ("message", "progress"):
            rid = params.get("id") if isinstance(params, dict) else None
            if isinstance(rid, str):
                self.node.route_message(rid, method, params)
            return
        declared = proc.manifest.notifications if proc.manifest else []
        if method not in declared:
            self.node.log(
                "unusual",
                f"plugin-{proc.name}",
                f'Plugin attempted to send a notification to topic "{method}" it hasn\'t declared in its manifest, not forwarding to subscribers.',
            )
            return
        for sub in self._subscribers(method):
            sub.notify(method, params, origin=proc.name)

    def _on_died(self, proc: PluginProcess, reason: str) -> None:
        was_registered = proc in self.plugins
        methods = self._methods_of(proc)
        self._unregister(proc)
        if not self._stopping and was_registered and reason != "stopped":
            self.node.log("info", f"plugin-{proc.name}", f"Killing plugin: {reason}")
            if proc.important:
                self.node.abort(f"important plugin {proc.name} died: {reason}")
            self.emit(
                "plugin_stopped",
                {"plugin_name": proc.name, "plugin_path": proc.path, "methods": methods},
            )

    # ---------------------------------------------------------------- calls into plugins

    async def call_command(self, method: str, params: Any, caller_id: str) -> Any:
        proc = self.commands.get(method)
        if proc is None:
            raise RpcError(-32601, f"Unknown command '{method}'")
        return await proc.request(method, params, caller=caller_id)

    def hook_chain(self, hook: str) -> list[PluginProcess]:
        return [p for p in self._hook_order.get(hook, []) if p.state is not PluginState.STOPPED]

    async def call_hook(
        self,
        hook: str,
        params: dict[str, Any],
        *,
        filter_key: int | str | None = None,
        on_result: Callable[[PluginProcess, Any], str] | None = None,
    ) -> Any:
        """Run a hook chain; returns the result that ended it, or `{"result":"continue"}`.

        `on_result(plugin, result)` classifies each reply: "continue" goes on, "stop" ends
        the chain with this result, "invalid" records a fidelity violation (a real
        lightningd would abort) and goes on.
        """
        check = self.node.fidelity
        if check is not None and (problem := check.hook_request(hook, params)):
            self.node.record_violation(
                f"the {hook} hook request does not fit CLN's schema: {problem}"
            )
        for proc in self.hook_chain(hook):
            spec = (
                next((h for h in proc.manifest.hooks if h.name == hook), None)
                if proc.manifest
                else None
            )
            if spec is not None and spec.filters is not None and filter_key not in spec.filters:
                continue
            try:
                result = await proc.request(hook, params)
            except RpcError as exc:
                if exc.code == PLUGIN_TERMINATED:
                    continue  # a dead plugin drops out of the chain
                self.node.record_violation(
                    f"plugin {proc.name} answered hook {hook} with an error ({exc.message}); lightningd would abort"
                )
                continue
            if check is not None and (problem := check.hook_response(hook, result)):
                self.node.record_violation(
                    f"plugin {proc.name} gave hook {hook} a result that does not fit CLN's schema: {problem}"
                )
            verdict = on_result(proc, result) if on_result else _default_verdict(result)
            if verdict == "continue":
                continue
            if verdict == "invalid":
                self.node.record_violation(
                    f"plugin {proc.name} gave hook {hook} an invalid result {result!r:.200}; lightningd would abort"
                )
                continue
            return result
        return {"result": "continue"}

    def _subscribers(self, topic: str) -> list[PluginProcess]:
        out = []
        for proc in self.plugins:
            m = proc.manifest
            if (
                proc.active
                and m is not None
                and (topic in m.subscriptions or "*" in m.subscriptions)
            ):
                out.append(proc)
        return out

    def emit(self, topic: str, inner: dict[str, Any]) -> None:
        """A native notification, in the wrapped shape `{"<topic>": {...}}`."""
        check = self.node.fidelity
        if check is not None and (problem := check.notification(topic, inner)):
            self.node.record_violation(
                f"the {topic} notification does not fit CLN's schema: {problem}"
            )
        for proc in self._subscribers(topic):
            try:
                proc.notify(topic, {topic: inner})
            except RpcError:
                continue

    async def set_option(self, name: str, val: Any) -> OptionState:
        st = self.options.get(name)
        if st is None:
            raise RpcError(INVALID_PARAMS, f"Unknown config option {name}")
        if not st.spec.dynamic:
            raise RpcError(INVALID_PARAMS, f"{name} is not a dynamic option")
        if val is None:
            wire: Any = None
            typed: Any = None
        elif st.spec.multi:
            items = val if isinstance(val, list) else [val]
            wire = [str(v) for v in items]
            try:
                typed = [st.spec.coerce(v) for v in wire]
            except ManifestError as exc:
                raise RpcError(INVALID_PARAMS, str(exc)) from None
        else:
            wire = str(val).lower() if isinstance(val, bool) else str(val)
            try:
                typed = st.spec.coerce(wire)
            except ManifestError as exc:
                raise RpcError(INVALID_PARAMS, str(exc)) from None
        params: dict[str, Any] = {"config": name}
        if wire is not None:
            params["val"] = wire
        await st.plugin.request("setconfig", params)
        st.value = typed
        st.source = "setconfig"
        return st


def _default_verdict(result: Any) -> str:
    if isinstance(result, dict) and result.get("result") == "continue":
        return "continue"
    if isinstance(result, dict):
        return "stop"
    return "invalid"
