"""``lnhive advisor send --nostr``: argument checks, and a DM nobody answers timing out
against a real relay (the full round trip is tests/e2e/test_comms_nostr.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnhive.cli.advisor import AdvisorError, NostrTransport, generate_key, load_key
from lnhive.cli.main import app
from lnhive.transport.envelope import build_envelope
from lnhive.transport.nostr_dm import npub
from tests.transport.keys import NODE_NOSTR
from tests.transport.nostr_relay import RelayProcess


def _send(key: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        app,
        ["advisor", "send", "--key", str(key), "--credential", "c1",
         "--schema", "hive:monitor/v1", "--action", "fee_report", *extra],
    )  # fmt: skip
    return res.exit_code, res.output


def test_send_needs_one_node_key_and_a_carrier(tmp_path: Path) -> None:
    key = tmp_path / "adv.key"
    generate_key(key)
    code, out = _send(key, "--nostr", "--relay", "ws://127.0.0.1:1")
    assert code == 1 and "--node or --node-npub" in out
    code, out = _send(key, "--nostr", "--node", NODE_NOSTR, "--node-npub", npub(NODE_NOSTR))
    assert code == 1 and "--node or --node-npub" in out
    code, out = _send(key, "--nostr", "--node-npub", npub(NODE_NOSTR))
    assert code == 1 and "at least one --relay" in out
    code, out = _send(key, "--node", NODE_NOSTR)
    assert code == 1 and "--url and --rune" in out
    code, out = _send(key, "--nostr", "--relay", "ws://127.0.0.1:1", "--node-npub", "npub1bad")
    assert code == 1 and "node key" in out
    code, out = _send(key, "--nostr", "--relay", "http://x", "--node", NODE_NOSTR)
    assert code == 1 and "not a ws://" in out


def test_nostr_transport_checks_its_arguments(tmp_path: Path) -> None:
    key = tmp_path / "adv.key"
    generate_key(key)
    secret = load_key(key)
    with pytest.raises(AdvisorError, match="at least one relay"):
        NostrTransport(secret, NODE_NOSTR, [])
    with pytest.raises(AdvisorError, match="kind"):
        NostrTransport(secret, NODE_NOSTR, ["ws://a"], kind=1)
    t = NostrTransport(secret, npub(NODE_NOSTR), ["ws://a"])
    assert t.node == NODE_NOSTR


def test_an_unanswered_dm_times_out(tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "relay").start()
    try:
        key = tmp_path / "adv.key"
        generate_key(key)
        secret = load_key(key)
        env = build_envelope(
            secret,
            recipient=NODE_NOSTR,
            schema_type="hive:monitor/v1",
            action="fee_report",
            params={},
            credential_id="c1",
            nonce=1,
            timestamp=int(time.time()),
        )
        t0 = time.monotonic()
        with pytest.raises(AdvisorError, match="no reply over Nostr within 1 s"):
            NostrTransport(secret, NODE_NOSTR, [relay.url], timeout=1).send(env)
        assert time.monotonic() - t0 < 10
        # The DM was published: the relay stored exactly one event.
        assert (tmp_path / "relay" / "relay.log").read_text().count(" added ") == 1
    finally:
        relay.stop()
