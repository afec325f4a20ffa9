"""Errors the stand-in answers with, shaped exactly as lightningd's JSON-RPC errors.

These are Core Lightning's codes (below 2,000), not the plugins' own ranges: the
stand-in plays lightningd, so its callers must see what a real node would send.
"""

from __future__ import annotations

from typing import Any

# JSON-RPC and lightningd-wide codes (common/jsonrpc_errors.h in Core Lightning).
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
LIGHTNINGD = -1
PLUGIN_ERROR = -3
PLUGIN_TERMINATED = -4
SHUTTING_DOWN = -5

# Per-area codes used by the built-ins we serve.
SIGNMESSAGE_PUBKEY_NOT_FOUND = 1301
DATASTORE_DEL_DOES_NOT_EXIST = 1200
DATASTORE_DEL_WRONG_GENERATION = 1201
DATASTORE_UPDATE_ALREADY_EXISTS = 1202
DATASTORE_UPDATE_DOES_NOT_EXIST = 1203
DATASTORE_UPDATE_WRONG_GENERATION = 1204
DATASTORE_UPDATE_HAS_CHILDREN = 1205
DATASTORE_UPDATE_NO_CHILDREN = 1206
RUNE_NOT_AUTHORIZED = 1501
RUNE_NOT_PERMITTED = 1502
RUNE_BLACKLISTED = 1503


class RpcError(Exception):
    """A JSON-RPC error object: ``{"code", "message", "data"?}``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out

    def __repr__(self) -> str:
        return f"RpcError({self.code}, {self.message!r})"


def invalid_params(message: str, data: Any = None) -> RpcError:
    return RpcError(INVALID_PARAMS, message, data)
