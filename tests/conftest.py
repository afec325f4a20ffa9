"""Shared fixtures: the stand-in node factory (ARCHITECTURE §4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.sim.testing import NodeFactory

PLUGIN_DIR = Path(__file__).parent / "plugins"


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[NodeFactory]:
    """Stand-in nodes with real plugin subprocesses; torn down by process group.

    A test fails if a plugin did something a real lightningd would abort on.
    """
    factory = NodeFactory(tmp_path / "sim")
    try:
        yield factory
        assert not factory.violations(), "fidelity violations:\n" + "\n".join(factory.violations())
    finally:
        factory.close()


@pytest.fixture
def plugin_path() -> type[PluginPaths]:
    return PluginPaths


class PluginPaths:
    """Paths of the small test plugins in tests/plugins/."""

    @staticmethod
    def get(name: str) -> str:
        path = PLUGIN_DIR / name
        assert path.exists(), f"no test plugin {name}"
        return str(path)
