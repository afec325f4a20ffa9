"""The demo's identity scene on its own, on stand-in nodes checked against CLN's schemas.

Three nodes (the hub with REST and two peers) run the scene directly: archon on all,
a new node ivan, an advisor managing ivan and the hub over REST. Every check passes, every
node's DID is printed, the hub's binding verifies offline, and the advisor's score rises.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from lnhive.cli import demo_identity
from lnhive.sim.testing import NodeFactory


def test_identity_scene(node_factory: NodeFactory, tmp_path: Path) -> None:
    hub = node_factory.get_node("heidi", rest=True)
    alice, bob = node_factory.get_node("alice"), node_factory.get_node("bob")
    node_factory.open_channel(hub, alice, push_msat=500_000_000)
    node_factory.open_channel(hub, bob, push_msat=500_000_000)
    rpcs = {n.name: n.rpc for n in (alice, bob, hub)}
    out = io.StringIO()
    console = Console(file=out, width=140)

    checks = demo_identity.run_scene(
        console, node_factory.thread, rpcs, ["alice", "bob"], "heidi", tmp_path / "identity"
    )
    text = out.getvalue()

    failed = [name for name, ok in checks if not ok]
    assert not failed, text
    assert len(checks) == 6
    dids = re.findall(r"^│ (\w+)\s+│ (did:key:z6Mk\w+)", text, re.MULTILINE)
    assert [name for name, _ in dids] == ["alice", "bob", "heidi", "ivan"]
    assert len({did for _, did in dids}) == 4
    assert "verified: key" in text and "= heidi's node id" in text
    assert "refused: bad_proof" in text
    rows = re.findall(
        r"(\d+)\s+(newcomer|recognized|trusted|senior)\s+(\w+)\s+(\d)\s*$", text, re.M
    )
    scores = [int(score) for score, *_ in rows]
    assert scores == [50, 60, 80], text
    assert [issuers for *_, issuers in rows] == ["0", "1", "2"]
    assert node_factory.thread.runtime.nodes["ivan"].rest_port is not None
