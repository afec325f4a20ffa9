"""datastore, listdatastore, deldatastore, datastoreusage: CLN's hierarchical key store.

A key is a list of strings; a key holds data or has children, never both. Kept in the
node's memory: a simulated node's life is its process's life.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from lnhive.sim.commands.registry import command
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

if TYPE_CHECKING:
    from lnhive.sim.node import CallContext, SimNode

Key = tuple[str, ...]
_MODES = {
    "must-create": (True, False, False),  # (must_not_exist, must_exist, append)
    "must-replace": (False, True, False),
    "create-or-replace": (False, False, False),
    "must-append": (False, True, True),
    "create-or-append": (False, False, True),
}


def _key(raw: Any, name: str = "key") -> Key:
    if isinstance(raw, list):
        if not raw:
            raise RpcError(INVALID_PARAMS, f"{name}: should not be empty: invalid token '[]'")
        if not all(isinstance(k, (str, int, float)) and not isinstance(k, bool) for k in raw):
            raise RpcError(
                INVALID_PARAMS, f"{name}: should be string: invalid token {json.dumps(raw)!r}"
            )
        return tuple(str(k) for k in raw)
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
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


def _has_children(store: dict[Key, tuple[bytes, int]], key: Key) -> bool:
    n = len(key)
    return any(len(k) > n and k[:n] == key for k in store)


@command("datastore")
async def datastore(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    key = _key(args["key"])
    mode = args.get("mode", "must-create")
    if mode not in _MODES:
        raise RpcError(
            INVALID_PARAMS,
            "mode: should be 'must-create', 'must-replace', 'create-or-replace', 'must-append',"
            f" or 'create-or-append': invalid token '{mode}'",
        )
    must_not_exist, must_exist, append = _MODES[mode]
    if "string" in args and "hex" in args:
        raise RpcError(INVALID_PARAMS, "Cannot have both hex and string")
    if "string" in args:
        data = str(args["string"]).encode()
    elif "hex" in args:
        data = bytes.fromhex(args["hex"])
    else:
        raise RpcError(INVALID_PARAMS, "Must have either hex or string")
    generation = args.get("generation")
    if generation is not None and not must_exist:
        raise RpcError(INVALID_PARAMS, "generation only valid with must-replace or must-append")
    store = node.datastore
    prev = store.get(key)
    if prev is None and _has_children(store, key):
        raise RpcError(DATASTORE_UPDATE_HAS_CHILDREN, "Key has children already")
    if prev is None:
        for i in range(1, len(key)):
            if key[:i] in store:
                raise RpcError(
                    DATASTORE_UPDATE_NO_CHILDREN, f"Parent key [{','.join(key[:i])}] exists"
                )
    if must_not_exist and prev is not None:
        raise RpcError(DATASTORE_UPDATE_ALREADY_EXISTS, "Key already exists")
    if must_exist and prev is None:
        raise RpcError(DATASTORE_UPDATE_DOES_NOT_EXIST, "Key does not exist")
    if generation is not None and prev is not None and prev[1] != generation:
        raise RpcError(DATASTORE_UPDATE_WRONG_GENERATION, "generation is different")
    new = (prev[0] + data if append else data, prev[1] + 1) if prev is not None else (data, 0)
    store[key] = new
    return _entry(key, new[0], new[1])


@command("listdatastore")
async def listdatastore(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    prefix: Key = _key(args["key"]) if "key" in args else ()
    n = len(prefix)
    out: list[dict[str, Any]] = []
    last_summary: Key | None = None
    for key in sorted(node.datastore):
        if key[:n] != prefix:
            continue
        if len(key) > n + 1:
            summary = key[: n + 1]
            if summary != last_summary:
                out.append(_entry(summary, None, 0))
                last_summary = summary
        else:
            data, gen = node.datastore[key]
            out.append(_entry(key, data, gen))
    return {"datastore": out}


@command("deldatastore")
async def deldatastore(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    key = _key(args["key"])
    prev = node.datastore.get(key)
    if prev is None:
        raise RpcError(DATASTORE_DEL_DOES_NOT_EXIST, "Key does not exist")
    generation = args.get("generation")
    if generation is not None and prev[1] != generation:
        raise RpcError(DATASTORE_DEL_WRONG_GENERATION, "generation is different")
    del node.datastore[key]
    return _entry(key, prev[0], prev[1])


@command("datastoreusage")
async def datastoreusage(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    prefix: Key = _key(args["key"]) if "key" in args else ()
    n = len(prefix)
    total = 0
    for key, (data, _gen) in node.datastore.items():
        if key[:n] == prefix:
            # CLN counts the key's bytes (with separators) plus the data's.
            total += len("/".join(key)) + len(data)
    return {"datastoreusage": {"key": "[" + ",".join(prefix) + "]", "total_bytes": total}}
