"""did:key (W3C CCG did:key method) for Ed25519 and secp256k1 keys, resolved offline.

A did:key is ``did:key:`` + multibase base58btc (``z``) of a multicodec varint prefix and
the raw public key: ``ed25519-pub`` (0xed, varint ``ed 01``, 32 bytes, ``z6Mk…``) or
``secp256k1-pub`` (0xe7, varint ``e7 01``, 33-byte compressed key, ``zQ3s…``). The DID
document is derived from the DID alone (:func:`resolve`); an Ed25519 did:key also lists
its X25519 key-agreement key (``x25519-pub``, 0xec), computed with the birational map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import base58
from coincurve import PublicKey

from lnhive.core.errors import InvalidInput

PREFIX = "did:key:"
ED25519_PUB = b"\xed\x01"
SECP256K1_PUB = b"\xe7\x01"
X25519_PUB = b"\xec\x01"
ED25519_PRIV = b"\x80\x26"
"""Multicodec ``ed25519-priv`` (0x1300), as in ``privateKeyMultibase`` values."""

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
MAX_DID_LENGTH = 128

_B58 = re.compile(r"z[1-9A-HJ-NP-Za-km-z]+")
_P = 2**255 - 19


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc: ``z`` + base58 (Bitcoin alphabet)."""
    return "z" + base58.b58encode(data).decode("ascii")


def multibase_decode(value: object) -> bytes:
    """The bytes of a multibase base58btc string; anything else raises InvalidInput."""
    if not isinstance(value, str) or _B58.fullmatch(value) is None:
        raise InvalidInput("not a multibase base58btc value (z + base58)")
    return base58.b58decode(value[1:])


@dataclass(frozen=True)
class DidKey:
    """A parsed did:key: its key type (``Ed25519`` or ``secp256k1``) and raw public key."""

    did: str
    key_type: str
    public_key: bytes

    @property
    def fingerprint(self) -> str:
        """The multibase part after ``did:key:`` (also the verification method fragment)."""
        return self.did[len(PREFIX) :]

    @property
    def verification_method(self) -> str:
        """The id of the DID's one verification method: ``<did>#<fingerprint>``."""
        return f"{self.did}#{self.fingerprint}"


def ed25519_did(public_key: bytes) -> str:
    """The did:key of a 32-byte Ed25519 public key (``did:key:z6Mk…``)."""
    if len(public_key) != 32:
        raise InvalidInput("an Ed25519 public key is 32 bytes")
    return PREFIX + multibase_encode(ED25519_PUB + public_key)


def secp256k1_did(public_key: bytes) -> str:
    """The did:key of a 33-byte compressed secp256k1 key (``did:key:zQ3s…``)."""
    if len(public_key) != 33 or public_key[0] not in (2, 3):
        raise InvalidInput("a secp256k1 public key is 33 bytes, compressed")
    try:
        PublicKey(public_key)
    except ValueError as exc:
        raise InvalidInput("not a point on secp256k1") from exc
    return PREFIX + multibase_encode(SECP256K1_PUB + public_key)


def node_did(node_id: str) -> str:
    """The did:key of a CLN node id (66 hex)."""
    try:
        raw = bytes.fromhex(node_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("node id must be 66 hex characters") from exc
    return secp256k1_did(raw)


def parse(did: object) -> DidKey:
    """Parse and check a did:key; raises InvalidInput saying what is wrong."""
    if not isinstance(did, str):
        raise InvalidInput("DID must be a string")
    if len(did) > MAX_DID_LENGTH:
        raise InvalidInput(f"DID longer than {MAX_DID_LENGTH} characters")
    if not did.startswith(PREFIX):
        raise InvalidInput(f"not a did:key: {did[:40]!r}")
    raw = multibase_decode(did[len(PREFIX) :])
    codec, key = raw[:2], raw[2:]
    if codec == ED25519_PUB:
        if len(key) != 32:
            raise InvalidInput("did:key Ed25519 key must be 32 bytes")
        _ed25519_point(key)
        return DidKey(did, "Ed25519", key)
    if codec == SECP256K1_PUB:
        if len(key) != 33 or key[0] not in (2, 3):
            raise InvalidInput("did:key secp256k1 key must be 33 bytes, compressed")
        try:
            PublicKey(key)
        except ValueError as exc:
            raise InvalidInput("did:key secp256k1 key is not on the curve") from exc
        return DidKey(did, "secp256k1", key)
    raise InvalidInput(f"did:key with unsupported key type (multicodec {codec.hex()})")


def _ed25519_point(key: bytes) -> int:
    """The y coordinate of an encoded Ed25519 point, checked to decode."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(key)
    except ValueError as exc:
        raise InvalidInput("did:key Ed25519 key is not a valid point") from exc
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    if y >= _P:
        raise InvalidInput("did:key Ed25519 key is not canonical")
    return y


def x25519_from_ed25519(key: bytes) -> bytes:
    """The X25519 (Montgomery) key of an Ed25519 public key: u = (1 + y) / (1 - y) mod p."""
    y = _ed25519_point(key)
    if y == 1:
        raise InvalidInput("Ed25519 key has no X25519 counterpart")
    u = (1 + y) * pow(1 - y, _P - 2, _P) % _P
    return u.to_bytes(32, "little")


def resolve(did: str) -> dict[str, Any]:
    """The DID document of a did:key, built offline from the DID itself."""
    parsed = parse(did)
    vm_id = parsed.verification_method
    doc: dict[str, Any] = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": parsed.fingerprint,
            }
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }
    if parsed.key_type == "Ed25519":
        x = multibase_encode(X25519_PUB + x25519_from_ed25519(parsed.public_key))
        doc["verificationMethod"].append(
            {"id": f"{did}#{x}", "type": "Multikey", "controller": did, "publicKeyMultibase": x}
        )
        doc["keyAgreement"] = [f"{did}#{x}"]
    return doc


def verification_method_key(vm: object) -> DidKey:
    """The key behind a did:key verification method id ``did:key:z…#z…``.

    The fragment must be the DID's own fingerprint (the only signing key it has).
    """
    if not isinstance(vm, str):
        raise InvalidInput("verificationMethod must be a string")
    did, sep, fragment = vm.partition("#")
    if not sep:
        raise InvalidInput("verificationMethod has no #fragment")
    parsed = parse(did)
    if fragment != parsed.fingerprint:
        raise InvalidInput("verificationMethod fragment does not name the did:key's key")
    return parsed
