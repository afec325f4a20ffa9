"""Key derivation labels (ARCHITECTURE decision 2).

Every key other than the node's identity key comes from ``makesecret`` with one of
these versioned labels; any plugin on the node derives the same key from the same
label. The lightningd stand-in implements ``makesecret`` as
``hkdf_secret(node_root_secret, info)`` where ``info`` is the caller's decoded bytes
(``hex`` decoded, or ``string`` as UTF-8).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NOSTR_LABEL = "lnhive/nostr/v1"
"""The node's Nostr identity (BIP-340 secp256k1 key)."""
RECEIPTS_LABEL = "lnhive/receipts/v1"
"""BIP-340 receipt-signing key."""
ESCROW_LABEL = "lnhive/escrow/v1"
"""BIP-340 escrow key."""
DID_ED25519_LABEL = "lnhive/did-ed25519/v1"
"""Ed25519 seed of the node's did:key."""
AT_REST_LABEL = "lnhive/at-rest/v1"
"""AEAD key for secrets kept in a database."""

ALL_LABELS: tuple[str, ...] = (
    NOSTR_LABEL,
    RECEIPTS_LABEL,
    ESCROW_LABEL,
    DID_ED25519_LABEL,
    AT_REST_LABEL,
)

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def hkdf_secret(root: bytes, info: bytes, salt: bytes = b"") -> bytes:
    """32 bytes of HKDF-SHA256 (RFC 5869) from ``root`` with ``info`` and ``salt``.

    An empty ``salt`` means HKDF's default (32 zero bytes).
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt or None, info=info)
    return hkdf.derive(root)


def secp256k1_secret_valid(b: bytes) -> bool:
    """Whether ``b`` is 32 bytes encoding a scalar ``k`` with ``0 < k < n``."""
    if len(b) != 32:
        return False
    return 0 < int.from_bytes(b, "big") < SECP256K1_ORDER
