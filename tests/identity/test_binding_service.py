"""This node's key bindings in the archon service: revoke, list, bind again (spec §1.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import (
    Conflict,
    CredentialInvalid,
    InvalidInput,
    NodeRpcError,
    NotFound,
    Unauthorized,
    Unsupported,
)
from lnhive.identity.archon import Archon
from lnhive.identity.bindings import (
    BindingFailure,
    verify_binding,
    verify_revocation,
)
from lnhive.identity.keys import DidSigner

OTHER_NODE = "02" + "ab" * 32
OTHER_DID = DidSigner(bytes([6]) * 32).did


def _snapshot(a: Archon) -> list[Any]:
    tables = ("archon_identity", "archon_bindings", "archon_binding_revocations")
    return [[tuple(r) for r in a.store.query(f"SELECT * FROM {t}")] for t in tables]


def test_revoke_lists_the_revocation_and_status_drops_the_binding(
    archon: Archon, clock_node: tuple[VirtualClock, Any]
) -> None:
    clock, _ = clock_node
    archon.provision()
    listed = archon.bindings.list_bindings()
    assert [b["binding_type"] for b in listed["active"]] == ["cln", "nostr"]
    assert all(b["verified"] and b["problem"] is None for b in listed["active"])
    assert listed["revoked"] == [] and listed["revoked_total"] == 0
    old = {b["binding_type"]: b["binding"] for b in listed["active"]}

    clock.advance(60)
    out = archon.bindings.revoke("nostr", "  key rotated ")
    assert out["reason"] == "key rotated" and out["revoked_at"] == int(clock.now())
    assert out["binding"] == old["nostr"]
    rev = out["revocation"]
    assert rev["type"] == "LnhiveKeyBindingRevocation" and rev["reason"] == "key rotated"
    # offline: the revocation verifies against the binding, which now reads revoked
    assert verify_revocation(rev, old["nostr"]).binding_id == out["binding_id"]
    with pytest.raises(BindingFailure) as err:
        verify_binding(old["nostr"], [rev])
    assert err.value.kind == "revoked" and "key rotated" in err.value.reason
    with pytest.raises(CredentialInvalid, match=r"^revoked: binding "):
        archon.verify_binding(old["nostr"], json.dumps(rev))
    assert archon.verify_binding(old["cln"], None)["revocations_checked"] == 0

    status = archon.status()
    assert set(status["bindings"]) == {"cln"}
    listed = archon.bindings.list_bindings()
    assert [b["binding_type"] for b in listed["active"]] == ["cln"]
    (revoked,) = listed["revoked"]
    assert revoked["binding_id"] == out["binding_id"] and revoked["verified"] is True
    assert revoked["revocation"] == rev and revoked["binding"] == old["nostr"]
    assert revoked["created_at"] == old["nostr"]["created_at"]
    assert revoked["revoked_at"] == out["revoked_at"] and revoked["reason"] == "key rotated"
    exported = archon.export(archon.issue(OTHER_NODE, {})["credential_id"])["bindings"]
    assert [b["binding_type"] for b in exported] == ["cln"]  # only active bindings travel

    # provisioning again does not undo the revocation, even with force
    before = _snapshot(archon)
    again = archon.provision()
    assert again["already_provisioned"] is True and set(again["bindings"]) == {"cln"}
    assert _snapshot(archon) == before
    clock.advance(5)
    forced = archon.provision(force=True)
    assert set(forced["bindings"]) == {"cln"}
    assert set(archon.status()["bindings"]) == {"cln"}


def test_bind_again_after_a_revocation_makes_a_fresh_binding(
    archon: Archon, clock_node: tuple[VirtualClock, Any]
) -> None:
    clock, _ = clock_node
    archon.provision()
    first = archon.bindings.revoke("cln", "")
    # same second: the new binding is dated after the revocation, which must not cover it
    made = archon.bindings.bind("cln")
    assert made["already_bound"] is False
    assert made["binding_id"] == first["binding_id"]  # same DID, type and key
    assert made["created_at"] == first["revoked_at"] + 1
    assert made["created_at"] > first["binding"]["created_at"]
    with pytest.raises(BindingFailure) as err:
        verify_binding(made["binding"], first["revocation"])
    assert err.value.kind == "wrong_binding"
    assert verify_binding(made["binding"]).binding_type == "cln"
    assert archon.status()["bindings"]["cln"]["created_at"] == made["created_at"]

    before = _snapshot(archon)
    same = archon.bindings.bind("cln", archon.node_id, archon.signer.did)
    assert same["already_bound"] is True and same["binding"] == made["binding"]
    assert _snapshot(archon) == before

    # revoked right away: the revocation is dated no earlier than the binding it revokes
    second = archon.bindings.revoke("cln", "again")
    assert second["revoked_at"] == made["created_at"]
    assert verify_revocation(second["revocation"], made["binding"]).reason == "again"
    clock.advance(100)
    third = archon.bindings.bind("cln", f"urn:lnhive:node:{archon.node_id}")
    assert third["created_at"] == int(clock.now())
    listed = archon.bindings.list_bindings()
    assert [r["reason"] for r in listed["revoked"]] == ["again", ""]  # newest first
    assert listed["revoked_total"] == 2 and archon.bindings.list_bindings(1)["revoked_total"] == 2
    assert len(archon.bindings.list_bindings(limit=1)["revoked"]) == 1
    assert all(r["verified"] for r in listed["revoked"])


def test_bind_nostr_is_idempotent_and_makes_a_missing_binding(archon: Archon) -> None:
    with pytest.raises(NotFound, match="not provisioned"):
        archon.bindings.bind("nostr")
    archon.provision()
    out = archon.bindings.bind("nostr", archon.nostr_pubkey.upper())
    assert out["already_bound"] is True
    assert out["subject"] == f"urn:lnhive:nostr:{archon.nostr_pubkey}"
    archon.bindings.revoke("nostr")
    made = archon.bindings.bind("nostr", "")
    assert made["already_bound"] is False and verify_binding(made["binding"]).key == (
        archon.nostr_pubkey
    )


def test_revoke_twice_is_a_conflict_and_changes_nothing(archon: Archon) -> None:
    archon.provision()
    archon.bindings.revoke("nostr", "gone")
    before = _snapshot(archon)
    with pytest.raises(Conflict, match=r"already revoked .*hive-archon-bind-nostr"):
        archon.bindings.revoke("nostr", "gone again")
    assert _snapshot(archon) == before


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda a: a.bindings.revoke("email"), InvalidInput, "binding_type"),
        (lambda a: a.bindings.revoke(None), InvalidInput, "binding_type"),
        (lambda a: a.bindings.revoke("cln", "x" * 501), InvalidInput, "reason"),
        (lambda a: a.bindings.revoke("cln", 5), InvalidInput, "reason"),
        (lambda a: a.bindings.bind("cln", "04" + "00" * 32), InvalidInput, "cln_pubkey"),
        (lambda a: a.bindings.bind("nostr", "zz" * 32), InvalidInput, "nostr_pubkey"),
        (lambda a: a.bindings.bind("nostr", 7), InvalidInput, "nostr_pubkey"),
        (lambda a: a.bindings.bind("cln", "", "did:key:nope"), InvalidInput, "did"),
        (lambda a: a.bindings.bind("cln", "", OTHER_DID), Unauthorized, "not owned"),
        (lambda a: a.bindings.bind("cln", OTHER_NODE), Unsupported, "does not hold"),
        (lambda a: a.bindings.bind("nostr", "ab" * 32), Unsupported, "does not hold"),
        (lambda a: a.bindings.bind("ldk"), InvalidInput, "binding_type"),
        (lambda a: a.bindings.list_bindings(0), InvalidInput, "limit"),
        (lambda a: a.bindings.list_bindings("5"), InvalidInput, "limit"),
        (
            lambda a: a.sign_message("lnhive:binding-revocation:v1:" + "00" * 32),
            Unauthorized,
            "reserved",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    archon: Archon, call: Any, error: type[Exception], match: str
) -> None:
    archon.provision()
    archon.bindings.revoke("nostr", "old")
    before = _snapshot(archon)
    with pytest.raises(error, match=match):
        call(archon)
    assert _snapshot(archon) == before


def test_nothing_to_revoke_before_provisioning(archon: Archon) -> None:
    with pytest.raises(NotFound, match="not provisioned"):
        archon.bindings.revoke("cln")
    assert _snapshot(archon) == [[], [], []]
    assert archon.bindings.list_bindings() == {
        "ok": True,
        "did": archon.signer.did,
        "active": [],
        "revoked": [],
        "revoked_total": 0,
    }


def test_a_failed_signature_writes_nothing(archon: Archon, monkeypatch: pytest.MonkeyPatch) -> None:
    archon.provision()
    before = _snapshot(archon)

    def broken(**kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("hsm gone")

    monkeypatch.setattr(archon.node, "signmessage", broken)
    with pytest.raises(NodeRpcError, match="signing failed"):
        archon.bindings.revoke("cln", "x")
    assert _snapshot(archon) == before
    archon.bindings.revoke("nostr", "no node key needed")  # the Nostr half is local
    with pytest.raises(NodeRpcError, match="signing failed"):
        archon.bindings.revoke("cln")
    monkeypatch.undo()
    after = _snapshot(archon)
    assert len(after[2]) == 1 and len(after[1]) == 1


def test_verify_binding_refuses_a_revocation_of_another_binding(archon: Archon) -> None:
    archon.provision()
    docs = {b["binding_type"]: b["binding"] for b in archon.bindings.list_bindings()["active"]}
    rev = archon.bindings.revoke("cln")["revocation"]
    with pytest.raises(CredentialInvalid, match=r"^wrong_binding: the revocation names"):
        archon.verify_binding(docs["nostr"], [rev])
    forged = dict(rev, reason="forged")
    with pytest.raises(CredentialInvalid, match=r"^bad_proof: node signature"):
        archon.verify_binding(docs["cln"], forged)
    with pytest.raises(InvalidInput, match=r"^malformed: revocations"):
        archon.verify_binding(docs["cln"], "{nope")
