"""cl-hive-archon as a real plugin subprocess on stand-in nodes (issue 6, slice 1).

a provisions its did:key (bound to its node key and its Nostr key), issues a VC 2.0
credential about b and exports it; b, with its own plugin, verifies the credential and
both bindings from the exported documents alone; a revokes its Nostr binding, which b
and an offline check then refuse, and binds it again. Bad input gets JSON-RPC errors in
22000-22999 and changes nothing; a node restored from the same secret gets the same DID.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.identity.bindings import BindingFailure, verify_binding, verify_revocation
from lnhive.identity.credentials import CredentialFailure, issue_credential, verify_credential
from lnhive.identity.keys import DidSigner
from lnhive.identity.store import DB_NAME
from lnhive.sim.testing import NodeFactory, TestNode

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "archon.py")


def _error(node: TestNode, method: str, params: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(RpcError) as err:
        node.rpc.call(method, params)
    out: dict[str, Any] = err.value.error
    return out


def test_provision_issue_export_and_verify_elsewhere(node_factory: NodeFactory) -> None:
    a, b = node_factory.get_nodes(2, plugins=[PLUGIN])
    assert os.access(PLUGIN, os.X_OK)

    assert a.rpc.call("hive-archon-status")["provisioned"] is False
    assert (
        _error(a, "hive-archon-vc-issue", {"subject": b.id, "claims_json": "{}"})["code"] == 22002
    )

    first = a.rpc.call("hive-archon-provision", {"label": "alpha"})
    did = first["did"]
    assert did.startswith("did:key:z6Mk") and first["already_provisioned"] is False
    again = a.rpc.call("hive-archon-provision")
    assert again["did"] == did and again["already_provisioned"] is True

    status = a.rpc.call("hive-archon-status")
    assert status["identity"]["did"] == did and status["node_id"] == a.id
    assert status["bindings"]["cln"]["subject"] == f"urn:lnhive:node:{a.id}"
    assert status["bindings"]["cln"]["verified"] and status["bindings"]["nostr"]["verified"]

    issued = a.rpc.call(
        "hive-archon-vc-issue",
        {
            "subject": b.id,
            "claims_json": {"forwards": 1840, "uptime": 0.985},
            "types": ["ForwardingCredential"],
            "valid_days": 90,
        },
    )
    listed = a.rpc.call("hive-archon-vc-list", {"subject": b.id})
    assert [c["credential_id"] for c in listed["credentials"]] == [issued["credential_id"]]
    exported = a.rpc.call("hive-archon-vc-export", {"credential_id": issued["credential_id"]})
    vc = exported["credential"]
    assert vc["issuer"] == did and vc["credentialSubject"]["id"] == f"urn:lnhive:node:{b.id}"

    # b verifies with its own plugin, and anyone can without a node at all
    checked = b.rpc.call("hive-archon-vc-verify", {"vc_json": vc})
    assert checked["verified"] is True and checked["issuer"] == did
    assert checked["cryptosuite"] == "eddsa-jcs-2022" and checked["issuer_is_us"] is False
    assert verify_credential(vc, now=time.time()).issuer == did
    for binding in exported["bindings"]:
        out = b.rpc.call("hive-archon-binding-verify", {"binding_json": binding})
        assert out["did"] == did
        assert verify_binding(binding).did == did
    keys = {verify_binding(x).binding_type: verify_binding(x).key for x in exported["bindings"]}
    assert keys["cln"] == a.id and keys["nostr"] == status["nostr_pubkey"]

    signed = a.rpc.call("hive-archon-sign-message", {"message": "hello from a"})
    assert signed["did"] == did
    assert b.rpc.call(
        "hive-archon-verify-message",
        {"message": "hello from a", "signature": signed["signature"], "did": did},
    )["verified"]
    doc = b.rpc.call("hive-archon-resolve", {"did": did})["did_document"]
    assert doc["assertionMethod"] == [vc["proof"]["verificationMethod"]]

    # a revokes its Nostr binding; b and anyone offline see it revoked, then a binds again
    old_nostr = next(x for x in exported["bindings"] if x["binding_type"] == "nostr")
    revoked = a.rpc.call(
        "hive-archon-binding-revoke", {"binding_type": "nostr", "reason": "rotated"}
    )
    rev = revoked["revocation"]
    assert revoked["binding"] == old_nostr and rev["type"] == "LnhiveKeyBindingRevocation"
    assert verify_revocation(rev, old_nostr).reason == "rotated"  # offline, no node
    with pytest.raises(BindingFailure) as failed:
        verify_binding(old_nostr, [rev])
    assert failed.value.kind == "revoked"
    e = _error(
        b, "hive-archon-binding-verify", {"binding_json": old_nostr, "revocations_json": rev}
    )
    assert e["code"] == 22016 and e["message"].startswith("credential_invalid: revoked: ")
    assert "nostr" not in a.rpc.call("hive-archon-status")["bindings"]
    listed = a.rpc.call("hive-archon-bindings")
    assert [x["binding_type"] for x in listed["active"]] == ["cln"]
    assert listed["revoked"][0]["revocation"] == rev and listed["revoked"][0]["verified"]
    e = _error(a, "hive-archon-binding-revoke", {"binding_type": "nostr"})
    assert e["code"] == 22003 and "already revoked" in e["message"]
    e = _error(a, "hive-archon-binding-revoke", {"binding_type": "email"})
    assert e["code"] == 22001
    assert a.rpc.call("hive-archon-bindings") == listed

    rebound = a.rpc.call("hive-archon-bind-nostr")
    assert rebound["already_bound"] is False and rebound["created_at"] > revoked["revoked_at"]
    assert rebound["created_at"] > old_nostr["created_at"]
    new_nostr = rebound["binding"]
    checked_new = b.rpc.call("hive-archon-binding-verify", {"binding_json": new_nostr})
    assert checked_new["key"] == status["nostr_pubkey"]
    e = _error(
        b, "hive-archon-binding-verify", {"binding_json": new_nostr, "revocations_json": [rev]}
    )
    assert e["message"].startswith("credential_invalid: wrong_binding: ")  # the old one only
    assert a.rpc.call("hive-archon-bind-nostr")["already_bound"] is True
    assert a.rpc.call("hive-archon-bind-cln", {"cln_pubkey": a.id})["already_bound"] is True
    e = _error(a, "hive-archon-bind-cln", {"cln_pubkey": b.id})
    assert e["code"] == 22007
    assert a.rpc.call("hive-archon-status")["bindings"]["nostr"]["verified"] is True

    pruned = a.rpc.call("hive-archon-prune")
    assert pruned["retention_days"] == 90 and pruned["polls_removed"] == 0
    assert _error(a, "hive-archon-prune", {"retention_days": 0})["code"] == 22001

    db = Path(a.sim.network_dir) / DB_NAME
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


def test_bad_input_gets_archon_errors_and_changes_nothing(node_factory: NodeFactory) -> None:
    (a,) = node_factory.get_nodes(1, plugins=[PLUGIN])
    a.rpc.call("hive-archon-provision")
    vc = a.rpc.call("hive-archon-vc-issue", {"subject": a.id, "claims_json": {"x": 1}})[
        "credential"
    ]
    before = a.rpc.call("hive-archon-status")

    e = _error(a, "hive-archon-sign-message", {"message": "lnhive:fleet:v1:" + "00" * 32})
    assert e["code"] == 22004 and e["message"].startswith("unauthorized: ")
    e = _error(a, "hive-archon-sign-message", {"message": "x" * 16385})
    assert e["code"] == 22001

    tampered = dict(vc, credentialSubject={"id": vc["credentialSubject"]["id"], "x": 2})
    e = _error(a, "hive-archon-vc-verify", {"vc_json": tampered})
    assert e["code"] == 22016 and e["message"].startswith("credential_invalid: bad_proof:")
    no_proof = {k: v for k, v in vc.items() if k != "proof"}
    e = _error(a, "hive-archon-vc-verify", {"vc_json": no_proof})
    assert e["message"] == "credential_invalid: bad_proof: document has no proof"
    other_suite = dict(vc, proof=dict(vc["proof"], cryptosuite="ecdsa-jcs-2019"))
    e = _error(a, "hive-archon-vc-verify", {"vc_json": other_suite})
    assert e["code"] == 22007 and "unknown cryptosuite" in e["message"]
    e = _error(a, "hive-archon-vc-verify", {"vc_json": "{not json"})
    assert e["code"] == 22001 and e["message"].startswith("invalid_input: malformed:")

    e = _error(a, "hive-archon-resolve", {"did": "did:key:zNope0"})
    assert e["code"] == 22001
    e = _error(a, "hive-archon-vc-issue", {"subject": "did:key:z6Mkbad", "claims_json": "{}"})
    assert e["code"] == 22001
    big = {"subject": a.id, "claims_json": {"blob": "x" * 9000}}
    e = _error(a, "hive-archon-vc-issue", big)
    assert e["code"] == 22001 and "8192" in e["message"]
    e = _error(a, "hive-archon-vc-export", {"credential_id": "urn:uuid:missing"})
    assert e["code"] == 22002
    assert a.rpc.call("hive-archon-status") == before


def test_expired_and_not_yet_valid_credentials_are_refused(node_factory: NodeFactory) -> None:
    (a,) = node_factory.get_nodes(1, plugins=[PLUGIN])
    signer = DidSigner(bytes([7]) * 32)  # some other issuer, verified offline by a
    now = int(time.time())
    old = issue_credential(signer, a.id, {}, now=now - 400 * 86400, valid_days=30)
    e = _error(a, "hive-archon-vc-verify", {"vc_json": old})
    assert e["code"] == 22016 and e["message"].startswith("credential_invalid: expired: ")
    later = issue_credential(signer, a.id, {}, now=now + 86400, valid_days=30)
    e = _error(a, "hive-archon-vc-verify", {"vc_json": later})
    assert e["message"].startswith("credential_invalid: not_yet_valid: ")
    fine = issue_credential(signer, a.id, {}, now=now - 60, valid_days=30)
    assert a.rpc.call("hive-archon-vc-verify", {"vc_json": fine})["issuer"] == signer.did


def test_a_node_restored_from_its_secret_has_the_same_did(tmp_path: Path) -> None:
    dids = []
    for run in ("before", "after"):
        factory = NodeFactory(tmp_path / run)
        try:
            node = factory.get_node(plugins=[PLUGIN], secret=bytes([42]) * 32)
            dids.append(node.rpc.call("hive-archon-provision")["did"])
        finally:
            factory.close()
    assert dids[0] == dids[1]


def test_offline_options_and_an_unusable_database(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    a = node_factory.get_node(
        plugins=[
            (
                PLUGIN,
                {
                    "hive-archon-network-enabled": "yes",
                    "hive-archon-gateway": "http://127.0.0.1:4224",  # loopback: refused
                    "hive-archon-gateway-auth-token": "s3cret",
                },
            )
        ]
    )
    a.wait_for_log("staying offline")
    assert a.rpc.call("hive-archon-status")["network_enabled"] is False
    assert not any("s3cret" in line for line in a.sim.logs.lines())
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    b = node_factory.get_node(
        plugins=[(PLUGIN, {"hive-archon-db-path": str(blocked / "x.sqlite3")})]
    )
    b.wait_for_log("store_error")
    assert b.rpc.getinfo()["id"] == b.id


def test_issue_revoke_and_verify_fails(node_factory: NodeFactory) -> None:
    a, b = node_factory.get_nodes(2, plugins=[PLUGIN])
    a.rpc.call("hive-archon-provision")
    vc = a.rpc.call("hive-archon-vc-issue", {"subject": b.id, "claims_json": {"x": 1}})[
        "credential"
    ]
    assert vc["credentialStatus"]["type"] == "BitstringStatusListEntry"
    assert a.rpc.call("hive-archon-vc-verify", {"vc_json": vc})["status"] == "valid"
    assert b.rpc.call("hive-archon-vc-verify", {"vc_json": vc})["status"] == "unchecked"
    fresh = a.rpc.call("hive-archon-status-list")["status_list_credential"]
    ok = b.rpc.call("hive-archon-vc-verify", {"vc_json": vc, "status_list_json": fresh})
    assert ok["status"] == "valid"

    out = a.rpc.call("hive-archon-vc-revoke", {"credential_id": vc["id"], "reason": "test"})
    assert out["status_list_index"] == int(vc["credentialStatus"]["statusListIndex"])
    status_list = a.rpc.call("hive-archon-status-list")["status_list_credential"]
    assert status_list == out["status_list_credential"]
    e = _error(a, "hive-archon-vc-verify", {"vc_json": vc})
    assert e["code"] == 22016 and e["message"].startswith("credential_invalid: revoked: ")
    e = _error(b, "hive-archon-vc-verify", {"vc_json": vc, "status_list_json": status_list})
    assert e["code"] == 22016 and e["message"].startswith("credential_invalid: revoked: ")
    with pytest.raises(CredentialFailure) as err:  # offline, with the fetched list
        verify_credential(vc, now=time.time(), status_list=status_list)
    assert err.value.kind == "revoked"

    before = a.rpc.call("hive-archon-status")
    assert before["credentials"]["revoked"] == 1
    e = _error(a, "hive-archon-vc-revoke", {"credential_id": vc["id"]})
    assert e["code"] == 22003 and "already revoked" in e["message"]
    e = _error(a, "hive-archon-vc-revoke", {"credential_id": "urn:uuid:missing"})
    assert e["code"] == 22002
    tampered = dict(status_list, validFrom="2020-01-01T00:00:00Z")
    e = _error(b, "hive-archon-vc-verify", {"vc_json": vc, "status_list_json": tampered})
    assert e["code"] == 22016 and "bad_status_list" in e["message"]
    assert a.rpc.call("hive-archon-status") == before
    assert a.rpc.call("hive-archon-status-list")["status_list_credential"] == status_list
