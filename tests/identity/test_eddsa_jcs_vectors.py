"""The official eddsa-jcs-2022 test vectors of w3c/vc-di-eddsa (see vectors/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.canonical import canonical_json
from lnhive.core.hashing import sha256
from lnhive.identity import didkey
from lnhive.identity.eddsa_jcs import (
    BAD_PROOF,
    ProofFailure,
    create_proof,
    hash_data,
    sign_document,
    verify_proof,
)
from lnhive.identity.keys import DidSigner

VECTORS = Path(__file__).parent / "vectors"


def _text(name: str) -> str:
    return (VECTORS / name).read_text().strip()


def _json(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _signer() -> DidSigner:
    pair = _json("keyPair.json")
    raw = didkey.multibase_decode(pair["privateKeyMultibase"])
    assert raw[:2] == didkey.ED25519_PRIV
    signer = DidSigner(raw[2:])
    assert signer.did == "did:key:" + pair["publicKeyMultibase"]
    return signer


def test_key_pair_gives_the_vector_did() -> None:
    signer = _signer()
    assert signer.verification_method == _json("proofConfigJCS.json")["verificationMethod"]


def test_document_canonical_form_and_hash() -> None:
    unsigned = _json("unsigned.json")
    assert canonical_json(unsigned).decode() == _text("canonDocJCS.txt")
    assert sha256(canonical_json(unsigned)).hex() == _text("docHashJCS.txt")


def test_proof_config_canonical_form_and_hash() -> None:
    config = _json("proofConfigJCS.json")
    assert canonical_json(config).decode() == _text("proofCanonJCS.txt")
    assert sha256(canonical_json(config)).hex() == _text("proofHashJCS.txt")


def test_combined_hash_signature_and_proof_value() -> None:
    data = hash_data(_json("unsigned.json"), _json("proofConfigJCS.json"))
    assert data.hex() == _text("combinedHashJCS.txt")
    sig = _signer().sign(data)
    assert sig.hex() == _text("sigHexJCS.txt")
    assert didkey.multibase_encode(sig) == _text("sigBTC58JCS.txt")


def test_creating_the_proof_reproduces_the_signed_vector() -> None:
    unsigned = _json("unsigned.json")
    created = _json("proofConfigJCS.json")["created"]
    proof = create_proof(unsigned, _signer(), created=created)
    assert proof == _json("signedJCS.json")["proof"]
    assert sign_document(unsigned, _signer(), created=created) == _json("signedJCS.json")


def test_the_signed_vector_verifies() -> None:
    check = verify_proof(_json("signedJCS.json"))
    assert check.key.did == _signer().did
    assert check.proof["proofValue"] == _text("sigBTC58JCS.txt")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("name",), "Alumni Credential!"),
        (("credentialSubject", "alumniOf"), "Another School"),
        (("validFrom",), "2023-01-01T00:00:01Z"),
        (("proof", "created"), "2023-02-24T23:36:39Z"),
    ],
)
def test_any_change_to_the_signed_vector_fails(path: tuple[str, ...], value: str) -> None:
    doc = _json("signedJCS.json")
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ProofFailure) as err:
        verify_proof(doc)
    assert err.value.kind == BAD_PROOF
    assert "does not verify" in err.value.reason
