"""did:key encoding, parsing and offline resolution."""

from __future__ import annotations

import pytest

from lnhive.core.errors import InvalidInput
from lnhive.identity import didkey

VECTOR_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"  # w3c/vc-di-eddsa keyPair


def test_node_id_did_key_is_the_spec_value() -> None:
    # identity-reputation spec §6 test 23
    node = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    did = didkey.node_did(node)
    assert did == "did:key:zQ3shVc2UkAfJCdc1TR8E66J85h48P43r93q8jGPkPpjF9Ef9"
    parsed = didkey.parse(did)
    assert parsed.key_type == "secp256k1" and parsed.public_key.hex() == node


def test_ed25519_round_trip() -> None:
    parsed = didkey.parse(VECTOR_DID)
    assert parsed.key_type == "Ed25519" and len(parsed.public_key) == 32
    assert didkey.ed25519_did(parsed.public_key) == VECTOR_DID
    assert parsed.verification_method == VECTOR_DID + "#" + VECTOR_DID[8:]


@pytest.mark.parametrize(
    ("ed", "x"),
    [
        # published did:key documents (Ed25519 key and its X25519 keyAgreement key)
        (
            "z6Mkgg342Ycpuk263R9d8Aq6MUaxPn1DDeHyGo38EefXmgDL",
            "z6LSbkodSr6SU2trs8VUgnrnWtSm7BAPG245ggrBmSrxbv1R",
        ),
        (
            "z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th",
            "z6LShpNhGwSupbB7zjuivH156vhLJBDDzmQtA4BY9S94pe1K",
        ),
    ],
)
def test_resolution_gives_the_multikey_document(ed: str, x: str) -> None:
    did = "did:key:" + ed
    doc = didkey.resolve(did)
    vm = f"{did}#{ed}"
    assert doc["id"] == did
    assert doc["@context"] == [didkey.DID_CONTEXT, didkey.MULTIKEY_CONTEXT]
    assert doc["verificationMethod"][0] == {
        "id": vm,
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": ed,
    }
    for rel in (
        "authentication",
        "assertionMethod",
        "capabilityInvocation",
        "capabilityDelegation",
    ):
        assert doc[rel] == [vm]
    assert doc["keyAgreement"] == [f"{did}#{x}"]
    assert doc["verificationMethod"][1]["publicKeyMultibase"] == x


@pytest.mark.parametrize(
    ("did", "reason"),
    [
        (42, "must be a string"),
        ("did:web:example.com", "not a did:key"),
        ("did:key:6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", "multibase"),
        ("did:key:z0OIl", "multibase"),
        ("did:key:" + didkey.multibase_encode(b"\xed\x01" + bytes(31)), "32 bytes"),
        ("did:key:" + didkey.multibase_encode(b"\x12\x00" + bytes(32)), "unsupported key type"),
        ("did:key:z" + "1" * 200, "longer than"),
        ("did:key:" + didkey.multibase_encode(b"\xe7\x01\x04" + bytes(32)), "compressed"),
    ],
)
def test_malformed_dids_are_refused_with_a_reason(did: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        didkey.parse(did)
    assert reason in err.value.message


def test_verification_method_must_name_the_did_key() -> None:
    other = "z6Mkgg342Ycpuk263R9d8Aq6MUaxPn1DDeHyGo38EefXmgDL"
    assert didkey.verification_method_key(f"{VECTOR_DID}#{VECTOR_DID[8:]}").did == VECTOR_DID
    with pytest.raises(InvalidInput, match="fragment"):
        didkey.verification_method_key(f"{VECTOR_DID}#{other}")
    with pytest.raises(InvalidInput, match="no #fragment"):
        didkey.verification_method_key(VECTOR_DID)
