"""The executor's mapping onto node RPCs, against the in-process network model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.errors import InvalidParams, Unsupported
from lnhive.core.store import Store
from lnhive.manage.catalogue import prepare
from lnhive.manage.effects import effects_of
from lnhive.manage.execution import capabilities_of
from lnhive.manage.executor import Executor, state_hash_for
from lnhive.manage.pipeline import MIGRATIONS
from lnhive.manage.schemas import CATALOGUE
from lnhive.manage.snapshot import NodeSnapshot
from lnhive.manage.snapshot_from_node import snapshot_from_node
from lnhive.sim.network import InProcessNode
from tests.sim.network.conftest import Line, make_line


@pytest.fixture
def line() -> Line:
    return make_line()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "comms.sqlite3", MIGRATIONS)
    yield s
    s.close()


def run(
    ex: Executor,
    node: InProcessNode,
    schema: str,
    action: str,
    params: dict[str, Any],
    **kwargs: Any,
) -> Any:
    snap = snapshot_from_node(node)
    prepared = prepare(CATALOGUE, schema, {"action": action, "params": params}, snap)
    return ex.execute(prepared, prepared.params, snap, **kwargs)


def local_policy(node: InProcessNode, scid: str | None) -> dict[str, Any]:
    (ch,) = node.listpeerchannels(short_channel_id=scid)["channels"]
    local: dict[str, Any] = ch["updates"]["local"]
    return local


def test_snapshot_from_node_reads_channels_peers_and_funds(line: Line) -> None:
    b = line.api("b")
    snap = snapshot_from_node(b)
    assert snap.node_id == line.ids["b"]
    assert {c.short_channel_id for c in snap.channels} == {
        line.chans["ab"].scid,
        line.chans["bc"].scid,
    }
    assert set(snap.connected_peers) == {line.ids["a"], line.ids["c"]}
    bc = snap.channel(str(line.chans["bc"].scid))
    assert bc is not None and bc.peer_id == line.ids["c"] and bc.capacity_sats == 1_000_000


def test_set_single_calls_setchannel_and_changes_the_fee(line: Line, store: Store) -> None:
    b = line.api("b")
    ex = Executor(b, store, line.clock)
    scid = line.chans["bc"].scid
    out = run(ex, b, "hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 321})
    assert out.result["fee_ppm"] == 321
    assert out.rpc_calls == [
        {"method": "setchannel", "params": {"id": scid, "feeppm": 321}, "ok": True}
    ]
    assert local_policy(b, scid)["fee_proportional_millionths"] == 321


def test_dry_run_sends_no_state_changing_rpc(line: Line, store: Store) -> None:
    b = line.api("b")
    ex = Executor(b, store, line.clock, dry_run=True)
    scid = line.chans["bc"].scid
    before = local_policy(b, scid)["fee_proportional_millionths"]
    out = run(ex, b, "hive:fee-policy/v1", "set_zero_fee", {"channel_id": scid})
    assert out.dry_run and out.result["dry_run"] is True
    assert out.rpc_calls[0]["dry_run"] is True
    assert local_policy(b, scid)["fee_proportional_millionths"] == before


def test_bulk_skips_channels_and_set_anchor_falls_back_to_setchannel(
    line: Line, store: Store
) -> None:
    b = line.api("b")
    ex = Executor(b, store, line.clock)
    ab, bc = line.chans["ab"].scid, line.chans["bc"].scid
    out = run(
        ex,
        b,
        "hive:fee-policy/v1",
        "set_bulk",
        {"channels": "all", "policy": {"fee_ppm": 77}},
        skip_channels=(ab,),
    )
    assert [c["short_channel_id"] for c in out.result["channels"]] == [bc]
    assert out.result["skipped"] == [ab]
    assert local_policy(b, bc)["fee_proportional_millionths"] == 77
    assert local_policy(b, ab)["fee_proportional_millionths"] != 77
    anchor = run(
        ex, b, "hive:fee-policy/v1", "set_anchor", {"channel_id": ab, "target_fee_ppm": 150}
    )
    assert anchor.result["via"] == "setchannel"
    assert local_policy(b, ab)["fee_proportional_millionths"] == 150


def test_disable_then_enable_restores_the_saved_htlc_limits(line: Line, store: Store) -> None:
    b = line.api("b")
    ex = Executor(b, store, line.clock)
    scid = line.chans["bc"].scid
    old_max = local_policy(b, scid)["htlc_maximum_msat"]
    off = run(ex, b, "hive:forwarding/v1", "disable_channel", {"channel_id": scid, "reason": "x"})
    assert off.result["saved_policy"]["htlc_maximum_msat"] == old_max
    assert local_policy(b, scid)["htlc_maximum_msat"] < old_max
    run(ex, b, "hive:forwarding/v1", "enable_channel", {"channel_id": scid, "reason": "x"})
    assert local_policy(b, scid)["htlc_maximum_msat"] == old_max
    with pytest.raises(InvalidParams, match="not disabled"):
        run(ex, b, "hive:forwarding/v1", "enable_channel", {"channel_id": scid, "reason": "x"})


def test_pre_checks_refuse_before_any_rpc(line: Line, store: Store) -> None:
    b = line.api("b")
    ex = Executor(b, store, line.clock)
    with pytest.raises(InvalidParams, match="no open channel"):
        run(ex, b, "hive:fee-policy/v1", "set_single", {"channel_id": "999x9x9", "fee_ppm": 1})
    scid = line.chans["bc"].scid
    with pytest.raises(InvalidParams, match="capacity"):
        run(
            ex,
            b,
            "hive:htlc-policy/v1",
            "set_htlc_limits",
            {"channel_id": scid, "htlc_maximum_msat": 2_000_000_000},
        )


def test_payments_and_invoices_keep_secrets_out(line: Line, store: Store) -> None:
    a, d = line.api("a"), line.api("d")
    ex_d = Executor(d, store, line.clock)
    inv = run(
        ex_d, d, "hive:payment/v1", "create_invoice", {"amount_msat": 10_000_000, "label": "t1"}
    )
    assert set(inv.result) == {"bolt11", "payment_hash", "expires_at"}
    ex_a = Executor(a, store, line.clock)
    paid = run(
        ex_a,
        a,
        "hive:payment/v1",
        "pay",
        {"bolt11": inv.result["bolt11"], "max_fee_ppm": 1000, "timeout_seconds": 30},
    )
    assert paid.result["payment_hash"] == inv.result["payment_hash"]
    assert "payment_preimage" not in str(paid.result)
    assert [c["method"] for c in paid.rpc_calls] == ["decode", "xpay"]


def test_unserved_and_unmapped_actions_are_unsupported(line: Line, store: Store) -> None:
    b = line.api("b")
    ex = Executor(b, store, line.clock)
    with pytest.raises(Unsupported, match="getlog"):
        run(ex, b, "hive:monitor/v1", "log_stream", {})
    with pytest.raises(Unsupported, match="PSBT"):
        run(ex, b, "hive:wallet/v1", "bump_fee", {"outpoints": ["00" * 32 + ":0"], "feerate": 2})
    assert not ex.mapped("monitor", "capabilities")
    assert ex.mapped("fee-policy", "set_single")


def test_ban_disconnects_and_refuses_later_connects(line: Line, store: Store) -> None:
    b = line.api("b")
    ex = Executor(b, store, line.clock)
    peer = line.ids["c"]
    out = run(ex, b, "hive:peer/v1", "ban", {"node_id": peer, "reason": "spam"})
    assert out.result == {"id": peer, "banned": True}
    assert peer not in snapshot_from_node(b).connected_peers
    with pytest.raises(InvalidParams, match="deny list"):
        run(ex, b, "hive:peer/v1", "connect", {"node_id": peer})


def test_capabilities_and_state_hashes() -> None:
    assert capabilities_of(frozenset({"revenue-config", "help"})) == {"revenue-ops"}
    assert capabilities_of(frozenset()) == frozenset()
    snap = NodeSnapshot()
    prepared = prepare(CATALOGUE, "hive:monitor/v1", {"action": "channel_list", "params": {}})
    assert state_hash_for(effects_of(prepared, snap), snap) is None
