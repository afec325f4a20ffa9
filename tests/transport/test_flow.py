"""The pieces together, as the comms plugin shell will use them (spec §1 steps 2-5, 15-16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import LnhiveError, PolicyBlocked
from lnhive.manage.receipts import ReceiptDraft
from lnhive.manage.receipts_log import ReceiptLog
from lnhive.manage.receipts_verify import verify_export
from lnhive.transport.admission import admit_envelope
from lnhive.transport.codes import code_for
from lnhive.transport.nonces import NonceRegistry
from lnhive.transport.reply import ok_reply, reply_for_error, reply_problem
from tests.transport.keys import (
    ADVISOR,
    NODE_ID,
    NODE_NOSTR,
    T0,
    comms_store,
    envelope,
    receipt_key,
)


class Node:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = VirtualClock(T0)
        store = comms_store(tmp_path / "lnhive-cl-hive-comms.sqlite3")
        self.nonces = NonceRegistry(store)
        self.key = receipt_key()
        self.log = ReceiptLog(store, self.key, self.clock)

    def handle(self, raw: object, *, policy_allows: bool = True) -> dict[str, object]:
        try:
            env = admit_envelope(
                raw,  # type: ignore[arg-type]
                recipient=NODE_NOSTR,
                now=self.clock.now(),
                nonces=self.nonces,
                sender_allowed=lambda s: s == ADVISOR,
            )
        except LnhiveError as err:  # pre-auth refusals and replays: no receipt
            assert not code_for(err).receipt
            return reply_for_error(err, transport="rest", key=self.key)
        if not policy_allows:
            err = PolicyBlocked("quiet hours", details={"reason": "quiet_hours"})
            receipt = self.log.append(
                ReceiptDraft.for_envelope(
                    env,
                    transport="rest",
                    decision="rejected",
                    error={"code": "policy_blocked", "message": err.message},
                )
            )
            return reply_for_error(err, transport="rest", env=env, receipt=receipt, key=self.key)
        result = {"fee_ppm": env.params["target_fee_ppm"]}
        receipt = self.log.append(
            ReceiptDraft.for_envelope(
                env, transport="rest", decision="executed", outcome="success", result=result
            )
        )
        return ok_reply(env, transport="rest", result=result, receipt=receipt, key=self.key)


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def test_request_receipt_reply(node: Node) -> None:
    env = envelope(nonce=1)
    reply = node.handle(env)
    assert reply["ok"] is True and reply_problem(reply, node_id=NODE_ID) is None
    receipt = node.log.get(1)
    assert receipt is not None
    assert reply["receipt"] == {"seq": 1, "receipt_hash": receipt["receipt_hash"]}
    assert receipt["request_hash"] == reply["in_reply_to"]


def test_every_authenticated_request_gets_a_receipt_replays_do_not(node: Node) -> None:
    node.handle(envelope(nonce=1))
    refused = node.handle(envelope(nonce=2), policy_allows=False)
    assert refused["code"] == "policy_blocked" and refused["reason"] == "quiet_hours"
    assert refused["receipt"] is not None
    replay = node.handle(envelope(nonce=2))
    assert replay["code"] == "replay" and replay["receipt"] is None
    forged = envelope(nonce=3)
    forged["nonce"] = 4
    assert node.handle(forged)["code"] == "unauthorized"
    skewed = node.handle(envelope(nonce=5, timestamp=T0 + 301))
    assert skewed["code"] == "clock_skew" and skewed["max_clock_skew_seconds"] == 300
    assert node.handle({"v": 1})["code"] == "invalid_request"
    assert [r["decision"] for r in node.log.list_receipts()] == ["rejected", "executed"]
    assert verify_export(node.log.export_jsonl(), node_id=NODE_ID, full=True).ok


def test_empty_log_exports_and_verifies(node: Node) -> None:
    text = node.log.export_jsonl()
    assert len(text.splitlines()) == 1
    v = verify_export(text, node_id=NODE_ID)
    assert v.ok and v.checked == 0 and v.to_seq == 0
    assert node.log.verify().ok


def test_admin_events_are_receipts(node: Node) -> None:
    receipt = node.log.append(
        ReceiptDraft(
            actor="operator",
            schema_id="hive:authorize/v1",
            action="revoke",
            decision="executed",
            outcome="success",
            params={"advisor": ADVISOR, "reason": "rotated"},
        )
    )
    assert receipt["transport"] is None and receipt["request_hash"] is None
    assert node.log.verify(full=True).ok
