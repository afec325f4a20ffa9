"""Pins the worked examples of docs/transport.md and docs/receipts.md to the code."""

from __future__ import annotations

import json
from pathlib import Path

from lnhive.core import bip340
from lnhive.core.canonical import canonical_json
from lnhive.manage.receipts import ZERO_HASH, ReceiptDraft, checkpoint_body, hash_body
from lnhive.manage.receipts_key import attestation_text, verify_attestation
from lnhive.manage.receipts_verify import signed_digest
from lnhive.transport.envelope import parse_envelope, signing_digest, verify_envelope
from tests.transport.keys import (
    ADVISOR_SECRET,
    AUX0,
    NODE_ID,
    NODE_NOSTR,
    RECEIPT_SECRET,
    T0,
    envelope,
    receipt_key,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"

ADVISOR_PUB = "5605405148d6fc25c5f70d9d7a60048b2f417436c5a07d83194a276bf7d60458"
RECIPIENT = "30e1e0eed151c0de82f48bf68077e403efee53006fa7713caf1af987c7e87dd1"
UNSIGNED_JCS = (
    '{"confirm_action_id":null,"credential":{"id":"cred-1","mode":"bip340"},"nonce":42,'
    '"payment_proof":null,"recipient":"30e1e0eed151c0de82f48bf68077e403efee53006fa7713caf1af987c7e87dd1",'
    '"schema_payload":{"action":"set_anchor","params":{"channel_id":"931770x2363x0","target_fee_ppm":150}},'
    '"schema_type":"hive:fee-policy/v1",'
    '"sender":"nostr:5605405148d6fc25c5f70d9d7a60048b2f417436c5a07d83194a276bf7d60458",'
    '"timestamp":1767225600,"v":1}'
)
DIGEST = "b489732f925b4993fcb97377521568a315067eefdfeef431d95f8fbdf2d7684e"
SIGNATURE = (
    "3057e4058bb5cf4a067131491dc18e1aea2f0221a7e40649a5e242f46178cd02"
    "1e8b03b5627c1ce58b199e1776958fb45a8c33fa5a6435cbf703989103968a70"
)
REQUEST_HASH = "5a498fdb4f77465fb7f5fb67213714a0b4a431c6c4a5d1a2c91c1369ea3dd2f4"

NODE_SECRET_HEX = "12911a7580fe9cc852d4b36f8ee444a8016659ac6ceb1e0360c459a1e5be59eb"
RECEIPT_KEY = "4e1ebaac4cc8cd973b721d086b332c4219506531cfaccb76edcc71797be1bdcf"
ATTESTATION_TEXT = (
    "lnhive:receipt-key:v1:daf6d017321695af7c7dfdb1ee53ec775b3fe0728b862a5a3b0ecffe1742bf22"
)
ATTESTATION_SIG = "dhxeq6i8qyzwjrn3bpi5x5ypkfauefdeojoigg8f8swtpcogzbn6rfj651zbfckn76hi3twxqfbk81919r1pz37a5ii7ru5w3ik446hu"
RECEIPT_HASH = "9a80826028afdb25e145762a64017a0a3d051f3214388765be7b3e6278dc43cd"
RECEIPT_SIG = (
    "aa1503ec1aee4ab22dc3bb41190f14445ec73940a0a105a2e91892ba0b038125"
    "85adb28a35cb9cafa243e0251187a065e02aad9a95fac5fb61a6e0ed7c93f2e3"
)
CHECKPOINT_DIGEST = "6cc172ecaa2501e6280e0f24af30f0d0a30bf2e2701a9fe12ac5eda1e66604b5"
CHECKPOINT_SIG = (
    "920e329e6b9d0c50e979cf4f1d891a2d780390fd6958d381263435a0aaae341d"
    "97c83232e8e0d99932e1015675053f203970551e3761ffcd9f9537f1553820f5"
)


def test_envelope_example() -> None:
    env = envelope(nonce=42, aux=AUX0)
    assert env["sender"] == "nostr:" + ADVISOR_PUB and env["recipient"] == RECIPIENT == NODE_NOSTR
    unsigned = {k: v for k, v in env.items() if k != "signature"}
    assert canonical_json(unsigned).decode() == UNSIGNED_JCS
    assert signing_digest(unsigned).hex() == DIGEST
    assert env["signature"] == "bip340:" + SIGNATURE
    parsed = verify_envelope(env, recipient=NODE_NOSTR, now=T0)
    assert parsed.request_hash() == REQUEST_HASH and parsed.size == 580
    assert bip340.xonly_pubkey(ADVISOR_SECRET).hex() == ADVISOR_PUB


def test_transport_doc_carries_the_example() -> None:
    doc = (DOCS / "transport.md").read_text()
    for value in (
        ADVISOR_SECRET.hex(),
        ADVISOR_PUB,
        RECIPIENT,
        UNSIGNED_JCS,
        DIGEST,
        SIGNATURE,
        REQUEST_HASH,
    ):
        assert value in doc
    # the pretty-printed envelope in the doc is the same envelope
    block = doc.split("The envelope as sent:\n\n```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == envelope(nonce=42, aux=AUX0)


def _receipt_example() -> tuple[dict[str, object], dict[str, object]]:
    env = parse_envelope(envelope(nonce=42, aux=AUX0))
    draft = ReceiptDraft.for_envelope(
        env,
        transport="rest",
        decision="executed",
        outcome="success",
        danger_score=3,
        result={"channel_id": "931770x2363x0", "fee_ppm": 150},
        rpc_calls=[{"method": "setchannel", "ok": True}],
    )
    body = draft.body(seq=1, created_at=T0 + 1, prev_hash=ZERO_HASH)
    cp = checkpoint_body(from_seq=1, to_seq=1, receipt_hashes=[hash_body(body)], created_at=T0 + 2)
    return body, cp


def test_receipt_example() -> None:
    key = receipt_key()
    assert key.pubkey == RECEIPT_KEY
    assert attestation_text(NODE_ID, RECEIPT_KEY, T0) == ATTESTATION_TEXT
    assert key.attestation["sig"] == ATTESTATION_SIG  # signmessage is deterministic (RFC 6979)
    assert verify_attestation(key.attestation, NODE_ID)
    body, cp = _receipt_example()
    assert body["request_hash"] == REQUEST_HASH
    assert hash_body(body) == RECEIPT_HASH
    assert bip340.sign(RECEIPT_SECRET, bytes.fromhex(RECEIPT_HASH), AUX0).hex() == RECEIPT_SIG
    assert signed_digest(cp).hex() == CHECKPOINT_DIGEST
    assert (
        bip340.sign(RECEIPT_SECRET, bytes.fromhex(CHECKPOINT_DIGEST), AUX0).hex() == CHECKPOINT_SIG
    )


def test_receipts_doc_carries_the_example() -> None:
    doc = (DOCS / "receipts.md").read_text()
    body, cp = _receipt_example()
    for value in (
        NODE_SECRET_HEX,
        NODE_ID,
        RECEIPT_KEY,
        ATTESTATION_TEXT,
        ATTESTATION_SIG,
        canonical_json(body).decode(),
        RECEIPT_HASH,
        RECEIPT_SIG,
        canonical_json(cp).decode(),
        CHECKPOINT_DIGEST,
        CHECKPOINT_SIG,
    ):
        assert value in doc, value[:40]
