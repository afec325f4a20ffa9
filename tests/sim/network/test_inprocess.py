"""InProcessNode: keys via lnhive.core, datastore, the call() escape hatch, NodeApi."""

from __future__ import annotations

import pytest

from lnhive.cln.api import NodeApi
from lnhive.core.derive import hkdf_secret
from lnhive.sim.errors import RpcError
from lnhive.sim.network import Event, InProcessNode

from .conftest import Line


def test_is_a_nodeapi(line: Line) -> None:
    assert isinstance(line.api("a"), NodeApi)


def test_sign_and_check_message(line: Line) -> None:
    a, d = line.api("a"), line.api("d")
    sig = a.signmessage(message="lnhive:test:v1:abc")
    assert len(sig["zbase"]) == 104 and len(sig["signature"]) == 128
    ok = d.checkmessage(message="lnhive:test:v1:abc", zbase=sig["zbase"])
    assert ok == {"pubkey": line.ids["a"], "verified": True}
    bad = d.checkmessage(message="other", zbase=sig["zbase"], pubkey=line.ids["a"])
    assert bad["verified"] is False
    # a signer outside d's gossip view
    line.net.add_node("loner")
    sig2 = line.api("loner").signmessage(message="hi")
    with pytest.raises(RpcError) as exc:
        d.checkmessage(message="hi", zbase=sig2["zbase"])
    assert exc.value.code == 1301
    assert exc.value.data == {"claimed_key": line.ids.get("loner", line.net.by_name["loner"])}
    with pytest.raises(RpcError) as exc:
        d.checkmessage(message="hi", zbase="!!")
    assert exc.value.code == -32602


def test_makesecret_is_hkdf_of_node_secret(line: Line) -> None:
    a = line.api("a")
    got = a.makesecret(string="lnhive/nostr/v1")["secret"]
    want = hkdf_secret(line.net.node("a").secret, b"lnhive/nostr/v1").hex()
    assert got == want
    assert a.makesecret(hex=b"lnhive/nostr/v1".hex())["secret"] == want
    assert line.api("b").makesecret(string="lnhive/nostr/v1")["secret"] != want


def test_datastore(line: Line) -> None:
    a = line.api("a")
    assert a.datastore(key=["hive", "x"], string="one") == {
        "key": ["hive", "x"],
        "generation": 0,
        "hex": b"one".hex(),
        "string": "one",
    }
    with pytest.raises(RpcError) as exc:
        a.datastore(key=["hive", "x"], string="two")
    assert exc.value.code == 1202
    a.datastore(key=["hive", "x"], string="+", mode="must-append", generation=0)
    assert a.listdatastore(key=["hive", "x"])["datastore"][0]["string"] == "one+"
    a.datastore(key=["hive", "y", "z"], hex="00ff")
    assert a.listdatastore(key="hive")["datastore"] == [
        {"key": ["hive", "x"], "generation": 1, "hex": b"one+".hex(), "string": "one+"},
        {"key": ["hive", "y"]},
    ]
    with pytest.raises(RpcError) as exc:
        a.datastore(key=["hive", "x", "child"], string="")
    assert exc.value.code == 1206
    with pytest.raises(RpcError) as exc:
        a.deldatastore(key=["hive", "x"], generation=7)
    assert exc.value.code == 1201
    assert a.deldatastore(key=["hive", "x"])["generation"] == 1
    with pytest.raises(RpcError) as exc:
        a.deldatastore(key=["hive", "x"])
    assert exc.value.code == 1200


def test_call_escape_hatch(line: Line) -> None:
    a = line.api("a")
    assert a.call("getinfo")["id"] == line.ids["a"]
    assert a.call("listpeerchannels", {"id": line.ids["b"], "channel_id": None})["channels"]
    with pytest.raises(RpcError) as exc:
        a.call("listplugins", {})
    assert (exc.value.code, exc.value.message) == (-32601, "Unknown command 'listplugins'")
    with pytest.raises(RpcError) as exc:
        a.call("getinfo", {"bogus": 1})
    assert exc.value.code == -32602
    assert exc.value.message.startswith("unknown parameter: bogus, this may be caused")
    with pytest.raises(RpcError) as exc:
        a.call("feerates", {})
    assert (exc.value.code, exc.value.message) == (-32602, "missing required parameter: style")


def test_on_event_gets_only_this_nodes_notifications(line: Line) -> None:
    seen: list[Event] = []
    b = InProcessNode(line.net, "b", on_event=seen.append)
    line.api("a").keysend(destination=line.ids["d"], amount_msat=10_000)
    assert seen and all(e.node_id == line.ids["b"] for e in seen)
    assert {e.topic for e in seen} >= {"forward_event", "coin_movement"}
    b.close_events()
    n = len(seen)
    line.api("a").keysend(destination=line.ids["d"], amount_msat=10_000)
    assert len(seen) == n


def test_amount_strings(line: Line) -> None:
    res = line.api("a").keysend(destination=line.ids["b"], amount_msat="2sat")
    assert res["amount_msat"] == 2000
    with pytest.raises(RpcError) as exc:
        line.api("a").keysend(destination=line.ids["b"], amount_msat="2.5sat")
    assert exc.value.code == -32602
