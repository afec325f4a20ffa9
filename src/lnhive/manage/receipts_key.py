"""The receipt key and the node's attestation of it (ARCHITECTURE decisions 2 and 5, §8.4).

Receipts, checkpoints and advisor replies are signed with BIP-340 by the *receipt key*:
the raw 32 bytes of ``makesecret`` with the label ``lnhive/receipts/v1``. The node
vouches for that key once with its identity key: a CLN ``signmessage`` over

    ``lnhive:receipt-key:v1:`` + hex SHA-256(JCS({"node_id", "receipt_key", "created_at"}))

The attestation ``{"node_id", "receipt_key", "created_at", "sig"}`` (``sig`` is the
zbase32 signature) travels in ``hive-client-status``, in every export header and in every
reply, so anyone can check it offline with the node id alone
(:func:`verify_attestation`, i.e. ``checkmessage`` with the expected pubkey).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core import bip340
from lnhive.core.canonical import canonical_json
from lnhive.core.derive import RECEIPTS_LABEL, secp256k1_secret_valid
from lnhive.core.errors import Internal, InvalidInput
from lnhive.core.hashing import sha256_hex
from lnhive.core.signmessage import ZbaseError, verify_message

DOMAIN = "receipt-key"
SIGNING_PREFIX = f"lnhive:{DOMAIN}:v1:"
ATTESTATION_FIELDS: tuple[str, ...] = ("node_id", "receipt_key", "created_at", "sig")

_NODE_ID = re.compile(r"0[23][0-9a-f]{64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def attestation_text(node_id: str, receipt_key: str, created_at: int) -> str:
    """The text the node signs to attest ``receipt_key``."""
    statement = {"node_id": node_id, "receipt_key": receipt_key, "created_at": created_at}
    return SIGNING_PREFIX + sha256_hex(canonical_json(statement))


def make_attestation(
    signmessage: Callable[[str], str], node_id: str, receipt_key: str, created_at: int
) -> dict[str, Any]:
    """An attestation, signed by ``signmessage(text) -> zbase`` (the node's key)."""
    text = attestation_text(node_id, receipt_key, created_at)
    return {
        "node_id": node_id,
        "receipt_key": receipt_key,
        "created_at": created_at,
        "sig": signmessage(text),
    }


def attestation_problem(attestation: object, node_id: str | None = None) -> str | None:
    """Why ``attestation`` is not a valid attestation (by ``node_id`` if given), or ``None``."""
    if not isinstance(attestation, Mapping):
        return "attestation is not an object"
    if sorted(attestation) != sorted(ATTESTATION_FIELDS):
        return "attestation must have exactly node_id, receipt_key, created_at, sig"
    nid, key, created, sig = (attestation[f] for f in ATTESTATION_FIELDS)
    if not isinstance(nid, str) or _NODE_ID.fullmatch(nid) is None:
        return "attestation node_id is not a node id"
    if node_id is not None and nid != node_id:
        return f"attestation is by {nid}, not {node_id}"
    if not isinstance(key, str) or _HEX64.fullmatch(key) is None:
        return "attestation receipt_key is not 64 lowercase hex"
    if type(created) is not int or not 0 <= created < 2**53:
        return "attestation created_at is not a timestamp"
    if not isinstance(sig, str):
        return "attestation sig is not a string"
    try:
        ok = verify_message(attestation_text(nid, key, created), sig, bytes.fromhex(nid))
    except ZbaseError as exc:
        return f"attestation sig does not parse: {exc}"
    return None if ok else "attestation is not signed by its node"


def verify_attestation(attestation: object, node_id: str | None = None) -> bool:
    """Whether ``attestation`` is valid (and by ``node_id`` when given)."""
    return attestation_problem(attestation, node_id) is None


@dataclass(frozen=True)
class ReceiptKey:
    """The receipt secret with its public key and the node's attestation."""

    secret: bytes
    attestation: dict[str, Any]
    _pubkey: str = field(default="", init=False, compare=False, repr=False)
    """The x-only public key, derived once."""
    _signer: bip340.SigningKey | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not secp256k1_secret_valid(self.secret):
            raise InvalidInput("receipt secret is not a valid secp256k1 key")
        signer = bip340.SigningKey(self.secret)
        object.__setattr__(self, "_signer", signer)
        object.__setattr__(self, "_pubkey", signer.xonly.hex())
        if self.attestation.get("receipt_key") != self.pubkey:
            raise InvalidInput("attestation names another receipt key")

    def __repr__(self) -> str:  # never print the secret
        return f"ReceiptKey(pubkey={self.pubkey!r}, node_id={self.node_id!r})"

    @property
    def pubkey(self) -> str:
        """x-only receipt public key, 64 hex."""
        return self._pubkey

    @property
    def node_id(self) -> str:
        return str(self.attestation["node_id"])

    def sign_digest(self, digest: bytes, *, check: bool = True) -> str:
        """Hex BIP-340 signature of a 32-byte digest (fresh aux randomness), verified
        before it is returned unless ``check`` is false (see :class:`bip340.SigningKey`:
        receipts and checkpoints are stored for good, replies are verified by their
        receiver)."""
        try:
            assert self._signer is not None
            return self._signer.sign(digest, check=check).hex()
        except Exception as exc:  # any failure means nothing may be stored (spec §6)
            raise Internal(f"receipt signing failed: {exc}") from exc

    @classmethod
    def create(
        cls, secret: bytes, node_id: str, signmessage: Callable[[str], str], created_at: int
    ) -> ReceiptKey:
        """A receipt key with a fresh attestation signed by ``signmessage``."""
        pubkey = bip340.xonly_pubkey(secret).hex()
        return cls(secret, make_attestation(signmessage, node_id, pubkey, created_at))

    @classmethod
    def from_node(
        cls, node: NodeApi, *, now: float, attestation: Mapping[str, Any] | None = None
    ) -> ReceiptKey:
        """Derive the key with ``makesecret`` and attest it with ``signmessage``.

        A stored ``attestation`` for the same node and key is reused (the key is attested
        once); otherwise a new one is signed with ``created_at = int(now)``.
        """
        secret = bytes.fromhex(str(node.makesecret(string=RECEIPTS_LABEL)["secret"]))
        node_id = str(node.getinfo()["id"])
        pubkey = bip340.xonly_pubkey(secret).hex()
        if (
            attestation is not None
            and attestation.get("receipt_key") == pubkey
            and verify_attestation(attestation, node_id)
        ):
            return cls(secret, dict(attestation))
        return cls.create(
            secret,
            node_id,
            lambda text: str(node.signmessage(message=text)["zbase"]),
            int(now),
        )
