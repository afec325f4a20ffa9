"""One transaction per request: what a crash at each point leaves behind (ARCHITECTURE
decision 10: commit before acknowledging; a reply never precedes its receipt)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.cli.advisor import check_reply
from lnhive.core import bip340
from lnhive.manage.pipeline import Pipeline
from lnhive.transport.envelope import build_envelope
from tests.manage.test_pipeline import ADVISOR, ADVISOR_SECRET, Node
from tests.sim.network.conftest import make_line


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(make_line(), tmp_path / "lnhive-cl-hive-comms.sqlite3")
    n.cred = n.admin.authorize(ADVISOR, "fee_optimization")["credential_id"]
    yield n
    n.p.close()


def _committed(n: Node, sql: str) -> list[tuple[Any, ...]]:
    """Rows as another connection sees them: only what is committed."""
    conn = sqlite3.connect(n.db)
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def _envelope(n: Node, schema: str, action: str, params: dict[str, Any], nonce: int) -> str:
    env = build_envelope(
        ADVISOR_SECRET,
        recipient=n.p.nostr_pubkey,
        schema_type=schema,
        action=action,
        params=params,
        credential_id=n.cred,
        nonce=nonce,
        timestamp=int(n.line.clock.now()),
    )
    return json.dumps(env)


SENDER = "nostr:" + bip340.xonly_pubkey(ADVISOR_SECRET).hex()
NONCE_SQL = "SELECT last_nonce FROM comms_replay_nonces"
RECEIPTS_SQL = "SELECT COUNT(*) FROM management_receipts"
LOG_SQL = "SELECT COUNT(*) FROM comms_action_log"


def test_a_read_commits_nonce_log_and_receipt_together(node: Node) -> None:
    text = _envelope(node, "hive:monitor/v1", "fee_report", {}, 1)
    receipts = _committed(node, RECEIPTS_SQL)[0][0]
    reply = node.p.handle(text, sender=SENDER)
    assert reply["ok"] is True
    # when the reply is returned, everything is committed (seen from another connection)
    assert _committed(node, NONCE_SQL) == [(1,)]
    assert _committed(node, RECEIPTS_SQL)[0][0] == receipts + 1
    assert _committed(node, LOG_SQL)[0][0] == 1
    assert node.p.handle(text, sender=SENDER)["code"] == "replay"


def test_a_crash_before_the_receipt_of_a_read_leaves_nothing(node: Node, monkeypatch: Any) -> None:
    """Nothing was answered and nothing is kept: the request may simply be sent again."""
    text = _envelope(node, "hive:monitor/v1", "fee_report", {}, 1)
    receipts = _committed(node, RECEIPTS_SQL)[0][0]

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("killed")

    monkeypatch.setattr(node.p.receipts, "append", crash)
    with pytest.raises(SystemExit):
        node.p.handle(text, sender=SENDER)
    monkeypatch.undo()
    assert _committed(node, NONCE_SQL) == []
    assert _committed(node, RECEIPTS_SQL)[0][0] == receipts
    assert _committed(node, LOG_SQL)[0][0] == 0
    node.p.close()
    node.p = Pipeline(node.api, str(node.db), node.line.clock)
    assert node.p.reconcile() == []
    reply = node.p.handle(text, sender=SENDER)
    assert reply["ok"] is True and node.p.receipts.verify(full=True).ok


def test_a_write_commits_nonce_and_marker_before_the_node_call(
    node: Node, monkeypatch: Any
) -> None:
    """A crash during a state-changing call leaves the nonce consumed (no replay) and the
    in-flight marker (an ``unknown`` receipt at restart), never a lost request."""
    scid = node.line.chans["bc"].scid
    text = _envelope(
        node, "hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 9}, 1
    )
    seen: dict[str, Any] = {}

    def crash(*args: Any, **kwargs: Any) -> Any:
        seen["nonce"] = _committed(node, NONCE_SQL)
        seen["inflight"] = _committed(node, "SELECT COUNT(*) FROM comms_inflight")
        seen["log"] = _committed(node, LOG_SQL)
        raise SystemExit("killed")

    monkeypatch.setattr(node.p.executor, "execute", crash)
    with pytest.raises(SystemExit):
        node.p.handle(text, sender=SENDER)
    monkeypatch.undo()
    assert seen == {"nonce": [(1,)], "inflight": [(1,)], "log": [(1,)]}
    node.p.close()
    node.p = Pipeline(node.api, str(node.db), node.line.clock)
    (receipt,) = node.p.reconcile()
    assert receipt["outcome"] == "unknown" and receipt["action"] == "set_single"
    assert node.p.handle(text, sender=SENDER)["code"] == "replay"
    assert node.p.receipts.verify(full=True).ok


def test_a_write_still_answers_after_the_node_call(node: Node) -> None:
    scid = node.line.chans["bc"].scid
    text = _envelope(
        node, "hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 9}, 1
    )
    reply = node.p.handle(text, sender=SENDER)
    assert reply["ok"] is True and node.fee(scid) == 9
    assert _committed(node, "SELECT COUNT(*) FROM comms_inflight") == [(0,)]
    assert _committed(node, NONCE_SQL) == [(1,)]
    assert not node.p.store.connection().in_transaction


def test_refusals_before_authentication_are_signed_each_time(node: Node) -> None:
    """The cached signed refusal is a valid signed reply, and a fresh copy each time."""
    text = _envelope(node, "hive:monitor/v1", "fee_report", {}, 1)
    forged = json.loads(text)
    forged["signature"] = "bip340:" + "00" * 64
    first = node.p.handle(json.dumps(forged), sender=SENDER)
    second = node.p.handle(json.dumps(forged), sender=SENDER)
    assert first["code"] == second["code"] == "unauthorized"
    assert check_reply(first, node.p.node_id) is None
    assert check_reply(second, node.p.node_id) is None
    first["attestation"]["node_id"] = "tampered"
    assert check_reply(node.p.handle(json.dumps(forged), sender=SENDER), node.p.node_id) is None
    assert _committed(node, NONCE_SQL) == []
