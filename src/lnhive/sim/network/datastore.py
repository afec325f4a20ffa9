"""A node's datastore (``datastore``/``listdatastore``/``deldatastore``), as CLN keeps it."""

from __future__ import annotations

import contextlib
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
    RpcError,
    invalid_params,
)

Key = tuple[str, ...]
MODES = ("must-create", "must-replace", "create-or-replace", "must-append", "create-or-append")


def as_key(key: str | list[str] | tuple[str, ...]) -> Key:
    if isinstance(key, str):
        return (key,)
    if not key:
        raise invalid_params("key: should be a non-empty array of strings")
    return tuple(key)


def _entry(key: Key, data: bytes, generation: int) -> dict[str, Any]:
    out: dict[str, Any] = {"key": list(key), "generation": generation, "hex": data.hex()}
    with contextlib.suppress(UnicodeDecodeError):
        out["string"] = data.decode("utf-8")
    return out


@dataclass
class Datastore:
    entries: dict[Key, tuple[bytes, int]] = field(default_factory=dict)

    def _has_children(self, key: Key) -> bool:
        n = len(key)
        return any(len(k) > n and k[:n] == key for k in self.entries)

    def put(
        self, key: Key, data: bytes, mode: str = "must-create", generation: int | None = None
    ) -> dict[str, Any]:
        if mode not in MODES:
            raise invalid_params(f"mode: should be one of {', '.join(MODES)}")
        if generation is not None and mode not in ("must-replace", "must-append"):
            raise invalid_params("generation only valid with must-replace or must-append")
        for i in range(1, len(key)):
            if key[:i] in self.entries:
                raise RpcError(
                    DATASTORE_UPDATE_NO_CHILDREN, "Parent key [" + ",".join(key[:i]) + "] exists"
                )
        existing = self.entries.get(key)
        if existing is None and self._has_children(key):
            raise RpcError(DATASTORE_UPDATE_HAS_CHILDREN, "Key has children")
        if mode == "must-create" and existing is not None:
            raise RpcError(DATASTORE_UPDATE_ALREADY_EXISTS, "Key already exists")
        if mode in ("must-replace", "must-append") and existing is None:
            raise RpcError(DATASTORE_UPDATE_DOES_NOT_EXIST, "Key does not exist")
        if existing is not None and generation is not None and existing[1] != generation:
            raise RpcError(DATASTORE_UPDATE_WRONG_GENERATION, "generation is different")
        if existing is not None and mode in ("must-append", "create-or-append"):
            data = existing[0] + data
        gen = 0 if existing is None else existing[1] + 1
        self.entries[key] = (data, gen)
        return _entry(key, data, gen)

    def list(self, key: Key | None = None) -> list[dict[str, Any]]:
        """The entry at ``key`` (if it holds data) and its immediate children; intermediate
        keys with children but no data are listed by key only."""
        prefix: Key = key or ()
        n = len(prefix)
        seen: dict[Key, dict[str, Any]] = {}
        for k, (data, gen) in sorted(self.entries.items()):
            if k[:n] != prefix:
                continue
            if len(k) == n or len(k) == n + 1:
                seen[k] = _entry(k, data, gen)
            else:
                child = k[: n + 1]
                seen.setdefault(child, {"key": list(child)})
        return [seen[k] for k in sorted(seen)]

    def delete(self, key: Key, generation: int | None = None) -> dict[str, Any]:
        existing = self.entries.get(key)
        if existing is None:
            raise RpcError(DATASTORE_DEL_DOES_NOT_EXIST, "Key does not exist")
        if generation is not None and existing[1] != generation:
            raise RpcError(DATASTORE_DEL_WRONG_GENERATION, "generation is different")
        del self.entries[key]
        return _entry(key, existing[0], existing[1])
