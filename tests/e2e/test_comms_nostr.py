"""cl-hive-comms over Nostr: a real ``nostr-relay`` on 127.0.0.1 and the plugin as a real
subprocess on the stand-in, its relay given by ``hive-comms-nostr-relays``.

The advisor sends a fee change as a NIP-17 gift-wrapped DM (the CLI's Python API, and
the CLI itself); the channel's fee changes; the signed reply comes back as a DM and
verifies against the node id. The same envelope re-sent in a new wrap is a replay (a
``replay`` reply, nothing runs, no receipt); the very same event re-delivered after a
restart of the plugin is handled once; a DM from a key the operator never authorized, or
an envelope relayed under another key, gets nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import lnhive.plugins
from lnhive.cli.advisor import NostrTransport, check_reply, generate_key, load_key
from lnhive.cli.main import app
from lnhive.sim.testing import NodeFactory, TestNode
from lnhive.transport.envelope import build_envelope
from lnhive.transport.nostr_dm import public_key_hex, sdk, wrap_dm
from tests.transport.nostr_relay import RelayProcess

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "comms.py")
FEES = "hive:fee-policy/v1"


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    r = RelayProcess(tmp_path / "relay").start()
    try:
        yield r
    finally:
        r.stop()


def fee_ppm(node: TestNode, scid: str) -> int:
    (ch,) = node.rpc.listpeerchannels(short_channel_id=scid)["channels"]
    return int(ch["updates"]["local"]["fee_proportional_millionths"])


def receipts_count(node: TestNode) -> int:
    return int(node.rpc.call("hive-client-status")["receipts"]["count"])


def wait_connected(node: TestNode, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = node.rpc.call("hive-client-status")
        if all(r["status"] == "connected" for r in status["nostr"]["relays"]):
            return dict(status)
        time.sleep(0.1)
    raise AssertionError(f"relays not connected: {status['nostr']}")


def wait_counter(node: TestNode, name: str, value: int, timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counters: dict[str, int] = node.rpc.call("hive-client-status")["nostr"]["counters"]
        if counters.get(name, 0) >= value:
            return counters
        time.sleep(0.1)
    raise AssertionError(f"counter {name} below {value}: {counters}")


def publish(event_json: str, url: str) -> None:
    async def run() -> None:
        ns = sdk()
        client = ns.ClientBuilder().build()
        await client.add_relay(ns.RelayUrl.parse(url))
        await client.connect(timedelta(seconds=5))
        out = await client.send_event(ns.Event.from_json(event_json))
        await client.shutdown()
        assert out.success, out

    asyncio.run(run())


def test_fee_change_over_nostr_dm(
    node_factory: NodeFactory, relay: RelayProcess, tmp_path: Path
) -> None:
    a = node_factory.get_node(plugins=[(PLUGIN, {"hive-comms-nostr-relays": relay.url})])
    b = node_factory.get_node()
    node_factory.open_channel(a, b)
    (chan,) = a.rpc.listpeerchannels()["channels"]
    scid = chan["short_channel_id"]
    status = wait_connected(a)
    node_key = status["identity"]["pubkey"]
    assert status["nostr"]["pubkey"] == node_key and status["identity"]["relays"] == [relay.url]
    assert public_key_hex(status["identity"]["npub"]) == node_key
    assert "nostr_dm" in status["transports"]

    key_path = tmp_path / "advisor.key"
    pub = generate_key(key_path)
    secret = load_key(key_path)
    auth = a.rpc.call("hive-client-authorize", {"advisor": pub, "access": "fee_optimization"})
    cred = auth["credential_id"]
    transport = NostrTransport(secret, status["identity"]["npub"], [relay.url], timeout=15)

    # 1. A fee change over a NIP-17 DM: it runs, and the signed reply comes back by DM.
    before = fee_ppm(a, scid)
    env = build_envelope(
        secret,
        recipient=node_key,
        schema_type=FEES,
        action="set_single",
        params={"channel_id": scid, "fee_ppm": before + 2},
        credential_id=cred,
        nonce=1,
        timestamp=int(time.time()),
    )
    reply = transport.send(env)
    assert reply["ok"] is True and reply["transport"] == "nostr_dm", reply
    assert check_reply(reply, a.id) is None
    assert fee_ppm(a, scid) == before + 2
    (last,) = a.rpc.call("hive-client-receipts", {"limit": 1})["receipts"]
    assert (
        last["transport"] == "nostr_dm" and last["receipt_hash"] == reply["receipt"]["receipt_hash"]
    )
    count = receipts_count(a)

    # 2. The same envelope in a fresh gift wrap is a replay: refused, nothing runs, no receipt.
    again = transport.send(env)
    assert again["ok"] is False and again["code"] == "replay", again
    assert fee_ppm(a, scid) == before + 2 and receipts_count(a) == count

    # 3. An unknown key gets no DM back and nothing happens; nor does an envelope relayed
    #    under another key than its signer's.
    stranger = tmp_path / "stranger.key"
    generate_key(stranger)
    s_secret = load_key(stranger)
    s_env = build_envelope(
        s_secret,
        recipient=node_key,
        schema_type=FEES,
        action="set_single",
        params={"channel_id": scid, "fee_ppm": before + 3},
        credential_id=cred,
        nonce=1,
        timestamp=int(time.time()),
    )
    publish(wrap_dm(s_secret, node_key, json.dumps(s_env)), relay.url)
    env2 = build_envelope(
        secret,
        recipient=node_key,
        schema_type=FEES,
        action="set_single",
        params={"channel_id": scid, "fee_ppm": before + 3},
        credential_id=cred,
        nonce=2,
        timestamp=int(time.time()),
    )
    publish(wrap_dm(s_secret, node_key, json.dumps(env2)), relay.url)  # relayed under s's key
    counters = wait_counter(a, "unanswered", 2)
    assert counters["received"] == 4 and counters["replies_sent"] == 2, counters
    assert fee_ppm(a, scid) == before + 2 and receipts_count(a) == count

    # ... and the forwarded copy burnt nothing: the advisor's own DM of env2 runs.
    reply2 = transport.send(env2)
    assert reply2["ok"] is True and fee_ppm(a, scid) == before + 3, reply2

    # The CLI does the same (its nonce: now in ms, remembered beside the key).
    res = CliRunner().invoke(
        app,
        ["advisor", "send", "--nostr", "--relay", relay.url, "--node-npub",
         status["identity"]["npub"], "--key", str(key_path), "--credential", cred,
         "--schema", FEES, "--action", "set_single", "--node-id", a.id, "--timeout", "15",
         "--params", json.dumps({"channel_id": scid, "fee_ppm": before + 1})],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["transport"] == "nostr_dm"
    assert fee_ppm(a, scid) == before + 1 and receipts_count(a) == count + 2
    nostr = a.rpc.call("hive-client-status")["nostr"]
    assert nostr["counters"]["replies_sent"] == 4 and nostr["outbox_pending"] == 0

    # 4. The plugin restarts; the relay re-sends every stored DM; none is handled again.
    handled = nostr["counters"]["received"]
    assert handled == 6
    a.rpc.call("plugin", {"subcommand": "stop", "plugin": PLUGIN})
    a.rpc.call(
        "plugin", {"subcommand": "start", "plugin": PLUGIN, "hive-comms-nostr-relays": relay.url}
    )
    counters = wait_counter(a, "duplicate", handled)
    assert counters.get("received", 0) == 0 and receipts_count(a) == count + 2
    assert fee_ppm(a, scid) == before + 1

    # 5. A kind 4 + NIP-44 DM from the advisor works too (compatibility), by kind 4 back.
    kind4 = NostrTransport(secret, node_key, [relay.url], timeout=15, kind=4)
    env3 = build_envelope(
        secret,
        recipient=node_key,
        schema_type="hive:monitor/v1",
        action="fee_report",
        params={},
        credential_id=cred,
        nonce=int(time.time() * 1000) + 10,
        timestamp=int(time.time()),
    )
    reply3 = kind4.send(env3)
    assert reply3["ok"] is True and check_reply(reply3, a.id) is None, reply3
    # A DM that is not an envelope gets nothing.
    publish(wrap_dm(secret, node_key, "hello"), relay.url)
    counters = wait_counter(a, "unanswered", 1)
    assert counters["received"] == 2 and counters["replies_sent"] == 1, counters
