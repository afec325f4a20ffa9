"""The archon service on a stand-in node model: provision, status, credentials, signing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import (
    Conflict,
    CredentialInvalid,
    InvalidInput,
    LnhiveError,
    NotFound,
    Unauthorized,
    Unsupported,
)
from lnhive.identity.archon import Archon, ArchonOptions
from lnhive.identity.bindings import verify_binding
from lnhive.identity.keys import verify_message
from tests.identity.conftest import make_node

NODE = "02" + "ab" * 32


def _snapshot(a: Archon) -> list[Any]:
    tables = ("archon_identity", "archon_bindings", "archon_credentials")
    return [[tuple(r) for r in a.store.query(f"SELECT * FROM {t}")] for t in tables]


def test_provision_is_idempotent_and_binds_both_keys(archon: Archon) -> None:
    assert archon.status()["provisioned"] is False
    first = archon.provision(label="  my node ")
    assert first["did"] == archon.signer.did and first["did"].startswith("did:key:z6Mk")
    assert first["already_provisioned"] is False and first["label"] == "my node"
    assert set(first["bindings"]) == {"cln", "nostr"}
    before = _snapshot(archon)
    again = archon.provision()
    assert again["already_provisioned"] is True
    assert again["did"] == first["did"] and again["bindings"] == first["bindings"]
    assert _snapshot(archon) == before

    status = archon.status()
    assert status["provisioned"] is True
    assert status["identity"]["did"] == first["did"]
    assert status["bindings"]["cln"]["subject"] == f"urn:lnhive:node:{archon.node_id}"
    assert status["bindings"]["nostr"]["subject"] == f"urn:lnhive:nostr:{archon.nostr_pubkey}"
    assert all(b["verified"] for b in status["bindings"].values())
    assert status["credentials"] == {"issued": 0, "live": 0, "revoked": 0}
    assert status["network_enabled"] is False


def test_force_re_signs_the_bindings_and_keeps_the_did(
    archon: Archon, clock_node: tuple[VirtualClock, Any]
) -> None:
    clock, _ = clock_node
    archon.provision(label="kept")
    clock.advance(60)
    out = archon.provision(force=True)
    assert out["already_provisioned"] is False and out["did"] == archon.signer.did
    assert out["label"] == "kept"
    identity = archon.status()["identity"]
    assert identity["created_at"] == int(clock.now()) - 60
    assert identity["updated_at"] == int(clock.now())
    docs = [
        json.loads(r["binding_json"]) for r in archon.store.query("SELECT * FROM archon_bindings")
    ]
    assert len(docs) == 2 and {d["created_at"] for d in docs} == {int(clock.now())}


def test_a_restored_node_gets_the_same_did(tmp_path: Path) -> None:
    clock, node = make_node(seed=11)
    first = Archon(node, str(tmp_path / "one.sqlite3"), clock)
    did = first.provision()["did"]
    first.close()
    clock2, restored = make_node(seed=11)  # same node secret, empty database
    second = Archon(restored, str(tmp_path / "two.sqlite3"), clock2)
    assert second.provision()["did"] == did
    second.close()


def test_a_database_from_another_node_needs_force(tmp_path: Path) -> None:
    db = str(tmp_path / "moved.sqlite3")
    clock, node = make_node(seed=1)
    old = Archon(node, db, clock)
    old_did = old.provision()["did"]
    old.close()
    clock2, other = make_node(seed=2)
    new = Archon(other, db, clock2)
    assert new.status()["provisioned"] is False
    assert new.status()["identity"]["matches_node"] is False
    with pytest.raises(Conflict, match="force=true"):
        new.provision()
    with pytest.raises(Conflict):
        new.sign_message("hello")
    out = new.provision(force=True)
    assert out["did"] != old_did
    rows = new.store.query("SELECT did FROM archon_bindings")
    assert {r["did"] for r in rows} == {out["did"]}
    new.close()


@pytest.mark.parametrize(
    ("kw", "reason"), [({"label": "x" * 121}, "label"), ({"force": "yes"}, "force")]
)
def test_provision_refuses_bad_input(archon: Archon, kw: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        archon.provision(**kw)
    assert _snapshot(archon) == [[], [], []]


def test_issue_needs_an_identity(archon: Archon) -> None:
    with pytest.raises(NotFound, match="not provisioned"):
        archon.issue(NODE, {"a": 1})
    with pytest.raises(NotFound):
        archon.sign_message("hello")


def test_issue_list_export_verify(archon: Archon, clock_node: tuple[VirtualClock, Any]) -> None:
    clock, _ = clock_node
    archon.provision()
    one = archon.issue(NODE, '{"forwards": 10}', "ForwardingCredential", 30)
    clock.advance(10)
    two = archon.issue(archon.signer.did, {"note": "self"}, None, 0)
    listed = archon.list_credentials()
    assert [c["credential_id"] for c in listed["credentials"]] == [
        two["credential_id"],
        one["credential_id"],
    ]
    assert archon.list_credentials(subject=NODE)["count"] == 1
    assert archon.list_credentials(limit=1)["count"] == 1

    exported = archon.export(one["credential_id"])
    assert exported["credential"] == one["credential"]
    assert exported["did_document"]["id"] == archon.signer.did
    assert {verify_binding(b).binding_type for b in exported["bindings"]} == {"cln", "nostr"}

    result = archon.verify(json.dumps(exported["credential"]))
    assert result["verified"] is True and result["issuer_is_us"] is True
    assert result["subject"] == f"urn:lnhive:node:{NODE}"

    clock.advance(31 * 86400)
    assert archon.list_credentials()["credentials"][1]["status"] == "expired"
    assert archon.status()["credentials"] == {"issued": 2, "live": 1, "revoked": 0}
    with pytest.raises(CredentialInvalid, match=r"^expired: expired at"):
        archon.verify(one["credential"])


def test_verify_failures_map_to_error_classes_and_change_nothing(archon: Archon) -> None:
    archon.provision()
    vc = archon.issue(NODE, {"a": 1})["credential"]
    before = _snapshot(archon)

    def err(value: object) -> LnhiveError:
        with pytest.raises(LnhiveError) as caught:
            archon.verify(value)
        return caught.value

    tampered = json.loads(json.dumps(vc))
    tampered["credentialSubject"]["a"] = 2
    e = err(tampered)
    assert isinstance(e, CredentialInvalid) and e.message.startswith("bad_proof:")
    unknown = json.loads(json.dumps(vc))
    unknown["proof"]["cryptosuite"] = "ecdsa-jcs-2019"
    e = err(unknown)
    assert isinstance(e, Unsupported) and e.message.startswith("unknown_cryptosuite:")
    e = err("{oops")
    assert isinstance(e, InvalidInput) and e.message.startswith("malformed:")
    missing = {k: v for k, v in vc.items() if k != "proof"}
    assert err(missing).message == "bad_proof: document has no proof"
    assert _snapshot(archon) == before


def test_issue_refusals_change_nothing(archon: Archon) -> None:
    archon.provision()
    before = _snapshot(archon)
    for subject, claims in [("nobody", {}), (NODE, {"blob": "x" * 9000}), (NODE, {"id": 1})]:
        with pytest.raises(InvalidInput):
            archon.issue(subject, claims)
    with pytest.raises(InvalidInput):
        archon.issue(NODE, {}, None, 4000)
    assert _snapshot(archon) == before
    with pytest.raises(InvalidInput):
        archon.list_credentials(limit=0)
    with pytest.raises(NotFound):
        archon.export("urn:uuid:nope")


def test_sign_message_and_verify_message(archon: Archon) -> None:
    archon.provision()
    out = archon.sign_message("I am this node")
    assert out["did"] == archon.signer.did
    assert verify_message("I am this node", out["signature"], out["did"]) is None
    assert archon.verify_message("I am this node", out["signature"], out["did"])["verified"]
    with pytest.raises(CredentialInvalid, match="does not verify"):
        archon.verify_message("I am that node", out["signature"], out["did"])
    with pytest.raises(Unauthorized, match="reserved"):
        archon.sign_message("lnhive:binding:v1:" + "00" * 32)


def test_binding_verify_and_resolve(archon: Archon) -> None:
    archon.provision()
    doc = archon.export(archon.issue(NODE, {})["credential_id"])["bindings"][0]
    assert archon.verify_binding(json.dumps(doc))["verified"] is True
    doc["created_at"] += 1
    with pytest.raises(CredentialInvalid, match="bad_proof"):
        archon.verify_binding(doc)
    assert archon.resolve(archon.signer.did)["did_document"]["id"] == archon.signer.did
    with pytest.raises(InvalidInput):
        archon.resolve("did:key:nope")


def test_options_fall_back_with_warnings() -> None:
    opts, warnings = ArchonOptions(
        network_enabled=True, gateway="http://example.com", governance_min_bond=0
    ).normalised()
    assert opts.network_enabled is False and opts.governance_min_bond == 50_000
    assert len(warnings) == 2
    opts, warnings = ArchonOptions(
        network_enabled=True, gateway="http://127.0.0.1:4224"
    ).normalised()
    assert opts.network_enabled is False and "offline" in warnings[0]
    assert "s3cret" not in repr(ArchonOptions(gateway_auth_token="s3cret"))
