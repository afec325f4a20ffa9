"""Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite (W3C vc-di-eddsa).

Create: the proof options (``type`` DataIntegrityProof, ``cryptosuite``, ``created``,
``verificationMethod``, ``proofPurpose``) take the document's ``@context``; the signed
data is ``SHA-256(JCS(proof config)) || SHA-256(JCS(document without proof))``, signed
with Ed25519 (pure EdDSA); ``proofValue`` is multibase base58btc of the 64 bytes.
Verify reverses it and names the first thing wrong (:class:`ProofCheck`). Keys come from
did:key verification methods, resolved offline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256
from lnhive.identity import didkey
from lnhive.identity.keys import DidSigner, ed25519_verify

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
ASSERTION = "assertionMethod"

# Failure kinds, most specific first; docs/archon.md lists them.
MALFORMED = "malformed"
UNKNOWN_CRYPTOSUITE = "unknown_cryptosuite"
UNSUPPORTED = "unsupported"
BAD_PROOF = "bad_proof"
WRONG_KEY = "wrong_key"

_DATETIME = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


class ProofFailure(Exception):
    """A proof that does not verify: ``kind`` (one of the constants above) and a reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class ProofCheck:
    """A verified proof: its verification method's did:key and its options."""

    key: didkey.DidKey
    proof: dict[str, Any]


def parse_datetime(value: object, name: str, *, need_zone: bool = False) -> datetime:
    """An XML Schema dateTime (``2023-02-24T23:36:38Z``); no zone means UTC unless required."""
    if not isinstance(value, str) or _DATETIME.fullmatch(value) is None:
        raise InvalidInput(f"{name} is not an XML Schema dateTime")
    if need_zone and not (value.endswith("Z") or value[-6] in "+-"):
        raise InvalidInput(f"{name} needs a time zone")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        out = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} is not a valid date and time") from exc
    if out.tzinfo is None:
        out = out.replace(tzinfo=UTC)
    return out


def hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """``SHA-256(JCS(proof_config)) || SHA-256(JCS(document))`` (64 bytes)."""
    return sha256(canonical_json(proof_config)) + sha256(canonical_json(document))


def _check_options(options: Mapping[str, Any]) -> None:
    if options.get("type") != PROOF_TYPE:
        raise ProofFailure(UNKNOWN_CRYPTOSUITE, f"proof type is not {PROOF_TYPE}")
    suite = options.get("cryptosuite")
    if suite != CRYPTOSUITE:
        shown = suite if isinstance(suite, str) else type(suite).__name__
        raise ProofFailure(UNKNOWN_CRYPTOSUITE, f"unknown cryptosuite: {str(shown)[:64]}")
    if "created" in options:
        try:
            parse_datetime(options["created"], "proof created")
        except InvalidInput as exc:
            raise ProofFailure(MALFORMED, exc.message) from None


def create_proof(
    document: Mapping[str, Any],
    signer: DidSigner,
    *,
    created: str,
    proof_purpose: str = ASSERTION,
) -> dict[str, Any]:
    """The ``eddsa-jcs-2022`` proof of ``document`` (without any ``proof`` it has) by ``signer``."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": signer.verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in unsecured:
        proof["@context"] = unsecured["@context"]
    try:
        _check_options(proof)
    except ProofFailure as exc:
        raise InvalidInput(exc.reason) from None
    proof["proofValue"] = didkey.multibase_encode(signer.sign(hash_data(unsecured, proof)))
    return proof


def sign_document(
    document: Mapping[str, Any], signer: DidSigner, *, created: str, proof_purpose: str = ASSERTION
) -> dict[str, Any]:
    """``document`` with its ``proof`` added."""
    out = {k: v for k, v in document.items() if k != "proof"}
    out["proof"] = create_proof(out, signer, created=created, proof_purpose=proof_purpose)
    return out


def verify_proof(secured: object, *, expected_purpose: str = ASSERTION) -> ProofCheck:
    """Check the single ``eddsa-jcs-2022`` proof of ``secured``; raises :class:`ProofFailure`."""
    if not isinstance(secured, Mapping):
        raise ProofFailure(MALFORMED, "document is not a JSON object")
    if "proof" not in secured:
        raise ProofFailure(BAD_PROOF, "document has no proof")
    proof = secured["proof"]
    if isinstance(proof, list):
        raise ProofFailure(UNSUPPORTED, "proof sets are not supported; give one proof")
    if not isinstance(proof, Mapping):
        raise ProofFailure(MALFORMED, "proof is not a JSON object")
    _check_options(proof)
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        proof_bytes = didkey.multibase_decode(proof.get("proofValue"))
    except InvalidInput:
        raise ProofFailure(BAD_PROOF, "proofValue is missing or not multibase base58btc") from None
    if len(proof_bytes) != 64:
        raise ProofFailure(BAD_PROOF, "proofValue is not a 64-byte Ed25519 signature")
    purpose = options.get("proofPurpose")
    if purpose != expected_purpose:
        raise ProofFailure(BAD_PROOF, f"proofPurpose is {purpose!r}, expected {expected_purpose!r}")
    vm = options.get("verificationMethod")
    if isinstance(vm, str) and not vm.startswith(didkey.PREFIX):
        raise ProofFailure(UNSUPPORTED, "only did:key verification methods resolve offline")
    try:
        key = didkey.verification_method_key(vm)
    except InvalidInput as exc:
        raise ProofFailure(MALFORMED, f"verificationMethod: {exc.message}") from None
    if key.key_type != "Ed25519":
        raise ProofFailure(WRONG_KEY, "eddsa-jcs-2022 needs an Ed25519 verification method")
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    if "@context" in options:
        ctx, doc_ctx = options["@context"], secured.get("@context")
        ctx_list = ctx if isinstance(ctx, list) else [ctx]
        doc_list = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
        if doc_list[: len(ctx_list)] != ctx_list:
            raise ProofFailure(BAD_PROOF, "document @context does not start with the proof's")
        unsecured["@context"] = ctx
    try:
        data = hash_data(unsecured, options)
    except InvalidInput as exc:
        raise ProofFailure(MALFORMED, exc.message) from None
    if not ed25519_verify(key.public_key, proof_bytes, data):
        raise ProofFailure(BAD_PROOF, "signature does not verify: the document or proof changed")
    return ProofCheck(key, dict(proof))
