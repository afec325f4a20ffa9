"""A node's datastore (``datastore``, ``listdatastore``, ``deldatastore``,
``datastoreusage``): CLN's hierarchical key store, with CLN's checks in CLN's order.

A key is a list of strings (a single string is a one-element key); a key holds data or
has children, never both. Kept in memory: a simulated node's life is its process's life.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from lnhive.sim.errors import (
    DATASTORE_DEL_DOES_NOT_EXIST,
    DATASTORE_DEL_WRONG_GENERATION,
    DATASTORE_UPDATE_ALREADY_EXISTS,
    DATASTORE_UPDATE_DOES_NOT_EXIST,
    DATASTORE_UPDATE_HAS_CHILDREN,
    DATASTORE_UPDATE_NO_CHILDREN,
    DATASTORE_UPDATE_WRONG_GENERATION,
    INVALID_PARAMS,
    RpcError,
)

Key = tuple[str, ...]
#: mode -> (must not exist, must exist, append)
MODES: dict[str, tuple[bool, bool, bool]] = {
    "must-create": (True, False, False),
    "must-replace": (False, True, False),
    "create-or-replace": (False, False, False),
    "must-append": (False, True, True),
    "create-or-append": (False, False, True),
}


def as_key(raw: Any, name: str = "key") -> Key:
    """A key parameter as lightningd reads it: an array of strings, or one string."""
    if isinstance(raw, tuple):
        raw = list(raw)
    if isinstance(raw, list):
        if not raw:
            raise RpcError(INVALID_PARAMS, f"{name}: should not be empty: invalid token '[]'")
        if not all(isinstance(k, str | int | float) and not isinstance(k, bool) for k in raw):
            raise RpcError(
                INVALID_PARAMS, f"{name}: should be string: invalid token {json.dumps(raw)!r}"
            )
        return tuple(str(k) for k in raw)
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        return (str(raw),)
    raise RpcError(
        INVALID_PARAMS, f"{name}: should be string or array: invalid token {json.dumps(raw)!r}"
    )


def _entry(key: Key, data: bytes | None, generation: int) -> dict[str, Any]:
    out: dict[str, Any] = {"key": list(key)}
    if data is not None:
        out["generation"] = generation
        out["hex"] = data.hex()
        with contextlib.suppress(UnicodeDecodeError):
            out["string"] = data.decode("utf-8")
    return out


@dataclass
class Datastore:
    """One node's entries: key -> (data, generation)."""

    entries: dict[Key, tuple[bytes, int]] = field(default_factory=dict)

    def _has_children(self, key: Key) -> bool:
        n = len(key)
        return any(len(k) > n and k[:n] == key for k in self.entries)

    def datastore(
        self,
        key: Any,
        *,
        string: str | None = None,
        hex: str | None = None,
        mode: str | None = None,
        generation: int | None = None,
    ) -> dict[str, Any]:
        """The ``datastore`` command; returns the stored entry."""
        k = as_key(key)
        mode = "must-create" if mode is None else mode
        if mode not in MODES:
            raise RpcError(
                INVALID_PARAMS,
                "mode: should be 'must-create', 'must-replace', 'create-or-replace', "
                f"'must-append', or 'create-or-append': invalid token '{mode}'",
            )
        must_not_exist, must_exist, append = MODES[mode]
        if string is not None and hex is not None:
            raise RpcError(INVALID_PARAMS, "Cannot have both hex and string")
        if string is not None:
            data = string.encode()
        elif hex is not None:
            try:
                data = bytes.fromhex(hex)
            except ValueError:
                raise RpcError(
                    INVALID_PARAMS, "hex: should be a hex value: invalid token"
                ) from None
        else:
            raise RpcError(INVALID_PARAMS, "Must have either hex or string")
        if generation is not None and not must_exist:
            raise RpcError(INVALID_PARAMS, "generation only valid with must-replace or must-append")
        prev = self.entries.get(k)
        if prev is None and self._has_children(k):
            raise RpcError(DATASTORE_UPDATE_HAS_CHILDREN, "Key has children already")
        if prev is None:
            for i in range(1, len(k)):
                if k[:i] in self.entries:
                    raise RpcError(
                        DATASTORE_UPDATE_NO_CHILDREN, f"Parent key [{','.join(k[:i])}] exists"
                    )
        if must_not_exist and prev is not None:
            raise RpcError(DATASTORE_UPDATE_ALREADY_EXISTS, "Key already exists")
        if must_exist and prev is None:
            raise RpcError(DATASTORE_UPDATE_DOES_NOT_EXIST, "Key does not exist")
        if generation is not None and prev is not None and prev[1] != generation:
            raise RpcError(DATASTORE_UPDATE_WRONG_GENERATION, "generation is different")
        new = (prev[0] + data if append else data, prev[1] + 1) if prev is not None else (data, 0)
        self.entries[k] = new
        return _entry(k, new[0], new[1])

    def listdatastore(self, key: Any = None) -> dict[str, Any]:
        """The ``listdatastore`` command: the entry at ``key`` and its immediate children;
        deeper keys are summarised by their child of ``key`` (key only)."""
        prefix: Key = () if key is None else as_key(key)
        n = len(prefix)
        out: list[dict[str, Any]] = []
        last_summary: Key | None = None
        for k in sorted(self.entries):
            if k[:n] != prefix:
                continue
            if len(k) > n + 1:
                summary = k[: n + 1]
                if summary != last_summary:
                    out.append(_entry(summary, None, 0))
                    last_summary = summary
            else:
                data, gen = self.entries[k]
                out.append(_entry(k, data, gen))
        return {"datastore": out}

    def deldatastore(self, key: Any, generation: int | None = None) -> dict[str, Any]:
        """The ``deldatastore`` command; returns the deleted entry."""
        k = as_key(key)
        prev = self.entries.get(k)
        if prev is None:
            raise RpcError(DATASTORE_DEL_DOES_NOT_EXIST, "Key does not exist")
        if generation is not None and prev[1] != generation:
            raise RpcError(DATASTORE_DEL_WRONG_GENERATION, "generation is different")
        del self.entries[k]
        return _entry(k, prev[0], prev[1])

    def datastoreusage(self, key: Any = None) -> dict[str, Any]:
        """The ``datastoreusage`` command: bytes of the keys (with separators) and data
        stored under ``key``."""
        prefix: Key = () if key is None else as_key(key)
        n = len(prefix)
        total = 0
        for k, (data, _gen) in self.entries.items():
            if k[:n] == prefix:
                total += len("/".join(k)) + len(data)
        return {"datastoreusage": {"key": "[" + ",".join(prefix) + "]", "total_bytes": total}}
