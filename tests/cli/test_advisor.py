"""The advisor client's offline parts: keys, nonces, reply checks, chain verification."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnhive.cli.advisor import (
    AdvisorError,
    check_reply,
    generate_key,
    load_key,
    next_nonce,
    pubkey_of,
    verify_chain,
)
from lnhive.cli.main import app
from lnhive.core.clock import VirtualClock
from lnhive.manage.receipts import ReceiptDraft
from lnhive.manage.receipts_log import ReceiptLog
from lnhive.transport.reply import error_reply
from tests.transport.keys import NODE_ID, OTHER_NODE_ID, T0, comms_store, receipt_key


def test_keygen_writes_a_0600_key_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "adv.key"
    pub = generate_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert pubkey_of(load_key(path)) == pub and len(pub) == 64
    with pytest.raises(AdvisorError, match="exists"):
        generate_key(path)
    assert generate_key(path, force=True) != pub
    res = CliRunner().invoke(app, ["advisor", "pubkey", "--key", str(path)])
    assert res.exit_code == 0 and res.output.strip() == pubkey_of(load_key(path))
    (tmp_path / "bad.key").write_text("zz\n")
    res = CliRunner().invoke(app, ["advisor", "pubkey", "--key", str(tmp_path / "bad.key")])
    assert res.exit_code == 1 and "64-hex" in res.output


def test_nonces_only_go_up(tmp_path: Path) -> None:
    key = tmp_path / "k"
    assert next_nonce(key, now_ms=1000) == 1000
    assert next_nonce(key, now_ms=5) == 1001  # a clock going back never repeats a nonce
    assert next_nonce(key, now_ms=2000) == 2000


def test_reply_signature_is_checked_against_the_node(tmp_path: Path) -> None:
    key = receipt_key()
    reply = error_reply("replay", "replay rejected", transport="rest", key=key)
    assert check_reply(reply, NODE_ID) is None
    assert check_reply(reply, OTHER_NODE_ID) is not None
    assert check_reply(dict(reply, error="edited"), NODE_ID) == "bad reply signature"
    assert check_reply({"ok": False}, None) == "the reply is not signed"


def test_verify_finds_the_receipt_and_catches_an_edit(tmp_path: Path) -> None:
    log = ReceiptLog(comms_store(tmp_path / "c.sqlite3"), receipt_key(), VirtualClock(T0))
    r = log.append(ReceiptDraft(actor="operator", schema_id="s", action="a", decision="executed"))
    text = log.export_jsonl()
    out = verify_chain(text, node_id=NODE_ID, receipt_hash=r["receipt_hash"])
    assert out["ok"] and out["contains_receipt"] and out["to_seq"] == 1
    assert not verify_chain(text, node_id=NODE_ID, receipt_hash="00" * 32)["ok"]
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"jsonl": text, "lines": 2}))  # the whole RPC answer
    ok = CliRunner().invoke(app, ["advisor", "verify", str(path), "--node-id", NODE_ID])
    assert ok.exit_code == 0, ok.output
    path.write_text(text.replace('"decision":"executed"', '"decision":"rejected"'))
    bad = CliRunner().invoke(app, ["advisor", "verify", str(path), "--node-id", NODE_ID])
    assert bad.exit_code == 1 and '"first_bad_seq": 1' in bad.output
    assert CliRunner().invoke(app, ["advisor", "verify", str(path)]).exit_code == 1
