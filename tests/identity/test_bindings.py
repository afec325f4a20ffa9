"""DID <-> node key and DID <-> Nostr key bindings, verified from the document alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from coincurve import PrivateKey

from lnhive.core import bip340
from lnhive.core.signmessage import sign_message
from lnhive.identity.bindings import (
    REVOCATION_PREFIX,
    BindingFailure,
    binding_id,
    check_revocation,
    make_cln_binding,
    make_cln_revocation,
    make_nostr_binding,
    make_nostr_revocation,
    statement_text,
    verify_binding,
    verify_revocation,
)
from lnhive.identity.keys import DidSigner

NODE_SECRET = bytes([1]) * 32
NODE_ID = PrivateKey(NODE_SECRET).public_key.format(compressed=True).hex()
NOSTR_SECRET = bytes([2]) * 32
SIGNER = DidSigner(bytes([5]) * 32)
OTHER = DidSigner(bytes([6]) * 32)
T = 1_767_225_600


def _node_sign(text: str) -> str:
    return sign_message(NODE_SECRET, text).zbase


def _cln() -> dict[str, Any]:
    return make_cln_binding(SIGNER, NODE_ID, _node_sign, T)


def _nostr() -> dict[str, Any]:
    return make_nostr_binding(SIGNER, NOSTR_SECRET, T)


def _fail(doc: object) -> BindingFailure:
    with pytest.raises(BindingFailure) as err:
        verify_binding(doc)
    return err.value


def test_cln_binding_verifies_offline() -> None:
    doc = _cln()
    assert doc["subject"] == f"urn:lnhive:node:{NODE_ID}"
    assert statement_text({k: v for k, v in doc.items() if "sig" not in k}).startswith(
        "lnhive:binding:v1:"
    )
    b = verify_binding(json.dumps(doc))
    assert (b.binding_type, b.did, b.key, b.created_at) == ("cln", SIGNER.did, NODE_ID, T)
    assert b.binding_id == binding_id(SIGNER.did, "cln", doc["subject"])
    assert len(b.binding_id) == 32


def test_nostr_binding_verifies_offline() -> None:
    doc = _nostr()
    xonly = bip340.xonly_pubkey(NOSTR_SECRET).hex()
    assert doc["subject"] == f"urn:lnhive:nostr:{xonly}"
    b = verify_binding(doc)
    assert (b.binding_type, b.key) == ("nostr", xonly)


@pytest.mark.parametrize("make", [_cln, _nostr])
@pytest.mark.parametrize(
    ("field", "value"),
    [("created_at", T + 1), ("did", OTHER.did)],
)
def test_any_change_breaks_a_binding(make: Any, field: str, value: object) -> None:
    doc = make()
    doc[field] = value
    assert _fail(doc).kind == "bad_proof"


def test_the_did_signature_must_be_the_did_keys() -> None:
    doc = _cln()
    forged = make_cln_binding(OTHER, NODE_ID, _node_sign, T)
    doc["did_sig"] = forged["did_sig"]
    fail = _fail(doc)
    assert fail.kind == "bad_proof" and "DID signature" in fail.reason


def test_the_node_signature_must_be_the_named_nodes() -> None:
    other_node = PrivateKey(bytes([3]) * 32).public_key.format(compressed=True).hex()
    doc = make_cln_binding(SIGNER, other_node, _node_sign, T)  # signed by NODE, names another
    fail = _fail(doc)
    assert fail.kind == "bad_proof" and "node signature" in fail.reason


def test_the_nostr_signature_must_be_the_named_keys() -> None:
    doc = _nostr()
    doc["subject"] = "urn:lnhive:nostr:" + bip340.xonly_pubkey(bytes([4]) * 32).hex()
    fail = _fail(doc)
    assert fail.kind == "bad_proof" and "Nostr signature" in fail.reason


def test_a_cln_signature_cannot_pass_as_a_nostr_binding() -> None:
    doc = _cln()
    doc["binding_type"] = "nostr"
    assert _fail(doc).kind == "malformed"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("did_sig"), "exactly"),
        (lambda d: d.__setitem__("extra", 1), "exactly"),
        (lambda d: d.__setitem__("type", "Other"), "type"),
        (lambda d: d.__setitem__("binding_type", "email"), "binding_type"),
        (lambda d: d.__setitem__("created_at", "now"), "created_at"),
        (
            lambda d: d.__setitem__(
                "did", "did:key:zQ3shVc2UkAfJCdc1TR8E66J85h48P43r93q8jGPkPpjF9Ef9"
            ),
            "Ed25519",
        ),
        (lambda d: d.__setitem__("did", "did:web:x"), "did"),
        (lambda d: d.__setitem__("subject", "urn:lnhive:node:04" + "00" * 32), "URN"),
        (lambda d: d.__setitem__("subject_sig", "abc"), "subject_sig"),
        (lambda d: d.__setitem__("did_sig", "0x00"), "did_sig"),
    ],
)
def test_malformed_bindings(mutate: Any, reason: str) -> None:
    doc = _cln()
    mutate(doc)
    fail = _fail(doc)
    assert fail.kind == "malformed" and reason in fail.reason


def test_not_an_object() -> None:
    assert _fail("{").kind == "malformed"
    assert _fail([1]).kind == "malformed"


# -- revocations ----------------------------------------------------------------------


def _cln_rev(binding: dict[str, Any], at: int = T + 60, reason: str = "rotated") -> dict[str, Any]:
    return make_cln_revocation(SIGNER, binding, _node_sign, at, reason)


def _nostr_rev(binding: dict[str, Any], at: int = T + 60, reason: str = "") -> dict[str, Any]:
    return make_nostr_revocation(SIGNER, binding, NOSTR_SECRET, at, reason)


def _rev_fail(rev: object, binding: object) -> BindingFailure:
    with pytest.raises(BindingFailure) as err:
        verify_revocation(rev, binding)
    return err.value


def test_a_valid_cln_revocation_verifies_and_revokes_offline() -> None:
    binding = _cln()
    rev = _cln_rev(binding)
    assert rev["type"] == "LnhiveKeyBindingRevocation"
    stmt = {k: v for k, v in rev.items() if not k.endswith("_sig")}
    assert statement_text(stmt).startswith(REVOCATION_PREFIX)
    r = verify_revocation(json.dumps(rev), json.dumps(binding))
    assert (r.binding_id, r.binding_type, r.did, r.key) == (
        binding_id(SIGNER.did, "cln", binding["subject"]),
        "cln",
        SIGNER.did,
        NODE_ID,
    )
    assert (r.revoked_at, r.reason) == (T + 60, "rotated")
    assert verify_binding(binding).binding_id == r.binding_id  # no revocation given: valid
    fail = _fail_with(binding, [rev])
    assert fail.kind == "revoked"
    assert r.binding_id in fail.reason and "revoked at 1767225660: rotated" in fail.reason


def _fail_with(binding: object, revocations: object) -> BindingFailure:
    with pytest.raises(BindingFailure) as err:
        verify_binding(binding, revocations)
    return err.value


def test_a_valid_nostr_revocation_revokes_given_alone_or_as_json() -> None:
    binding = _nostr()
    rev = _nostr_rev(binding)
    assert verify_revocation(rev, binding).binding_type == "nostr"
    assert _fail_with(binding, rev).kind == "revoked"  # one document
    assert _fail_with(binding, json.dumps([rev])).kind == "revoked"  # a JSON list
    assert verify_binding(binding, []).key == bip340.xonly_pubkey(NOSTR_SECRET).hex()
    assert verify_binding(binding, None).binding_type == "nostr"


def test_a_revocation_covers_earlier_bindings_not_later_ones() -> None:
    old = make_cln_binding(SIGNER, NODE_ID, _node_sign, T - 100)
    binding = _cln()
    rev = _cln_rev(binding, at=T)  # same second as the binding: covered
    assert _fail_with(old, rev).kind == "revoked"
    assert _fail_with(binding, rev).kind == "revoked"
    newer = make_cln_binding(SIGNER, NODE_ID, _node_sign, T + 1)  # made again afterwards
    fail = _fail_with(newer, rev)
    assert fail.kind == "wrong_binding" and "predates this binding" in fail.reason
    assert verify_binding(newer).created_at == T + 1


@pytest.mark.parametrize(("make_binding", "make_rev"), [(_cln, _cln_rev), (_nostr, _nostr_rev)])
def test_forged_revocations_are_refused(make_binding: Any, make_rev: Any) -> None:
    binding = make_binding()
    rev = make_rev(binding)
    # the reason or the date changed after signing: the signatures no longer match
    for field, value in [("reason", "forged"), ("revoked_at", T + 61)]:
        fail = _rev_fail({**rev, field: value}, binding)
        assert fail.kind == "bad_proof" and "for this revocation" in fail.reason
    # each signature half replaced by another key's signature
    other = (
        make_cln_revocation(
            OTHER, make_cln_binding(OTHER, NODE_ID, _node_sign, T), _node_sign, T + 60, "rotated"
        )
        if binding["binding_type"] == "cln"
        else make_nostr_revocation(
            OTHER, make_nostr_binding(OTHER, NOSTR_SECRET, T), NOSTR_SECRET, T + 60, ""
        )
    )
    forged_did = {**rev, "did_sig": other["did_sig"]}
    fail = _rev_fail(forged_did, binding)
    assert fail.kind == "bad_proof" and "DID signature" in fail.reason
    # the binding's own signatures cannot pass as the revocation's (distinct domain)
    reused = {**rev, "subject_sig": binding["subject_sig"]}  # subject half only
    fail = _rev_fail(reused, binding)
    assert fail.kind == "bad_proof"
    assert ("node signature" if binding["binding_type"] == "cln" else "Nostr signature") in (
        fail.reason
    )
    reused_did = {**rev, "did_sig": binding["did_sig"]}
    assert "DID signature" in _rev_fail(reused_did, binding).reason
    # and a forged revocation makes binding verification fail with that reason
    fail = _fail_with(binding, [rev, forged_did])
    assert fail.kind == "bad_proof" and "DID signature" in fail.reason


def test_a_revocation_signed_by_another_node_key_is_refused() -> None:
    binding = _cln()
    rev = make_cln_revocation(
        SIGNER, binding, lambda text: sign_message(bytes([9]) * 32, text).zbase, T + 60
    )
    fail = _rev_fail(rev, binding)
    assert fail.kind == "bad_proof" and "node signature" in fail.reason


def test_a_revocation_of_another_binding_is_refused() -> None:
    cln, nostr = _cln(), _nostr()
    rev = _cln_rev(cln)
    fail = _rev_fail(rev, nostr)
    assert fail.kind == "wrong_binding" and "names binding" in fail.reason
    fail = _fail_with(nostr, rev)
    assert fail.kind == "wrong_binding"
    other_did = make_cln_binding(OTHER, NODE_ID, _node_sign, T)
    assert _rev_fail(rev, other_did).kind == "wrong_binding"
    # and no revocation is made for a binding of another DID or kind
    with pytest.raises(BindingFailure) as err:
        make_cln_revocation(SIGNER, nostr, _node_sign, T + 60)
    assert err.value.kind == "wrong_binding"


def test_a_revocation_of_a_broken_binding_is_refused() -> None:
    binding = _cln()
    rev = _cln_rev(binding)
    tampered = {**binding, "created_at": T + 1}
    assert _rev_fail(rev, tampered).kind == "bad_proof"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("reason"), "exactly"),
        (lambda d: d.__setitem__("type", "LnhiveKeyBinding"), "type"),
        (lambda d: d.__setitem__("reason", "x" * 501), "reason"),
        (lambda d: d.__setitem__("reason", 5), "reason"),
        (lambda d: d.__setitem__("revoked_at", -1), "revoked_at"),
        (lambda d: d.__setitem__("revoked_at", True), "revoked_at"),
        (lambda d: d.__setitem__("binding_id", "AB" * 16), "binding_id"),
        (lambda d: d.__setitem__("binding_id", "ab" * 16), "not the id"),
        (lambda d: d.__setitem__("binding_type", "email"), "binding_type"),
        (lambda d: d.__setitem__("subject", "urn:lnhive:nostr:" + "00" * 32), "URN"),
        (lambda d: d.__setitem__("did", "did:web:x"), "did"),
        (lambda d: d.__setitem__("subject_sig", 7), "subject_sig"),
        (lambda d: d.__setitem__("did_sig", "0x"), "did_sig"),
    ],
)
def test_malformed_revocations(mutate: Any, reason: str) -> None:
    rev = _cln_rev(_cln())
    mutate(rev)
    with pytest.raises(BindingFailure) as err:
        check_revocation(rev)
    assert err.value.kind == "malformed" and reason in err.value.reason


def test_revocations_must_be_documents() -> None:
    binding = _cln()
    for bad in ("{", 5, [1], "[1]"):
        assert _fail_with(binding, bad).kind == "malformed"
