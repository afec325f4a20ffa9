"""Shared fixtures: the stand-in node factory (ARCHITECTURE §4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.sim.testing import NodeFactory
from tests.fidelity import SchemaFidelity
from tests.schemas import schemas_available

PLUGIN_DIR = Path(__file__).parent / "plugins"


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[NodeFactory]:
    """Stand-in nodes with real plugin subprocesses; torn down by process group.

    A test fails if a plugin did something a real lightningd would abort on, or if the
    stand-in answered, notified or called a hook with something that does not fit
    CLN's schemas (when ../shared/cln-schemas is there).
    """
    factory = NodeFactory(
        tmp_path / "sim", fidelity=SchemaFidelity() if schemas_available() else None
    )
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
