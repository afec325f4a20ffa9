"""Error codes (spec §5.5) and signed replies (spec §5.7, ARCHITECTURE §8.4)."""

from __future__ import annotations

import pytest

from lnhive.core import errors
from lnhive.core.errors import ClockSkew, Internal, PolicyBlocked, Replay
from lnhive.transport.codes import CODES, code_for
from lnhive.transport.envelope import parse_envelope
from lnhive.transport.reply import error_reply, ok_reply, reply_for_error, reply_problem
from tests.transport.keys import ADVISOR, NODE_ID, OTHER_NODE_ID, envelope, receipt_key

SPEC_TABLE = {
    # code: (status, nostr reply, receipt)
    "invalid_request": (1, False, False),
    "payload_too_large": (1, False, False),
    "rate_limited": (1, True, False),
    "transport_disabled": (1, False, False),
    "rune_invalid": (1, False, False),
    "clock_skew": (1, False, False),
    "unauthorized": (1, False, False),
    "replay": (1, True, False),
    "credential_invalid": (1, True, True),
    "unknown_schema": (1, True, True),
    "unknown_action": (1, True, True),
    "invalid_params": (1, True, True),
    "forbidden": (1, True, True),
    "constraint_violation": (1, True, True),
    "policy_blocked": (1, True, True),
    "payment_required": (1, True, True),
    "payment_invalid": (1, True, True),
    "budget_exhausted": (1, True, True),
    "confirmation_required": (1, True, True),
    "unsupported": (2, True, True),
    "execution_failed": (2, True, True),
    "internal_error": (2, True, True),
}


def test_code_table_matches_spec() -> None:
    assert {c: (s.status, s.nostr_reply, s.receipt) for c, s in CODES.items()} == SPEC_TABLE


def test_every_error_class_maps_to_its_code_when_one_exists() -> None:
    for cls in errors.ERROR_CLASSES:
        spec = code_for(cls("x"))
        if cls.symbol in CODES:
            assert spec.code == cls.symbol
    assert code_for(Internal("boom")).code == "internal_error"
    assert code_for(errors.InvalidInput("x")).code == "invalid_request"
    assert code_for(errors.StoreError("x")).code == "internal_error"


def test_ok_reply_is_signed_and_echoes_the_request() -> None:
    key = receipt_key()
    env = parse_envelope(envelope(nonce=42))
    receipt = {"seq": 7, "receipt_hash": "ab" * 32, "other": "ignored"}
    reply = ok_reply(env, transport="rest", result={"fee_ppm": 150}, receipt=receipt, key=key)
    assert reply["ok"] is True and reply["status"] == 0
    assert reply["nonce"] == 42 and reply["sender"] == ADVISOR
    assert reply["in_reply_to"] == env.request_hash()
    assert reply["receipt"] == {"seq": 7, "receipt_hash": "ab" * 32}
    assert reply["attestation"] == key.attestation
    assert reply_problem(reply, node_id=NODE_ID) is None
    assert reply_problem(reply, receipt_key=key.pubkey) is None
    assert reply_problem(reply, node_id=OTHER_NODE_ID) is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("result", {"x": 2}),
        ("nonce", 2),
        ("receipt", {"seq": 1}),
        ("ok", False),
        ("in_reply_to", None),
    ],
)
def test_tampered_reply_fails(field: str, value: object) -> None:
    reply = ok_reply(
        parse_envelope(envelope()),
        transport="rest",
        result={"x": 1},
        receipt=None,
        key=receipt_key(),
    )
    reply[field] = value
    assert reply_problem(reply, node_id=NODE_ID) == "bad reply signature"


def test_error_reply_fields() -> None:
    key = receipt_key()
    reply = reply_for_error(
        ClockSkew("timestamp outside allowed skew", details={"max_clock_skew_seconds": 300}),
        transport="rest",
        key=key,
    )
    assert reply["ok"] is False and reply["status"] == 1 and reply["code"] == "clock_skew"
    assert reply["max_clock_skew_seconds"] == 300
    assert reply["nonce"] is None and reply["in_reply_to"] is None
    assert reply_problem(reply, node_id=NODE_ID) is None

    blocked = reply_for_error(
        PolicyBlocked("quiet hours", details={"reason": "quiet_hours", "secret": "x"}),
        transport="nostr_dm",
        env=parse_envelope(envelope()),
    )
    assert blocked["reason"] == "quiet_hours" and "secret" not in blocked
    assert "sig" not in blocked  # unsigned without a key

    internal = reply_for_error(Internal("db path /home/x leaked"), transport="rest")
    assert internal == {
        "ok": False,
        "status": 2,
        "code": "internal_error",
        "error": "internal error",
        "transport": "rest",
        "schema_type": None,
        "nonce": None,
        "sender": None,
        "in_reply_to": None,
        "receipt": None,
    }
    replay = reply_for_error(Replay("replay rejected: nonce not monotonic"), transport="rest")
    assert replay["code"] == "replay" and replay["error"] == "replay rejected: nonce not monotonic"


def test_error_reply_by_code() -> None:
    reply = error_reply(
        "confirmation_required",
        "held for the operator",
        transport="rest",
        fields={"action_id": "a1", "kind": "confirm", "expires_at": 5},
    )
    assert (reply["action_id"], reply["kind"], reply["expires_at"]) == ("a1", "confirm", 5)
    with pytest.raises(KeyError):
        error_reply("no_such_code", "x", transport="rest")
