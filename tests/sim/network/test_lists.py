"""listforwards filters and pagination; listhtlcs; listsendpays indexes."""

from __future__ import annotations

import contextlib

import pytest

from lnhive.sim.errors import RpcError
from lnhive.sim.network import HookCall, InProcessNode

from .conftest import Line


def _traffic(line: Line) -> None:
    """Five forwards at b: three settled, two failed (c's hook fails every other one)."""
    count = {"n": 0}
    c = line.ids["c"]

    def answer(call: HookCall) -> dict[str, object]:
        if call.hook == "htlc_accepted" and call.node_id == c:
            count["n"] += 1
            if count["n"] % 2 == 0:
                return {"result": "fail", "failure_message": "2002"}
        return {"result": "continue"}

    a = InProcessNode(line.net, "a", answer=answer)
    for i in range(5):
        line.clock.advance(10)
        with contextlib.suppress(RpcError):
            a.keysend(destination=line.ids["d"], amount_msat=1_000_000 + i, maxfee=10_000)


def test_listforwards_filters(line: Line) -> None:
    _traffic(line)
    b = line.api("b")
    allf = b.listforwards()["forwards"]
    statuses = [f["status"] for f in allf]
    assert statuses.count("settled") + statuses.count("failed") == len(allf)
    assert statuses.count("settled") >= 3
    settled = b.listforwards(status="settled")["forwards"]
    assert all(f["status"] == "settled" for f in settled)
    assert sum(f["fee_msat"] for f in settled) == b.getinfo()["fees_collected_msat"]
    assert b.listforwards(in_channel=line.chans["ab"].scid)["forwards"] == allf
    assert b.listforwards(out_channel=line.chans["ab"].scid)["forwards"] == []
    for f in settled:
        assert f["received_time"] <= f["resolved_time"]
        assert f["in_msat"] - f["out_msat"] == f["fee_msat"]


def test_listforwards_pagination(line: Line) -> None:
    _traffic(line)
    b = line.api("b")
    allf = b.listforwards()["forwards"]
    n = len(allf)
    assert [f["created_index"] for f in allf] == list(range(1, n + 1))
    page = b.listforwards(index="created", start=2, limit=2)["forwards"]
    assert [f["created_index"] for f in page] == [2, 3]
    upd = b.listforwards(index="updated", start=1)["forwards"]
    assert [f["updated_index"] for f in upd] == sorted(f["updated_index"] for f in upd)
    assert len(upd) == n
    last = b.listforwards(index="updated", start=n, limit=5)["forwards"]
    assert [f["updated_index"] for f in last] == [n]
    with pytest.raises(RpcError) as exc:
        b.listforwards(start=1)
    assert exc.value.code == -32602


def test_listhtlcs_and_sendpay_indexes(line: Line) -> None:
    _traffic(line)
    htlcs = line.api("b").listhtlcs()["htlcs"]
    ins = [h for h in htlcs if h["direction"] == "in"]
    assert len(ins) == 5
    assert all(
        h["state"] in ("SENT_REMOVE_ACK_REVOCATION", "RCVD_REMOVE_ACK_REVOCATION") for h in htlcs
    )
    only_ab = line.api("b").listhtlcs(id=line.chans["ab"].scid)["htlcs"]
    assert {h["short_channel_id"] for h in only_ab} == {line.chans["ab"].scid}
    pays = line.api("a").listsendpays()["payments"]
    assert [p["created_index"] for p in pays] == list(range(1, len(pays) + 1))
    page = line.api("a").listsendpays(index="created", start=3, limit=1)["payments"]
    assert [p["created_index"] for p in page] == [3]
    done = line.api("a").listpays(status="complete")["pays"]
    assert all(p["status"] == "complete" for p in done) and len(done) >= 3
