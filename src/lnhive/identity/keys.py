"""The node's DID key: Ed25519 from ``makesecret`` (ARCHITECTURE decisions 2 and 6).

The seed is the raw 32 bytes ``makesecret string="lnhive/did-ed25519/v1"`` returns, so a
node restored from the same ``hsm_secret`` has the same did:key. The key lives in memory
only; it is never written to a database, log or error.

Messages signed for callers (``hive-archon-sign-message``, §8.10) are Ed25519 over
``"DID Signed Message:" + UTF-8 text``; text that begins with ``lnhive:`` (the hive's own
signature domains) is refused, and the prefix keeps such signatures apart from proofs
and binding statements even if that check were bypassed.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lnhive.cln.api import NodeApi
from lnhive.core.derive import DID_ED25519_LABEL
from lnhive.core.errors import InvalidInput, NodeRpcError, Unauthorized
from lnhive.identity import didkey

MESSAGE_PREFIX = b"DID Signed Message:"
RESERVED_PREFIX = "lnhive:"
MAX_MESSAGE_CHARS = 16384


class DidSigner:
    """An Ed25519 key and its did:key."""

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise InvalidInput("an Ed25519 seed is 32 bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key: bytes = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.did: str = didkey.ed25519_did(self.public_key)

    def __repr__(self) -> str:  # never print the key
        return f"DidSigner(did={self.did!r})"

    @classmethod
    def from_node(cls, node: NodeApi) -> DidSigner:
        """Derive the DID key with the node's ``makesecret``."""
        try:
            secret = str(node.makesecret(string=DID_ED25519_LABEL)["secret"])
            seed = bytes.fromhex(secret)
        except Exception as exc:
            raise NodeRpcError(f"makesecret failed: {type(exc).__name__}") from exc
        return cls(seed)

    @property
    def verification_method(self) -> str:
        return didkey.parse(self.did).verification_method

    def sign(self, data: bytes) -> bytes:
        """A 64-byte Ed25519 signature of ``data`` (pure EdDSA)."""
        return self._key.sign(data)

    def sign_message(self, message: object) -> str:
        """Multibase signature of a caller's text; ``lnhive:`` text is refused."""
        text = check_message(message)
        return didkey.multibase_encode(self.sign(MESSAGE_PREFIX + text.encode("utf-8")))


def check_message(message: object) -> str:
    """``message`` if it may be signed for a caller, else InvalidInput/Unauthorized."""
    if not isinstance(message, str):
        raise InvalidInput("message must be a string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"message longer than {MAX_MESSAGE_CHARS} characters")
    if message.startswith(RESERVED_PREFIX):
        raise Unauthorized(
            "text beginning with 'lnhive:' is reserved for the hive's own signatures"
        )
    return message


def ed25519_verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data``; never raises."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify_message(message: object, signature: object, did: object) -> str | None:
    """Why ``signature`` is not ``did``'s signature of ``message``, or ``None`` if it is."""
    if not isinstance(message, str):
        return "message must be a string"
    try:
        key = didkey.parse(did)
        sig = didkey.multibase_decode(signature)
    except InvalidInput as exc:
        return exc.message
    if key.key_type != "Ed25519":
        return "only Ed25519 did:key signatures are supported"
    if len(sig) != 64:
        return "signature must be 64 bytes"
    if not ed25519_verify(key.public_key, sig, MESSAGE_PREFIX + message.encode("utf-8")):
        return "signature does not verify for this DID and message"
    return None
