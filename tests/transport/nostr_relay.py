"""A real ``nostr-relay`` (1.14) on 127.0.0.1 for tests: the fixture around
:class:`lnhive.cli.relay.RelayProcess` (which the demo uses too)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.cli.relay import RELAY_BIN, RelayProcess, free_port

__all__ = ["RELAY_BIN", "RelayProcess", "free_port", "nostr_relay"]


@pytest.fixture
def nostr_relay(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = RelayProcess(tmp_path / "relay").start()
    try:
        yield relay
    finally:
        relay.stop()
