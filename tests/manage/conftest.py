"""Shared fixtures for the management domain: a real SQLite store, a virtual clock,
node and advisor keys, a small live-state snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from coincurve import PrivateKey

from lnhive.core.bip340 import xonly_pubkey
from lnhive.core.clock import VirtualClock
from lnhive.core.store import Store
from lnhive.manage.catalogue import PreparedAction, prepare
from lnhive.manage.credential import Signer, local_signer
from lnhive.manage.effects import effects_of
from lnhive.manage.rules import EmptyHistory, History, RuleContext
from lnhive.manage.schemas import CATALOGUE
from lnhive.manage.snapshot import ChannelState, NodeSnapshot
from lnhive.manage.store import open_manage_store

NODE_SECRET = bytes([1]) * 32
NODE_ID = PrivateKey(NODE_SECRET).public_key.format(compressed=True).hex()
ADVISOR_SECRET = bytes([2]) * 32
ADVISOR = xonly_pubkey(ADVISOR_SECRET).hex()
OTHER_ADVISOR = xonly_pubkey(bytes([3]) * 32).hex()
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday

PEER_A = "02" + "aa" * 32
PEER_B = "03" + "bb" * 32
PEER_C = "02" + "cc" * 32
PEER_X = "03" + "dd" * 32
"""A peer we have no channel with."""

SNAPSHOT = NodeSnapshot(
    channels=(
        ChannelState(
            "100x1x0",
            PEER_A,
            2_000_000,
            1_000_000_000,
            1000,
            100,
            1,
            1_990_000_000,
            34,
            channel_id="ab" * 32,
        ),
        ChannelState("101x1x0", PEER_B, 1_000_000, 500_000_000, 0, 0, 1, 990_000_000, 34),
        ChannelState("102x1x0", PEER_C, 5_000_000, 2_500_000_000, 500, 500, 1, 4_950_000_000, 40),
    ),
    connected_peers=(PEER_A, PEER_B, PEER_C),
    onchain_confirmed_sats=3_000_000,
    onchain_unconfirmed_sats=0,
    node_id=NODE_ID,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_manage_store(tmp_path / "comms.sqlite3")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def signer() -> Signer:
    return local_signer(NODE_SECRET)


def prep(
    schema: str, action: str, snapshot: NodeSnapshot = SNAPSHOT, **params: Any
) -> PreparedAction:
    return prepare(CATALOGUE, f"hive:{schema}/v1", {"action": action, "params": params}, snapshot)


def ctx_for(
    schema: str,
    action: str,
    *,
    now: float = T0,
    snapshot: NodeSnapshot = SNAPSHOT,
    advisor: History | None = None,
    node: History | None = None,
    **params: Any,
) -> RuleContext:
    prepared = prep(schema, action, snapshot, **params)
    return RuleContext(
        prepared=prepared,
        effects=effects_of(prepared, snapshot),
        snapshot=snapshot,
        now=now,
        advisor=advisor or EmptyHistory(),
        node=node or EmptyHistory(),
    )
