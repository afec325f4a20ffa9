"""Runtime overrides of cl-revenue-ops' dynamic options (spec revenue-ops §6.1 ``revenue-config``,
§6.2).

Keys are option names without the ``revenue-ops-`` prefix (``fee-interval``; ``_`` is accepted
for ``-``). Every option is dynamic except ``db-path`` and ``dry-run``. A value is checked for
its type (integer, decimal number, true/false or text, as the option's default) and then the
whole option set is validated with the new value in place (:meth:`RevenueOptions.validate`:
the same ranges as at start-up, e.g. ``min-fee-ppm`` 5-100 000, ratios 0-1), so a bad value is
refused with the reason and changes nothing.

An accepted value is committed to ``config_overrides`` (its ``version`` counts every write)
before it is applied and acknowledged, logged, and read back at the next start-up on top of
the node's options. A stored override that is no longer valid there (the node's options
changed under it) is skipped with a warning and listed as ``rejected``. ``reset`` drops an
override: the start-up value applies again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from lnhive.core.errors import InvalidInput, LnhiveError
from lnhive.revenue.options import DEFAULTS, RevenueOptions, field_name, option_name
from lnhive.revenue.store import RevenueStore

ACTIONS = ("get", "set", "list", "reset")
IMMUTABLE = frozenset({"db_path", "dry_run"})
"""Static options: read at start-up only."""
DYNAMIC: tuple[str, ...] = tuple(
    option_name(f.name) for f in fields(RevenueOptions) if f.name not in IMMUTABLE | {"developer"}
)

Log = Callable[[str, str], None]


def parse_value(name: str, value: object) -> Any:
    """``value`` as the type of option ``name`` (a field name), or :class:`InvalidInput`."""
    want = type(getattr(DEFAULTS, name))
    opt = option_name(name)
    text = value.strip() if isinstance(value, str) else None
    if want is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise InvalidInput(f"{opt} takes true or false, got {value!r}")
    if want is int:
        if text is not None and text.lstrip("+-").isdigit():
            return int(text)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{opt} takes a whole number, got {value!r}")
        return value
    if want is float:
        if isinstance(value, bool):
            raise InvalidInput(f"{opt} takes a decimal number, got {value!r}")
        if isinstance(value, int | float):
            return float(value)
        try:
            if text is not None and math.isfinite(float(text)):
                return float(text)
        except ValueError:
            pass
        raise InvalidInput(f"{opt} takes a decimal number, got {value!r}")
    if not isinstance(value, str):
        raise InvalidInput(f"{opt} takes text, got {value!r}")
    return value


def resolve_key(key: object) -> str:
    """The field name of a ``revenue-config`` key, or :class:`InvalidInput` saying what to do."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"key must be an option name such as fee-interval, got {key!r}")
    name = field_name(key.strip())
    if name is None:
        raise InvalidInput(
            f"unknown option {key!r}; `revenue-config list` shows the options, "
            f"dynamic ones: {', '.join(DYNAMIC)}"
        )
    return name


class ConfigOverrides:
    """``revenue-config`` over the store; ``apply(options)`` hands a new option set to the
    running components after each committed change."""

    def __init__(
        self,
        store: RevenueStore,
        base: RevenueOptions,
        *,
        apply: Callable[[RevenueOptions], None] | None = None,
        log: Log | None = None,
    ) -> None:
        self.store = store
        self.base = base
        self.apply = apply
        self.log = log or (lambda level, message: None)
        self.rejected: dict[str, str] = {}
        self.current = self._load()

    def _load(self) -> RevenueOptions:
        """The start-up options with every stored override that still validates."""
        opts = self.base
        for key, value in self.store.config_overrides().items():
            name = field_name(key)
            try:
                if name is None or name in IMMUTABLE:
                    raise InvalidInput(f"{key} cannot be overridden")
                candidate = replace(opts, **{name: parse_value(name, value)})
                candidate.validate()
            except LnhiveError as err:
                self.rejected[key] = err.message
                self.log("warn", f"revenue-config: stored override {key}={value!r} skipped: {err}")
                continue
            opts = candidate
        return opts

    def handle(self, action: object, key: object, value: object, now: float) -> dict[str, Any]:
        if action not in ACTIONS:
            raise InvalidInput(
                f"action {action!r} is not valid; valid values: {', '.join(ACTIONS)}"
            )
        if action == "list":
            if key is not None or value is not None:
                raise InvalidInput("action list takes no key or value")
            return self.listing()
        name = resolve_key(key)
        if action == "get":
            if value is not None:
                raise InvalidInput("action get takes no value (use action=set to change it)")
            return self._entry(name)
        if name in IMMUTABLE:
            raise InvalidInput(
                f"{option_name(name)} is static: set revenue-ops-{option_name(name)} in the "
                "node's config and restart the plugin"
            )
        if action == "reset":
            if value is not None:
                raise InvalidInput("action reset takes no value")
            return self._reset(name, now)
        if value is None:
            raise InvalidInput(f"action set needs a value for {option_name(name)}")
        return self._set(name, parse_value(name, value), now)

    def _set(self, name: str, value: Any, now: float) -> dict[str, Any]:
        old = getattr(self.current, name)
        candidate = replace(self.current, **{name: value})
        candidate.validate()  # InvalidInput names the option and its range; nothing stored
        key = option_name(name)
        version = self.store.set_config_override(key, value, now)
        self.rejected.pop(key, None)
        self._use(candidate)
        self.log("info", f"revenue-config: {key} {old!r} -> {value!r} (version {version})")
        return {"key": key, "old_value": old, "new_value": value, "version": version}

    def _reset(self, name: str, now: float) -> dict[str, Any]:
        key = option_name(name)
        old, start = getattr(self.current, name), getattr(self.base, name)
        candidate = replace(self.current, **{name: start})
        candidate.validate()  # e.g. resetting max-fee-ppm below an overridden min-fee-ppm
        if not self.store.delete_config_override(key, now):
            raise InvalidInput(f"{key} has no override to reset")
        self._use(candidate)
        version = self.store.config_version()
        self.log("info", f"revenue-config: {key} reset {old!r} -> {start!r} (version {version})")
        return {"key": key, "old_value": old, "new_value": start, "version": version}

    def _use(self, options: RevenueOptions) -> None:
        self.current = options
        if self.apply is not None:
            self.apply(options)

    def _entry(self, name: str) -> dict[str, Any]:
        key = option_name(name)
        overrides = self.store.config_overrides()
        return {
            "key": key,
            "value": getattr(self.current, name),
            "startup_value": getattr(self.base, name),
            "default": getattr(DEFAULTS, name) if name != "db_path" else "",
            "overridden": key in overrides and key not in self.rejected,
            "dynamic": name not in IMMUTABLE,
            "version": self.store.config_version(),
        }

    def listing(self) -> dict[str, Any]:
        values = {
            option_name(f.name): getattr(self.current, f.name)
            for f in fields(RevenueOptions)
            if f.name != "developer"
        }
        overrides = {
            k: v for k, v in self.store.config_overrides().items() if k not in self.rejected
        }
        return {
            "options": values,
            "overrides": overrides,
            "rejected": dict(self.rejected),
            "immutable": sorted(option_name(n) for n in IMMUTABLE),
            "version": self.store.config_version(),
        }
