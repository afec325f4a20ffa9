"""setchannel, gossip propagation delay and the enforcedelay grace period."""

from __future__ import annotations

from typing import Any

import pytest

from lnhive.sim.errors import RpcError
from lnhive.sim.network import failcodes as fc

from .conftest import Line


def _policy(line: Line, viewer: str, scid: str, source: str) -> dict[str, Any]:
    chans = line.api(viewer).listchannels(short_channel_id=scid)["channels"]
    return next(c for c in chans if c["source"] == line.ids[source])


def test_setchannel_visible_to_self_at_once_to_others_after_delay(line: Line) -> None:
    bc = line.chans["bc"].scid or ""
    res = line.api("b").setchannel(id=bc, feebase=5000, feeppm=500)
    assert res["channels"][0]["fee_base_msat"] == 5000
    assert res["channels"][0]["fee_proportional_millionths"] == 500
    assert res["channels"][0]["short_channel_id"] == bc
    local = line.api("b").listpeerchannels(short_channel_id=bc)["channels"][0]
    assert local["updates"]["local"]["fee_base_msat"] == 5000
    assert local["fee_proportional_millionths"] == 500
    assert _policy(line, "b", bc, "b")["base_fee_millisatoshi"] == 5000
    # the peer and everyone else still see the old update
    remote = line.api("c").listpeerchannels(short_channel_id=bc)["channels"][0]
    assert remote["updates"]["remote"]["fee_base_msat"] == 1000
    assert _policy(line, "a", bc, "b")["base_fee_millisatoshi"] == 1000
    line.clock.advance(59)
    assert _policy(line, "d", bc, "b")["fee_per_millionth"] == 10
    line.clock.advance(2)
    assert _policy(line, "d", bc, "b")["fee_per_millionth"] == 500
    assert _policy(line, "a", bc, "b")["last_update"] > _policy(line, "a", bc, "c")["last_update"]
    remote = line.api("c").listpeerchannels(short_channel_id=bc)["channels"][0]
    assert remote["updates"]["remote"]["fee_base_msat"] == 5000


def test_old_fee_grace_period_decides_where_it_fails(line: Line) -> None:
    a = line.api("a")
    old_route = a.getroute(id=line.ids["d"], amount_msat=10_000_000, riskfactor=1)["route"]
    line.api("b").setchannel(id=line.ids["c"], feebase=5000, enforcedelay=100)
    line.clock.advance(30)
    a.sendpay(route=old_route, payment_hash="97" * 32)
    with pytest.raises(RpcError) as exc:
        a.waitsendpay(payment_hash="97" * 32)
    # b forwarded at the old fee; d did not know the payment hash
    assert exc.value.data["erring_index"] == 3
    assert exc.value.data["failcode"] == fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    line.clock.advance(71)  # 101 s after setchannel
    a.sendpay(route=old_route, payment_hash="96" * 32)
    with pytest.raises(RpcError) as exc:
        a.waitsendpay(payment_hash="96" * 32)
    assert exc.value.data["erring_index"] == 1
    assert exc.value.data["failcode"] == fc.FEE_INSUFFICIENT


def test_stale_gossip_makes_payer_retry(line: Line) -> None:
    line.api("b").setchannel(id=line.ids["c"], feebase=5000, enforcedelay=0)
    with pytest.raises(RpcError) as exc:
        line.api("a").keysend(destination=line.ids["d"], amount_msat=1_000_000)
    assert exc.value.code == 205
    fails = line.api("a").listsendpays(status="failed")["payments"]
    assert len(fails) == 1
    line.clock.advance(61)
    res = line.api("a").keysend(destination=line.ids["d"], amount_msat=1_000_000, maxfee=100_000)
    assert res["amount_sent_msat"] == 1_000_000 + 1010 + 5000 + 10


def test_new_channel_and_node_announcement_propagate(line: Line) -> None:
    net = line.net
    e = net.add_node("e", alias="EVE")
    chan = net.open_channel("d", "e", 200_000)
    scid = chan.scid or ""
    assert line.api("d").listchannels(short_channel_id=scid)["channels"]
    assert line.api("a").listchannels(short_channel_id=scid)["channels"] == []
    assert [n["nodeid"] for n in line.api("a").listnodes(id=e)["nodes"]] == []
    with pytest.raises(RpcError):
        line.api("a").keysend(destination=e, amount_msat=1000)
    line.clock.advance(60)
    assert len(line.api("a").listchannels(short_channel_id=scid)["channels"]) == 2
    node = line.api("a").listnodes(id=e)["nodes"][0]
    assert node["alias"] == "EVE" and node["last_timestamp"] > 0
    line.api("a").keysend(destination=e, amount_msat=1000)


def test_private_channel_stays_out_of_gossip(line: Line) -> None:
    chan = line.net.open_channel("a", "d", 100_000, announce=False)
    line.clock.advance(600)
    assert line.api("b").listchannels(short_channel_id=chan.scid)["channels"] == []
    assert len(line.api("a").listchannels(short_channel_id=chan.scid)["channels"]) == 2
    assert line.api("a").listpeerchannels(id=line.ids["d"])["channels"][0]["private"] is True


def test_setchannel_errors_and_htlcmax_cap(line: Line) -> None:
    with pytest.raises(RpcError) as exc:
        line.api("a").setchannel(id="1x1x1", feeppm=1)
    assert exc.value.code == -1
    res = line.api("a").setchannel(id="all", htlcmax=10**15)
    item = res["channels"][0]
    assert item["maximum_htlc_out_msat"] == 1_000_000_000
    assert "warning_htlcmax_too_high" in item
