"""Management receipts: the record, its hash chain and checkpoints (comms spec §6, ARCHITECTURE §8.4).

A receipt is a JSON object with exactly :data:`RECEIPT_FIELDS`. Its ``receipt_hash`` is
the hex SHA-256 of the RFC 8785 (JCS) bytes of the receipt without ``receipt_hash`` and
``sig`` (its *body*); ``sig`` is the hex BIP-340 signature of those 32 hash bytes by the
receipt key (:mod:`lnhive.manage.receipts_key`). ``seq`` counts from 1 without gaps, and
each ``prev_hash`` is the previous receipt's ``receipt_hash`` (:data:`ZERO_HASH` for
seq 1), so editing any receipt breaks its own hash and every later link.

A checkpoint ``{v, from_seq, to_seq, last_receipt_hash, merkle_root, created_at, sig}``
commits to a segment of consecutive receipts: ``merkle_root`` is the binary SHA-256
Merkle root of their ``receipt_hash`` bytes in seq order (a level with an odd count
repeats its last node; one leaf is its own root), and ``sig`` is BIP-340 by the receipt
key over SHA-256(JCS(checkpoint without ``sig``)). Checkpoints tile the chain: the first
starts at seq 1 and each starts where the previous ended.

This module holds the pure parts; :mod:`lnhive.manage.receipts_log` stores them and
:mod:`lnhive.manage.receipts_verify` checks them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256, sha256_hex
from lnhive.transport.envelope import Envelope

VERSION = 1
ZERO_HASH = "0" * 64
"""``prev_hash`` of the first receipt."""

DECISIONS: tuple[str, ...] = ("executed", "rejected", "held", "approved", "expired", "cancelled")
OUTCOMES: tuple[str, ...] = ("success", "failure", "unknown", "n/a")

RECEIPT_FIELDS: tuple[str, ...] = (
    "v",
    "seq",
    "created_at",
    "actor",
    "credential_id",
    "transport",
    "request_nonce",
    "request_hash",
    "schema_id",
    "action",
    "params",
    "danger_score",
    "decision",
    "outcome",
    "error",
    "result",
    "rpc_calls",
    "state_hash_before",
    "state_hash_after",
    "payment",
    "escrow",
    "prev_hash",
    "receipt_hash",
    "sig",
)
UNHASHED_FIELDS: tuple[str, ...] = ("receipt_hash", "sig")
BODY_FIELDS: tuple[str, ...] = tuple(f for f in RECEIPT_FIELDS if f not in UNHASHED_FIELDS)

CHECKPOINT_FIELDS: tuple[str, ...] = (
    "v",
    "from_seq",
    "to_seq",
    "last_receipt_hash",
    "merkle_root",
    "created_at",
    "sig",
)

MAX_RESULT_BYTES = 16_384
"""A result whose JCS form is larger is replaced by :func:`result_digest`."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")


def is_hash_hex(value: object) -> bool:
    """Whether ``value`` is 64 lowercase hex characters."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def is_sig_hex(value: object) -> bool:
    """Whether ``value`` is 128 lowercase hex characters."""
    return isinstance(value, str) and _HEX128.fullmatch(value) is not None


def result_digest(result: object) -> object:
    """``result`` itself, or ``{"result_sha256", "result_bytes"}`` if its JCS exceeds
    :data:`MAX_RESULT_BYTES` (spec §6: large results are kept as a hash)."""
    data = canonical_json(result)
    if len(data) <= MAX_RESULT_BYTES:
        return result
    return {"result_sha256": sha256_hex(data), "result_bytes": len(data)}


@dataclass(frozen=True)
class ReceiptDraft:
    """What the caller knows about an event; :class:`~lnhive.manage.receipts_log.ReceiptLog`
    adds ``seq``, ``created_at``, ``prev_hash``, the hash and the signature.

    ``actor`` is ``nostr:<hex>`` for an advisor, ``operator`` for local admin events.
    ``error`` is ``{"code", "message"}`` for refusals and failures (a §5.5 code).
    Secrets (tokens, preimages of unpaid escrow) never belong in any field.
    """

    actor: str
    schema_id: str
    action: str
    decision: str
    outcome: str = "n/a"
    params: Mapping[str, Any] = field(default_factory=dict)
    credential_id: str | None = None
    transport: str | None = None
    request_nonce: int | None = None
    request_hash: str | None = None
    danger_score: int | None = None
    error: Mapping[str, Any] | None = None
    result: Any = None
    rpc_calls: Sequence[Any] = ()
    state_hash_before: str | None = None
    state_hash_after: str | None = None
    payment: Mapping[str, Any] | None = None
    escrow: Mapping[str, Any] | None = None

    @classmethod
    def for_envelope(
        cls,
        env: Envelope,
        *,
        transport: str,
        decision: str,
        outcome: str = "n/a",
        **fields: Any,
    ) -> ReceiptDraft:
        """A draft for an authenticated advisor request (actor, credential, nonce,
        request hash, schema, action and params taken from ``env``)."""
        return cls(
            actor=env.sender,
            schema_id=env.schema_type,
            action=env.action,
            decision=decision,
            outcome=outcome,
            params=env.params,
            credential_id=env.credential_id,
            transport=transport,
            request_nonce=env.nonce,
            request_hash=env.request_hash(),
            **fields,
        )

    def body(self, *, seq: int, created_at: int, prev_hash: str) -> dict[str, Any]:
        """The receipt body (everything but ``receipt_hash`` and ``sig``), validated."""
        return self.canonical_body(seq=seq, created_at=created_at, prev_hash=prev_hash)[0]

    def canonical_body(
        self, *, seq: int, created_at: int, prev_hash: str
    ) -> tuple[dict[str, Any], bytes]:
        """:meth:`body` and its JCS bytes (what ``receipt_hash`` hashes and the log stores)."""
        body: dict[str, Any] = {
            "v": VERSION,
            "seq": seq,
            "created_at": created_at,
            "actor": self.actor,
            "credential_id": self.credential_id,
            "transport": self.transport,
            "request_nonce": self.request_nonce,
            "request_hash": self.request_hash,
            "schema_id": self.schema_id,
            "action": self.action,
            "params": dict(self.params),
            "danger_score": self.danger_score,
            "decision": self.decision,
            "outcome": self.outcome,
            "error": None if self.error is None else dict(self.error),
            "result": result_digest(self.result),
            "rpc_calls": list(self.rpc_calls),
            "state_hash_before": self.state_hash_before,
            "state_hash_after": self.state_hash_after,
            "payment": None if self.payment is None else dict(self.payment),
            "escrow": None if self.escrow is None else dict(self.escrow),
            "prev_hash": prev_hash,
        }
        problem = body_problem(body)
        if problem is not None:
            raise InvalidInput(f"receipt: {problem}")
        data = canonical_json(body)  # raises InvalidInput on values JCS cannot carry
        return body, data


def _opt(value: object, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


def body_problem(body: Mapping[str, Any]) -> str | None:
    """Why ``body`` is not a well-formed receipt body, or ``None``."""
    if sorted(body) != sorted(BODY_FIELDS):
        extra = sorted(set(body) - set(BODY_FIELDS))
        missing = sorted(set(BODY_FIELDS) - set(body))
        return f"fields differ (missing {missing}, unknown {extra})"
    checks: list[tuple[bool, str]] = [
        (body["v"] == VERSION and type(body["v"]) is int, "v must be 1"),
        (type(body["seq"]) is int and body["seq"] >= 1, "seq must be a positive integer"),
        (
            type(body["created_at"]) is int and body["created_at"] >= 0,
            "created_at must be an integer",
        ),
        (isinstance(body["actor"], str) and body["actor"] != "", "actor must be a string"),
        (_opt(body["credential_id"], str), "credential_id must be a string or null"),
        (_opt(body["transport"], str), "transport must be a string or null"),
        (
            body["request_nonce"] is None or type(body["request_nonce"]) is int,
            "request_nonce must be an integer or null",
        ),
        (
            body["request_hash"] is None or is_hash_hex(body["request_hash"]),
            "request_hash must be 64 hex or null",
        ),
        (isinstance(body["schema_id"], str), "schema_id must be a string"),
        (isinstance(body["action"], str), "action must be a string"),
        (isinstance(body["params"], dict), "params must be an object"),
        (
            body["danger_score"] is None or type(body["danger_score"]) is int,
            "danger_score must be an integer or null",
        ),
        (body["decision"] in DECISIONS, f"decision must be one of {', '.join(DECISIONS)}"),
        (body["outcome"] in OUTCOMES, f"outcome must be one of {', '.join(OUTCOMES)}"),
        (_opt(body["error"], dict), "error must be an object or null"),
        (isinstance(body["rpc_calls"], list), "rpc_calls must be an array"),
        (
            body["state_hash_before"] is None or is_hash_hex(body["state_hash_before"]),
            "state_hash_before must be 64 hex or null",
        ),
        (
            body["state_hash_after"] is None or is_hash_hex(body["state_hash_after"]),
            "state_hash_after must be 64 hex or null",
        ),
        (_opt(body["payment"], dict), "payment must be an object or null"),
        (_opt(body["escrow"], dict), "escrow must be an object or null"),
        (is_hash_hex(body["prev_hash"]), "prev_hash must be 64 lowercase hex"),
    ]
    for ok, why in checks:
        if not ok:
            return why
    return None


def hash_body(body: Mapping[str, Any]) -> str:
    """``receipt_hash`` of a receipt body: hex SHA-256 of its JCS bytes."""
    return sha256_hex(canonical_json(dict(body)))


def split_receipt(receipt: Mapping[str, Any]) -> tuple[dict[str, Any], object, object]:
    """``(body, receipt_hash, sig)`` of a whole receipt (not checked)."""
    body = {k: v for k, v in receipt.items() if k not in UNHASHED_FIELDS}
    return body, receipt.get("receipt_hash"), receipt.get("sig")


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Binary SHA-256 Merkle root; an odd level repeats its last node.

    Raises :class:`InvalidInput` for no leaves. (Repeating the last node makes ``[a, b, c]``
    and ``[a, b, c, c]`` share a root; checkpoints also sign ``from_seq``/``to_seq``, which
    fixes the count.)
    """
    if not leaves:
        raise InvalidInput("a Merkle root needs at least one leaf")
    level = [bytes(leaf) for leaf in leaves]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def merkle_root_hex(receipt_hashes: Sequence[str]) -> str:
    """:func:`merkle_root` of hex receipt hashes, as hex."""
    return merkle_root([bytes.fromhex(h) for h in receipt_hashes]).hex()


def checkpoint_body(
    *, from_seq: int, to_seq: int, receipt_hashes: Sequence[str], created_at: int
) -> dict[str, Any]:
    """An unsigned checkpoint over ``receipt_hashes`` (seqs ``from_seq..to_seq``)."""
    if to_seq - from_seq + 1 != len(receipt_hashes) or from_seq < 1:
        raise InvalidInput("checkpoint range does not match its receipts")
    return {
        "v": VERSION,
        "from_seq": from_seq,
        "to_seq": to_seq,
        "last_receipt_hash": receipt_hashes[-1],
        "merkle_root": merkle_root_hex(receipt_hashes),
        "created_at": created_at,
    }


def checkpoint_problem(cp: Mapping[str, Any]) -> str | None:
    """Why ``cp`` is not a well-formed signed checkpoint, or ``None``."""
    if sorted(cp) != sorted(CHECKPOINT_FIELDS):
        return "checkpoint fields differ"
    if cp["v"] != VERSION or type(cp["v"]) is not int:
        return "checkpoint v must be 1"
    for key in ("from_seq", "to_seq", "created_at"):
        if type(cp[key]) is not int or cp[key] < 0:
            return f"checkpoint {key} must be a non-negative integer"
    if not 1 <= cp["from_seq"] <= cp["to_seq"]:
        return "checkpoint range is empty"
    if not is_hash_hex(cp["last_receipt_hash"]) or not is_hash_hex(cp["merkle_root"]):
        return "checkpoint hashes must be 64 lowercase hex"
    if not is_sig_hex(cp["sig"]):
        return "checkpoint sig must be 128 lowercase hex"
    return None


def dumps(obj: object) -> str:
    """The JCS text of ``obj`` (how receipts, checkpoints and export lines are written)."""
    return canonical_json(obj).decode("utf-8")


def loads_strict(text: str) -> Any:
    """Parse JSON refusing duplicate keys and non-finite numbers (:class:`ValueError`)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
