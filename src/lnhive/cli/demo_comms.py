"""The demo's comms scene: an advisor manages a node over Nostr, within limits.

A local ``nostr-relay`` is started on 127.0.0.1, and cl-hive-comms (the real plugin,
started with ``plugin start`` as an operator would) is loaded on one node with that
relay and the ``conservative`` policy preset (D <= 4 runs, D 5-6 waits for the
operator). The advisor is a separate process — the ``lnhive advisor`` CLI — with its
own key file: the operator authorizes its key for fee management with a 50 % limit per
change, then the advisor

1. changes one channel's fee by a NIP-17 DM: it runs, and the fee really changes;
2. asks for an over-limit change: policy refuses it (with a receipt), nothing changes;
3. asks for a bulk fee change (D 5): it is held in the confirmation queue, changes
   nothing until the operator lists and approves it, and then runs.

Finally the operator exports the receipt chain and the advisor verifies it offline
against the node id alone (``lnhive advisor verify``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyln.client import LightningRpc, RpcError
from rich import box
from rich.console import Console
from rich.table import Table

import lnhive.plugins
from lnhive.cli.relay import RelayProcess
from lnhive.manage.policy_presets import PRESETS
from lnhive.sim.testing import wait_for

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "comms.py")
LNHIVE = str(Path(sys.executable).parent / "lnhive")
"""The advisor's CLI: the ``lnhive`` console script of the same environment."""
PRESET = "conservative"
MAX_FEE_CHANGE_PCT = 50
FEES = "hive:fee-policy/v1"
REPLY_TIMEOUT_S = 20

Check = tuple[str, bool]


class Advisor:
    """The advisor's side: ``lnhive advisor …`` subprocesses sharing one key file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.key = workdir / "advisor.key"
        self.pubkey = ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LNHIVE, "advisor", *args],
            capture_output=True,
            text=True,
            timeout=REPLY_TIMEOUT_S + 30,
            check=False,
        )

    def keygen(self) -> str:
        made = self.cli("keygen", "--out", str(self.key))
        shown = self.cli("pubkey", "--key", str(self.key))
        if made.returncode or shown.returncode or made.stdout.strip() != shown.stdout.strip():
            raise RuntimeError(f"advisor keygen failed: {made.stderr}{shown.stderr}".strip())
        self.pubkey = shown.stdout.strip()
        return self.pubkey

    def send(
        self,
        relay: str,
        node_key: str,
        node_id: str,
        credential: str,
        action: str,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """The node's reply (``{"ok": false, "code": "advisor_error", …}`` when none came)."""
        res = self.cli(
            "send", "--nostr", "--relay", relay, "--node", node_key, "--node-id", node_id,
            "--key", str(self.key), "--credential", credential, "--schema", FEES,
            "--action", action, "--params", json.dumps(params),
            "--timeout", str(REPLY_TIMEOUT_S),
        )  # fmt: skip
        try:
            reply = json.loads(res.stdout)
        except ValueError:
            return {"ok": False, "code": "advisor_error", "error": res.stderr.strip()}
        return reply if isinstance(reply, dict) else {"ok": False, "code": "advisor_error"}

    def verify(self, export: Path, node_id: str, receipt: str) -> dict[str, Any]:
        res = self.cli("verify", str(export), "--node-id", node_id, "--full", "--receipt", receipt)
        try:
            out = json.loads(res.stdout)
        except ValueError:
            return {"ok": False, "error": res.stderr.strip()}
        if not isinstance(out, dict):
            return {"ok": False}
        out["exit_code"] = res.returncode
        return out


def run_scene(
    console: Console, rpcs: dict[str, LightningRpc], node: str, workdir: Path
) -> list[Check]:
    """Run the scene on ``node`` (a node with at least two channels) with its files in
    ``workdir``; return the checks."""
    names = {str(rpc.getinfo()["id"]): name for name, rpc in rpcs.items()}
    workdir.mkdir(parents=True, exist_ok=True)
    advisor = Advisor(workdir)
    relay = RelayProcess(workdir / "relay")
    checks: list[Check] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        key = pool.submit(advisor.keygen)  # the advisor makes its key meanwhile
        try:
            with console.status("comms: starting a local Nostr relay…"):
                relay.start()
        except (RuntimeError, OSError) as exc:
            return [(f"a local Nostr relay for the comms scene started ({exc})", False)]
        try:
            _scene(checks, console, rpcs[node], node, names, relay.url, advisor, key)
        except (RpcError, RuntimeError, OSError, subprocess.SubprocessError, KeyError) as exc:
            checks.append((f"the comms scene ran to its end (stopped: {exc!r})", False))
        finally:
            relay.stop()
    return checks


def _scene(
    checks: list[Check],
    console: Console,
    rpc: LightningRpc,
    node: str,
    names: dict[str, str],
    relay: str,
    advisor: Advisor,
    key: Future[str],
) -> None:
    peers = peer_names(rpc, names)
    with console.status(f"comms: starting cl-hive-comms on {node} with the relay…"):
        rpc.call(
            "plugin",
            {
                "subcommand": "start",
                "plugin": PLUGIN,
                "hive-comms-nostr-relays": relay,
                "hive-comms-policy-preset": PRESET,
            },
        )
        connected = _waited(lambda: _relays_connected(rpc))
        status = rpc.call("hive-client-status")
        node_key, node_id = status["identity"]["pubkey"], status["identity"]["node_id"]
    checks.append((f"cl-hive-comms on {node} is connected to the Nostr relay", connected))
    if not connected:
        return

    with console.status("comms: the advisor makes a key; the operator authorizes it…"):
        key.result()
        auth = rpc.call(
            "hive-client-authorize",
            {
                "advisor": advisor.pubkey,
                "access": "fee_optimization",
                "valid_days": 1,
                "constraints": json.dumps({"max_fee_change_pct": MAX_FEE_CHANGE_PCT}),
                "note": "lnhive demo",
            },
        )
    cred = str(auth["credential_id"])
    preset = PRESETS[PRESET]
    console.print(
        f"[bold]comms[/bold]: cl-hive-comms on {node}, Nostr key {node_key[:12]}…, relay "
        f"{relay}\n  policy: the {PRESET} preset — fee changes ≤ "
        f"{preset.max_fee_change_24h_pct} % per channel and day; danger ≤ {preset.auto_max} "
        f"runs, {preset.auto_max + 1}-{preset.reject_above} waits for the operator\n  "
        f"advisor {advisor.pubkey[:12]}… (a separate process, lnhive advisor) authorized "
        f"for fee_optimization, fee changes ≤ {MAX_FEE_CHANGE_PCT} % each"
    )

    def send(action: str, params: dict[str, Any]) -> dict[str, Any]:
        return advisor.send(relay, node_key, node_id, cred, action, params)

    scids = list(peers)
    first, second = scids[0], scids[1]
    rows: list[tuple[str, str, str]] = []

    # 1. A fee change within the limits runs.
    with console.status("comms: the advisor changes a fee over Nostr…"):
        before = fees(rpc)
        target = before[first] + max(1, before[first] // 10)
        reply = send("set_single", {"channel_id": first, "fee_ppm": target})
        after = fees(rpc)
    rows.append(
        (
            f"advisor: set_single {peers[first]} → {target}",
            _outcome(reply),
            _fee_line(after, peers),
        )
    )
    changed = reply.get("ok") is True and reply.get("transport") == "nostr_dm"
    checks.append(
        (
            f"the advisor changed {node}→{peers[first]}'s fee over Nostr "
            f"({before[first]} → {after[first]} ppm)",
            changed and after[first] == target,
        )
    )

    # 2. An over-limit change is refused by policy and changes nothing: within the
    #    credential's limit, but over the preset's limit per channel and day.
    with console.status("comms: the advisor asks for an over-limit change…"):
        before = after
        target = before[second] + max(2, before[second] * 2 // 5)
        reply = send("set_single", {"channel_id": second, "fee_ppm": target})
        after = fees(rpc)
    rows.append(
        (
            f"advisor: set_single {peers[second]} → {target}",
            _outcome(reply),
            _fee_line(after, peers),
        )
    )
    refused = (
        reply.get("ok") is False
        and reply.get("code") == "policy_blocked"
        and reply.get("status") == 1
        and reply.get("receipt") is not None
    )
    checks.append(
        (
            f"an over-limit fee change ({before[second]} → {target} ppm) was refused by "
            "policy (policy_blocked, with a receipt) and changed nothing",
            refused and after == before,
        )
    )

    # 3. A bulk change (D 5 under the conservative preset) waits for the operator: the
    #    other channels' fees brought in line with the first's.
    with console.status("comms: the advisor asks for a bulk change; it waits in the queue…"):
        before = after
        bulk, others = before[first], [s for s in scids if s != first]
        reply = send("set_bulk", {"channels": others, "policy": {"fee_ppm": bulk}})
        held = fees(rpc)
        pending = rpc.call("hive-client-pending")["pending"]
    rows.append(
        (
            f"advisor: set_bulk {', '.join(peers[s] for s in others)} → {bulk}",
            _outcome(reply),
            _fee_line(held, peers),
        )
    )
    action_id = reply.get("action_id")
    item = next((p for p in pending if p["action_id"] == action_id), None)
    queued = (
        reply.get("code") == "confirmation_required"
        and reply.get("kind") == "queue"
        and item is not None
        and held == before
    )
    if item is not None:
        rows.append(
            (
                "operator: hive-client-pending",
                f"{len(pending)} {item['status']}: {item['action']}, D {item['danger']}",
                _fee_line(held, peers),
            )
        )
    with console.status("comms: the operator approves the held action…"):
        done: dict[str, Any] = {"ok": False, "code": "not_queued"}
        if item is not None:
            done = rpc.call("hive-client-approve", {"action_id": action_id})
        after = fees(rpc)
    rows.append(
        (
            "operator: hive-client-approve",
            ("executed" if done.get("executed") and done.get("ok") else str(done.get("code")))
            + _receipt(done),
            _fee_line(after, peers),
        )
    )
    approved = bool(done.get("ok") and done.get("executed")) and all(
        after[s] == bulk for s in others
    )
    danger = item["danger"] if item is not None else "?"
    checks.append(
        (
            f"a high-danger bulk fee change (D {danger}) waited in the confirmation queue "
            "until the operator approved it, then ran",
            queued and approved,
        )
    )

    # 4. The receipt chain, exported by the operator, verifies offline.
    with console.status("comms: exporting and verifying the receipt chain…"):
        export = rpc.call("hive-client-receipts-export")
        path = advisor.workdir / "receipts.jsonl"
        path.write_text(export["jsonl"])
        last = str((done.get("receipt") or {}).get("receipt_hash", ""))
        verified = advisor.verify(path, node_id, last)
    rows.append(("operator: hive-client-receipts-export", f"{export['lines']} lines", ""))
    rows.append(
        (
            f"advisor: verify --full --receipt #{(done.get('receipt') or {}).get('seq', '?')}",
            f"ok: {verified.get('checked', '?')} receipts, every signature checked"
            if verified.get("ok") is True
            else f"failed: {verified.get('reason') or verified.get('error') or verified}",
            "",
        )
    )
    _print_rows(console, node, peers, rows)
    checks.append(
        (
            f"the receipt chain ({verified.get('checked', '?')} receipts) verifies offline "
            "against the node id (lnhive advisor verify)",
            verified.get("ok") is True
            and verified.get("exit_code") == 0
            and verified.get("contains_receipt") is True,
        )
    )


def peer_names(rpc: LightningRpc, names: dict[str, str]) -> dict[str, str]:
    """The node's channels (scid → the peer's name), by name."""
    chans = {
        str(c["short_channel_id"]): names.get(c["peer_id"]) or str(c["peer_id"])[:12]
        for c in rpc.listpeerchannels()["channels"]
        if c.get("short_channel_id") and c["state"] == "CHANNELD_NORMAL"
    }
    return dict(sorted(chans.items(), key=lambda kv: kv[1]))


def fees(rpc: LightningRpc) -> dict[str, int]:
    """The node's live channels' fee rates (scid → ppm)."""
    return {
        str(c["short_channel_id"]): int(c["updates"]["local"]["fee_proportional_millionths"])
        for c in rpc.listpeerchannels()["channels"]
        if c.get("short_channel_id") and c["state"] == "CHANNELD_NORMAL"
    }


def _relays_connected(rpc: LightningRpc) -> bool:
    relays = rpc.call("hive-client-status")["nostr"]["relays"]
    return bool(relays) and all(r["status"] == "connected" for r in relays)


def _outcome(reply: dict[str, Any]) -> str:
    if reply.get("ok") is True:
        return "ok" + _receipt(reply)
    code = str(reply.get("code"))
    if code == "confirmation_required":
        return (
            f"held{_receipt(reply)}: {reply.get('kind')}, action {str(reply.get('action_id'))[:8]}…"
        )
    reason = reply.get("reason") or reply.get("error") or ""
    return f"{code}{_receipt(reply)}: {reason}" if reason else code + _receipt(reply)


def _receipt(reply: dict[str, Any]) -> str:
    r = reply.get("receipt")
    return f" (receipt #{r['seq']})" if isinstance(r, dict) else ""


def _fee_line(fees: dict[str, int], peers: dict[str, str]) -> str:
    return " ".join(str(fees.get(scid, "?")) for scid in peers)


def _print_rows(
    console: Console,
    node: str,
    peers: dict[str, str],
    rows: list[tuple[str, str, str]],
) -> None:
    table = Table(
        title=f"an advisor manages {node} over Nostr (fees in ppm)", box=box.SIMPLE, pad_edge=False
    )
    table.add_column("request", min_width=27, ratio=1)
    table.add_column("reply", min_width=18, ratio=1)
    fees = " ".join(peers.values())
    table.add_column(fees, no_wrap=True, min_width=len(fees))
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _waited(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    try:
        wait_for(predicate, timeout=timeout, interval=0.2)
    except TimeoutError:
        return False
    return True
