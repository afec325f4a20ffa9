from __future__ import annotations

import pytest

from lnhive.core import errors
from lnhive.core.errors import (
    ARCHON_BASE,
    COMMS_BASE,
    HIVE_BASE,
    REVENUE_BASE,
    Conflict,
    ConstraintViolation,
    Internal,
    InvalidInput,
    LnhiveError,
    NodeRpcError,
    NotFound,
    PolicyBlocked,
    RateLimited,
    StoreError,
    Timeout,
    Unauthorized,
    Unsupported,
    rpc_error,
)

# Pinned forever: changing any of these breaks every client that matches on codes.
PINNED = {
    InvalidInput: ("invalid_input", 1),
    NotFound: ("not_found", 2),
    Conflict: ("conflict", 3),
    Unauthorized: ("unauthorized", 4),
    PolicyBlocked: ("policy_blocked", 5),
    ConstraintViolation: ("constraint_violation", 6),
    Unsupported: ("unsupported", 7),
    RateLimited: ("rate_limited", 8),
    Timeout: ("timeout", 9),
    NodeRpcError: ("node_rpc_error", 10),
    StoreError: ("store_error", 11),
    errors.InvalidParams: ("invalid_params", 12),
    errors.UnknownSchema: ("unknown_schema", 13),
    errors.UnknownAction: ("unknown_action", 14),
    errors.Forbidden: ("forbidden", 15),
    errors.CredentialInvalid: ("credential_invalid", 16),
    errors.ConfirmationRequired: ("confirmation_required", 17),
    errors.BudgetExhausted: ("budget_exhausted", 18),
    errors.InvalidRequest: ("invalid_request", 30),
    errors.PayloadTooLarge: ("payload_too_large", 31),
    errors.ClockSkew: ("clock_skew", 32),
    errors.Replay: ("replay", 33),
    errors.TransportDisabled: ("transport_disabled", 34),
    errors.RuneInvalid: ("rune_invalid", 35),
    Internal: ("internal", 99),
}


def test_bases_pinned() -> None:
    assert (HIVE_BASE, COMMS_BASE, ARCHON_BASE, REVENUE_BASE) == (20000, 21000, 22000, 23000)


@pytest.mark.parametrize(("cls", "expected"), list(PINNED.items()))
def test_symbols_and_offsets_pinned(cls: type[LnhiveError], expected: tuple[str, int]) -> None:
    assert (cls.symbol, cls.offset) == expected
    assert issubclass(cls, LnhiveError)


def test_every_class_is_pinned_and_codes_unique() -> None:
    assert set(errors.ERROR_CLASSES) == set(PINNED)
    offsets = [cls.offset for cls in errors.ERROR_CLASSES]
    symbols = [cls.symbol for cls in errors.ERROR_CLASSES]
    assert len(set(offsets)) == len(offsets)
    assert len(set(symbols)) == len(symbols)
    # Offsets stay inside a plugin's 1000-code range.
    assert all(0 < o < 1000 for o in offsets)
    codes = [
        cls("x").rpc_code(base) for base in errors.PLUGIN_BASES for cls in errors.ERROR_CLASSES
    ]
    assert len(set(codes)) == len(codes)


def test_rpc_code_and_message() -> None:
    err = ConstraintViolation("fee change 80% exceeds the credential's 50%")
    assert err.rpc_code(COMMS_BASE) == 21006
    assert err.rpc_message() == "constraint_violation: fee change 80% exceeds the credential's 50%"
    assert rpc_error(err, HIVE_BASE) == (
        20006,
        "constraint_violation: fee change 80% exceeds the credential's 50%",
    )
    assert rpc_error(Internal("boom"), REVENUE_BASE) == (23099, "internal: boom")
    assert rpc_error(NotFound("no such peer"), ARCHON_BASE) == (22002, "not_found: no such peer")


@pytest.mark.parametrize("cls", list(PINNED))
def test_messages_start_with_symbol_and_colon(cls: type[LnhiveError]) -> None:
    msg = cls("something went wrong").rpc_message()
    assert msg.startswith(cls.symbol + ": ")
    assert msg == f"{cls.symbol}: something went wrong"


def test_symbol_override_follows_known_symbol() -> None:
    err = LnhiveError("gone", symbol="not_found")
    assert err.rpc_message() == "not_found: gone"
    assert err.rpc_code(HIVE_BASE) == 20002
    blocked = PolicyBlocked("hive_member", symbol="policy_blocked")
    assert blocked.rpc_code(COMMS_BASE) == 21005


def test_unknown_symbol_override_keeps_class_offset() -> None:
    err = InvalidInput("bad hex", symbol="invalid_hex")
    assert err.rpc_message() == "invalid_hex: bad hex"
    assert err.rpc_code(COMMS_BASE) == 21001


def test_details_are_copied_and_default_empty() -> None:
    details = {"peer": "02ab"}
    err = NotFound("x", details=details)
    details["peer"] = "changed"
    assert err.details == {"peer": "02ab"}
    assert Conflict("y").details == {}
    assert err.message == "x"


def test_errors_are_catchable_as_base() -> None:
    with pytest.raises(LnhiveError) as info:
        raise RateLimited("slow down")
    assert info.value.rpc_code(HIVE_BASE) == 20008
