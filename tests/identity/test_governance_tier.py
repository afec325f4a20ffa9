"""The governance tier and its bond check (spec §1.4, §6 test 5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import ConstraintViolation, InvalidInput, NotFound
from lnhive.core.store import Store
from lnhive.identity.governance import Governance
from lnhive.identity.store import open_archon_store
from lnhive.identity.tier import (
    BASIC,
    GOVERNANCE,
    decide_upgrade,
    local_balance_sats,
    parse_msat,
)
from lnhive.sim.network import InProcessNode, Network

T0 = 1_767_225_600.0
DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def test_msat_forms() -> None:
    assert parse_msat(1000) == 1000 and parse_msat("1000msat") == 1000 and parse_msat(0) == 0
    for bad in (True, -1, 1.5, "1000", "1000sat", "01msat", None, "1e3msat"):
        with pytest.raises(InvalidInput):
            parse_msat(bad)


def test_balance_counts_open_channels_only_and_rounds_down() -> None:
    funds = {
        "outputs": [{"amount_msat": 9_000_000_000}],  # on-chain money is not a bond
        "channels": [
            {"state": "CHANNELD_NORMAL", "our_amount_msat": "60000999msat"},
            {"state": "CHANNELD_AWAITING_SPLICE", "our_amount_msat": 1_000},
            {"state": "ONCHAIN", "our_amount_msat": 5_000_000_000},
            {"state": "CHANNELD_AWAITING_LOCKIN", "our_amount_msat": 5_000_000_000},
        ],
    }
    assert local_balance_sats(funds) == 60_001
    with pytest.raises(InvalidInput):
        local_balance_sats({"channels": [{"state": "CHANNELD_NORMAL", "our_amount_msat": 1.5}]})


def test_decide_upgrade_rules() -> None:
    with pytest.raises(InvalidInput, match="valid_tiers: basic, governance"):
        decide_upgrade("admin", 60_000, 50_000, 100_000)
    with pytest.raises(ConstraintViolation, match=r"insufficient bond.*required_bond_sats 50000"):
        decide_upgrade(GOVERNANCE, 49_999, 50_000, 100_000)
    with pytest.raises(ConstraintViolation, match="local_balance_sats 59999 < bond_sats 60000"):
        decide_upgrade(GOVERNANCE, 60_000, 50_000, 59_999)
    for bad in (True, 60_000.0, "60000", -1):
        with pytest.raises(InvalidInput, match="bond_sats"):
            decide_upgrade(GOVERNANCE, bad, 50_000, 100_000)
    ok = decide_upgrade(GOVERNANCE, 60_000, 50_000, 60_000)
    assert (ok.tier, ok.bond_sats, ok.balance_sats) == (GOVERNANCE, 60_000, 60_000)
    assert decide_upgrade(BASIC, None, 50_000, None).tier == BASIC  # downgrade is free


@pytest.fixture
def net() -> tuple[VirtualClock, Network]:
    clock = VirtualClock(T0)
    network = Network(clock, seed=3)
    network.add_node("a")
    network.add_node("b")
    return clock, network


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_archon_store(tmp_path / "archon.sqlite3")
    yield s
    s.close()


def _gov(net: tuple[VirtualClock, Network], store: Store, provisioned: bool = True) -> Governance:
    clock, network = net
    node = InProcessNode(network, "a")

    def identity() -> str:
        if not provisioned:
            raise NotFound("identity not provisioned; run hive-archon-provision")
        return DID

    return Governance(node, store, clock, node.getinfo()["id"], 50_000, identity)


def test_upgrade_reads_the_node_own_channels(
    net: tuple[VirtualClock, Network], store: Store
) -> None:
    gov = _gov(net, store)
    assert gov.tier() == BASIC
    with pytest.raises(ConstraintViolation, match="local_balance_sats 0 < bond_sats 60000"):
        gov.upgrade("governance", 60_000)
    assert gov.tier() == BASIC  # refused: nothing changed
    assert store.query("SELECT * FROM archon_tier_log") == []

    net[1].open_channel("a", "b", 100_000)
    out = gov.upgrade("governance", 60_000)
    assert out["governance_tier"] == GOVERNANCE and out["did"] == DID
    assert out["local_balance_sats"] == 100_000 and out["previous_tier"] == BASIC
    assert gov.tier() == GOVERNANCE
    with pytest.raises(ConstraintViolation, match="local_balance_sats 100000 < bond_sats 100001"):
        gov.upgrade("governance", 100_001)
    assert gov.tier() == GOVERNANCE

    assert gov.upgrade("basic")["governance_tier"] == BASIC  # downgrade, free
    log = store.query("SELECT from_tier, to_tier, bond_sats FROM archon_tier_log ORDER BY id")
    assert [tuple(r) for r in log] == [(BASIC, GOVERNANCE, 60_000), (GOVERNANCE, BASIC, 0)]


def test_upgrade_needs_an_identity_and_a_valid_tier(
    net: tuple[VirtualClock, Network], store: Store
) -> None:
    with pytest.raises(InvalidInput, match="invalid target_tier"):
        _gov(net, store, provisioned=False).upgrade("root", 60_000)
    with pytest.raises(NotFound, match="not provisioned"):
        _gov(net, store, provisioned=False).upgrade("governance", 60_000)
