"""The advisor-facing error codes (comms spec §5.5) as data.

A refused envelope is answered with ``{"ok":false,"status":1|2,"code",...}`` (status 1:
rejected; 2: node error). Whether the refusal is sent back over Nostr and whether it
gets a receipt depends on the code: pre-authentication failures get neither (REST
always gets a reply, since it is an answer to an RPC call), a replay gets a reply but
no receipt, everything decided after authentication gets both (ARCHITECTURE §8.4: a
rate-limited request gets no receipt).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from lnhive.core.errors import LnhiveError


class Stage(Enum):
    PRE_AUTH = "pre_auth"
    """Before the sender is authenticated: no Nostr reply, no receipt."""
    REPLAY = "replay"
    """Authenticated but replayed: a reply, never a receipt."""
    POST_AUTH = "post_auth"
    """Authenticated: a reply and a receipt."""


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    """1 rejected, 2 node error."""
    nostr_reply: bool
    """Whether a Nostr (DM) sender gets a reply (REST callers always get one)."""
    receipt: bool
    """Whether the refusal is recorded as a receipt."""
    extra_fields: tuple[str, ...] = ()
    """Fields the reply carries besides ``ok, status, code, error, transport``."""


_TABLE: tuple[ErrorCode, ...] = (
    ErrorCode("invalid_request", 1, False, False),
    ErrorCode("payload_too_large", 1, False, False),
    # rate_limited: replied to over Nostr only after authentication; never a receipt.
    ErrorCode("rate_limited", 1, True, False, ("retry_after",)),
    ErrorCode("transport_disabled", 1, False, False),
    ErrorCode("rune_invalid", 1, False, False),
    ErrorCode("clock_skew", 1, False, False, ("max_clock_skew_seconds",)),
    ErrorCode("unauthorized", 1, False, False),
    ErrorCode("replay", 1, True, False),
    ErrorCode("credential_invalid", 1, True, True, ("reason",)),
    ErrorCode("unknown_schema", 1, True, True),
    ErrorCode("unknown_action", 1, True, True),
    ErrorCode("invalid_params", 1, True, True),
    ErrorCode("forbidden", 1, True, True),
    ErrorCode("constraint_violation", 1, True, True, ("key", "limit", "requested")),
    ErrorCode("policy_blocked", 1, True, True, ("reason",)),
    ErrorCode("payment_required", 1, True, True, ("quote",)),
    ErrorCode("payment_invalid", 1, True, True),
    ErrorCode("budget_exhausted", 1, True, True),
    ErrorCode("confirmation_required", 1, True, True, ("action_id", "kind", "expires_at")),
    ErrorCode("unsupported", 2, True, True),
    ErrorCode("execution_failed", 2, True, True),
    ErrorCode("internal_error", 2, True, True),
)

CODES: dict[str, ErrorCode] = {c.code: c for c in _TABLE}
"""Every §5.5 code by name."""

_SYMBOL_TO_CODE = {"internal": "internal_error", "invalid_input": "invalid_request"}


def code_for(err: LnhiveError) -> ErrorCode:
    """The §5.5 code for an error: its symbol if that is a code (``internal`` becomes
    ``internal_error``, ``invalid_input`` becomes ``invalid_request``); anything else is
    ``internal_error``."""
    symbol = _SYMBOL_TO_CODE.get(err.error_symbol, err.error_symbol)
    return CODES.get(symbol, CODES["internal_error"])
