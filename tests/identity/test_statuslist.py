"""Revocation through a W3C Bitstring Status List: encoding, verification and the service."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import Conflict, CredentialInvalid, InvalidInput, NotFound, Unsupported
from lnhive.identity.archon import Archon
from lnhive.identity.credentials import (
    CredentialFailure,
    build_list_credential,
    issue_credential,
    verify_credential,
)
from lnhive.identity.keys import DidSigner
from lnhive.identity.statuslist import (
    MIN_BITS,
    decode_list,
    empty_list,
    encode_list,
    get_bit,
    set_bit,
    status_entry,
)

NOW = 1_767_225_600
NODE = "02" + "ab" * 32
ISSUER = DidSigner(bytes([5]) * 32)
OTHER = DidSigner(bytes([6]) * 32)
LIST_ID = "urn:example:status:1"


def _failure(vc: object, status_list: object) -> CredentialFailure:
    with pytest.raises(CredentialFailure) as err:
        verify_credential(vc, now=NOW + 60, status_list=status_list)
    return err.value


def test_bit_order_is_most_significant_bit_of_the_first_byte_first() -> None:
    bits = empty_list()
    assert len(bits) * 8 == MIN_BITS == 131_072
    set_bit(bits, 0)
    assert bits[0] == 0x80
    set_bit(bits, 7)
    assert bits[0] == 0x81
    set_bit(bits, 9)
    assert bits[1] == 0x40
    set_bit(bits, MIN_BITS - 1)
    assert bits[-1] == 0x01
    assert [get_bit(bits, i) for i in (0, 1, 7, 8, 9, MIN_BITS - 1)] == [
        True,
        False,
        True,
        False,
        True,
        True,
    ]
    with pytest.raises(InvalidInput, match="outside"):
        set_bit(bits, MIN_BITS)
    with pytest.raises(InvalidInput, match="outside"):
        get_bit(bytes(bits), -1)


def test_gzip_multibase_round_trip() -> None:
    bits = empty_list()
    for i in (3, 1000, 77_777):
        set_bit(bits, i)
    encoded = encode_list(bytes(bits))
    assert encoded.startswith("u") and "=" not in encoded
    raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert gzip.decompress(raw) == bytes(bits)  # plain GZIP, as the spec says
    assert decode_list(encoded) == bytes(bits)
    assert encode_list(bytes(bits)) == encoded  # deterministic (mtime 0)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("z123", "multibase base64url"),
        (5, "multibase base64url"),
        ("u!!!", "base64url"),
        ("u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="), "GZIP"),
        (encode_list(bytes(1024)), "fewer than 131072"),
    ],
)
def test_malformed_encoded_lists_are_refused(value: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        decode_list(value)


def _revocable(index: int = 5, signer: DidSigner = ISSUER) -> dict[str, Any]:
    return issue_credential(
        signer,
        NODE,
        {"forwards": 1},
        now=NOW,
        valid_days=30,
        credential_status=status_entry(LIST_ID, index),
    )


def test_status_entry_shape_and_unchecked_without_a_list() -> None:
    vc = _revocable()
    assert vc["credentialStatus"] == {
        "id": f"{LIST_ID}#5",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "5",
        "statusListCredential": LIST_ID,
    }
    assert verify_credential(vc, now=NOW + 60).status == "unchecked"
    plain = issue_credential(ISSUER, NODE, {}, now=NOW)
    assert verify_credential(plain, now=NOW + 60).status == "none"


def test_revoked_bit_fails_with_revoked() -> None:
    vc = _revocable(5)
    bits = empty_list()
    clean = build_list_credential(ISSUER, LIST_ID, bytes(bits), now=NOW)
    assert clean["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert clean["credentialSubject"]["type"] == "BitstringStatusList"
    assert verify_credential(vc, now=NOW + 60, status_list=clean).status == "valid"
    assert verify_credential(vc, now=NOW + 60, status_list=json.dumps(clean)).status == "valid"
    set_bit(bits, 4)
    set_bit(bits, 6)  # neighbours do not matter
    neighbours = build_list_credential(ISSUER, LIST_ID, bytes(bits), now=NOW)
    assert verify_credential(vc, now=NOW + 60, status_list=neighbours).status == "valid"
    set_bit(bits, 5)
    revoked = build_list_credential(ISSUER, LIST_ID, bytes(bits), now=NOW)
    assert _failure(vc, revoked).kind == "revoked"


def test_another_issuers_list_is_refused() -> None:
    vc = _revocable(5)
    theirs = build_list_credential(OTHER, LIST_ID, bytes(empty_list()), now=NOW)
    e = _failure(vc, theirs)
    assert e.kind == "bad_status_list" and "not by the issuer" in e.reason


def test_tampered_list_is_refused() -> None:
    vc = _revocable(5)
    bits = empty_list()
    set_bit(bits, 5)
    revoked = build_list_credential(ISSUER, LIST_ID, bytes(bits), now=NOW)
    tampered = copy.deepcopy(revoked)  # someone "un-revokes" by swapping in a clean list
    tampered["credentialSubject"]["encodedList"] = encode_list(bytes(empty_list()))
    e = _failure(vc, tampered)
    assert e.kind == "bad_status_list" and "bad_proof" in e.reason


def test_wrong_list_bad_index_and_malformed_lists_are_refused() -> None:
    other_id = build_list_credential(ISSUER, "urn:example:status:2", bytes(empty_list()), now=NOW)
    assert _failure(_revocable(5), other_id).kind == "bad_status_list"
    clean = build_list_credential(ISSUER, LIST_ID, bytes(empty_list()), now=NOW)
    e = _failure(_revocable(MIN_BITS), clean)
    assert e.kind == "bad_status_list" and "outside" in e.reason
    assert _failure(_revocable(), "{nope").kind == "malformed"
    assert _failure(_revocable(), [1]).kind == "malformed"
    short = build_list_credential(ISSUER, LIST_ID, bytes(16), now=NOW)
    e = _failure(_revocable(), short)
    assert e.kind == "malformed" and "fewer than" in e.reason
    bad_entry = issue_credential(
        ISSUER,
        NODE,
        {},
        now=NOW,
        credential_status=dict(status_entry(LIST_ID, 1), statusListIndex=1),
    )
    assert _failure(bad_entry, clean).kind == "malformed"


# -- the service ----------------------------------------------------------------------


def _snapshot(a: Archon) -> list[Any]:
    tables = ("archon_identity", "archon_bindings", "archon_credentials", "archon_status_lists")
    return [[tuple(r) for r in a.store.query(f"SELECT * FROM {t}")] for t in tables]


def test_issue_allocates_indexes_and_revoke_flips_the_bit(
    archon: Archon, clock_node: tuple[VirtualClock, Any]
) -> None:
    clock, _ = clock_node
    archon.provision()
    one = archon.issue(NODE, {"a": 1})["credential"]
    two = archon.issue(NODE, {"a": 2})["credential"]
    assert one["credentialStatus"]["statusListIndex"] == "0"
    assert two["credentialStatus"]["statusListIndex"] == "1"
    listed = archon.status_list()
    list_vc = listed["status_list_credential"]
    assert listed["allocated"] == 2 and listed["revoked"] == 0 and listed["size"] == MIN_BITS
    assert one["credentialStatus"]["statusListCredential"] == list_vc["id"] == listed["list_id"]
    assert list_vc["issuer"] == archon.signer.did
    assert archon.verify(one)["status"] == "valid"  # our own list, known locally

    clock.advance(60)
    out = archon.revoke(one["id"], "  key compromised ")
    assert out["reason"] == "key compromised" and out["status_list_index"] == 0
    new_list = archon.status_list()["status_list_credential"]
    assert new_list == out["status_list_credential"] and new_list != list_vc
    with pytest.raises(CredentialInvalid, match=r"^revoked: "):
        archon.verify(one)
    with pytest.raises(CredentialInvalid, match=r"^revoked: "):
        archon.verify(json.dumps(one), json.dumps(new_list))
    assert archon.verify(two)["status"] == "valid"
    # an old copy of the list is still signed: a verifier given it sees "valid"
    assert archon.verify(one, list_vc)["status"] == "valid"
    with pytest.raises(CredentialFailure) as err:  # offline, with the fetched list
        verify_credential(one, now=clock.now(), status_list=new_list)
    assert err.value.kind == "revoked"
    assert verify_credential(one, now=clock.now()).status == "unchecked"

    listed_now = {c["credential_id"]: c["status"] for c in archon.list_credentials()["credentials"]}
    assert listed_now[one["id"]] == "revoked" and listed_now[two["id"]] == "valid"
    assert archon.status()["credentials"] == {"issued": 2, "live": 1, "revoked": 1}
    assert archon.status_list()["revoked"] == 1


def test_bad_revocations_change_nothing(archon: Archon) -> None:
    with pytest.raises(NotFound, match="not provisioned"):
        archon.status_list()
    archon.provision()
    vc = archon.issue(NODE, {})["credential"]
    archon.revoke(vc["id"])
    before = _snapshot(archon)
    with pytest.raises(NotFound):
        archon.revoke("urn:uuid:missing")
    with pytest.raises(Conflict, match="already revoked"):
        archon.revoke(vc["id"], "again")
    with pytest.raises(InvalidInput):
        archon.revoke("")
    with pytest.raises(InvalidInput, match="reason"):
        archon.revoke(vc["id"], "x" * 501)
    with pytest.raises(InvalidInput, match="malformed"):
        archon.verify(vc, "{not json")
    other = build_list_credential(
        OTHER, vc["credentialStatus"]["statusListCredential"], bytes(empty_list()), now=NOW
    )
    with pytest.raises(CredentialInvalid, match="bad_status_list"):
        archon.verify(vc, other)
    assert _snapshot(archon) == before


def test_revoke_of_a_pre_migration_credential_is_refused(archon: Archon) -> None:
    archon.provision()
    vc = archon.issue(NODE, {})["credential"]
    archon.store.execute(
        "UPDATE archon_credentials SET status_list_id = NULL, status_index = NULL "
        "WHERE credential_id = ?",
        (vc["id"],),
    )
    with pytest.raises(Unsupported, match="no status entry"):
        archon.revoke(vc["id"])
