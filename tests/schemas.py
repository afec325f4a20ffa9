"""Core Lightning's JSON schemas, read where they sit beside the checkout, for tests.

The schemas live in ``<repo>/../shared/cln-schemas`` (CI puts ``shared/`` beside the
checkout); they are never copied into the project. Tests that need them carry
``@requires_schemas`` and skip, saying why, when the folder is absent.

Validation uses the validator pyln-testing ships for Core Lightning's extra type
names (``pyln.testing.fixtures._extra_validator``), a JSON Schema draft-07
validator: Core Lightning-only keywords (``added``, ``deprecated``, ``hidden``,
``untyped``, ...) are not draft-07 keywords and are ignored by it, and only the
``request``/``response`` members are validated, so ``$schema`` is never followed.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

SCHEMA_DIR = (Path(__file__).resolve().parent.parent.parent / "shared" / "cln-schemas").resolve()


def schemas_available() -> bool:
    return (SCHEMA_DIR / "getinfo.json").is_file()


requires_schemas = pytest.mark.skipif(
    not schemas_available(), reason="../shared/cln-schemas is absent; schema checks skipped"
)


@functools.cache
def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"no schema file {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a JSON object"
    return data


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema of RPC method ``name`` (``<name>.json``)."""
    return _read(SCHEMA_DIR / f"{name}.json")


@functools.cache
def load_hook_schema(name: str) -> dict[str, Any]:
    """The schema of hook ``name`` (``hook/<name>.json``)."""
    return _read(SCHEMA_DIR / "hook" / f"{name}.json")


@functools.cache
def _notification_files() -> dict[str, Path]:
    """Topic name → file; the topic is the file's ``notification`` member
    (xpay's ``pay_part_start`` lives in ``xpay_pay_part_start.json``)."""
    out: dict[str, Path] = {}
    for path in sorted((SCHEMA_DIR / "notification").glob("*.json")):
        topic = _read(path).get("notification", path.stem)
        out[str(topic)] = path
        out.setdefault(path.stem, path)
    return out


@functools.cache
def load_notification_schema(name: str) -> dict[str, Any]:
    """The schema of notification topic ``name`` (or of the file ``notification/<name>.json``)."""
    files = _notification_files()
    if name not in files:
        raise FileNotFoundError(f"no notification schema for topic {name!r} in {SCHEMA_DIR}")
    return _read(files[name])


@functools.cache
def _validator_class(is_request: bool) -> Any:
    from pyln.testing.fixtures import _extra_validator

    return _extra_validator(is_request)


@functools.cache
def _validator(kind: str, name: str, part: str) -> Any:
    loaders = {
        "rpc": load_schema,
        "hook": load_hook_schema,
        "notification": load_notification_schema,
    }
    schema = loaders[kind](name)
    if part not in schema:
        raise AssertionError(f"{kind} schema {name!r} has no {part!r} member")
    # As pyln-testing does: ``request`` members get the request validator (every
    # amount form), ``response`` members the response one (msat as integers only).
    is_request = part == "request"
    return _validator_class(is_request)(schema[part])


def _check(kind: str, name: str, part: str, instance: object) -> None:
    validator = _validator(kind, name, part)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    lines = [f"{kind} {name!r} {part} does not match its schema ({len(errors)} problem(s)):"]
    for err in errors[:10]:
        where = "/".join(str(p) for p in err.absolute_path) or "<top>"
        lines.append(f"  at {where}: {err.message}")
    if len(errors) > 10:
        lines.append(f"  ... and {len(errors) - 10} more")
    text = json.dumps(instance, sort_keys=True, default=str)
    lines.append(f"  instance: {text[:2000]}")
    raise AssertionError("\n".join(lines))


def validate_request(method: str, params: object) -> None:
    """Object params of an RPC request against ``request`` (arrays are bound by position)."""
    if isinstance(params, list):
        props = list(load_schema(method)["request"].get("properties", {}))
        if len(params) > len(props):
            raise AssertionError(
                f"rpc {method!r} request has {len(params)} positional params, schema has {len(props)}"
            )
        params = {k: v for k, v in zip(props, params, strict=False) if v is not None}
    _check("rpc", method, "request", params)


def validate_response(method: str, obj: object) -> None:
    _check("rpc", method, "response", obj)


def validate_hook_request(hook: str, params: object) -> None:
    _check("hook", hook, "request", params)


def validate_hook_response(hook: str, result: object) -> None:
    _check("hook", hook, "response", result)


def validate_notification(topic: str, inner_obj: object) -> None:
    """The object inside the topic wrapper (``params[topic]``) against ``response``."""
    _check("notification", topic, "response", inner_obj)
