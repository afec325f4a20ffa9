"""Fixed test keys and builders shared by the transport and receipt tests.

The keys are SHA-256 of fixed labels, so the worked examples in docs/transport.md and
docs/receipts.md can be regenerated (and are pinned by tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coincurve import PrivateKey

from lnhive.core import bip340
from lnhive.core.derive import RECEIPTS_LABEL, hkdf_secret
from lnhive.core.hashing import sha256
from lnhive.core.signmessage import sign_message
from lnhive.core.store import Store
from lnhive.manage import receipts_log
from lnhive.manage.receipts_key import ReceiptKey
from lnhive.transport import nonces
from lnhive.transport.envelope import build_envelope

ADVISOR_SECRET = sha256(b"lnhive test advisor")
OTHER_ADVISOR_SECRET = sha256(b"lnhive test advisor 2")
NODE_NOSTR_SECRET = sha256(b"lnhive test node nostr")
NODE_SECRET = sha256(b"lnhive test node")
"""The node's identity key (what CLN's signmessage signs with)."""
OTHER_NODE_SECRET = sha256(b"lnhive test node 2")
RECEIPT_SECRET = hkdf_secret(NODE_SECRET, RECEIPTS_LABEL.encode())

ADVISOR = "nostr:" + bip340.xonly_pubkey(ADVISOR_SECRET).hex()
OTHER_ADVISOR = "nostr:" + bip340.xonly_pubkey(OTHER_ADVISOR_SECRET).hex()
NODE_NOSTR = bip340.xonly_pubkey(NODE_NOSTR_SECRET).hex()
OTHER_NODE_NOSTR = bip340.xonly_pubkey(sha256(b"lnhive test other node nostr")).hex()
NODE_ID = PrivateKey(NODE_SECRET).public_key.format(compressed=True).hex()
OTHER_NODE_ID = PrivateKey(OTHER_NODE_SECRET).public_key.format(compressed=True).hex()

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, VirtualClock's default start
AUX0 = bytes(32)


def node_signmessage(text: str, secret: bytes = NODE_SECRET) -> str:
    """CLN's signmessage (zbase) by the test node."""
    return sign_message(secret, text).zbase


def receipt_key(created_at: int = T0) -> ReceiptKey:
    return ReceiptKey.create(RECEIPT_SECRET, NODE_ID, node_signmessage, created_at)


def comms_store(path: Path) -> Store:
    """A store with the transport and receipt tables, as the comms plugin would open it."""
    return Store(path, [*nonces.MIGRATIONS, *receipts_log.MIGRATIONS])


def envelope(
    *,
    nonce: int = 1,
    timestamp: int = T0,
    secret: bytes = ADVISOR_SECRET,
    recipient: str = NODE_NOSTR,
    schema_type: str = "hive:fee-policy/v1",
    action: str = "set_anchor",
    params: dict[str, Any] | None = None,
    credential_id: str = "cred-1",
    confirm_action_id: str | None = None,
    aux: bytes | None = None,
) -> dict[str, Any]:
    return build_envelope(
        secret,
        recipient=recipient,
        schema_type=schema_type,
        action=action,
        params={"channel_id": "931770x2363x0", "target_fee_ppm": 150} if params is None else params,
        credential_id=credential_id,
        nonce=nonce,
        timestamp=timestamp,
        confirm_action_id=confirm_action_id,
        aux=aux,
    )
