"""The stand-in's built-in commands, one module per area, gathered in one table."""

from __future__ import annotations

from lnhive.sim.commands.registry import COMMANDS, Builtin

# Importing the modules registers their commands.
from lnhive.sim.commands import admin, network, runes  # noqa: F401  isort: skip

__all__ = ["COMMANDS", "Builtin"]
