"""`lnhive demo` end to end: the README's first command must keep working."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

LNHIVE = str(Path(sys.executable).parent / "lnhive")


def test_demo_runs_and_every_check_passes(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [LNHIVE, "demo", "--payments", "60", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    try:
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert "all checks passed" in out
    assert "60/60 payments routed" in out
    assert "custom messages echoed back" in out
    # the fleet scene: five cl-hive nodes agree, and one of two rival intents opened
    assert "fleet of 5 formed" in out
    assert "every member sees the same roster and state records" in out
    assert "(lower pubkey) opened it" in out
    assert "tie_breaker_loss" in out
    # the comms scene: an advisor process manages frank over a local Nostr relay
    assert "cl-hive-comms on frank is connected to the Nostr relay" in out
    assert "the advisor changed frank→bob's fee over Nostr (10 → 11 ppm)" in out
    assert "refused by policy (policy_blocked, with a receipt) and changed nothing" in out
    assert "waited in the confirmation queue until the operator approved it, then ran" in out
    assert "verifies offline against the node id (lnhive advisor verify)" in out
    # the identity scene: every node's DID, heidi's bindings checked offline, and the
    # advisor's reputation rising with a second issuer
    assert "cl-hive-archon on 7 nodes: each has a did:key bound to its node key" in out
    assert len(set(re.findall(r"did:key:z6Mk\w{40,}", out))) == 7
    assert re.search(r"│ alice \(hive \w+\) +│ did:key:z6Mk", out)
    assert "verified offline by pure code, no RPC; a forged one refused" in out
    rose = re.search(r"reputation rose from (\d+) \((\w+)\) to (\d+) \((\w+)\)", out)
    assert rose is not None and int(rose[3]) > int(rose[1]), out
    assert "✗" not in out
    # Every node's log was kept in --dir and shows the plugin came up; the identity
    # scene's new node ivan has a log too.
    logs = {p.parent.name: p for p in (tmp_path / "demo").glob("*/log")}
    scenario = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    assert sorted(logs) == [*scenario, "ivan"]
    assert all("echo plugin ready" in logs[n].read_text() for n in scenario)
    assert "cl-hive-archon started" in logs["ivan"].read_text()
