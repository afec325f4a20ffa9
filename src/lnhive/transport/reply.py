"""Replies to advisors (comms spec §5.5, §5.7; ARCHITECTURE decision 13, §8.4).

A reply is a result object, never a JSON-RPC error::

    {"ok":true, "status":0, "transport":"rest", "schema_type", "nonce", "sender",
     "in_reply_to":"<request_hash>", "result":{...}, "receipt":{"seq","receipt_hash"},
     "state_hash":null, "attestation":{...}, "sig":"<128 hex>"}

    {"ok":false, "status":1, "code":"policy_blocked", "error":"<text>", "transport",
     "schema_type", "nonce", "sender", "in_reply_to", "receipt", <code's extra fields>,
     "attestation", "sig"}

``sig`` is BIP-340 by the receipt key over SHA-256(JCS(reply without ``sig``)), and
``attestation`` is the node's attestation of that key, so an advisor checks a reply with
the node id alone (:func:`reply_problem`). Echo fields are ``null`` when the request
never parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lnhive.core.canonical import canonical_hash, without
from lnhive.core.errors import LnhiveError
from lnhive.manage.receipts_key import ReceiptKey, attestation_problem
from lnhive.manage.receipts_verify import check_sig
from lnhive.transport.codes import CODES, code_for
from lnhive.transport.envelope import Envelope


def _echo(env: Envelope | None) -> dict[str, Any]:
    if env is None:
        return {"schema_type": None, "nonce": None, "sender": None, "in_reply_to": None}
    return {
        "schema_type": env.schema_type,
        "nonce": env.nonce,
        "sender": env.sender,
        "in_reply_to": env.request_hash(),
    }


def _receipt_ref(receipt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if receipt is None:
        return None
    return {"seq": receipt["seq"], "receipt_hash": receipt["receipt_hash"]}


def sign_reply(reply: Mapping[str, Any], key: ReceiptKey) -> dict[str, Any]:
    """``reply`` with the key's ``attestation`` and ``sig`` added."""
    out = {k: v for k, v in reply.items() if k not in ("attestation", "sig")}
    out["attestation"] = dict(key.attestation)
    out["sig"] = key.sign_digest(canonical_hash(out), check=False)  # the advisor checks it
    return out


def ok_reply(
    env: Envelope,
    *,
    transport: str,
    result: Any,
    receipt: Mapping[str, Any] | None,
    key: ReceiptKey,
    state_hash: str | None = None,
) -> dict[str, Any]:
    """The signed success reply to ``env``."""
    reply: dict[str, Any] = {"ok": True, "status": 0, "transport": transport}
    reply.update(_echo(env))
    reply.update(result=result, receipt=_receipt_ref(receipt), state_hash=state_hash)
    return sign_reply(reply, key)


def error_reply(
    code: str,
    message: str,
    *,
    transport: str,
    env: Envelope | None = None,
    receipt: Mapping[str, Any] | None = None,
    key: ReceiptKey | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A refusal with a §5.5 ``code``; ``fields`` supplies the code's extra fields (others
    are dropped). Signed when ``key`` is given."""
    spec = CODES[code]
    reply: dict[str, Any] = {
        "ok": False,
        "status": spec.status,
        "code": code,
        "error": message,
        "transport": transport,
    }
    reply.update(_echo(env))
    reply["receipt"] = _receipt_ref(receipt)
    extra = fields or {}
    for name in spec.extra_fields:
        if name in extra:
            reply[name] = extra[name]
    return reply if key is None else sign_reply(reply, key)


def reply_for_error(
    err: LnhiveError,
    *,
    transport: str,
    env: Envelope | None = None,
    receipt: Mapping[str, Any] | None = None,
    key: ReceiptKey | None = None,
) -> dict[str, Any]:
    """:func:`error_reply` for an exception: code from its symbol, extra fields from its
    ``details``. Internal errors never leak their text."""
    spec = code_for(err)
    message = "internal error" if spec.code == "internal_error" else err.message
    return error_reply(
        spec.code,
        message,
        transport=transport,
        env=env,
        receipt=receipt,
        key=key,
        fields=err.details,
    )


def reply_problem(
    reply: object, *, node_id: str | None = None, receipt_key: str | None = None
) -> str | None:
    """Why ``reply`` is not a reply signed by the attested receipt key of ``node_id``
    (and/or by ``receipt_key``), or ``None``. At least one anchor must be given."""
    if node_id is None and receipt_key is None:
        return "no node id or receipt key to check against"
    if not isinstance(reply, Mapping):
        return "reply is not an object"
    problem = attestation_problem(reply.get("attestation"), node_id)
    if problem is not None:
        return problem
    key = reply["attestation"]["receipt_key"]
    if receipt_key is not None and key != receipt_key:
        return f"reply is signed by receipt key {key}, not {receipt_key}"
    if not check_sig(key, canonical_hash(without(reply, "sig")), reply.get("sig")):
        return "bad reply signature"
    return None
