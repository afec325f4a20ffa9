"""`lnhive sim up / rpc / down` as an operator runs them: real processes, real sockets.

Every `up` runs in its own process group and is killed as a group when the test ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from lnhive.cli.sim import parse_params, pid_alive

LNHIVE = str(Path(sys.executable).parent / "lnhive")
NO_CHANNELS = """
[scenario]
name = "cli-test"
seed = 5

[[node]]
name = "alice"
plugins = [{ path = "lnhive:echo", options = { echo-greeting = "hi from alice" } }]

[[node]]
name = "bob"
rest = true
"""


def lnhive(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LNHIVE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def sim_up(tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`lnhive sim up ARGS --dir DIR` in its own process group; killed as a group after."""
    sim_dir = tmp_path / "sim"
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(
        [LNHIVE, "sim", "up", *args, "--dir", str(sim_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc, sim_dir
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


def wait_ready(proc: subprocess.Popen[bytes], sim_dir: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`sim up` exited with {proc.returncode}:\n{log.read_text()}")
        try:
            data: dict[str, Any] = json.loads((sim_dir / "sim.json").read_text())
        except (OSError, ValueError):
            data = {}
        if data.get("ready"):
            return data
        time.sleep(0.1)
    pytest.fail(f"sim.json never became ready:\n{log.read_text()}")


def test_up_rpc_down(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(NO_CHANNELS)
    with sim_up(tmp_path, str(scenario)) as (proc, sim_dir):
        desc = wait_ready(proc, sim_dir, tmp_path / "up.log")
        assert desc["pid"] == proc.pid
        assert desc["scenario"] == "cli-test"
        alice = desc["nodes"]["alice"]
        assert alice["rpc"] == str(sim_dir / "alice" / "regtest" / "lightning-rpc")
        assert desc["nodes"]["bob"]["rest_port"] > 0
        assert alice["rest_port"] is None

        info = lnhive("sim", "rpc", "--dir", str(sim_dir), "alice", "getinfo")
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["id"] == alice["id"]

        # Positional, key=value with a JSON value, and -k forcing key=value.
        echo = lnhive("sim", "rpc", "--dir", str(sim_dir), "alice", "echo", "hello")
        assert echo.returncode == 0, echo.stderr
        assert json.loads(echo.stdout) == {
            "message": "hello",
            "node_id": alice["id"],
            "greeting": "hi from alice",
        }
        kv = lnhive("sim", "rpc", "--dir", str(sim_dir), "alice", "echo", 'message={"n": 1}')
        assert json.loads(kv.stdout)["message"] == {"n": 1}
        forced = lnhive("sim", "rpc", "--dir", str(sim_dir), "-k", "alice", "echo", "message=7")
        assert json.loads(forced.stdout)["message"] == 7

        # An RPC error: CLN's error object on stderr, exit code 1, nothing on stdout.
        bad = lnhive("sim", "rpc", "--dir", str(sim_dir), "bob", "echo")
        assert bad.returncode == 1 and bad.stdout == ""
        assert json.loads(bad.stderr) == {"code": -32601, "message": "Unknown command 'echo'"}
        unknown = lnhive("sim", "rpc", "--dir", str(sim_dir), "carol", "getinfo")
        assert unknown.returncode == 1 and "no node 'carol'" in unknown.stderr
        assert "alice, bob" in unknown.stderr

        # A second `up` on a live directory refuses and leaves the first alone.
        again = lnhive("sim", "up", str(scenario), "--dir", str(sim_dir))
        assert again.returncode == 1
        assert f"already running in {sim_dir} (pid {proc.pid})" in again.stderr
        assert proc.poll() is None

        down = lnhive("sim", "down", "--dir", str(sim_dir))
        assert down.returncode == 0, down.stderr
        assert f"pid {proc.pid}" in down.stdout
        assert proc.wait(30) == 0
        assert not (sim_dir / "sim.json").exists()
        log = (tmp_path / "up.log").read_text()
        assert "SIGTERM received; stopping 2 nodes" in log
        assert "nodes 2/2 running" in log  # the status line

        # Nothing left: down and rpc say so.
        again_down = lnhive("sim", "down", "--dir", str(sim_dir))
        assert again_down.returncode == 0
        assert "nothing is running" in again_down.stdout
        gone = lnhive("sim", "rpc", "--dir", str(sim_dir), "alice", "getinfo")
        assert gone.returncode == 1 and "no simulation" in gone.stderr


def test_duration_and_sigint_stop_cleanly(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(NO_CHANNELS)
    with sim_up(tmp_path, str(scenario), "--duration", "1") as (proc, sim_dir):
        wait_ready(proc, sim_dir, tmp_path / "up.log")
        assert proc.wait(30) == 0
        assert not (sim_dir / "sim.json").exists()
        assert "--duration 1s reached" in (tmp_path / "up.log").read_text()
    (tmp_path / "up.log").unlink()
    with sim_up(tmp_path, str(scenario)) as (proc, sim_dir):
        wait_ready(proc, sim_dir, tmp_path / "up.log")
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(30) == 0
        assert not (sim_dir / "sim.json").exists()
        assert "SIGINT received" in (tmp_path / "up.log").read_text()


def test_stale_descriptor_is_replaced_and_cleaned(tmp_path: Path) -> None:
    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (sim_dir / "sim.json").write_text(json.dumps({"pid": dead.pid, "nodes": {}}))
    rpc = lnhive("sim", "rpc", "--dir", str(sim_dir), "alice", "getinfo")
    assert rpc.returncode == 1 and "not running (stale sim.json" in rpc.stderr
    down = lnhive("sim", "down", "--dir", str(sim_dir))
    assert down.returncode == 0 and "removed a stale sim.json" in down.stdout
    assert not (sim_dir / "sim.json").exists()


def test_bad_scenario_is_refused(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text('[scenario]\nname = "x"\n[[node]]\nname = "a"\ncolour = "red"\n')
    res = lnhive("sim", "up", str(scenario), "--dir", str(tmp_path / "sim"))
    assert res.returncode == 2
    assert "[[node]] #1 ('a'): colour: unknown key" in res.stderr
    assert not (tmp_path / "sim" / "sim.json").exists()


def test_every_command_has_help() -> None:
    for cmd in (["sim"], ["sim", "up"], ["sim", "rpc"], ["sim", "down"]):
        res = lnhive(*cmd, "--help")
        assert res.returncode == 0, res.stderr
        assert "--help" in res.stdout
    up_help = lnhive("sim", "up", "--help").stdout
    for option in ("--dir", "--traffic", "--no-traffic", "--duration", "demo", "two_nodes"):
        assert option in up_help
    assert "--keywords" in lnhive("sim", "rpc", "--help").stdout
    assert "SIGKILL" in lnhive("sim", "down", "--help").stdout


def test_builtin_two_nodes(tmp_path: Path) -> None:
    with sim_up(tmp_path, "two_nodes", "--no-traffic") as (proc, sim_dir):
        desc = wait_ready(proc, sim_dir, tmp_path / "up.log")
        assert set(desc["nodes"]) == {"alice", "bob"}
        res = lnhive("sim", "rpc", "--dir", str(sim_dir), "alice", "listpeerchannels")
        assert res.returncode == 0, res.stderr
        (chan,) = json.loads(res.stdout)["channels"]
        assert chan["peer_id"] == desc["nodes"]["bob"]["id"]
        assert chan["state"] == "CHANNELD_NORMAL"
        assert chan["total_msat"] == 1_000_000_000
        echo = lnhive("sim", "rpc", "--dir", str(sim_dir), "bob", "echo", "message=ping")
        assert json.loads(echo.stdout)["greeting"] == "hello from bob"
        down = lnhive("sim", "down", "--dir", str(sim_dir))
        assert down.returncode == 0, down.stderr
        assert proc.wait(30) == 0
        assert not (sim_dir / "sim.json").exists()


# ---------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("params", "keyword", "expected"),
    [
        ([], False, []),
        (["hello", "3", "true", "[1,2]"], False, ["hello", 3, True, [1, 2]]),
        (["a=1", "b=x", 'c={"d": null}'], False, {"a": 1, "b": "x", "c": {"d": None}}),
        (["msg=a=b"], False, {"msg": "a=b"}),
        (["x", "a=1"], False, ["x", "a=1"]),
        (["n=1"], True, {"n": 1}),
    ],
)
def test_parse_params(params: list[str], keyword: bool, expected: Any) -> None:
    assert parse_params(params, keyword) == expected


def test_parse_params_refuses_bare_word_in_keyword_mode() -> None:
    with pytest.raises(ValueError, match="expected key=value"):
        parse_params(["a=1", "oops"])


def test_pid_alive_sees_zombies_as_dead() -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # exited but not reaped: a zombie
    assert not pid_alive(child.pid)
    child.wait()
    assert pid_alive(os.getpid())
    assert not pid_alive(None) and not pid_alive(True) and not pid_alive(-1)
