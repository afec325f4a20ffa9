"""The whole management flow (spec §1) over the in-process model: admission, gate,
queue, executor, receipts, replies, operator methods, crash reconciliation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.cli.advisor import check_reply, verify_chain
from lnhive.core import bip340
from lnhive.core.errors import Conflict, InvalidInput, LnhiveError
from lnhive.manage.comms_admin import CommsAdmin
from lnhive.manage.pipeline import CommsOptions, Pipeline
from lnhive.manage.receipts import ReceiptDraft
from lnhive.transport.envelope import build_envelope
from tests.sim.network.conftest import Line, make_line

ADVISOR_SECRET = bytes([5]) * 32
ADVISOR = bip340.xonly_pubkey(ADVISOR_SECRET).hex()


class Node:
    def __init__(self, line: Line, db: Path, options: CommsOptions | None = None) -> None:
        self.line = line
        self.api = line.api("b")
        self.db = db
        self.p = Pipeline(self.api, str(db), line.clock, options=options, version="test")
        self.admin = CommsAdmin(self.p)
        self.nonce = 0
        self.cred = ""

    def send(
        self,
        schema: str,
        action: str,
        params: dict[str, Any],
        *,
        nonce: int | None = None,
        confirm: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        env = build_envelope(
            ADVISOR_SECRET,
            recipient=self.p.nostr_pubkey,
            schema_type=schema,
            action=action,
            params=params,
            credential_id=self.cred,
            nonce=nonce,
            timestamp=int(self.line.clock.now()),
            confirm_action_id=confirm,
        )
        kwargs.setdefault("sender", env["sender"])
        return self.p.handle(json.dumps(env), **kwargs)

    def fee(self, scid: str | None) -> int:
        (ch,) = self.api.listpeerchannels(short_channel_id=scid)["channels"]
        return int(ch["updates"]["local"]["fee_proportional_millionths"])


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(make_line(), tmp_path / "lnhive-cl-hive-comms.sqlite3")
    n.cred = n.admin.authorize(ADVISOR, "fee_optimization")["credential_id"]
    yield n
    n.p.close()


def decisions(n: Node) -> list[str]:
    return [r["decision"] for r in reversed(n.p.receipts.list_receipts(limit=500))]


def test_fee_change_executes_with_a_signed_reply_and_receipt(node: Node) -> None:
    scid = node.line.chans["bc"].scid
    reply = node.send("hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 12})
    assert reply["ok"] is True and reply["result"]["fee_ppm"] == 12
    assert node.fee(scid) == 12
    assert check_reply(reply, node.p.node_id) is None
    receipt = node.p.receipts.get(reply["receipt"]["seq"])
    assert receipt is not None
    assert receipt["outcome"] == "success" and receipt["request_hash"] == reply["in_reply_to"]
    assert receipt["state_hash_before"] != receipt["state_hash_after"] == reply["state_hash"]
    export = node.admin.export(ADVISOR)["jsonl"]
    out = verify_chain(
        export, node_id=node.p.node_id, full=True, receipt_hash=reply["receipt"]["receipt_hash"]
    )
    assert out["ok"] and out["contains_receipt"]


def test_policy_refusal_gets_a_receipt_and_changes_nothing(node: Node) -> None:
    scid = node.line.chans["bc"].scid
    node.admin.policy("set-overrides", overrides_json=json.dumps({"protected_channels": [scid]}))
    before = node.fee(scid)
    reply = node.send("hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 13})
    assert reply["ok"] is False and reply["code"] == "policy_blocked"
    assert reply["receipt"] is not None and node.fee(scid) == before
    assert decisions(node)[-1] == "rejected"


def test_held_action_is_approved_then_executed(node: Node) -> None:
    node.admin.policy("set-preset", preset="conservative")
    bc = node.line.chans["bc"].scid
    reply = node.send(
        "hive:fee-policy/v1", "set_bulk", {"channels": [bc], "policy": {"fee_ppm": 11}}
    )
    assert reply["code"] == "confirmation_required" and reply["kind"] == "queue"
    assert node.fee(bc) != 11
    (item,) = node.admin.pending()["pending"]
    assert item["action_id"] == reply["action_id"]
    done = node.admin.approve(reply["action_id"])
    assert done["ok"] and done["executed"] and node.fee(bc) == 11
    assert decisions(node)[-2:] == ["held", "approved"]
    with pytest.raises(Conflict):
        node.admin.approve(reply["action_id"])


def test_rejected_and_expired_holds_never_run(node: Node) -> None:
    node.admin.policy("set-preset", preset="conservative")
    bc = node.line.chans["bc"].scid
    params = {"channels": [bc], "policy": {"fee_ppm": 11}}
    first = node.send("hive:fee-policy/v1", "set_bulk", params)
    node.admin.approve(first["action_id"], reject=True, reason="no")
    second = node.send("hive:fee-policy/v1", "set_bulk", params)
    node.line.clock.advance(25 * 3600)
    assert node.admin.pending()["pending"] == []
    assert node.fee(bc) != 11
    assert decisions(node)[-4:] == ["held", "rejected", "held", "expired"]
    assert second["action_id"] != first["action_id"]


def test_replay_gets_no_receipt_and_revocation_locks_out(node: Node) -> None:
    scid = node.line.chans["bc"].scid
    node.send("hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 11}, nonce=5)
    count = node.p.receipts.count()
    again = node.send(
        "hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 12}, nonce=5
    )
    assert again["code"] == "replay" and again["receipt"] is None
    assert node.p.receipts.count() == count and node.fee(scid) == 11
    node.admin.revoke(ADVISOR, "done")
    after = node.send(
        "hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 12}, nonce=6
    )
    assert after["code"] == "unauthorized" and after["receipt"] is None
    assert decisions(node)[-1] == "executed"  # the revoke is an operator receipt
    assert node.p.receipts.list_receipts(limit=1)[0]["action"] == "revoke"


def test_bad_input_and_rune_and_transport_checks(node: Node, tmp_path: Path) -> None:
    assert node.p.handle("{", sender="x")["code"] == "invalid_request"
    assert node.p.handle({"v": 1}, sender="x")["code"] == "invalid_request"
    wrong = node.send("hive:monitor/v1", "channel_list", {}, sender="nostr:" + "ab" * 32)
    assert wrong["code"] == "invalid_request" and "sender" in wrong["error"]
    assert node.send("hive:monitor/v1", "channel_list", {}, transport="smoke")["code"] == (
        "invalid_request"
    )
    bad = node.send("hive:fee-policy/v1", "set_single", {"channel_id": "1x1x1", "fee_pp": 1})
    assert bad["code"] == "invalid_params" and bad["receipt"] is not None
    strict = Node(
        node.line,
        tmp_path / "strict.sqlite3",
        CommsOptions(rune_required=True, rune_static="secret-rune"),
    )
    strict.cred = "cred-x"
    assert strict.send("hive:monitor/v1", "channel_list", {})["error"] == "missing rune"
    assert strict.send("hive:monitor/v1", "channel_list", {}, rune="nope")["code"] == "rune_invalid"
    # the right rune passes the ingress; this node has no advisors, so authentication fails
    assert strict.send("hive:monitor/v1", "channel_list", {}, rune="secret-rune")["code"] == (
        "unauthorized"
    )
    strict.p.close()


def test_monitor_and_local_actions(node: Node) -> None:
    report = node.send("hive:monitor/v1", "fee_report", {})
    assert report["ok"] and len(report["result"]["channels"]) == 2
    caps = node.send("hive:monitor/v1", "capabilities", {})
    assert caps["ok"] and "hive:fee-policy/v1" in caps["result"]["supported_schemas"]
    status = node.send("hive:monitor/v1", "comms_status", {})
    assert status["result"]["receipt_key"] == node.p.key.pubkey
    unsupported = node.send("hive:monitor/v1", "log_stream", {})
    assert unsupported["code"] == "unsupported" and unsupported["status"] == 2


def test_a_read_uses_the_requests_snapshot_and_its_receipt_says_so(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fee_report answers from the listpeerchannels the snapshot read moments before in
    the same request (one node round trip less), and the receipt records that."""
    asked: list[str] = []
    call = node.api.call

    def spy(method: str, params: Any = None) -> Any:
        asked.append(method)
        return call(method, params)

    monkeypatch.setattr(node.api, "call", spy)
    report = node.send("hive:monitor/v1", "fee_report", {})
    assert report["ok"] and len(report["result"]["channels"]) == 2
    assert asked.count("listpeerchannels") == 1
    (receipt,) = node.p.receipts.list_receipts(limit=1)
    assert receipt["rpc_calls"] == [
        {"method": "listpeerchannels", "params": {}, "ok": True, "snapshot": True}
    ]


def test_crash_between_rpc_and_receipt_reconciles_to_unknown(node: Node) -> None:
    draft = ReceiptDraft(
        actor=f"nostr:{ADVISOR}",
        schema_id="hive:fee-policy/v1",
        action="set_single",
        decision="executed",
        request_hash="cd" * 32,
    )
    node.p.store.execute(
        "INSERT INTO comms_inflight (request_hash, started_at, draft_json) VALUES (?, ?, ?)",
        ("cd" * 32, node.line.clock.now(), json.dumps(draft.__dict__, default=list)),
    )
    node.p.close()
    again = Pipeline(node.api, str(node.db), node.line.clock)
    (receipt,) = again.reconcile()
    assert receipt["outcome"] == "unknown" and receipt["request_hash"] == "cd" * 32
    assert again.reconcile() == []
    assert again.receipts.verify(full=True).ok
    node.p = again


def test_operator_methods(node: Node) -> None:
    status = node.admin.status()
    assert status["identity"]["pubkey"] == node.p.nostr_pubkey
    assert status["attestation"]["receipt_key"] == node.p.key.pubkey
    assert status["active_advisors"] == 1 and status["policy"]["preset"] == "moderate"
    summary = node.admin.credential(ADVISOR)
    assert summary["status"] == "active" and "tier standard" in summary["summary"]
    with pytest.raises(InvalidInput):
        node.admin.authorize("not-a-key")
    with pytest.raises(InvalidInput, match="valid actions"):
        node.admin.policy("explode")
    with pytest.raises(LnhiveError):
        node.admin.credential("ef" * 32)
    assert node.admin.verify(full=True)["ok"]
    cp = node.admin.checkpoint()["checkpoint"]
    assert cp is not None and cp["to_seq"] == node.p.receipts.count()


def test_confirm_hold_runs_only_when_the_advisor_re_sends(node: Node) -> None:
    node.cred = node.p.gate.credentials.issue(
        advisor_key=ADVISOR,
        tier="admin",
        permissions={"monitor": True, "channel_close": True},
        allowed_schemas=["hive:channel/*"],
        valid_for_s=86_400,
        signer=lambda text: str(node.api.signmessage(message=text)["zbase"]),
        now=node.line.clock.now(),
    ).credential_id
    overrides = {"approval_overrides": {"channel_close_*": "always_confirm"}}
    node.admin.policy("set-overrides", overrides_json=overrides)
    scid = node.line.chans["bc"].scid
    address = node.api.newaddr()["p2tr"]
    params = {"channel_id": scid, "destination": address, "reason": "peer gone"}
    held = node.send("hive:channel/v1", "close_cooperative", params)
    assert held["code"] == "confirmation_required" and held["kind"] == "confirm"
    early = node.send("hive:channel/v1", "close_cooperative", params, confirm=held["action_id"])
    assert early["code"] == "policy_blocked" and early["reason"] == "confirmation_invalid"
    assert "awaits the operator" in early["error"] and early["receipt"] is not None
    approved = node.admin.approve(held["action_id"])
    assert approved["executed"] is False and "re-send" in approved["note"]
    assert len(node.api.listpeerchannels(short_channel_id=scid)["channels"]) == 1
    done = node.send("hive:channel/v1", "close_cooperative", params, confirm=held["action_id"])
    assert done["ok"] is True, done
    assert done["result"]["action_id"] == held["action_id"]
    assert done["result"]["type"] == "mutual"
    again = node.send("hive:channel/v1", "close_cooperative", params, confirm=held["action_id"])
    assert again["ok"] is False and again["code"] in ("policy_blocked", "invalid_params")
