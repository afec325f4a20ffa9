"""VC 2.0 issue and verify: every failure names its kind and reason."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from lnhive.core.errors import InvalidInput
from lnhive.identity import didkey
from lnhive.identity.credentials import (
    VC_CONTEXT,
    CredentialFailure,
    issue_credential,
    subject_uri,
    verify_credential,
)
from lnhive.identity.eddsa_jcs import sign_document
from lnhive.identity.keys import DidSigner

NOW = 1_767_225_600
DAY = 86400
NODE = "02" + "ab" * 32
ISSUER = DidSigner(bytes([5]) * 32)
OTHER = DidSigner(bytes([6]) * 32)


def _vc(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"now": NOW, "types": ["ForwardingCredential"], "valid_days": 30}
    args.update(kw)
    return issue_credential(ISSUER, NODE, {"forwards": 1840, "uptime": 0.985}, **args)


def _failure(vc: object, now: float = NOW + 60) -> CredentialFailure:
    with pytest.raises(CredentialFailure) as err:
        verify_credential(vc, now=now)
    return err.value


def test_issued_credential_has_the_vc2_shape_and_verifies() -> None:
    vc = _vc()
    assert vc["@context"] == [VC_CONTEXT]
    assert vc["id"].startswith("urn:uuid:")
    assert vc["type"] == ["VerifiableCredential", "ForwardingCredential"]
    assert vc["issuer"] == ISSUER.did
    assert vc["validFrom"] == "2026-01-01T00:00:00Z"
    assert vc["validUntil"] == "2026-01-31T00:00:00Z"
    assert vc["credentialSubject"] == {
        "id": f"urn:lnhive:node:{NODE}",
        "forwards": 1840,
        "uptime": 0.985,
    }
    assert vc["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert vc["proof"]["proofPurpose"] == "assertionMethod"
    assert vc["proof"]["@context"] == [VC_CONTEXT]
    ok = verify_credential(json.dumps(vc), now=NOW + 60)
    assert ok.issuer == ISSUER.did
    assert ok.subject == f"urn:lnhive:node:{NODE}"
    assert ok.cryptosuite == "eddsa-jcs-2022"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("credentialSubject", {"id": f"urn:lnhive:node:{NODE}", "forwards": 1841, "uptime": 0.985}),
        ("validUntil", "2027-01-31T00:00:00Z"),
        ("type", ["VerifiableCredential"]),
        ("id", "urn:uuid:00000000-0000-4000-8000-000000000000"),
    ],
)
def test_a_changed_field_is_a_bad_proof(field: str, value: object) -> None:
    vc = _vc()
    vc[field] = value
    fail = _failure(vc)
    assert fail.kind == "bad_proof" and "does not verify" in fail.reason


def test_a_changed_proof_option_is_a_bad_proof() -> None:
    vc = _vc()
    vc["proof"]["created"] = "2026-01-01T00:00:01Z"
    assert _failure(vc).kind == "bad_proof"


def test_wrong_proof_purpose() -> None:
    vc = sign_document(
        {k: v for k, v in _vc().items() if k != "proof"},
        ISSUER,
        created="2026-01-01T00:00:00Z",
        proof_purpose="authentication",
    )
    fail = _failure(vc)
    assert fail.kind == "bad_proof" and "proofPurpose" in fail.reason


def test_proof_by_another_key_than_the_issuer_is_wrong_key() -> None:
    body = {k: v for k, v in _vc().items() if k != "proof"}
    vc = sign_document(body, OTHER, created="2026-01-01T00:00:00Z")
    fail = _failure(vc)
    assert fail.kind == "wrong_key" and "not by the issuer" in fail.reason


def test_verification_method_swapped_to_another_key_fails() -> None:
    vc = _vc()
    vc["proof"]["verificationMethod"] = didkey.parse(OTHER.did).verification_method
    assert _failure(vc).kind == "bad_proof"


@pytest.mark.parametrize("suite", ["ecdsa-jcs-2019", "eddsa-rdfc-2022", 7])
def test_unknown_cryptosuite(suite: object) -> None:
    vc = _vc()
    vc["proof"]["cryptosuite"] = suite
    fail = _failure(vc)
    assert fail.kind == "unknown_cryptosuite" and "unknown cryptosuite" in fail.reason


def test_other_proof_type_and_proof_sets() -> None:
    vc = _vc()
    vc["proof"]["type"] = "Ed25519Signature2020"
    assert _failure(vc).kind == "unknown_cryptosuite"
    vc = _vc()
    vc["proof"] = [vc["proof"]]
    assert _failure(vc).kind == "unsupported"


def test_missing_or_garbled_proof() -> None:
    vc = _vc()
    del vc["proof"]
    assert _failure(vc).reason == "document has no proof"
    vc = _vc()
    vc["proof"]["proofValue"] = "not-base58"
    assert _failure(vc).kind == "bad_proof"
    vc = _vc()
    vc["proof"]["proofValue"] = didkey.multibase_encode(bytes(63))
    assert "64-byte" in _failure(vc).reason


def test_expired_and_not_yet_valid() -> None:
    vc = _vc()
    fail = _failure(vc, now=NOW + 31 * DAY)
    assert fail.kind == "expired" and "2026-01-31T00:00:00Z" in fail.reason
    fail = _failure(vc, now=NOW - 1)
    assert fail.kind == "not_yet_valid"
    assert verify_credential(vc, now=NOW + 30 * DAY).issuer == ISSUER.did  # last valid instant


def test_no_expiry_when_valid_days_is_zero() -> None:
    vc = _vc(valid_days=0)
    assert "validUntil" not in vc
    assert verify_credential(vc, now=NOW + 3650 * DAY).issuer == ISSUER.did


def test_proof_checks_come_before_the_validity_period() -> None:
    vc = _vc()
    vc["credentialSubject"]["forwards"] = 1
    assert _failure(vc, now=NOW + 400 * DAY).kind == "bad_proof"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda vc: vc.pop("@context"), "@context"),
        (lambda vc: vc.__setitem__("@context", ["https://example.org"]), "@context"),
        (lambda vc: vc.__setitem__("type", "VerifiableCredential"), "type"),
        (lambda vc: vc.pop("issuer"), "issuer"),
        (lambda vc: vc.__setitem__("credentialSubject", "x"), "credentialSubject"),
        (lambda vc: vc.__setitem__("validFrom", "yesterday"), "validFrom"),
        (lambda vc: vc.__setitem__("validFrom", "2026-01-01T00:00:00"), "time zone"),
    ],
)
def test_malformed_credentials(mutate: Any, reason: str) -> None:
    vc = _vc()
    mutate(vc)
    fail = _failure(vc)
    assert fail.kind == "malformed" and reason in fail.reason


def test_not_json_and_not_an_object() -> None:
    assert _failure("{nope").kind == "malformed"
    assert _failure("[1, 2]").kind == "malformed"


def test_a_huge_credential_is_malformed() -> None:
    vc = _vc()
    vc["credentialSubject"]["blob"] = "x" * 70000
    assert "bytes" in _failure(vc).reason


def test_the_w3c_vector_verifies_its_proof_but_not_as_our_credential() -> None:
    # its issuer is an https URL, not the did:key that signed it
    from tests.identity.test_eddsa_jcs_vectors import _json

    fail = _failure(_json("signedJCS.json"), now=NOW)
    assert fail.kind == "wrong_key"


@pytest.mark.parametrize(
    ("given", "uri"),
    [
        (NODE, f"urn:lnhive:node:{NODE}"),
        ("cd" * 32, "urn:lnhive:nostr:" + "cd" * 32),
        (f"urn:lnhive:node:{NODE}", f"urn:lnhive:node:{NODE}"),
        (ISSUER.did, ISSUER.did),
        ("did:cid:bagaaieraabc", "did:cid:bagaaieraabc"),
    ],
)
def test_subjects_are_uris(given: str, uri: str) -> None:
    assert subject_uri(given) == uri


@pytest.mark.parametrize(
    "bad", ["", "alice", "04" + "ab" * 32, "urn:lnhive:node:02ab", "did:key:zzz", "https://x"]
)
def test_bad_subjects_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        subject_uri(bad)


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"types": ["lowercase"]}, "CamelCase"),
        ({"types": ["VerifiableCredential"]}, "CamelCase"),
        ({"types": ["A", "A"]}, "twice"),
        ({"types": [f"T{i}" for i in range(9)]}, "at most"),
        ({"valid_days": -1}, "valid_days"),
        ({"valid_days": 3651}, "valid_days"),
        ({"valid_days": True}, "valid_days"),
    ],
)
def test_issue_refuses_bad_options(kw: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        _vc(**kw)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"id": "x"}, "must not contain id"),
        ({"blob": "x" * 9000}, "more than 8192"),
        ("[1]", "JSON object"),
        ("{bad", "not valid JSON"),
        ({"x": float("nan")}, "canonicalise"),
        ({"bad key": 1}, "not allowed"),
    ],
)
def test_issue_refuses_bad_claims(claims: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        issue_credential(ISSUER, NODE, claims, now=NOW)


def test_issuing_does_not_touch_the_given_claims() -> None:
    claims = {"a": {"b": 1}}
    before = copy.deepcopy(claims)
    issue_credential(ISSUER, NODE, claims, now=NOW)
    assert claims == before
