"""JSON framing as lightningd does it on plugin pipes and the RPC socket.

Everything lightningd writes ends with a blank line (pyln-client only dispatches after
one); what it reads is a stream of JSON objects with or without separators.
"""

from __future__ import annotations

import json
from typing import Any

_WS = b" \t\r\n"
_OPEN = frozenset(b"{[")
_CLOSE = frozenset(b"}]")
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class FramingError(ValueError):
    """The peer wrote something that is not a stream of JSON objects."""


def encode(obj: Any) -> bytes:
    """One JSON object followed by the blank line lightningd always appends."""
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


class JsonStream:
    """Incremental decoder: feed bytes, take whole JSON values out.

    A small scanner tracks bracket depth outside strings, so a value is parsed exactly
    once, when its closing bracket arrives, and bytes are never rescanned.
    """

    def __init__(self, max_value: int = 64 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self._max = max_value
        self._pos = 0  # next byte to scan
        self._depth = 0
        self._in_str = False
        self._escape = False

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        out: list[Any] = []
        buf = self._buf
        i = self._pos
        n = len(buf)
        while i < n:
            c = buf[i]
            if self._depth == 0:
                if c in _WS:
                    i += 1
                    continue
                if c not in _OPEN:
                    raise FramingError(f"expected a JSON object, got {bytes(buf[i : i + 40])!r}")
                del buf[:i]
                n -= i
                i = 0
                self._depth = 1
                i += 1
                continue
            if self._in_str:
                if self._escape:
                    self._escape = False
                elif c == _BACKSLASH:
                    self._escape = True
                elif c == _QUOTE:
                    self._in_str = False
            elif c == _QUOTE:
                self._in_str = True
            elif c in _OPEN:
                self._depth += 1
            elif c in _CLOSE:
                self._depth -= 1
                if self._depth == 0:
                    raw = bytes(buf[: i + 1])
                    del buf[: i + 1]
                    n -= i + 1
                    i = 0
                    try:
                        out.append(json.loads(raw))
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        raise FramingError(f"invalid JSON: {exc}") from exc
                    continue
            i += 1
        self._pos = i
        if self._depth and len(buf) > self._max:
            raise FramingError(f"a JSON value longer than {self._max} bytes")
        return out
