"""DID <-> node key and DID <-> Nostr key bindings, verified from the document alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from coincurve import PrivateKey

from lnhive.core import bip340
from lnhive.core.signmessage import sign_message
from lnhive.identity.bindings import (
    BindingFailure,
    binding_id,
    make_cln_binding,
    make_nostr_binding,
    statement_text,
    verify_binding,
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
