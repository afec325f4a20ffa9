"""cl-hive-archon reputation end to end on stand-in nodes (issue 6, slice 2).

Node a runs cl-hive-comms and cl-hive-archon. An advisor changes fees on a's channel
over REST; one request is refused by a's policy. a's archon fetches the advisor's receipt
chain from cl-hive-comms (found by ``help``), verifies it against a's node id, derives
the hive:advisor metrics and issues a VC 2.0 reputation credential; ``hive-reputation``
shows it with an explanation. Node c imports the credential with a's status list and
binding documents and aggregates it too; bad input is an error in 22000-22999 and changes
nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.cli.advisor import RestTransport, generate_key, load_key, send_intent
from lnhive.identity.credentials import verify_credential
from lnhive.sim.testing import NodeFactory, TestNode

PLUGINS = Path(lnhive.plugins.__file__).parent
ARCHON = str(PLUGINS / "archon.py")
COMMS = str(PLUGINS / "comms.py")
FEES = "hive:fee-policy/v1"


def _error(node: TestNode, method: str, params: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(RpcError) as err:
        node.rpc.call(method, params)
    out: dict[str, Any] = err.value.error
    return out


def test_advisor_reputation_from_comms_receipts(node_factory: NodeFactory, tmp_path: Path) -> None:
    a = node_factory.get_node(plugins=[COMMS, ARCHON], rest=True)
    b = node_factory.get_node()
    c = node_factory.get_node(plugins=[ARCHON])
    node_factory.open_channel(a, b)
    (chan,) = a.rpc.listpeerchannels()["channels"]
    scid = chan["short_channel_id"]

    key_path = tmp_path / "advisor.key"
    advisor = generate_key(key_path)
    auth = a.rpc.call("hive-client-authorize", {"advisor": advisor, "access": "fee_optimization"})
    rune = a.rpc.createrune(restrictions=[["method=hive-comms-rpc"]])["rune"]
    recipient = a.rpc.call("hive-client-status")["identity"]["pubkey"]
    transport = RestTransport(a.rest_url, rune)
    secret = load_key(key_path)

    def send(nonce: int, params: dict[str, Any]) -> dict[str, Any]:
        return send_intent(
            secret, transport, node=recipient, credential_id=auth["credential_id"],
            schema=FEES, action="set_single", params=params, nonce=nonce,
        )  # fmt: skip

    for n in range(1, 4):
        reply = send(n, {"channel_id": scid, "fee_ppm": 10 + n})
        assert reply["ok"] is True, reply
    a.rpc.call(
        "hive-client-policy",
        {"action": "set-overrides", "overrides_json": json.dumps({"protected_channels": [scid]})},
    )
    refused = send(4, {"channel_id": scid, "fee_ppm": 14})
    assert refused["ok"] is False and refused["code"] == "policy_blocked"

    # Before provisioning: a clear error, nothing stored.
    e = _error(
        a,
        "hive-archon-reputation-issue",
        {"subject": advisor, "domain": "hive:advisor", "outcome": "renew"},
    )
    assert e["code"] == 22002 and "not provisioned" in e["message"]
    did = a.rpc.call("hive-archon-provision")["did"]

    out = a.rpc.call(
        "hive-archon-reputation-issue",
        {"subject": advisor, "domain": "hive:advisor", "outcome": "renew"},
    )
    vc = out["credential"]
    assert vc["issuer"] == did and "DIDReputationCredential" in vc["type"]
    metrics = vc["credentialSubject"]["metrics"]
    assert metrics["actions_taken"] == 3 and metrics["channels_managed"] == 1
    assert metrics["sla_violations"] == 1 and metrics["uptime_pct"] > 0
    assert out["derived_from"]["receipts"] == 4 and out["evidence_strength"] == 1.0
    assert verify_credential(vc, now=vc_now(vc)).issuer == did

    rep = a.rpc.call("hive-reputation", {"subject": advisor, "domain": "hive:advisor"})
    assert rep["credential_count"] == 1 and rep["subject"] == f"urn:lnhive:nostr:{advisor}"
    assert rep["explanation"]["credentials"][0]["credential_id"] == vc["id"]
    assert rep["components"]["actions_taken"] == 3
    assert "formula" in rep["explanation"]
    listed = a.rpc.call("hive-reputation-list", {"subject": advisor})
    assert listed["count"] == 1 and listed["credentials"][0]["issuer_is_us"] is True
    assert a.rpc.call("hive-reputation-profiles")["count"] == 4

    # A second credential for the same period is refused and changes nothing.
    before = a.rpc.call("hive-reputation-list", {})
    e = _error(
        a,
        "hive-archon-reputation-issue",
        {"subject": advisor, "domain": "hive:advisor", "outcome": "renew"},
    )
    assert e["code"] == 22003 and "one credential per issuer" in e["message"]
    e = _error(a, "hive-reputation", {"subject": "did:key:zNope"})
    assert e["code"] == 22001 and "invalid subject_id" in e["message"]
    assert a.rpc.call("hive-reputation-list", {}) == before

    # Node c verifies and imports it with a's status list and bindings.
    exported = a.rpc.call("hive-archon-vc-export", {"credential_id": vc["id"]})
    status_list = a.rpc.call("hive-archon-status-list")["status_list_credential"]
    e = _error(c, "hive-reputation-import", {"vc_json": vc})
    assert e["code"] == 22016 and "revocation status is unknown" in e["message"]
    tampered = json.loads(json.dumps(vc))
    tampered["credentialSubject"]["metrics"]["actions_taken"] = 30
    e = _error(c, "hive-reputation-import", {"vc_json": tampered, "status_list_json": status_list})
    assert e["code"] == 22016 and "bad_proof" in e["message"]
    assert c.rpc.call("hive-reputation-list", {})["count"] == 0
    imported = c.rpc.call(
        "hive-reputation-import",
        {"vc_json": vc, "status_list_json": status_list, "bindings_json": exported["bindings"]},
    )
    assert imported["stored"] is True
    theirs = c.rpc.call("hive-reputation", {"subject": advisor})
    assert theirs["credential_count"] == 1 and theirs["score"] == rep["score"]

    # a revokes; c applies the newer status list and the credential leaves aggregation.
    a.rpc.call("hive-archon-vc-revoke", {"credential_id": vc["id"], "reason": "test"})
    assert a.rpc.call("hive-reputation", {"subject": advisor})["confidence"] == "none"
    newer = a.rpc.call("hive-archon-status-list")["status_list_credential"]
    applied = c.rpc.call("hive-reputation-import", {"status_list_json": newer})
    assert applied["revoked"] == [vc["id"]]
    assert c.rpc.call("hive-reputation", {"subject": advisor})["score"] == 50


def vc_now(vc: dict[str, Any]) -> float:
    """A moment inside the credential's validity (the plugin runs on wall time)."""
    import time

    return time.time()
