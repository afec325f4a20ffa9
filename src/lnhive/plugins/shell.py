"""What every plugin shell shares: turning service errors into JSON-RPC errors, and
whether the node runs in developer mode (which allows shorter intervals).

ARCHITECTURE decision 13: a failure reaches the caller as a JSON-RPC error whose code
is the plugin's base plus the error's stable offset and whose message starts with the
symbol (``conflict: …``). Anything that is not an :class:`LnhiveError` is a bug: it is
logged and answered as ``internal`` rather than crashing the plugin.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pyln.client import Plugin, RpcException

from lnhive.core.errors import Internal, LnhiveError

_T = TypeVar("_T")


def rpc_call(plugin: Plugin, base: int, fn: Callable[[], _T]) -> _T:
    """Run ``fn``; its errors become JSON-RPC errors in the range starting at ``base``."""
    try:
        return fn()
    except LnhiveError as err:
        raise RpcException(err.rpc_message(), err.rpc_code(base)) from err
    except Exception as exc:
        plugin.log(f"internal error: {exc!r}", level="warn")
        internal = Internal(f"{type(exc).__name__}: {exc}")
        raise RpcException(internal.rpc_message(), internal.rpc_code(base)) from exc


def developer_mode(rpc: Any) -> bool:
    """Whether lightningd runs with ``--developer`` (asked with ``listconfigs``)."""
    if "--developer" in sys.argv[1:]:
        return True
    try:
        return bool(rpc.listconfigs("developer")["configs"]["developer"]["set"])
    except Exception:  # an older node without the option: not developer mode
        return False
