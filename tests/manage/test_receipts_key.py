"""The receipt key and the node's attestation of it (ARCHITECTURE §8.4)."""

from __future__ import annotations

import pytest

from lnhive.core import bip340
from lnhive.core.clock import VirtualClock
from lnhive.core.derive import RECEIPTS_LABEL
from lnhive.core.errors import InvalidInput
from lnhive.manage.receipts_key import (
    ReceiptKey,
    attestation_problem,
    attestation_text,
    verify_attestation,
)
from lnhive.sim.network import InProcessNode, Network
from tests.transport.keys import NODE_ID, OTHER_NODE_ID, RECEIPT_SECRET, T0, receipt_key


def test_attestation_verifies_offline_with_the_node_id() -> None:
    key = receipt_key()
    att = key.attestation
    assert att["node_id"] == NODE_ID
    assert att["receipt_key"] == key.pubkey == bip340.xonly_pubkey(RECEIPT_SECRET).hex()
    assert att["created_at"] == T0
    assert verify_attestation(att, NODE_ID)
    assert verify_attestation(att)  # by whichever node it names
    assert attestation_problem(att, OTHER_NODE_ID) is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("receipt_key", "00" * 32),
        ("created_at", T0 + 1),
        ("node_id", OTHER_NODE_ID),
        ("sig", "y" * 104),
        ("sig", "abc"),
    ],
)
def test_tampered_attestation_fails(field: str, value: object) -> None:
    att = dict(receipt_key().attestation)
    att[field] = value
    assert not verify_attestation(att)


def test_attestation_text_shape() -> None:
    text = attestation_text(NODE_ID, "ab" * 32, T0)
    assert text.startswith("lnhive:receipt-key:v1:")
    assert len(text) == len("lnhive:receipt-key:v1:") + 64


def test_key_refuses_mismatched_attestation_and_hides_secret() -> None:
    key = receipt_key()
    other = dict(key.attestation, receipt_key="ab" * 32)
    with pytest.raises(InvalidInput):
        ReceiptKey(RECEIPT_SECRET, other)
    assert RECEIPT_SECRET.hex() not in repr(key)


def test_from_node_uses_makesecret_and_signmessage() -> None:
    clock = VirtualClock()
    net = Network(clock, seed=3)
    net.add_node("a")
    node = InProcessNode(net, "a")
    key = ReceiptKey.from_node(node, now=clock.now())
    assert key.secret.hex() == node.makesecret(string=RECEIPTS_LABEL)["secret"]
    assert key.node_id == node.getinfo()["id"]
    assert verify_attestation(key.attestation, key.node_id)
    # the node's own checkmessage agrees (CLN-compatible signature)
    att = key.attestation
    text = attestation_text(att["node_id"], att["receipt_key"], att["created_at"])
    assert node.checkmessage(message=text, zbase=att["sig"], pubkey=key.node_id)["verified"]
    # attested once: a stored attestation is reused, a foreign one is not
    clock.advance(3600)
    again = ReceiptKey.from_node(node, now=clock.now(), attestation=att)
    assert again.attestation == att
    fresh = ReceiptKey.from_node(node, now=clock.now(), attestation=receipt_key().attestation)
    assert fresh.attestation["created_at"] == int(clock.now())
