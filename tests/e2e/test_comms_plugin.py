"""cl-hive-comms as a real plugin subprocess on the stand-in, driven over REST with a rune.

The operator authorizes an advisor; the advisor (the CLI's Python API, and the CLI
itself) signs intents and posts them to ``/v1/hive-comms-rpc``. A fee change really
changes the channel; its receipt comes back and verifies offline; a policy refusal is
receipted and changes nothing; a D 5 action is held, approved by the operator and then
run; a replay gets no receipt; a revoked advisor is refused; bad input gets clear errors.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError
from typer.testing import CliRunner

import lnhive.plugins
from lnhive.cli.advisor import (
    RestTransport,
    check_reply,
    generate_key,
    load_key,
    send_intent,
    verify_chain,
)
from lnhive.cli.main import app
from lnhive.manage.pipeline import DB_NAME
from lnhive.sim.testing import NodeFactory, TestNode
from lnhive.transport.envelope import build_envelope

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "comms.py")
FEES = "hive:fee-policy/v1"


class Advisor:
    def __init__(self, node: TestNode, key_path: Path, credential_id: str, rune: str) -> None:
        self.node = node
        self.key_path = key_path
        self.secret = load_key(key_path)
        self.credential_id = credential_id
        self.rune = rune
        self.recipient = node.rpc.call("hive-client-status")["identity"]["pubkey"]
        self.transport = RestTransport(node.rest_url, rune)
        self.nonce = 0

    def send(self, schema: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        self.nonce += 1
        return send_intent(
            self.secret,
            self.transport,
            node=self.recipient,
            credential_id=self.credential_id,
            schema=schema,
            action=action,
            params=params,
            nonce=self.nonce,
        )


def fee_ppm(node: TestNode, scid: str) -> int:
    (ch,) = node.rpc.listpeerchannels(short_channel_id=scid)["channels"]
    return int(ch["updates"]["local"]["fee_proportional_millionths"])


def receipts_count(node: TestNode) -> int:
    return int(node.rpc.call("hive-client-status")["receipts"]["count"])


@pytest.fixture
def setup(node_factory: NodeFactory, tmp_path: Path) -> tuple[TestNode, str, Advisor]:
    a = node_factory.get_node(plugins=[PLUGIN], rest=True)
    b = node_factory.get_node()
    node_factory.open_channel(a, b)
    (chan,) = a.rpc.listpeerchannels()["channels"]
    key_path = tmp_path / "advisor.key"
    pub = generate_key(key_path)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    auth = a.rpc.call("hive-client-authorize", {"advisor": pub, "access": "fee_optimization"})
    assert auth["advisor"] == f"nostr:{pub}" and "tier standard" in auth["summary"]
    rune = a.rpc.createrune(restrictions=[["method=hive-comms-rpc"]])["rune"]
    return a, chan["short_channel_id"], Advisor(a, key_path, auth["credential_id"], rune)


def test_fee_change_over_rest_with_a_receipt_that_verifies_offline(
    setup: tuple[TestNode, str, Advisor], tmp_path: Path
) -> None:
    a, scid, adv = setup
    before = fee_ppm(a, scid)
    reply = adv.send(FEES, "set_single", {"channel_id": scid, "fee_ppm": before + 2})
    assert reply["ok"] is True, reply
    assert fee_ppm(a, scid) == before + 2
    assert check_reply(reply, a.id) is None
    # The operator exports the advisor's view of the chain; it verifies offline.
    export = a.rpc.call("hive-client-receipts-export", {"advisor": reply["sender"]})
    out = verify_chain(
        export["jsonl"], node_id=a.id, full=True, receipt_hash=reply["receipt"]["receipt_hash"]
    )
    assert out["ok"] and out["contains_receipt"], out
    # ... and with the CLI.
    path = tmp_path / "receipts.jsonl"
    path.write_text(export["jsonl"])
    res = CliRunner().invoke(
        app, ["advisor", "verify", str(path), "--node-id", a.id, "--full",
              "--receipt", reply["receipt"]["receipt_hash"]]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert a.rpc.call("hive-client-receipts-verify", {"full": True})["ok"] is True
    db = Path(a.sim.network_dir) / DB_NAME
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


def test_policy_refusal_is_receipted_and_changes_nothing(
    setup: tuple[TestNode, str, Advisor],
) -> None:
    a, scid, adv = setup
    a.rpc.call(
        "hive-client-policy",
        {"action": "set-overrides", "overrides_json": json.dumps({"protected_channels": [scid]})},
    )
    before, count = fee_ppm(a, scid), receipts_count(a)
    reply = adv.send(FEES, "set_single", {"channel_id": scid, "fee_ppm": before + 1})
    assert reply["ok"] is False and reply["code"] == "policy_blocked"
    assert reply["receipt"]["seq"] == count + 1
    assert fee_ppm(a, scid) == before
    (last,) = a.rpc.call("hive-client-receipts", {"limit": 1})["receipts"]
    assert last["decision"] == "rejected" and last["error"]["code"] == "policy_blocked"


def test_high_danger_action_is_queued_approved_and_executed(
    setup: tuple[TestNode, str, Advisor],
) -> None:
    a, scid, adv = setup
    a.rpc.call("hive-client-policy", {"action": "set-preset", "preset": "conservative"})
    before = fee_ppm(a, scid)
    reply = adv.send(FEES, "set_bulk", {"channels": [scid], "policy": {"fee_ppm": before + 1}})
    assert reply["code"] == "confirmation_required" and reply["kind"] == "queue", reply
    assert reply["receipt"] is not None and fee_ppm(a, scid) == before
    (item,) = a.rpc.call("hive-client-pending")["pending"]
    assert item["action_id"] == reply["action_id"] and item["danger"] == 5
    done = a.rpc.call("hive-client-approve", {"action_id": reply["action_id"]})
    assert done["ok"] and done["executed"], done
    assert fee_ppm(a, scid) == before + 1
    assert a.rpc.call("hive-client-pending")["pending"] == []
    with pytest.raises(RpcError) as err:
        a.rpc.call("hive-client-approve", {"action_id": reply["action_id"]})
    assert err.value.error["code"] == 21003
    assert err.value.error["message"].startswith("conflict:")


def test_replay_gets_no_receipt_and_a_revoked_advisor_is_refused(
    setup: tuple[TestNode, str, Advisor], tmp_path: Path
) -> None:
    a, scid, adv = setup
    env = build_envelope(
        adv.secret,
        recipient=adv.recipient,
        schema_type="hive:monitor/v1",
        action="fee_report",
        params={},
        credential_id=adv.credential_id,
        nonce=7,
        timestamp=int(time.time()),
    )
    first = adv.transport.send(env)
    assert first["ok"] and first["result"]["channels"][0]["short_channel_id"] == scid
    count = receipts_count(a)
    again = adv.transport.send(env)
    assert again["code"] == "replay" and again["receipt"] is None
    assert receipts_count(a) == count
    a.rpc.call("hive-client-revoke", {"advisor": env["sender"], "reason": "contract ended"})
    # The CLI itself, after revocation: refused before authentication, exit 1.
    res = CliRunner().invoke(
        app,
        ["advisor", "send", "--key", str(adv.key_path), "--url", a.rest_url, "--rune", adv.rune,
         "--node", adv.recipient, "--credential", adv.credential_id, "--schema", FEES,
         "--action", "set_single", "--params", json.dumps({"channel_id": scid, "fee_ppm": 1}),
         "--node-id", a.id],
    )  # fmt: skip
    assert res.exit_code == 1
    assert '"code": "unauthorized"' in res.output
    assert a.rpc.call("hive-client-credential", {"advisor": env["sender"]})["status"] == "revoked"


def test_bad_input_gets_clear_errors(setup: tuple[TestNode, str, Advisor]) -> None:
    a, _, adv = setup
    out = a.rpc.call("hive-comms-rpc", {"envelope": "{not json", "sender": "x"})
    assert out["ok"] is False and out["code"] == "invalid_request" and out["receipt"] is None
    out = a.rpc.call("hive-comms-rpc", {"envelope": {"v": 1}, "sender": "x"})
    assert out["code"] == "invalid_request" and "missing" in out["error"]
    unknown = adv.send("hive:nothing/v1", "x", {})
    assert unknown["code"] == "unknown_schema" and unknown["receipt"] is not None
    with pytest.raises(RpcError) as err:
        a.rpc.call("hive-client-authorize", {"advisor": "zz"})
    assert err.value.error["code"] == 21001
    assert err.value.error["message"].startswith("invalid_input:")
    with pytest.raises(RpcError) as err:
        a.rpc.call("hive-client-policy", {"action": "loosen"})
    assert "valid actions" in err.value.error["message"]


REVENUE_OPS = str(Path(lnhive.plugins.__file__).parent / "revenue_ops.py")


def test_fee_actions_go_through_revenue_ops_and_spare_hive_members(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    a = node_factory.get_node(plugins=[PLUGIN, REVENUE_OPS], rest=True)
    b, c = node_factory.get_node(), node_factory.get_node()
    node_factory.open_channel(a, b)
    node_factory.open_channel(a, c)
    scids = {ch["peer_id"]: ch["short_channel_id"] for ch in a.rpc.listpeerchannels()["channels"]}
    pub = generate_key(tmp_path / "adv.key")
    auth = a.rpc.call("hive-client-authorize", {"advisor": pub, "access": "fee_optimization"})
    rune = a.rpc.createrune(restrictions=[["method=hive-comms-rpc"]])["rune"]
    adv = Advisor(a, tmp_path / "adv.key", auth["credential_id"], rune)
    reply = adv.send(
        FEES, "set_anchor", {"channel_id": scids[b.id], "target_fee_ppm": 12, "ttl_hours": 2}
    )
    assert reply["ok"] and reply["result"]["via"] == "revenue-policy", reply
    policy = a.rpc.call("revenue-policy", {"action": "get", "peer_id": b.id})
    stored = policy["policy"]
    assert (stored["strategy"], stored["fee_ppm_target"]) == ("static", 12)
    assert 7100 < stored["expires_at"] - stored["updated_at"] <= 7200
    # c is a fleet member (cl-hive marks it with strategy=hive): its fees are not the advisor's.
    a.rpc.call("revenue-policy", {"action": "set", "peer_id": c.id, "strategy": "hive"})
    refused = adv.send(FEES, "set_single", {"channel_id": scids[c.id], "fee_ppm": 11})
    assert refused["code"] == "policy_blocked" and "hive" in refused["reason"], refused


def test_concurrent_rest_calls_are_each_answered_after_their_receipt_commits(
    setup: tuple[TestNode, str, Advisor], tmp_path: Path
) -> None:
    """Six advisors call at once (the plugin may answer them in shared commits): every
    call gets its own signed reply and receipt, and the chain verifies."""
    a, _, first = setup
    advisors = [first]
    for i in range(5):
        key_path = tmp_path / f"advisor{i}.key"
        pub = generate_key(key_path)
        auth = a.rpc.call("hive-client-authorize", {"advisor": pub, "access": "monitor_only"})
        advisors.append(Advisor(a, key_path, auth["credential_id"], first.rune))
    count = receipts_count(a)
    replies: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run(adv: Advisor) -> None:
        for _ in range(3):
            reply = adv.send("hive:monitor/v1", "fee_report", {})
            with lock:
                replies.append(reply)

    threads = [threading.Thread(target=run, args=(adv,)) for adv in advisors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(replies) == 18 and all(r["ok"] for r in replies), replies
    assert all(check_reply(r, a.id) is None for r in replies)
    seqs = sorted(r["receipt"]["seq"] for r in replies)
    assert seqs == list(range(count + 1, count + 19))
    status = a.rpc.call("hive-client-status")
    assert status["receipts"]["count"] == count + 18
    assert 1 <= status["rest"]["largest_batch"] <= 18, status["rest"]
    assert a.rpc.call("hive-client-receipts-verify", {"full": True})["ok"] is True
