"""`lnhive sim`: run a scenario of stand-in nodes, talk to them, stop them.

`up` runs in the foreground and writes `DIR/sim.json` (its pid and, per node, the
socket path and REST port); `rpc` and `down` find the simulation through that file
(ARCHITECTURE §4). The scenario format is in docs/sim-cli.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import Progress
from rich.text import Text

from lnhive.sim.runtime import SimRuntime
from lnhive.sim.scenario import (
    Scenario,
    ScenarioError,
    ScenarioStartError,
    builtin_scenarios,
    load_scenario,
    start_scenario,
)
from lnhive.sim.traffic import TrafficGenerator, TrafficSummary, make_progress

DESCRIPTOR = "sim.json"

app = typer.Typer(
    name="sim",
    help="Run simulated Core Lightning nodes (the lightningd stand-in) from a scenario file.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console(soft_wrap=True)  # plain lines stay whole in logs and pipes
err = Console(stderr=True, soft_wrap=True)

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        help="The simulation's directory: sim.json and one lightning-dir per node.",
        file_okay=False,
    ),
]


# ---------------------------------------------------------------------------- sim.json


def read_descriptor(base: Path) -> dict[str, Any] | None:
    """The content of DIR/sim.json, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((base / DESCRIPTOR).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: Any) -> bool:
    """True if a process with this pid exists and is not a zombie."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _write_descriptor(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


# ---------------------------------------------------------------------------- up


@app.command(no_args_is_help=True)
def up(
    scenario: Annotated[
        str,
        typer.Argument(
            help="A scenario file (TOML), or the name of a built-in scenario "
            f"({', '.join(builtin_scenarios())}).",
            show_default=False,
        ),
    ],
    directory: DirOption,
    traffic: Annotated[
        bool,
        typer.Option(
            "--traffic/--no-traffic",
            help="Run the scenario's [traffic] section once the channels are open.",
        ),
    ] = True,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            min=0.0,
            help="Stop cleanly after this many seconds (default: run until Ctrl-C or SIGTERM).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start a scenario's nodes and channels and keep them running in the foreground.

    Writes DIR/sim.json once every node is up and every channel open, shows a status
    line while running, and stops every node (and removes sim.json) on Ctrl-C, SIGTERM
    or after --duration seconds.
    """
    base = directory.resolve()
    existing = read_descriptor(base)
    if existing is not None and pid_alive(existing.get("pid")):
        raise _fail(
            f"a simulation is already running in {base} (pid {existing['pid']}); "
            f"stop it with: lnhive sim down --dir {directory}"
        )
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        raise _fail(f"error: {exc}", 2) from None
    base.mkdir(parents=True, exist_ok=True)
    code = asyncio.run(_up(loaded, base, traffic=traffic, duration=duration))
    raise typer.Exit(code)


async def _up(scenario: Scenario, base: Path, *, traffic: bool, duration: float | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reason = {"text": "stopped"}

    def on_signal(name: str) -> None:
        reason["text"] = f"{name} received"
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    path = base / DESCRIPTOR
    started = time.monotonic()
    runtime = SimRuntime(base, scenario.seed, block_interval=scenario.block_interval_s)
    # Claim the directory at once (a second `up` refuses), ready only once all is up.
    _write_descriptor(path, _descriptor(runtime, scenario, ready=False))
    traffic_task: asyncio.Task[TrafficSummary] | None = None
    try:
        starting = asyncio.create_task(start_scenario(runtime, scenario))
        stopping = asyncio.create_task(stop.wait())
        with out.status(f"starting {scenario.name}: {len(scenario.nodes)} nodes…"):
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
            out.print(f"{reason['text']} while starting; shutting down")
            return 0
        stopping.cancel()
        try:
            starting.result()
        except ScenarioStartError as exc:
            typer.echo(f"error: {exc}", err=True)
            return 1
        _write_descriptor(path, _descriptor(runtime, scenario, ready=True))
        out.print(
            f"[bold]{scenario.name}[/bold]: {len(runtime.nodes)} nodes, "
            f"{len(scenario.channels)} channels up in {time.monotonic() - started:.1f}s; "
            f"{path}"
        )
        progress: Progress | None = None
        gen: TrafficGenerator | None = None
        if traffic and scenario.traffic is not None:
            spec = scenario.traffic
            progress = make_progress(console=out)
            gen = TrafficGenerator(
                runtime,
                scenario.endpoints(),
                spec.rate_per_s,
                spec.amount_msat.sample,
                spec.seed,
                mode=spec.mode,
                concurrency=spec.concurrency,
                progress=progress,
            )
            traffic_task = asyncio.create_task(
                gen.run(count=spec.count, duration_s=spec.duration_s)
            )
        await _run_until_stopped(
            runtime, scenario, stop, reason, duration, gen, progress, traffic_task, path
        )
        if not out.is_terminal:
            out.line()  # the status line's last frame ends without one
        out.print(f"{reason['text']}; stopping {len(runtime.nodes)} nodes")
        return 0
    finally:
        if traffic_task is not None and not traffic_task.done():
            traffic_task.cancel()
            with contextlib.suppress(BaseException):
                await traffic_task
        await runtime.stop_all()
        current = read_descriptor(base)
        if current is None or current.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _run_until_stopped(
    runtime: SimRuntime,
    scenario: Scenario,
    stop: asyncio.Event,
    reason: dict[str, str],
    duration: float | None,
    gen: TrafficGenerator | None,
    progress: Progress | None,
    traffic_task: asyncio.Task[TrafficSummary] | None,
    path: Path,
) -> None:
    t0 = time.monotonic()
    states = _states(runtime)

    def render() -> RenderableType:
        line = Text(status_line(runtime, gen, time.monotonic() - t0), style="cyan")
        return Group(line, progress) if progress is not None else line

    reported = False
    with Live(get_renderable=render, console=out, refresh_per_second=4, transient=False) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
            if duration is not None and time.monotonic() - t0 >= duration:
                reason["text"] = f"--duration {duration:g}s reached"
                break
            if _states(runtime) != states:  # a node stopped (`stop`) or aborted
                states = _states(runtime)
                _write_descriptor(path, _descriptor(runtime, scenario, ready=True))
                if not any(s in ("starting", "running") for s in states.values()):
                    reason["text"] = "every node has stopped"
                    break
            if traffic_task is not None and traffic_task.done() and not reported:
                reported = True
                if traffic_task.cancelled():
                    continue
                exc = traffic_task.exception()
                if exc is not None:
                    live.console.print(f"[red]traffic failed:[/red] {exc!r}")
                else:
                    live.console.print(summary_text(traffic_task.result()))


def _states(runtime: SimRuntime) -> dict[str, str]:
    return {name: node.state for name, node in runtime.nodes.items()}


def _descriptor(runtime: SimRuntime, scenario: Scenario, *, ready: bool) -> dict[str, Any]:
    data = runtime.describe()
    data["pid"] = os.getpid()
    data["scenario"] = scenario.name
    data["scenario_file"] = str(scenario.source)
    data["ready"] = ready
    return data


def status_line(runtime: SimRuntime, gen: TrafficGenerator | None, elapsed: float) -> str:
    nodes = runtime.nodes.values()
    running = sum(1 for n in nodes if n.state == "running")
    parts = [f"nodes {running}/{len(runtime.nodes)} running"]
    net = runtime.network
    parts += [f"channels {len(net.live_channels())}", f"block {net.blockheight}"]
    if gen is not None:
        s = gen.summary
        parts.append(f"payments {s.succeeded} ok / {s.failed} failed / {s.in_flight} in flight")
    parts.append(f"up {elapsed:.0f}s")
    return " · ".join(parts)


def summary_text(s: TrafficSummary) -> str:
    lines = [
        f"traffic done in {s.elapsed_s:.1f}s: {s.succeeded}/{s.attempted} payments succeeded "
        f"({s.success_rate:.0%}), {s.amount_msat} msat delivered, {s.fees_msat} msat fees"
    ]
    lines += [f"  {n}x {e}" for e, n in s.errors.most_common(5)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- rpc


def parse_params(params: list[str], keyword: bool = False) -> list[Any] | dict[str, Any]:
    """lightning-cli's rules: positional, or key=value when forced or when the first
    parameter contains '='; a value is JSON when it parses as JSON, else a string."""

    def value(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            return text

    if keyword or (params and "=" in params[0]):
        out_params: dict[str, Any] = {}
        for p in params:
            key, sep, raw = p.partition("=")
            if not sep or not key:
                raise ValueError(f"expected key=value, got {p!r}")
            out_params[key] = value(raw)
        return out_params
    return [value(p) for p in params]


@app.command(context_settings={"ignore_unknown_options": True}, no_args_is_help=True)
def rpc(
    directory: DirOption,
    node: Annotated[
        str, typer.Argument(help="The node's name in the scenario.", show_default=False)
    ],
    method: Annotated[
        str, typer.Argument(help="The RPC command, e.g. getinfo.", show_default=False)
    ],
    params: Annotated[
        list[str] | None,
        typer.Argument(
            help="Parameters, positional or key=value (JSON values where they parse).",
            show_default=False,
        ),
    ] = None,
    keyword: Annotated[
        bool,
        typer.Option("-k", "--keywords", help="Read every parameter as key=value."),
    ] = False,
) -> None:
    """Call METHOD on NODE like lightning-cli and print the JSON result.

    On an error, prints lightningd's error object on stderr and exits with status 1.
    Examples: `getinfo`; `echo hello`; `echo message=hello`; `-k invoice amount_msat=1000
    label=x description=y`.
    """
    from pyln.client import LightningRpc, RpcError

    base = directory.resolve()
    desc = read_descriptor(base)
    if desc is None:
        raise _fail(f"no simulation in {base} (no {DESCRIPTOR}); start one with: lnhive sim up")
    if not pid_alive(desc.get("pid")):
        raise _fail(
            f"the simulation in {base} is not running (stale {DESCRIPTOR}, pid {desc.get('pid')})"
        )
    nodes: dict[str, Any] = desc.get("nodes") or {}
    entry = nodes.get(node)
    if entry is None:
        still = "" if desc.get("ready", True) else " (the simulation is still starting)"
        raise _fail(f"no node {node!r} in {base}{still}; nodes: {', '.join(nodes) or 'none'}")
    try:
        payload = parse_params(list(params or []), keyword)
    except ValueError as exc:
        raise _fail(f"error: {exc}") from None
    try:
        result = LightningRpc(entry["rpc"]).call(method, payload)
    except RpcError as exc:
        sys.stderr.write(json.dumps(exc.error, indent=2) + "\n")
        raise typer.Exit(1) from None
    except OSError as exc:
        raise _fail(f"cannot reach {node} at {entry['rpc']}: {exc}") from None
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


# ---------------------------------------------------------------------------- down


@app.command(no_args_is_help=True)
def down(
    directory: DirOption,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Seconds to wait after SIGTERM before sending SIGKILL.",
        ),
    ] = 60.0,
) -> None:
    """Stop the simulation running in DIR: SIGTERM to its process, wait, then SIGKILL."""
    base = directory.resolve()
    path = base / DESCRIPTOR
    desc = read_descriptor(base)
    if desc is None:
        out.print(f"nothing is running in {base} (no {DESCRIPTOR})", highlight=False)
        return
    pid = desc.get("pid")
    if not pid_alive(pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        out.print(f"nothing is running in {base}: removed a stale {DESCRIPTOR} (pid {pid})")
        return
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with out.status(f"waiting for pid {pid} to stop…"):
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if pid_alive(pid):
        err.print(f"pid {pid} did not stop within {timeout:g}s: sending SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
        current = read_descriptor(base)
        if current is not None and current.get("pid") == pid:
            path.unlink(missing_ok=True)
        out.print(f"killed pid {pid}")
        return
    current = read_descriptor(base)
    if current is not None and current.get("pid") == pid:  # it died without cleaning up
        path.unlink(missing_ok=True)
    out.print(f"stopped the simulation in {base} (pid {pid})", highlight=False)
