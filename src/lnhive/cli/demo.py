"""`lnhive demo`: a small simulated network whose nodes run the echo plugin.

It starts the built-in `demo` scenario (8 nodes, a ring of channels with chords), has
every node echo a custom message off each of its peers, routes payments between random
nodes, calls one node over REST with a rune, then runs the fleet scene
(:mod:`lnhive.cli.demo_fleet`: cl-hive on five nodes forms a hive, shares state and
settles a conflicting channel open) and the comms scene (:mod:`lnhive.cli.demo_comms`:
an advisor process manages a node's fees over Nostr through cl-hive-comms, within the
operator's limits and confirmation queue) and the identity scene
(:mod:`lnhive.cli.demo_identity`: cl-hive-archon gives every node a DID, a binding is
checked offline, and an advisor's reputation rises with its successful managed actions),
and prints what happened. Everything goes
through the real interfaces: plugins are subprocesses speaking the plugin protocol, and
every call goes through a node's `lightning-rpc` socket or its REST endpoint. It exits 0
when every check passed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the stand-in and the scenes load when the demo runs, not with `lnhive`
    from pyln.client import LightningRpc

    from lnhive.sim.runtime import SimThread
    from lnhive.sim.scenario import Scenario

console = Console()
ECHO_REQUEST = "a1b1"
FLEET_MEMBERS = ("alice", "bob", "carol", "dave", "erin")
FLEET_OUTSIDER = "grace"
COMMS_NODE = "frank"
IDENTITY_NODE = "heidi"


def run(
    payments: Annotated[
        int, typer.Option(min=1, max=100_000, help="How many payments to route.")
    ] = 200,
    scenario_name: Annotated[
        str, typer.Option("--scenario", help="A built-in scenario name or a TOML file.")
    ] = "demo",
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Keep the nodes' directories (logs, sockets) here instead of a temporary one.",
        ),
    ] = None,
    fleet: Annotated[
        bool,
        typer.Option(
            "--fleet/--no-fleet",
            help="Run the fleet scene (cl-hive on five nodes) after the network checks.",
        ),
    ] = True,
    comms: Annotated[
        bool,
        typer.Option(
            "--comms/--no-comms",
            help="Run the comms scene (an advisor manages a node over Nostr).",
        ),
    ] = True,
    identity: Annotated[
        bool,
        typer.Option(
            "--identity/--no-identity",
            help="Run the identity scene (cl-hive-archon: DIDs, bindings, reputation) at the end.",
        ),
    ] = True,
) -> None:
    from pyln.client import LightningRpc

    from lnhive.cli import demo_comms, demo_fleet, demo_identity
    from lnhive.sim.runtime import SimThread
    from lnhive.sim.scenario import load_scenario, start_scenario

    scenario = load_scenario(scenario_name)
    base = directory or Path(tempfile.mkdtemp(prefix="lnhive-demo-"))
    console.print(
        f"[bold]Lightning Hive demo[/bold]: scenario [cyan]{scenario.name}[/cyan], "
        f"{len(scenario.nodes)} nodes, {len(scenario.channels)} channels, in {base}"
    )
    t0 = time.monotonic()
    sim = SimThread(base, scenario.seed)
    checks: list[tuple[str, bool]] = []
    try:
        with console.status("starting nodes and plugins, opening channels…"):
            sim.run(start_scenario(sim.runtime, scenario))
        rpcs = {name: LightningRpc(str(node.rpc_path)) for name, node in sim.runtime.nodes.items()}
        checks.append(("every node runs the echo plugin", _all_have_echo(rpcs)))
        sent = _echo_round(rpcs)
        checks.append((f"{sent} custom messages echoed back", _echoes_returned(rpcs, sent)))
        summary = _route_payments(sim, scenario, payments)
        checks.append(
            (
                f"{summary.succeeded}/{summary.attempted} payments routed",
                summary.success_rate >= 0.9,
            )
        )
        earned = {name: _fees_earned(rpc) for name, rpc in rpcs.items()}
        checks.append(
            ("fees paid equal fees earned by forwarders", sum(earned.values()) == summary.fees_msat)
        )
        rest_ok = _rest_check(sim, scenario, rpcs)
        if rest_ok is not None:
            checks.append(("REST call with a rune (201)", rest_ok))
        _print_nodes(rpcs, earned)
        console.print(f"payments: {summary.line()} in {summary.elapsed_s:.1f}s")
        if fleet and all(n in rpcs for n in (*FLEET_MEMBERS, FLEET_OUTSIDER)):
            checks.extend(
                demo_fleet.run_scene(
                    console,
                    rpcs,
                    FLEET_MEMBERS,
                    FLEET_OUTSIDER,
                    lambda blocks: sim.run(sim.runtime.mine(blocks)),
                )
            )
        if comms and COMMS_NODE in rpcs:
            checks.extend(demo_comms.run_scene(console, rpcs, COMMS_NODE, base / "comms"))
        if identity and all(n in rpcs for n in (*FLEET_MEMBERS, IDENTITY_NODE)):
            checks.extend(
                demo_identity.run_scene(
                    console, sim, rpcs, FLEET_MEMBERS, IDENTITY_NODE, base / "identity"
                )
            )
    finally:
        with console.status("stopping…"):
            sim.close()
        if directory is None:
            shutil.rmtree(base, ignore_errors=True)
    for text, ok in checks:
        console.print(("[green]✓[/green] " if ok else "[red]✗[/red] ") + text)
    passed = all(ok for _, ok in checks)
    console.print(
        f"done in {time.monotonic() - t0:.1f}s: "
        + ("[green]all checks passed[/green]" if passed else "[red]some checks failed[/red]")
    )
    if not passed:
        raise typer.Exit(1)


def _all_have_echo(rpcs: dict[str, LightningRpc]) -> bool:
    return all(
        any(
            Path(p["name"]).name == "echo.py" and p["active"] for p in rpc.plugin("list")["plugins"]
        )
        for rpc in rpcs.values()
    )


def _echo_round(rpcs: dict[str, LightningRpc]) -> int:
    """Every node sends one echo request to each connected peer; returns how many."""
    sent = 0
    for name, rpc in rpcs.items():
        for peer in rpc.listpeers()["peers"]:
            if peer["connected"]:
                rpc.sendcustommsg(peer["id"], ECHO_REQUEST + name.encode().hex())
                sent += 1
    return sent


def _echoes_returned(rpcs: dict[str, LightningRpc], sent: int) -> bool:
    def replies() -> int:
        return sum(int(rpc.call("echo-stats")["replies"]) for rpc in rpcs.values())

    try:
        from lnhive.sim.testing import wait_for

        wait_for(lambda: replies() >= sent, timeout=30)
    except TimeoutError:
        return False
    return replies() == sent


def _route_payments(sim: SimThread, scenario: Scenario, count: int) -> Any:
    spec = scenario.traffic
    if spec is None:
        raise typer.BadParameter(
            f"scenario {scenario.name} has no [traffic] section", param_hint="--scenario"
        )
    from lnhive.sim.traffic import TrafficGenerator

    gen = TrafficGenerator(
        sim.runtime,
        scenario.endpoints(),
        spec.rate_per_s * 10,  # the demo does not need to pace itself like a long run
        spec.amount_msat.sample,
        spec.seed,
        mode=spec.mode,
        concurrency=spec.concurrency,
        progress=True,
    )
    return sim.run(gen.run(count=count), timeout=None)


def _fees_earned(rpc: LightningRpc) -> int:
    return sum(int(f["fee_msat"]) for f in rpc.listforwards(status="settled")["forwards"])


def _rest_check(sim: SimThread, scenario: Scenario, rpcs: dict[str, LightningRpc]) -> bool | None:
    node = next((n for n in sim.runtime.nodes.values() if n.rest_port is not None), None)
    if node is None:
        return None
    rune = rpcs[node.name].createrune(restrictions=[["method=getinfo"]])["rune"]
    req = urllib.request.Request(
        f"http://127.0.0.1:{node.rest_port}/v1/getinfo",
        data=b"{}",
        method="POST",
        headers={"Rune": rune, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        status, body = int(resp.status), json.loads(resp.read())
    return status == 201 and body.get("id") == node.node_id


def _print_nodes(rpcs: dict[str, LightningRpc], earned: dict[str, int]) -> None:
    table = Table(title="nodes")
    for col in (
        "node",
        "id",
        "channels",
        "forwards",
        "fees earned (msat)",
        "echo requests",
        "echo replies",
    ):
        table.add_column(col, justify="right" if col not in ("node", "id") else "left")
    for name, rpc in rpcs.items():
        stats = rpc.call("echo-stats")
        table.add_row(
            name,
            rpc.getinfo()["id"][:16] + "…",
            str(len(rpc.listpeerchannels()["channels"])),
            str(len(rpc.listforwards(status="settled")["forwards"])),
            f"{earned[name]:,}",
            str(stats["requests"]),
            str(stats["replies"]),
        )
    console.print(table)
