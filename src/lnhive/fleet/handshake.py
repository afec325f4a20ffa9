"""The admission handshake: HELLO → CHALLENGE → ATTEST → WELCOME (spec §1.4).

Every step is a signed envelope (``fleet.hello``, ``fleet.challenge``, ``fleet.attest``,
``fleet.welcome``) sent directly between the joiner and one member (never relayed), and
its ``sender`` must be the peer it arrived from. Bodies:

- ``fleet.hello``     ``{"versions": [1], "ticket"?: <fleet.ticket envelope>}``
- ``fleet.challenge`` ``{"hive_id": …, "nonce": <64 hex>}``
- ``fleet.attest``    ``{"hive_id": …, "nonce": …, "features": [...], "versions": [1]}``
- ``fleet.welcome``   see :mod:`lnhive.fleet.evidence`

The ATTEST envelope's own signature (by the joiner's node key, checked with
``checkmessage`` given the expected pubkey) covers the nonce, the hive id and the
manifest (features, versions): it replaces the reference's two separate signatures.

This module holds the two in-memory books the handshake needs — the member's pending
challenges (:class:`ChallengeBook`: TTL 300 s, at most 1,000, oldest evicted, one
challenge per peer per 10 s) and the joiner's join attempts (:class:`JoinBook`: a
WELCOME is accepted only from a peer we sent HELLO to within 300 s) — and the body
checks. Both books are deliberately not persisted: a restart simply makes the joiner
say HELLO again.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.errors import RateLimited
from lnhive.fleet.envelope import MalformedEnvelope
from lnhive.fleet.roster import body_hive_id

HELLO, CHALLENGE, ATTEST, WELCOME = (
    "fleet.hello",
    "fleet.challenge",
    "fleet.attest",
    "fleet.welcome",
)
PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

CHALLENGE_TTL_S = 300.0
CHALLENGE_INTERVAL_S = 10.0
MAX_CHALLENGES = 1_000
JOIN_TTL_S = 300.0

MAX_FEATURES = 32
_FEATURE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_NONCE_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Challenge:
    peer: str
    hive_id: str
    nonce: str
    issued_at: float
    required: tuple[str, ...]
    """Features the joiner must announce (from its ticket's requirements)."""
    via: str
    """How the joiner qualified: ``ticket`` or ``channel``."""


class ChallengeBook:
    """A member's pending challenges, one per joiner."""

    def __init__(
        self,
        *,
        ttl_s: float = CHALLENGE_TTL_S,
        interval_s: float = CHALLENGE_INTERVAL_S,
        capacity: int = MAX_CHALLENGES,
    ) -> None:
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self.capacity = capacity
        self._pending: OrderedDict[str, Challenge] = OrderedDict()
        self._last_issued: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def issue(
        self,
        peer: str,
        hive_id: str,
        now: float,
        *,
        required: tuple[str, ...] = (),
        via: str = "ticket",
    ) -> Challenge:
        """A fresh challenge for ``peer``; :class:`RateLimited` within 10 s of the last."""
        last = self._last_issued.get(peer)
        if last is not None and now - last < self.interval_s:
            raise RateLimited(
                f"challenge to {peer} refused: the last one was {now - last:.0f} s ago "
                f"(at most one per {self.interval_s:.0f} s)"
            )
        self._expire(now)
        ch = Challenge(peer, hive_id, secrets.token_hex(32), now, required, via)
        self._pending.pop(peer, None)
        self._pending[peer] = ch
        while len(self._pending) > self.capacity:
            self._pending.popitem(last=False)
        self._last_issued.pop(peer, None)
        self._last_issued[peer] = now
        while len(self._last_issued) > self.capacity:
            self._last_issued.popitem(last=False)
        return ch

    def get(self, peer: str, now: float) -> Challenge | None:
        ch = self._pending.get(peer)
        if ch is None or now - ch.issued_at > self.ttl_s:
            return None
        return ch

    def clear(self, peer: str) -> None:
        self._pending.pop(peer, None)

    def _expire(self, now: float) -> None:
        for peer in [p for p, c in self._pending.items() if now - c.issued_at > self.ttl_s]:
            del self._pending[peer]


@dataclass(frozen=True)
class JoinAttempt:
    peer: str
    hive_id: str | None
    sent_at: float
    hello_msg_id: str


class JoinBook:
    """A joiner's outstanding HELLOs, by the member they were sent to."""

    def __init__(self, *, ttl_s: float = JOIN_TTL_S, capacity: int = 64) -> None:
        self.ttl_s = ttl_s
        self.capacity = capacity
        self._attempts: OrderedDict[str, JoinAttempt] = OrderedDict()

    def start(self, peer: str, hive_id: str | None, now: float, hello_msg_id: str) -> None:
        self._attempts.pop(peer, None)
        self._attempts[peer] = JoinAttempt(peer, hive_id, now, hello_msg_id)
        while len(self._attempts) > self.capacity:
            self._attempts.popitem(last=False)

    def get(self, peer: str, now: float) -> JoinAttempt | None:
        attempt = self._attempts.get(peer)
        if attempt is None or now - attempt.sent_at > self.ttl_s:
            return None
        return attempt

    def active(self, now: float) -> list[JoinAttempt]:
        return [a for a in self._attempts.values() if now - a.sent_at <= self.ttl_s]

    def clear(self) -> None:
        self._attempts.clear()


def _closed(body: Mapping[str, Any], required: set[str], optional: set[str], what: str) -> None:
    keys = set(body)
    missing = sorted(required - keys)
    if missing:
        raise MalformedEnvelope(f"{what} body lacks {', '.join(missing)}")
    extra = sorted(str(k) for k in keys - required - optional)
    if extra:
        raise MalformedEnvelope(f"{what} body has unknown field(s) {', '.join(extra)}")


def check_versions(value: object) -> list[int]:
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= 16
        or any(type(v) is not int or not 1 <= v <= 255 for v in value)
    ):
        raise MalformedEnvelope("versions must be a list of 1-16 integers 1..255")
    return list(value)


def check_features(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_FEATURES:
        raise MalformedEnvelope(f"features must be a list of at most {MAX_FEATURES} names")
    for f in value:
        if not isinstance(f, str) or _FEATURE_RE.fullmatch(f) is None:
            raise MalformedEnvelope("each feature must be a lowercase name like 'dual-fund'")
    return list(value)


def check_nonce(value: object) -> str:
    if not isinstance(value, str) or _NONCE_RE.fullmatch(value) is None:
        raise MalformedEnvelope("nonce must be 64 lowercase hex characters")
    return value


def hello_body(ticket: Mapping[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"versions": list(SUPPORTED_VERSIONS)}
    if ticket is not None:
        body["ticket"] = dict(ticket)
    return body


def check_hello(body: Mapping[str, Any]) -> list[int]:
    """The HELLO's versions (the ticket, if any, is checked by the caller)."""
    _closed(body, {"versions"}, {"ticket"}, HELLO)
    versions = check_versions(body["versions"])
    if PROTOCOL_VERSION not in versions:
        raise MalformedEnvelope(f"no common protocol version (we speak {PROTOCOL_VERSION})")
    return versions


def check_challenge(body: Mapping[str, Any]) -> tuple[str, str]:
    """``(hive_id, nonce)`` of a CHALLENGE body."""
    _closed(body, {"hive_id", "nonce"}, set(), CHALLENGE)
    hive_id = body_hive_id(body, CHALLENGE)
    return hive_id, check_nonce(body["nonce"])


def attest_body(hive_id: str, nonce: str, features: list[str]) -> dict[str, Any]:
    return {
        "hive_id": hive_id,
        "nonce": nonce,
        "features": list(features),
        "versions": list(SUPPORTED_VERSIONS),
    }


def check_attest(body: Mapping[str, Any]) -> tuple[str, str, list[str]]:
    """``(hive_id, nonce, features)`` of an ATTEST body."""
    _closed(body, {"hive_id", "nonce", "features", "versions"}, set(), ATTEST)
    hive_id = body_hive_id(body, ATTEST)
    check_versions(body["versions"])
    return hive_id, check_nonce(body["nonce"]), check_features(body["features"])


_CONFIG_FEATURES = {"experimental-splicing": "splice", "experimental-dual-fund": "dual-fund"}


def local_features(node: NodeApi) -> list[str]:
    """The features this node announces in ATTEST.

    ``anchor`` and ``onion-msg`` are always on in the CLN versions we support (>= 25.02);
    ``splice`` and ``dual-fund`` follow the node's ``experimental-*`` options. A node
    whose ``listconfigs`` fails announces only what is always on.
    """
    features = ["anchor", "onion-msg", f"proto-v{PROTOCOL_VERSION}"]
    try:
        configs = node.call("listconfigs").get("configs", {})
    except Exception:  # feature discovery is best effort, never fatal
        configs = {}
    for option, name in _CONFIG_FEATURES.items():
        entry = configs.get(option)
        if isinstance(entry, Mapping) and entry.get("set") is True:
            features.append(name)
    return sorted(features)
