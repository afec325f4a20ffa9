"""The node's Nostr relay client (comms spec §1 stage 0, §5.6, §5.7).

:class:`NostrService` runs an asyncio loop in its own thread (never the plugin's request
loop, ARCHITECTURE decision 1) around a ``nostr_sdk`` client:

- connects to the configured relays, which reconnect on their own with a growing retry
  interval (nostr-sdk's relay options ``reconnect`` + ``adjust_retry_interval``, from
  :data:`RETRY_INTERVAL`);
- subscribes to gift wraps (kind 1059) p-tagged to the node's key since two days ago
  (gift wraps backdate up to two days) and to kind 4 p-tagged to it (compatibility);
- takes every new event in arrival order through one bounded queue (full: dropped with a
  warning), skips ids already seen, caps decryptions per minute, verifies and unwraps it
  (:func:`~lnhive.transport.nostr_dm.unwrap_dm`), claims its id in the store
  (:class:`~lnhive.transport.nostr_store.SeenEvents`) and only then hands the DM to the
  ``handler`` — in a worker thread, as the handler calls the node;
- wraps the handler's reply text the way the request came (gift wrap or kind 4) to the
  DM's author, stores it in the :class:`~lnhive.transport.nostr_store.Outbox` and sends
  it; unsent replies are retried with backoff while relays are down.

:func:`dm_reply_text` decides what a management reply looks like over Nostr: refusals
before authentication get nothing (spec §5.5), and a reply too large for one DM carries
its result's hash instead of the result (ARCHITECTURE §8.9), re-signed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.hashing import sha256_hex
from lnhive.core.store import Store
from lnhive.transport.codes import CODES
from lnhive.transport.nostr_dm import (
    KIND_GIFT_WRAP,
    KIND_LEGACY_DM,
    DmDropped,
    DmTooLarge,
    InboundDm,
    keys_from_secret,
    npub,
    sdk,
    text_fits,
    unwrap_dm,
    wrap_dm,
)
from lnhive.transport.nostr_store import Outbox, SeenEvents

log = logging.getLogger(__name__)

MAX_RELAYS = 8
LOOKBACK_S = 172_800
"""Subscriptions look back two days: NIP-59 randomises a gift wrap's created_at up to
two days into the past."""
QUEUE_SIZE = 2_000
DECRYPTS_PER_MIN = 120
RETRY_INTERVAL = timedelta(seconds=1)
SEND_TIMEOUT_S = 10.0
FLUSH_INTERVAL_S = 1.0
HOUSEKEEPING_S = 3_600.0

DmHandler = Callable[[InboundDm], str | None]
"""Takes a verified DM, returns the reply text to send back (``None``: no reply)."""


def parse_relays(text: str | None) -> tuple[str, ...]:
    """Comma-separated ``ws://``/``wss://`` URLs, de-duplicated in order, at most
    :data:`MAX_RELAYS`; empty text means none. ``ValueError`` on anything else."""
    out: list[str] = []
    for part in (text or "").split(","):
        url = part.strip()
        if not url:
            continue
        if not url.startswith(("ws://", "wss://")) or len(url) > 512 or " " in url:
            raise ValueError(f"relay {url!r} is not a ws:// or wss:// URL")
        url = url.rstrip("/")
        if url not in out:
            out.append(url)
    if len(out) > MAX_RELAYS:
        raise ValueError(f"at most {MAX_RELAYS} relays")
    return tuple(out)


def dm_reply_text(
    reply: Mapping[str, Any], resign: Callable[[dict[str, Any]], dict[str, Any]]
) -> str | None:
    """The text to send back for a management ``reply``, or ``None`` when a DM sender gets
    no reply (refusals before authentication, spec §5.5) or it cannot fit.

    A reply too large for one DM keeps everything but ``result``, which becomes
    ``{"truncated": true, "result_hash": <hex SHA-256 of its JCS>, "result_bytes": n}``,
    and is signed again with ``resign``.
    """
    if not reply.get("ok"):
        spec = CODES.get(str(reply.get("code")))
        if spec is None or not spec.nostr_reply:
            return None
    text = json.dumps(reply, separators=(",", ":"), sort_keys=True)
    if text_fits(text):
        return text
    result = canonical_json(reply.get("result"))
    short = dict(reply)
    short["result"] = {
        "truncated": True,
        "result_hash": sha256_hex(result),
        "result_bytes": len(result),
        "hint": "too large for a DM: ask for fewer items or use REST",
    }
    text = json.dumps(resign(short), separators=(",", ":"), sort_keys=True)
    return text if text_fits(text) else None


class NostrService:
    """The node's relay client; :meth:`start` runs it in a daemon thread."""

    def __init__(
        self,
        secret: bytes,
        relays: Sequence[str],
        store: Store,
        handler: DmHandler,
        *,
        kind4_author_allowed: Callable[[str], bool] | None = None,
        now: Callable[[], float] = time.time,
        retry_interval: timedelta = RETRY_INTERVAL,
    ) -> None:
        if not relays:
            raise ValueError("no relays")
        self._secret = secret
        self.relays = tuple(relays)
        self.pubkey = str(keys_from_secret(secret).public_key().to_hex())
        self.npub = npub(self.pubkey)
        self.seen = SeenEvents(store)
        self.outbox = Outbox(store)
        self._handler = handler
        self._kind4_allowed = kind4_author_allowed
        self._now = now
        self._retry_interval = retry_interval
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        self._relay_status: dict[str, str] = {url: "initialized" for url in self.relays}
        self._decrypts: collections.deque[float] = collections.deque()
        self.counters: dict[str, int] = collections.Counter()
        self.last_error: str | None = None
        self._ready = threading.Event()

    # -- lifecycle (any thread) ------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="comms-nostr", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the loop subscribed within ``timeout`` seconds (relays may still be down)."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop just closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        with self._lock:
            relays = [{"url": u, "status": s} for u, s in self._relay_status.items()]
            counters = dict(self.counters)
        try:
            pending = self.outbox.pending()
        except Exception:
            pending = -1
        return {
            "pubkey": self.pubkey,
            "npub": self.npub,
            "relays": relays,
            "running": self._thread is not None and self._thread.is_alive(),
            "outbox_pending": pending,
            "counters": counters,
            "last_error": self.last_error,
        }

    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("nostr client stopped")
        finally:
            loop.close()

    # -- the loop ------------------------------------------------------------------------

    async def _main(self) -> None:
        ns = sdk()
        self._stop = asyncio.Event()
        client = ns.ClientBuilder().build()
        self._client = client
        opts = (
            ns.RelayOptions()
            .reconnect(True)
            .retry_interval(self._retry_interval)
            .adjust_retry_interval(True)
        )
        for url in self.relays:
            await client.add_relay(ns.RelayUrl.parse(url), opts=opts)
        stream = client.notifications()
        await client.connect()
        me = ns.PublicKey.parse(self.pubkey)
        since = ns.Timestamp.from_secs(int(self._now()) - LOOKBACK_S)
        gifts = ns.Filter().kinds([ns.Kind(KIND_GIFT_WRAP)]).pubkey(me).since(since)
        legacy = ns.Filter().kinds([ns.Kind(KIND_LEGACY_DM)]).pubkey(me).since(since)
        await client.subscribe(ns.ReqTarget.auto([gifts, legacy]))
        self._ready.set()
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)
        tasks = [
            asyncio.create_task(self._read(stream, queue)),
            asyncio.create_task(self._work(queue)),
            asyncio.create_task(self._flush_loop()),
            asyncio.create_task(self._watch_relays()),
        ]
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await asyncio.wait_for(client.shutdown(), 5)
            except Exception as exc:
                log.info("nostr client shutdown: %r", exc)

    async def _read(self, stream: Any, queue: asyncio.Queue[Any]) -> None:
        while True:
            note = await stream.next()
            if note is None:
                log.warning("nostr notification stream ended")
                return
            if not note.is_new_event():
                continue
            try:
                queue.put_nowait(note.event)
            except asyncio.QueueFull:
                self._count("dropped_queue_full")
                log.warning("nostr inbound queue full: event dropped")

    async def _work(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            event = await queue.get()
            try:
                await asyncio.to_thread(self._process, event)
            except Exception as exc:  # the loop must outlive any one event
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("nostr event failed")
            await self._flush()

    def _decrypt_allowed(self) -> bool:
        now = time.monotonic()
        while self._decrypts and self._decrypts[0] < now - 60:
            self._decrypts.popleft()
        if len(self._decrypts) >= DECRYPTS_PER_MIN:
            return False
        self._decrypts.append(now)
        return True

    def _process(self, event: Any) -> None:
        """One event from a relay (runs in a worker thread)."""
        event_id = str(event.id().to_hex())
        if self.seen.store.query_one(
            "SELECT 1 FROM comms_seen_events WHERE event_id = ?", (event_id,)
        ):
            self._count("duplicate")
            return
        if not self._decrypt_allowed():
            self._count("dropped_rate")
            log.warning("nostr decrypt rate exceeded: %s dropped", event_id)
            return
        try:
            dm = unwrap_dm(self._secret, event, kind4_author_allowed=self._kind4_allowed)
        except DmDropped as why:
            self.seen.claim(event_id, self._now())
            self._count("dropped")
            log.info("nostr event %s dropped: %s", event_id, why)
            return
        if not self.seen.claim(dm.event_id, self._now()):
            self._count("duplicate")
            return
        self._count("received")
        text = self._handler(dm)
        if text is None:
            self._count("unanswered")
            return
        try:
            wrapped = wrap_dm(self._secret, dm.author, text, kind=dm.kind)
        except DmTooLarge:
            self._count("reply_too_large")
            log.warning("reply to %s too large for a DM", dm.event_id)
            return
        reply_id = str(sdk().Event.from_json(wrapped).id().to_hex())
        if self.outbox.put(
            reply_id, wrapped, recipient=dm.author, in_reply_to=dm.event_id, now=self._now()
        ):
            self._count("replies_queued")
        else:
            self._count("reply_dropped")
            log.warning("reply to %s not queued (duplicate or outbox full)", dm.event_id)

    async def _flush(self) -> None:
        ns = sdk()
        for item in await asyncio.to_thread(self.outbox.due, self._now()):
            try:
                event = ns.Event.from_json(item.event_json)
                out = await asyncio.wait_for(self._client.send_event(event), SEND_TIMEOUT_S)
                accepted = bool(out.success) or any(
                    "duplicate" in str(msg) for msg in out.failed.values()
                )
                error = "; ".join(f"{u}: {m}" for u, m in out.failed.items()) or "no relay"
            except Exception as exc:
                accepted, error = False, f"{type(exc).__name__}: {exc}"
            if accepted:
                await asyncio.to_thread(self.outbox.sent, item.event_id, self._now())
                self._count("replies_sent")
            else:
                delay = await asyncio.to_thread(
                    self.outbox.failed, item.event_id, self._now(), error
                )
                self._count("send_failures")
                log.info("reply %s not sent (%s); retry in %.0f s", item.event_id, error, delay)

    async def _flush_loop(self) -> None:
        last_housekeeping = 0.0
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            try:
                await self._flush()
                if time.monotonic() - last_housekeeping > HOUSEKEEPING_S:
                    last_housekeeping = time.monotonic()
                    await asyncio.to_thread(self.seen.prune, self._now())
                    await asyncio.to_thread(self.outbox.prune, self._now())
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("nostr outbox flush failed")

    async def _watch_relays(self) -> None:
        while True:
            try:
                relays = await self._client.relays()
                states = {
                    str(url.__str__()): str(relay.status().name).lower()
                    for url, relay in relays.items()
                }
                came_back = False
                with self._lock:
                    for url in self.relays:
                        for key, state in states.items():
                            if key.rstrip("/") == url:
                                old = self._relay_status.get(url)
                                came_back |= state == "connected" and old != "connected"
                                self._relay_status[url] = state
                if came_back:  # retry queued replies at once, whatever their backoff
                    await asyncio.to_thread(self.outbox.retry_now, self._now())
                    await self._flush()
            except Exception as exc:
                log.info("relay status: %r", exc)
            await asyncio.sleep(1.0)
