"""Nodes, peers, wallets and channel life cycle driven by blocks."""

from __future__ import annotations

import coincurve
import pytest

from lnhive.core.clock import VirtualClock
from lnhive.sim.errors import RpcError
from lnhive.sim.network import Event, InProcessNode, Network
from lnhive.sim.network.model import FUNDING_FEE_SAT
from lnhive.sim.network.nodes import derive_secret


def _net(**kw: object) -> tuple[VirtualClock, Network, list[Event]]:
    clock = VirtualClock()
    net = Network(clock, seed=3, **kw)  # type: ignore[arg-type]
    events: list[Event] = []
    net.subscribe(events.append)
    return clock, net, events


def test_node_keys_are_deterministic_and_valid() -> None:
    a1 = Network(VirtualClock(), seed=5).add_node("alice")
    a2 = Network(VirtualClock(), seed=5).add_node("alice")
    other = Network(VirtualClock(), seed=6).add_node("alice")
    assert a1 == a2 != other
    secret = derive_secret(5, "alice")
    assert coincurve.PrivateKey(secret).public_key.format().hex() == a1
    net = Network(VirtualClock())
    net.add_node("x")
    with pytest.raises(ValueError):
        net.add_node("x")
    with pytest.raises(KeyError):
        net.node("nope")


def test_connect_events_and_listpeers() -> None:
    _, net, events = _net()
    a, b = net.add_node("a"), net.add_node("b")
    res = InProcessNode(net, "a").connect(id=f"{b}@127.0.0.1:9735")
    assert res["id"] == b and res["direction"] == "out"
    got = [(e.node_id, e.payload["direction"]) for e in events if e.topic == "connect"]
    assert got == [(a, "out"), (b, "in")]
    peers = InProcessNode(net, "b").listpeers()["peers"]
    assert peers == [
        {
            "id": a,
            "connected": True,
            "num_channels": 0,
            "netaddr": [f"127.0.0.1:{net.nodes[a].port}"],
            "features": peers[0]["features"],
        }
    ]
    InProcessNode(net, "a").disconnect(id=b)
    assert InProcessNode(net, "b").listpeers()["peers"] == []
    assert [e.node_id for e in events if e.topic == "disconnect"] == [a, b]
    with pytest.raises(RpcError) as exc:
        InProcessNode(net, "a").connect(id="02" + "11" * 32)
    assert exc.value.code == 400


def test_channel_states_follow_blocks() -> None:
    clock, net, events = _net(funding_confirms=3)
    a, b = net.add_node("a"), net.add_node("b")
    net.fund_wallet(a, 2_000_000)
    net.connect(a, b)
    api = InProcessNode(net, "a")
    res = api.fundchannel(id=b, amount=500_000, push_msat=1_000_000)
    ch = api.listpeerchannels()["channels"][0]
    assert ch["state"] == "CHANNELD_AWAITING_LOCKIN" and "short_channel_id" not in ch
    assert ch["channel_id"] == res["channel_id"] and ch["opener"] == "local"
    assert ch["to_us_msat"] == 500_000_000 - 1_000_000
    opened = [e.payload for e in events if e.topic == "channel_opened"]
    assert opened == [
        {"id": a, "funding_msat": 500_000_000, "funding_txid": res["txid"], "channel_ready": False}
    ]
    assert all(e.node_id == b for e in events if e.topic == "channel_opened")
    start = net.blockheight
    net.mine(1)
    ch = api.listpeerchannels()["channels"][0]
    assert ch["short_channel_id"] == f"{start + 1}x1x0"
    assert ch["state"] == "CHANNELD_AWAITING_LOCKIN"
    net.mine(1)
    assert api.listpeerchannels()["channels"][0]["state"] == "CHANNELD_AWAITING_LOCKIN"
    net.mine(1)
    assert api.listpeerchannels()["channels"][0]["state"] == "CHANNELD_NORMAL"
    states = [
        (e.node_id, e.payload.get("old_state"), e.payload["new_state"], e.payload["cause"])
        for e in events
        if e.topic == "channel_state_changed"
    ]
    assert states == [
        (a, None, "CHANNELD_AWAITING_LOCKIN", "user"),
        (b, None, "CHANNELD_AWAITING_LOCKIN", "remote"),
        (a, "CHANNELD_AWAITING_LOCKIN", "CHANNELD_NORMAL", "user"),
        (b, "CHANNELD_AWAITING_LOCKIN", "CHANNELD_NORMAL", "remote"),
    ]
    assert [e.payload["height"] for e in events if e.topic == "block_added" and e.node_id == a] == [
        start + 1,
        start + 2,
        start + 3,
    ]
    # wallet: 2,000,000 - 500,000 - fee, as unconfirmed-then-confirmed change
    outs = api.listfunds()["outputs"]
    assert [o["amount_msat"] for o in outs] == [(2_000_000 - 500_000 - FUNDING_FEE_SAT) * 1000]
    assert outs[0]["status"] == "confirmed"
    info = api.getinfo()
    assert info["num_active_channels"] == 1 and info["num_pending_channels"] == 0
    assert clock.now() > 0


def test_fundchannel_errors() -> None:
    _, net, _ = _net()
    a, b, c = net.add_node("a"), net.add_node("b"), net.add_node("c")
    api = InProcessNode(net, "a")
    with pytest.raises(RpcError) as exc:
        api.fundchannel(id=b, amount=100_000)
    assert exc.value.code == 305
    net.connect(a, b)
    with pytest.raises(RpcError) as exc:
        api.fundchannel(id=b, amount=100_000)
    assert exc.value.code == 301
    net.fund_wallet(a, 50_000)
    with pytest.raises(RpcError) as exc:
        api.fundchannel(id=b, amount="1btc")
    assert exc.value.code == 301
    res = api.fundchannel(id=b, amount="all")
    assert res["txid"] and c


def test_mutual_close_then_forget() -> None:
    _, net, events = _net(forget_after=5)
    a, b = net.add_node("a"), net.add_node("b")
    chan = net.open_channel(a, b, 1_000_000, push_msat=300_000_000)
    api, bpi = InProcessNode(net, "a"), InProcessNode(net, "b")
    res = api.close(id=b)
    assert res["type"] == "mutual" and len(res["txids"]) == 1
    assert api.listpeerchannels()["channels"][0]["state"] == "CLOSINGD_COMPLETE"
    assert api.listpeerchannels()["channels"][0]["closer"] == "local"
    assert bpi.listpeerchannels()["channels"][0]["closer"] == "remote"
    net.mine(1)
    assert api.listpeerchannels()["channels"][0]["state"] == "ONCHAIN"
    assert api.listclosedchannels()["closedchannels"] == []
    # the closing outputs reached the wallets (the opener paid the closing fee)
    b_out = [o["amount_msat"] for o in bpi.listfunds()["outputs"]]
    assert b_out == [300_000_000]
    net.mine(5)
    assert api.listpeerchannels()["channels"] == []
    closed = api.listclosedchannels()["closedchannels"]
    assert closed[0]["channel_id"] == chan.channel_id and closed[0]["closer"] == "local"
    assert closed[0]["final_to_us_msat"] == 700_000_000
    assert bpi.listclosedchannels()["closedchannels"][0]["close_cause"] == "remote"
    seq = [
        e.payload["new_state"]
        for e in events
        if e.topic == "channel_state_changed" and e.node_id == a
    ]
    assert seq[-5:] == [
        "CHANNELD_SHUTTING_DOWN",
        "CLOSINGD_SIGEXCHANGE",
        "CLOSINGD_COMPLETE",
        "FUNDING_SPEND_SEEN",
        "ONCHAIN",
    ]
    # gone from gossip too
    assert api.listchannels()["channels"] == []
    moves = [
        (
            e.payload["primary_tag"],
            e.payload["account_id"],
            e.payload["credit_msat"],
            e.payload["debit_msat"],
        )
        for e in events
        if e.topic == "coin_movement" and e.node_id == b
    ]
    assert moves == [
        ("channel_open", chan.channel_id, 0, 0),
        ("channel_close", chan.channel_id, 0, 300_000_000),
        ("deposit", "wallet", 300_000_000, 0),
    ]


def test_unilateral_close_when_peer_is_away() -> None:
    _, net, _ = _net()
    a, b = net.add_node("a"), net.add_node("b")
    net.open_channel(a, b, 100_000)
    net.disconnect(a, b, force=True)
    res = InProcessNode(net, "a").close(id=b, unilateraltimeout=0)
    assert res["type"] == "unilateral"
    ch = InProcessNode(net, "a").listpeerchannels()["channels"][0]
    assert ch["state"] == "AWAITING_UNILATERAL" and ch["peer_connected"] is False


def test_disconnect_refused_with_active_channel() -> None:
    _, net, _ = _net()
    a, b = net.add_node("a"), net.add_node("b")
    net.open_channel(a, b, 100_000)
    with pytest.raises(RpcError) as exc:
        InProcessNode(net, "a").disconnect(id=b)
    assert "CHANNELD_NORMAL" in exc.value.message
    InProcessNode(net, "a").disconnect(id=b, force=True)
    assert InProcessNode(net, "a").listpeers()["peers"][0]["connected"] is False
