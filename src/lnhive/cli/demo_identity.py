"""The demo's identity scene: DIDs, a binding checked offline, an advisor's reputation.

cl-hive-archon (the real plugin, started with ``plugin start``) runs on the fleet's five
nodes and on ``managed`` (a node with REST, which also gets cl-hive-comms); a new node,
ivan, joins the network with both plugins and REST, and opens a channel to ``managed``.
Every node provisions its did:key (bound to its node key and its Nostr key) and the
scene prints them. An advisor with its own key (the advisor client's Python API, over
REST) is authorized on ivan and on ``managed``, then

1. changes ivan's fee three times: ivan's archon rates it from the receipts over the
   last day (a daily credential). ivan routes nothing, so its fees are flat (+0 %), and
   the advisor scores 60 (of 100);
2. changes ``managed``'s fees three times; ivan pays through ``managed`` at those fees,
   so ``managed`` earns fees it did not earn the day before (+1000 %, the cap) and rates
   the advisor 100.

The scene checks ``managed``'s binding documents (DID ↔ node key, DID ↔ Nostr key) and
its credential offline, in this process (:func:`~lnhive.identity.bindings.verify_binding`,
:func:`~lnhive.identity.credentials.verify_credential`: no RPC), shows that a forged
binding fails, and ivan imports the credential. One credential per issuer, subject and
domain per period means ivan cannot rate the same day twice: the second issuer is what
raises the score (the weighted mean of both, 80), which ``hive-reputation`` on ivan shows
before and after.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyln.client import LightningRpc, RpcError
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

import lnhive.plugins
from lnhive.cli.advisor import (
    AdvisorError,
    RestTransport,
    generate_key,
    load_key,
    next_nonce,
    send_intent,
)
from lnhive.cli.demo_comms import fees, peer_names
from lnhive.identity.bindings import BindingFailure, VerifiedBinding, verify_binding
from lnhive.identity.credentials import CredentialFailure, verify_credential
from lnhive.sim.host import PluginSpec, PluginStartError
from lnhive.sim.node import NodeConfig
from lnhive.sim.runtime import SimThread
from lnhive.sim.testing import wait_for

PLUGINS = Path(lnhive.plugins.__file__).parent
ARCHON = str(PLUGINS / "archon.py")
COMMS = str(PLUGINS / "comms.py")
NEW_NODE = "ivan"
CHANNEL_SAT = 1_000_000
FEES = "hive:fee-policy/v1"
DOMAIN = "hive:advisor"
PERIOD_DAYS = 1
"""Daily ratings: the advisor was seen on the one day of the period (uptime 100 %)."""
ACTIONS = 3
"""Fee changes per node: with 3 receipts a credential carries 5 evidence entries
(strength 1.0)."""
PAYMENTS = 3
PAYMENT_MSAT = 200_000

Check = tuple[str, bool]


@dataclass
class Managed:
    """A node the advisor manages over REST."""

    name: str
    rpc: LightningRpc
    url: str
    """Its REST endpoint."""
    key: str = ""
    """Its Nostr key, the recipient of the advisor's envelopes."""
    credential: str = ""
    """The advisor's management credential there."""
    rune: str = ""
    scids: dict[str, str] = field(default_factory=dict)
    """Its channels: scid → the peer's name."""


def run_scene(
    console: Console,
    sim: SimThread,
    rpcs: dict[str, LightningRpc],
    members: Sequence[str],
    managed: str,
    workdir: Path,
) -> list[Check]:
    """Run the scene: archon on ``members`` and ``managed`` (a node with REST), a new node
    ivan; files in ``workdir``. Returns the checks."""
    workdir.mkdir(parents=True, exist_ok=True)
    checks: list[Check] = []
    try:
        _scene(checks, console, sim, rpcs, members, managed, workdir)
    except (
        RpcError,
        RuntimeError,
        OSError,
        AdvisorError,
        PluginStartError,
        KeyError,
        ValueError,
        TimeoutError,
    ) as exc:
        checks.append((f"the identity scene ran to its end (stopped: {exc!r})", False))
    return checks


def _scene(
    checks: list[Check],
    console: Console,
    sim: SimThread,
    rpcs: dict[str, LightningRpc],
    members: Sequence[str],
    managed: str,
    workdir: Path,
) -> None:
    names = {str(rpc.getinfo()["id"]): name for name, rpc in rpcs.items()}
    with console.status(
        f"identity: starting cl-hive-archon on {len(members) + 1} nodes and a new node "
        f"{NEW_NODE} (cl-hive-comms, cl-hive-archon, REST)…"
    ):
        hub, ivan = _start(sim, rpcs, members, managed)
        names[str(ivan.rpc.getinfo()["id"])] = NEW_NODE
        dids = _provision({**{n: rpcs[n] for n in [*members, managed]}, NEW_NODE: ivan.rpc})
    _print_dids(console, dids)
    bound = all(
        d["did"].startswith("did:key:z6Mk") and d["cln"] and d["nostr"] for d in dids.values()
    )
    checks.append(
        (
            f"cl-hive-archon on {len(dids)} nodes: each has a did:key bound to its node key "
            "and its Nostr key",
            bound and len({d["did"] for d in dids.values()}) == len(dids),
        )
    )

    key_path = workdir / "advisor.key"
    advisor = generate_key(key_path, force=True)
    secret = load_key(key_path)
    for node in (ivan, hub):
        _authorize(node, advisor)
        node.scids = peer_names(node.rpc, names)

    console.print(
        f"[bold]identity[/bold]: an advisor (key {advisor[:12]}…, the advisor client's Python "
        f"API over REST) is authorized for fee_optimization on {NEW_NODE} (a new node with one "
        f"channel: it routes nothing) and on {managed}; each rates it over the last day"
    )

    def act(node: Managed, scid: str) -> dict[str, Any]:
        fee = fees(node.rpc)[scid] + 1
        return send_intent(
            secret, RestTransport(node.url, node.rune), node=node.key,
            credential_id=node.credential, schema=FEES, action="set_single",
            params={"channel_id": scid, "fee_ppm": fee}, nonce=next_nonce(key_path),
        )  # fmt: skip

    def reputation() -> dict[str, Any]:
        out: dict[str, Any] = ivan.rpc.call(
            "hive-reputation", {"subject": advisor, "domain": DOMAIN}
        )
        return out

    stages: list[tuple[str, dict[str, Any]]] = [("no credential yet", reputation())]

    # 1. Three fee changes on ivan; ivan rates the advisor for the day.
    with console.status(f"identity: the advisor changes {NEW_NODE}'s fee over REST…"):
        (ivan_scid,) = ivan.scids
        replies = [act(ivan, ivan_scid) for _ in range(ACTIONS)]
        first = _issue(ivan, advisor)
        stages.append((f"{NEW_NODE} rates the advisor ({_line(first)})", reputation()))
    ran = all(r.get("ok") is True and r.get("receipt") for r in replies)
    checks.append(
        (
            f"{NEW_NODE}'s archon rated the advisor from the receipts of its {ACTIONS} fee "
            f"changes over REST (credential score {first['credential_score']:g})",
            ran and first["metrics"]["actions_taken"] == ACTIONS,
        )
    )

    # 2. Three fee changes on the hub; ivan pays through it at those fees; it rates.
    with console.status(f"identity: the advisor manages {managed}; {NEW_NODE} pays through…"):
        scids = [scid for scid, peer in hub.scids.items() if peer != NEW_NODE]
        replies = [act(hub, scids[i % len(scids)]) for i in range(ACTIONS)]
        forwarded = _pay_through(ivan.rpc, hub, scids[0], names)
        second = _issue(hub, advisor)
        export = hub.rpc.call("hive-archon-vc-export", {"credential_id": second["credential_id"]})
        status_list = hub.rpc.call("hive-archon-status-list")["status_list_credential"]
    ran = all(r.get("ok") is True and r.get("receipt") for r in replies)
    checks.append(
        (
            f"the advisor's {len(replies)} fee changes on {managed} ran; {forwarded} payments "
            f"from {NEW_NODE} were forwarded by {managed} at those fees",
            ran and forwarded == PAYMENTS and second["metrics"]["actions_taken"] == len(replies),
        )
    )

    # 3. Offline: the hub's bindings and credential, checked by pure code in this process.
    checks.extend(_verify_offline(console, export, status_list, hub, dids[managed]))

    # 4. ivan imports the hub's credential: a second issuer; the score rises.
    with console.status(f"identity: {NEW_NODE} imports {managed}'s credential…"):
        imported = ivan.rpc.call(
            "hive-reputation-import",
            {
                "vc_json": export["credential"],
                "status_list_json": status_list,
                "bindings_json": export["bindings"],
            },
        )
        stages.append((f"+ {managed}'s credential, imported ({_line(second)})", reputation()))
    _print_reputation(console, advisor, stages)
    before, after = stages[1][1], stages[2][1]
    checks.append(
        (
            f"{NEW_NODE} imported {managed}'s credential; the advisor's reputation rose from "
            f"{before['score']} ({before['tier']}) to {after['score']} ({after['tier']}), "
            f"{after['issuer_count']} issuers",
            imported.get("stored") is True
            and after["score"] > before["score"]
            and after["issuer_count"] == 2,
        )
    )


def _start(
    sim: SimThread, rpcs: dict[str, LightningRpc], members: Sequence[str], managed: str
) -> tuple[Managed, Managed]:
    """archon on the members and ``managed`` (comms too), ivan started; all at once."""
    hub = sim.runtime.nodes[managed]
    if hub.rest_port is None:
        raise RuntimeError(f"{managed} has no REST endpoint")

    def plugin(name: str, path: str) -> None:
        rpcs[name].call("plugin", {"subcommand": "start", "plugin": path})

    def new_node() -> Managed:
        config = NodeConfig(
            name=NEW_NODE, plugins=[PluginSpec(COMMS), PluginSpec(ARCHON)], rest_port=0
        )
        node = sim.start_node(config)
        sim.run(sim.runtime.open_channel(NEW_NODE, managed, CHANNEL_SAT))
        return Managed(NEW_NODE, LightningRpc(str(node.rpc_path)), _url(node.rest_port))

    with ThreadPoolExecutor(max_workers=4) as pool:
        started = pool.submit(new_node)
        jobs = [pool.submit(plugin, n, ARCHON) for n in [*members, managed]]
        jobs.append(pool.submit(plugin, managed, COMMS))
        for job in jobs:
            job.result()
        ivan = started.result()
    return Managed(managed, rpcs[managed], _url(hub.rest_port)), ivan


def _url(port: int | None) -> str:
    return f"http://127.0.0.1:{port}"


def _provision(rpcs: dict[str, LightningRpc]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, rpc in rpcs.items():
        did = rpc.call("hive-archon-provision")["did"]
        status = rpc.call("hive-archon-status")
        bindings = status["bindings"]
        out[name] = {
            "did": did,
            "node_id": status["node_id"],
            "nostr_key": status["nostr_pubkey"],
            "cln": bindings["cln"]["verified"] is True,
            "nostr": bindings["nostr"]["verified"] is True,
            "member": _member(rpc),
        }
    return out


def _member(rpc: LightningRpc) -> str:
    """The node's hive tier, or '' when it runs no cl-hive or is in no hive."""
    try:
        status = rpc.call("hive-status")
    except RpcError:
        return ""
    if status.get("status") != "active":
        return ""
    return f"hive {status.get('tier') or 'member'}"


def _authorize(node: Managed, advisor: str) -> None:
    auth = node.rpc.call(
        "hive-client-authorize",
        {"advisor": advisor, "access": "fee_optimization", "valid_days": 1, "note": "lnhive demo"},
    )
    node.credential = str(auth["credential_id"])
    node.rune = node.rpc.createrune(restrictions=[["method=hive-comms-rpc"]])["rune"]
    node.key = str(node.rpc.call("hive-client-status")["identity"]["pubkey"])


def _pay_through(payer: LightningRpc, hop: Managed, scid: str, names: dict[str, str]) -> int:
    """Keysend from ``payer`` to the peer of ``hop`` at the other end of ``scid`` (a channel
    whose fee the advisor changed), once the payer's gossip shows that fee; returns how
    many forwards ``hop`` gained."""
    ids = {name: node_id for node_id, name in names.items()}
    fee, source = fees(hop.rpc)[scid], hop.rpc.getinfo()["id"]

    def seen() -> bool:
        chans = payer.listchannels(short_channel_id=scid)["channels"]
        return any(c["source"] == source and c["fee_per_millionth"] == fee for c in chans)

    wait_for(seen, timeout=20, interval=0.1)
    before = len(_forwards(hop.rpc))
    for _ in range(PAYMENTS):
        payer.keysend(ids[hop.scids[scid]], PAYMENT_MSAT)
    return len(_forwards(hop.rpc)) - before


def _forwards(rpc: LightningRpc) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = rpc.listforwards(status="settled")["forwards"]
    return out


def _issue(node: Managed, advisor: str) -> dict[str, Any]:
    """The node rates ``advisor`` from its receipts over the last day."""
    out: dict[str, Any] = node.rpc.call(
        "hive-archon-reputation-issue",
        {
            "subject": f"nostr:{advisor}",
            "domain": DOMAIN,
            "outcome": "renew",
            "period_days": PERIOD_DAYS,
        },
    )
    return out


def _verify_offline(
    console: Console,
    export: dict[str, Any],
    status_list: dict[str, Any],
    node: Managed,
    did: dict[str, Any],
) -> list[Check]:
    """The node's binding documents and credential, checked by pure code (no RPC)."""
    node_id, nostr_key = str(did["node_id"]), str(did["nostr_key"])
    t0 = time.perf_counter()
    found: dict[str, VerifiedBinding] = {}
    problems: list[str] = []
    for doc in export["bindings"]:
        try:
            got = verify_binding(doc)
        except BindingFailure as exc:
            problems.append(f"{exc.kind}: {exc.reason}")
            continue
        found[got.binding_type] = got
    cln, nostr = found.get("cln"), found.get("nostr")
    bindings_ok = (
        not problems
        and cln is not None
        and (cln.did, cln.key) == (did["did"], node_id)
        and nostr is not None
        and (nostr.did, nostr.key) == (did["did"], nostr_key)
    )
    # A forgery: the same signed document claiming another node's key.
    refused = ""
    for doc in export["bindings"]:
        if doc.get("binding_type") == "cln":
            try:
                verify_binding({**doc, "subject": "urn:lnhive:node:02" + "11" * 32})
            except BindingFailure as exc:
                refused = f"{exc.kind}: {exc.reason}"
    try:
        vc = verify_credential(export["credential"], now=time.time(), status_list=status_list)
        vc_line = f"verified: {vc.cryptosuite}, issuer {vc.issuer[:20]}…, status {vc.status}"
        vc_ok = vc.issuer == did["did"] and vc.status == "valid"
    except CredentialFailure as exc:
        vc_line, vc_ok = f"failed: {exc.kind}: {exc.reason}", False
    elapsed_ms = (time.perf_counter() - t0) * 1000
    table = Table(
        title=f"{node.name}'s documents checked offline, in this process ({elapsed_ms:.0f} ms, "
        "no RPC)",
        box=box.SIMPLE,
        pad_edge=False,
    )
    table.add_column("document")
    table.add_column("result")
    keys = {"cln": (node_id, "node id"), "nostr": (nostr_key, "Nostr key")}
    for kind, (want, what) in keys.items():
        seen = found.get(kind)
        result = "failed: " + "; ".join(problems) if problems else "missing"
        if seen is not None:
            same = "=" if seen.key == want else "≠"
            result = f"verified: key {seen.key[:12]}… {same} {node.name}'s {what}"
        table.add_row(Text(f"binding {did['did'][:20]}… ↔ {kind} key"), Text(result))
    table.add_row("the cln binding, subject changed to another node", Text(f"refused: {refused}"))
    table.add_row("its reputation credential (+ status list)", Text(vc_line))
    console.print(table)
    return [
        (
            f"{node.name}'s bindings (DID ↔ node key, DID ↔ Nostr key) verified offline by "
            "pure code, no RPC; a forged one refused",
            bindings_ok and refused.startswith("bad_proof"),
        ),
        (
            f"{node.name}'s reputation credential verified offline against its status list",
            vc_ok,
        ),
    ]


def _line(issued: dict[str, Any]) -> str:
    m = issued["metrics"]
    return (
        f"{m['actions_taken']} actions, fees {m['revenue_delta_pct']:+g} %, "
        f"seen {m['uptime_pct']:g} % of days → {issued['credential_score']:g}"
    )


def _print_dids(console: Console, dids: dict[str, dict[str, Any]]) -> None:
    table = Table(title="every node's DID (cl-hive-archon: a did:key from makesecret)")
    for col in ("node", "DID", "↔ node key", "↔ Nostr key"):
        table.add_column(col, no_wrap=True)
    for name, d in dids.items():
        table.add_row(
            name + (f" ({d['member']})" if d["member"] else ""),
            Text(d["did"]),
            ("✓ " + d["node_id"][:8] + "…") if d["cln"] else "✗",
            ("✓ " + d["nostr_key"][:8] + "…") if d["nostr"] else "✗",
        )
    console.print(table)


def _print_reputation(
    console: Console, advisor: str, stages: list[tuple[str, dict[str, Any]]]
) -> None:
    table = Table(
        title=f"the advisor's reputation (hive-reputation {advisor[:12]}… hive:advisor on "
        f"{NEW_NODE})",
        box=box.SIMPLE,
        pad_edge=False,
    )
    for col in ("after", "score", "tier", "confidence", "issuers"):
        table.add_column(col, justify="right" if col in ("score", "issuers") else "left")
    for label, rep in stages:
        table.add_row(
            label, str(rep["score"]), rep["tier"], rep["confidence"], str(rep["issuer_count"])
        )
    console.print(table)
