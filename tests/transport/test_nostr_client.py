"""The node's relay client against real ``nostr-relay`` processes on 127.0.0.1: DMs in,
replies out, de-duplication by event id (across relays and restarts), the outbox and
reconnection when a relay comes up late; plus the reply rules for DMs."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lnhive.core import bip340
from lnhive.core.store import Store
from lnhive.manage.pipeline import MIGRATIONS
from lnhive.transport.nostr_client import NostrService, dm_reply_text, parse_relays
from lnhive.transport.nostr_dm import (
    KIND_LEGACY_DM,
    MAX_DM_TEXT,
    InboundDm,
    sdk,
    unwrap_dm,
    wrap_dm,
)
from lnhive.transport.nostr_store import Outbox, SeenEvents
from lnhive.transport.reply import error_reply, reply_problem, sign_reply
from tests.transport.keys import (
    ADVISOR_SECRET,
    NODE_ID,
    NODE_NOSTR,
    NODE_NOSTR_SECRET,
    receipt_key,
)
from tests.transport.nostr_relay import RelayProcess, free_port

ADVISOR_HEX = bip340.xonly_pubkey(ADVISOR_SECRET).hex()


def wait_for(pred: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _publish(event_json: str, urls: list[str]) -> None:
    ns = sdk()
    client = ns.ClientBuilder().build()
    for url in urls:
        await client.add_relay(ns.RelayUrl.parse(url))
    await client.connect(timedelta(seconds=5))
    out = await client.send_event(ns.Event.from_json(event_json))
    await client.shutdown()
    assert len(out.success) == len(urls), out


def publish(event_json: str, *urls: str) -> None:
    asyncio.run(_publish(event_json, list(urls)))


async def _fetch(url: str) -> list[Any]:
    ns = sdk()
    client = ns.ClientBuilder().build()
    await client.add_relay(ns.RelayUrl.parse(url))
    await client.connect(timedelta(seconds=5))
    me = ns.PublicKey.parse(ADVISOR_HEX)
    f = ns.Filter().kinds([ns.Kind(1059), ns.Kind(4)]).pubkey(me)
    events = await client.fetch_events(ns.ReqTarget.auto([f]), timedelta(seconds=3))
    await client.shutdown()
    return list(events.to_vec()) if hasattr(events, "to_vec") else list(events)


def replies(url: str) -> list[InboundDm]:
    """DMs to the advisor on ``url``, decrypted."""
    allowed = {NODE_NOSTR}.__contains__
    return [
        unwrap_dm(ADVISOR_SECRET, ev, kind4_author_allowed=allowed)
        for ev in asyncio.run(_fetch(url))
    ]


class Echo:
    """A handler that answers every DM with ``{"echo": <text>}``."""

    def __init__(self) -> None:
        self.seen: list[InboundDm] = []
        self.lock = threading.Lock()

    def __call__(self, dm: InboundDm) -> str | None:
        with self.lock:
            self.seen.append(dm)
        return json.dumps({"echo": dm.text})


def service(tmp_path: Path, urls: list[str], handler: Echo, name: str = "comms") -> NostrService:
    store = Store(tmp_path / f"{name}.sqlite3", MIGRATIONS)
    svc = NostrService(
        NODE_NOSTR_SECRET,
        urls,
        store,
        handler,
        kind4_author_allowed={ADVISOR_HEX}.__contains__,
    )
    svc.start()
    assert svc.wait_ready(10)
    return svc


def test_a_dm_reaches_the_handler_once_and_the_reply_comes_back(
    tmp_path: Path, nostr_relay: RelayProcess
) -> None:
    second = RelayProcess(tmp_path / "relay2").start()
    echo = Echo()
    svc = service(tmp_path, [nostr_relay.url, second.url], echo)
    try:
        wait_for(
            lambda: all(r["status"] == "connected" for r in svc.status()["relays"]),
            what="relays connected",
        )
        event = wrap_dm(ADVISOR_SECRET, NODE_NOSTR, "hello node")
        publish(event, nostr_relay.url, second.url)  # the same event through two relays
        wait_for(lambda: svc.status()["counters"].get("replies_sent"), what="a reply")
        (got,) = replies(nostr_relay.url)
        assert got.author == NODE_NOSTR and json.loads(got.text) == {"echo": "hello node"}
        # A kind 4 + NIP-44 request gets a kind 4 reply.
        publish(wrap_dm(ADVISOR_SECRET, NODE_NOSTR, "legacy", kind=KIND_LEGACY_DM), second.url)
        wait_for(lambda: svc.status()["counters"].get("replies_sent") == 2, what="2 replies")
        kinds = sorted(dm.kind for dm in replies(second.url))
        assert kinds == [4, 1059]
        time.sleep(0.5)
        assert [dm.text for dm in echo.seen] == ["hello node", "legacy"]
    finally:
        svc.stop()
        second.stop()
    # A restart re-subscribes; the relay sends the stored events again; none is handled.
    again = service(tmp_path, [nostr_relay.url], echo)
    try:
        wait_for(lambda: again.status()["counters"].get("duplicate", 0) >= 1, what="re-delivery")
        time.sleep(0.5)
        assert len(echo.seen) == 2
    finally:
        again.stop()


def test_unknown_kind4_and_foreign_dms_get_nothing(
    tmp_path: Path, nostr_relay: RelayProcess
) -> None:
    from tests.transport.keys import OTHER_ADVISOR_SECRET

    echo = Echo()
    svc = service(tmp_path, [nostr_relay.url], echo)
    try:
        publish(
            wrap_dm(OTHER_ADVISOR_SECRET, NODE_NOSTR, "x", kind=KIND_LEGACY_DM), nostr_relay.url
        )
        wait_for(lambda: svc.status()["counters"].get("dropped"), what="a drop")
        assert echo.seen == [] and svc.outbox.pending() == 0
    finally:
        svc.stop()


def test_a_relay_that_comes_up_late_gets_the_subscription_and_the_queued_reply(
    tmp_path: Path,
) -> None:
    port = free_port()
    echo = Echo()
    svc = service(tmp_path, [f"ws://127.0.0.1:{port}"], echo)
    relay = RelayProcess(tmp_path / "late", port=port)
    try:
        # A reply queued while no relay is reachable is kept and retried.
        queued = wrap_dm(NODE_NOSTR_SECRET, ADVISOR_HEX, "queued while down")
        queued_id = json.loads(queued)["id"]
        assert svc.outbox.put(
            queued_id, queued, recipient=ADVISOR_HEX, in_reply_to="x" * 64, now=time.time()
        )
        wait_for(lambda: svc.status()["counters"].get("send_failures"), what="a failed send")
        assert svc.status()["relays"][0]["status"] != "connected"
        relay.start()
        wait_for(lambda: svc.status()["relays"][0]["status"] == "connected", 30, "reconnect")
        publish(wrap_dm(ADVISOR_SECRET, NODE_NOSTR, "after the outage"), relay.url)
        wait_for(lambda: echo.seen, 15, "the DM after reconnecting")
        wait_for(lambda: svc.outbox.pending() == 0, 5, "the outbox to drain")
        texts = {dm.text for dm in replies(relay.url)}
        assert texts == {'{"echo": "after the outage"}', "queued while down"}
    finally:
        svc.stop()
        relay.stop()


# -- pure parts -----------------------------------------------------------------------------


def test_parse_relays() -> None:
    assert parse_relays("") == () and parse_relays(None) == ()
    assert parse_relays(" ws://a:1/ , wss://b ,ws://a:1") == ("ws://a:1", "wss://b")
    for bad in ("http://a", "a.b", "ws://a b"):
        with pytest.raises(ValueError):
            parse_relays(bad)
    with pytest.raises(ValueError, match="at most 8"):
        parse_relays(",".join(f"ws://r{i}" for i in range(9)))


def test_dm_replies_follow_the_code_table_and_fit_one_dm() -> None:
    key = receipt_key()

    def resign(r: dict[str, Any]) -> dict[str, Any]:
        return sign_reply(r, key)

    for code in ("unauthorized", "clock_skew", "invalid_request", "transport_disabled"):
        assert dm_reply_text(error_reply(code, "no", transport="nostr_dm", key=key), resign) is None
    for code in ("replay", "policy_blocked", "internal_error"):
        text = dm_reply_text(error_reply(code, "no", transport="nostr_dm", key=key), resign)
        assert text is not None and json.loads(text)["code"] == code
    ok = sign_reply({"ok": True, "status": 0, "result": {"n": 1}}, key)
    assert json.loads(dm_reply_text(ok, resign) or "") == ok
    big = sign_reply({"ok": True, "status": 0, "result": {"rows": ["x" * 100] * 400}}, key)
    text = dm_reply_text(big, resign)
    assert text is not None and len(text) < MAX_DM_TEXT
    short = json.loads(text)
    assert short["result"]["truncated"] is True and short["result"]["result_bytes"] > MAX_DM_TEXT
    assert reply_problem(short, node_id=NODE_ID) is None  # re-signed


def test_seen_and_outbox(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3", MIGRATIONS)
    seen, outbox = SeenEvents(store), Outbox(store)
    assert seen.claim("a" * 64, 100.0) and not seen.claim("a" * 64, 101.0)
    assert seen.prune(100.0 + 3 * 86_400 + 1) == 1 and seen.claim("a" * 64, 200.0)
    assert outbox.put("e1", "{}", recipient="r", in_reply_to="i1", now=0.0)
    assert not outbox.put("e2", "{}", recipient="r", in_reply_to="i1", now=0.0)  # one per request
    assert not outbox.put("e1", "{}", recipient="r", in_reply_to="i2", now=0.0)
    assert [i.event_id for i in outbox.due(0.0)] == ["e1"]
    assert outbox.failed("e1", 0.0, "down") == 1.0
    assert outbox.due(0.5) == [] and len(outbox.due(1.0)) == 1
    assert outbox.failed("e1", 1.0, "down") == 2.0
    outbox.sent("e1", 3.0)
    assert outbox.pending() == 0 and outbox.due(10.0) == []
