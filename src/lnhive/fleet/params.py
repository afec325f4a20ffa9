"""Parameter parsing shared by cl-hive's operator methods."""

from __future__ import annotations

from lnhive.core.errors import InvalidInput


def int_param(name: str, value: object) -> int:
    """``value`` as an integer (JSON number or decimal string), else :class:`InvalidInput`."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise InvalidInput(f"{name} must be an integer, got {value!r}")
