"""The built-in command table and the decorator that fills it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lnhive.sim.node import CallContext, SimNode

Handler = Callable[["SimNode", dict[str, Any], "CallContext"], Awaitable[Any]]


@dataclass(frozen=True)
class Builtin:
    name: str
    handler: Handler
    deprecated: bool = False
    dev_only: bool = False
    checked: bool = True  # parameters bound and checked against our tables

    @property
    def usage(self) -> str:
        return usage(self.name)


def usage(name: str) -> str:
    """`help`'s usage line for a built-in: required parameters plain, optional in [ ]."""
    from lnhive.sim.params import TABLES

    parts = [p.name if p.required else f"[{p.name}]" for p in TABLES.get(name, ())]
    return " ".join([name, *parts])


COMMANDS: dict[str, Builtin] = {}


def command(
    name: str, *, deprecated: bool = False, dev_only: bool = False, checked: bool = True
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in COMMANDS:
            raise RuntimeError(f"built-in {name} registered twice")
        COMMANDS[name] = Builtin(name, fn, deprecated, dev_only, checked)
        return fn

    return register
