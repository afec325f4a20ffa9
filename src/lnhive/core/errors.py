"""The one exception hierarchy of Lightning Hive (ARCHITECTURE decision 13).

Every failure that may reach an operator or another plugin over JSON-RPC is an
:class:`LnhiveError`. Each subclass carries a symbolic name (``symbol``) and a
numeric ``offset``; a plugin turns an error into a JSON-RPC error with its own
code base (:data:`HIVE_BASE`, :data:`COMMS_BASE`, :data:`ARCHON_BASE`,
:data:`REVENUE_BASE`), giving the code ``base + offset`` and a message that
begins with the symbol and a colon, e.g. ``constraint_violation: fee change 80%
exceeds the credential's 50%``.

Codes are part of the public interface: an offset, once given to a symbol, is
stable forever and is never reused for another symbol, even if the symbol is
retired. New symbols take new offsets (below 99, which is ``internal``).
"""

from __future__ import annotations

from typing import Any, ClassVar

HIVE_BASE = 20000
"""cl-hive: codes 20000-20999."""
COMMS_BASE = 21000
"""cl-hive-comms: codes 21000-21999."""
ARCHON_BASE = 22000
"""cl-hive-archon: codes 22000-22999."""
REVENUE_BASE = 23000
"""cl-revenue-ops: codes 23000-23999."""

PLUGIN_BASES: tuple[int, ...] = (HIVE_BASE, COMMS_BASE, ARCHON_BASE, REVENUE_BASE)


class LnhiveError(Exception):
    """Base of every Lightning Hive error.

    ``symbol`` may be overridden per instance; when it names another known
    symbol, the code follows that symbol (``LnhiveError("x", symbol="not_found")``
    has the code of :class:`NotFound`), otherwise the class's offset is kept.
    """

    symbol: ClassVar[str] = "internal"
    offset: ClassVar[int] = 99

    def __init__(
        self,
        message: str,
        *,
        symbol: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self._symbol = symbol
        self.details: dict[str, Any] = dict(details) if details else {}

    @property
    def error_symbol(self) -> str:
        """The symbol of this instance (the class's unless overridden)."""
        return self._symbol if self._symbol is not None else type(self).symbol

    @property
    def error_offset(self) -> int:
        """The offset of this instance's symbol."""
        if self._symbol is not None and self._symbol in OFFSETS:
            return OFFSETS[self._symbol]
        return type(self).offset

    def rpc_code(self, base: int) -> int:
        """The JSON-RPC error code in a plugin's range: ``base + offset``."""
        return base + self.error_offset

    def rpc_message(self) -> str:
        """The JSON-RPC error message: ``"<symbol>: <message>"``."""
        return f"{self.error_symbol}: {self.message}"


class InvalidInput(LnhiveError):
    symbol = "invalid_input"
    offset = 1


class NotFound(LnhiveError):
    symbol = "not_found"
    offset = 2


class Conflict(LnhiveError):
    symbol = "conflict"
    offset = 3


class Unauthorized(LnhiveError):
    symbol = "unauthorized"
    offset = 4


class PolicyBlocked(LnhiveError):
    symbol = "policy_blocked"
    offset = 5


class ConstraintViolation(LnhiveError):
    symbol = "constraint_violation"
    offset = 6


class Unsupported(LnhiveError):
    symbol = "unsupported"
    offset = 7


class RateLimited(LnhiveError):
    symbol = "rate_limited"
    offset = 8


class Timeout(LnhiveError):
    symbol = "timeout"
    offset = 9


class NodeRpcError(LnhiveError):
    symbol = "node_rpc_error"
    offset = 10


class StoreError(LnhiveError):
    symbol = "store_error"
    offset = 11


# cl-hive-comms management (offsets 12-29, comms spec §5.5).


class InvalidParams(LnhiveError):
    symbol = "invalid_params"
    offset = 12


class UnknownSchema(LnhiveError):
    symbol = "unknown_schema"
    offset = 13


class UnknownAction(LnhiveError):
    symbol = "unknown_action"
    offset = 14


class Forbidden(LnhiveError):
    symbol = "forbidden"
    offset = 15


class CredentialInvalid(LnhiveError):
    symbol = "credential_invalid"
    offset = 16


class ConfirmationRequired(LnhiveError):
    symbol = "confirmation_required"
    offset = 17


class BudgetExhausted(LnhiveError):
    symbol = "budget_exhausted"
    offset = 18


# cl-hive-comms transport (offsets 30-49, comms spec §5.5).


class InvalidRequest(LnhiveError):
    symbol = "invalid_request"
    offset = 30


class PayloadTooLarge(LnhiveError):
    symbol = "payload_too_large"
    offset = 31


class ClockSkew(LnhiveError):
    symbol = "clock_skew"
    offset = 32


class Replay(LnhiveError):
    symbol = "replay"
    offset = 33


class TransportDisabled(LnhiveError):
    symbol = "transport_disabled"
    offset = 34


class RuneInvalid(LnhiveError):
    symbol = "rune_invalid"
    offset = 35


class Internal(LnhiveError):
    symbol = "internal"
    offset = 99


ERROR_CLASSES: tuple[type[LnhiveError], ...] = (
    InvalidInput,
    NotFound,
    Conflict,
    Unauthorized,
    PolicyBlocked,
    ConstraintViolation,
    Unsupported,
    RateLimited,
    Timeout,
    NodeRpcError,
    StoreError,
    InvalidParams,
    UnknownSchema,
    UnknownAction,
    Forbidden,
    CredentialInvalid,
    ConfirmationRequired,
    BudgetExhausted,
    InvalidRequest,
    PayloadTooLarge,
    ClockSkew,
    Replay,
    TransportDisabled,
    RuneInvalid,
    Internal,
)
"""Every concrete error class, in offset order."""

OFFSETS: dict[str, int] = {cls.symbol: cls.offset for cls in ERROR_CLASSES}
"""Symbol -> stable offset."""

BY_SYMBOL: dict[str, type[LnhiveError]] = {cls.symbol: cls for cls in ERROR_CLASSES}
"""Symbol -> error class."""


def rpc_error(err: LnhiveError, base: int) -> tuple[int, str]:
    """``(code, message)`` for a JSON-RPC error raised by the plugin whose range starts at ``base``."""
    return err.rpc_code(base), err.rpc_message()
