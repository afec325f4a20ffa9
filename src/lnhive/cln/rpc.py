"""``RpcNodeApi``: the :class:`~lnhive.cln.api.NodeApi` over pyln's ``LightningRpc``.

Works the same against a real lightningd and against the stand-in's socket. Every
method sends ``rpc.call(method, params)`` with Core Lightning's own parameter names
(never pyln's convenience wrappers, whose keyword names differ: ``listpeerchannels
(peer_id=)``, ``listpeers(peerid=)``, ... — see the pyln-client caveat in
``spec/cln-interface.md`` (b)), drops ``None`` values, and returns CLN's result object
unchanged. Failures raise :class:`~lnhive.cln.errors.NodeError`: an error answered by
the node keeps CLN's code, message and data; a socket that is missing, refuses, or
drops the connection gives ``code=None`` and a message saying what to check.
"""

from __future__ import annotations

import os
from typing import Any

from pyln.client import LightningRpc, RpcError

from lnhive.cln.api import Json, NodeApi
from lnhive.cln.errors import NodeError

__all__ = ["RpcNodeApi"]

_CONNECTION_LOST = "Connection to RPC server lost."


class RpcNodeApi(NodeApi):
    """A node reached through its ``lightning-rpc`` unix socket.

    Thread-safe as far as pyln's ``LightningRpc`` is: it opens a new connection per
    call, so calls from several threads run concurrently.
    """

    def __init__(self, rpc: LightningRpc) -> None:
        self.rpc = rpc

    @classmethod
    def from_socket(cls, path: str | os.PathLike[str]) -> RpcNodeApi:
        """A client of the socket at ``path`` (``<lightning-dir>/<network>/lightning-rpc``).

        Nothing is opened here: a missing socket fails on the first call.
        """
        return cls(LightningRpc(os.fspath(path)))

    @property
    def socket_path(self) -> str:
        return str(self.rpc.socket_path)

    def __repr__(self) -> str:
        return f"RpcNodeApi({self.socket_path!r})"

    # -- the escape hatch every method goes through -----------------------------
    def call(self, method: str, params: Json | None = None) -> Json:
        payload = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            result = self.rpc.call(method, payload)
        except RpcError as exc:
            raise self._from_rpc_error(method, exc) from exc
        except OSError as exc:
            raise self._from_os_error(method, exc) from exc
        except ValueError as exc:  # pyln: malformed reply, wrong id, bad JSON
            raise NodeError(
                method,
                None,
                f"malformed reply from the node at {self.socket_path}: {exc}",
                hint="check that the path is a Core Lightning RPC socket",
            ) from exc
        if not isinstance(result, dict):
            raise NodeError(
                method,
                None,
                f"the node answered a {type(result).__name__} instead of a JSON object",
                hint=f"check that {self.socket_path} is a Core Lightning RPC socket",
            )
        return result

    def _from_rpc_error(self, method: str, exc: RpcError) -> NodeError:
        err: Any = exc.error
        if isinstance(err, dict):
            code = err.get("code")
            return NodeError(
                method,
                code if isinstance(code, int) else None,
                str(err.get("message", "")),
                err.get("data"),
            )
        # pyln reports a connection closed without a reply as a string error.
        if err == _CONNECTION_LOST:
            return NodeError(
                method,
                None,
                f"the connection to {self.socket_path} closed before the node replied",
                hint="check whether the node is shutting down or crashed (see its log)",
            )
        return NodeError(method, None, str(err))

    def _from_os_error(self, method: str, exc: OSError) -> NodeError:
        path = self.socket_path
        if isinstance(exc, FileNotFoundError):
            what = f"no RPC socket at {path}"
            hint = (
                "check that lightningd (or the stand-in) is running and that the path is its "
                "lightning-rpc file (<lightning-dir>/<network>/lightning-rpc)"
            )
        elif isinstance(exc, ConnectionRefusedError):
            what = f"nothing is listening on {path} (connection refused)"
            hint = "the node has stopped or crashed and left its socket behind; check it is running"
        elif isinstance(exc, PermissionError):
            what = f"permission denied on {path}"
            hint = "check the socket's permissions: run as the node's user"
        elif isinstance(exc, ConnectionError):
            what = f"the connection to {path} failed ({exc})"
            hint = "check whether the node is shutting down or crashed (see its log)"
        else:
            what = f"cannot talk to the node at {path} ({exc})"
            hint = "check that the node is running and that the path is its lightning-rpc file"
        return NodeError(method, None, what, hint=hint)

    # -- channels and peers ------------------------------------------------------

    # -- messages, keys and storage ------------------------------------------------
