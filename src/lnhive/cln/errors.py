"""Failures of node RPC calls, with Core Lightning's own code, message and data kept.

:class:`NodeError` is what :class:`lnhive.cln.rpc.RpcNodeApi` raises. It is a
:class:`~lnhive.core.errors.NodeRpcError`, so it keeps that symbol
(``node_rpc_error``) when a plugin turns it into a JSON-RPC error of its own range;
``code``, ``cln_message`` and ``data`` are what lightningd answered, untouched, so
callers can branch on CLN's codes (``-32601`` unknown command, ``1202`` datastore key
already exists, ``204`` payment part failed, ...). Failures that never reached
lightningd (no socket, nobody listening, connection lost) have ``code`` ``None`` and a
message that says what to check.
"""

from __future__ import annotations

from typing import Any

from lnhive.core.errors import NodeRpcError


class NodeError(NodeRpcError):
    """A node RPC call failed.

    ``method``: the CLN command called. ``code``: CLN's integer error code, or
    ``None`` when the call never got an answer from the node. ``cln_message``: CLN's
    error message as sent (or, for ``code is None``, the transport failure).
    ``data``: CLN's ``data`` member, if any.
    """

    def __init__(
        self,
        method: str,
        code: int | None,
        cln_message: str,
        data: Any = None,
        *,
        hint: str | None = None,
    ) -> None:
        self.method = method
        self.code = code
        self.cln_message = cln_message
        self.data = data
        if code is None:
            text = f"{method} failed: {cln_message}"
        else:
            text = f"{method} failed: {code} {cln_message}"
        if hint:
            text = f"{text}; {hint}"
        details: dict[str, Any] = {"method": method, "code": code}
        if data is not None:
            details["data"] = data
        super().__init__(text, details=details)

    def __repr__(self) -> str:
        return f"NodeError({self.method!r}, {self.code!r}, {self.cln_message!r})"
