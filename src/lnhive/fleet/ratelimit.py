"""Per-sender rate limits: a token bucket per (sender, type class), time injected.

Each message type belongs to a class (:data:`TYPE_CLASSES`, default ``"default"``);
each class has a :class:`Rate` (tokens per second and a burst). A sender's bucket
starts full, refills continuously up to the burst, and each accepted message takes
one token. At most ``max_senders`` senders are tracked; the least recently seen is
forgotten first, so memory stays bounded under a flood of identities (senders are
verified members, so honest fleets never reach the bound).

Default rates (spec §2.3, per sender):

================  ===============================  =====
class             rate                             burst
================  ===============================  =====
``handshake``     1 per 10 s (hello, attest)       2
``sync``          1 per 60 s (full sync)           1
``peer_event``    10 per minute                    10
``gossip``        1 per 10 s                       6
``anti_entropy``  1 per 10 s (hashes, versions)    6
``intent``        1 per second                     10
``governance``    1 per second                     20
``default``       2 per second                     20
================  ===============================  =====
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from lnhive.core.errors import InvalidInput, RateLimited


@dataclass(frozen=True)
class Rate:
    """``per_s`` tokens per second, at most ``burst`` saved up."""

    per_s: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_s <= 0 or self.burst < 1:
            raise InvalidInput("a rate needs per_s > 0 and burst >= 1")


DEFAULT_RATES: dict[str, Rate] = {
    "handshake": Rate(1 / 10, 2),
    "sync": Rate(1 / 60, 1),
    "peer_event": Rate(10 / 60, 10),
    "gossip": Rate(1 / 10, 6),
    "anti_entropy": Rate(1 / 10, 6),
    "intent": Rate(1.0, 10),
    "governance": Rate(1.0, 20),
    "default": Rate(2.0, 20),
}

TYPE_CLASSES: dict[str, str] = {
    "fleet.hello": "handshake",
    "fleet.attest": "handshake",
    "fleet.full_sync": "sync",
    "fleet.peer_available": "peer_event",
    "fleet.gossip": "gossip",
    "fleet.state_hash": "anti_entropy",
    "fleet.state_versions": "anti_entropy",
    "fleet.intent": "intent",
    "fleet.intent_abort": "intent",
    "fleet.intent_commit": "intent",
    "fleet.vouch": "governance",
    "fleet.promotion": "governance",
    "fleet.promotion_request": "governance",
    "fleet.ban_proposal": "governance",
    "fleet.ban_vote": "governance",
    "fleet.ban": "governance",
    "fleet.member_left": "governance",
}

DEFAULT_MAX_SENDERS = 1_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per (sender, class)."""

    def __init__(
        self,
        rates: Mapping[str, Rate] | None = None,
        type_classes: Mapping[str, str] | None = None,
        *,
        max_senders: int = DEFAULT_MAX_SENDERS,
    ) -> None:
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        if "default" not in self.rates:
            raise InvalidInput('rates need a "default" class')
        if type_classes is None:
            # the default table, restricted to the classes these rates define
            type_classes = {t: c for t, c in TYPE_CLASSES.items() if c in self.rates}
        self.type_classes = dict(type_classes)
        unknown = sorted(set(self.type_classes.values()) - set(self.rates))
        if unknown:
            raise InvalidInput(f"type classes without a rate: {', '.join(unknown)}")
        if max_senders < 1:
            raise InvalidInput("max_senders must be at least 1")
        self.max_senders = max_senders
        self._senders: OrderedDict[str, dict[str, _Bucket]] = OrderedDict()

    def class_of(self, type_name: str) -> str:
        return self.type_classes.get(type_name, "default")

    def _bucket(self, sender: str, cls: str, now: float) -> _Bucket:
        buckets = self._senders.get(sender)
        if buckets is None:
            buckets = {}
            self._senders[sender] = buckets
            while len(self._senders) > self.max_senders:
                self._senders.popitem(last=False)
        else:
            self._senders.move_to_end(sender)
        bucket = buckets.get(cls)
        rate = self.rates[cls]
        if bucket is None:
            bucket = _Bucket(tokens=rate.burst, updated=now)
            buckets[cls] = bucket
        elapsed = max(0.0, now - bucket.updated)  # a clock stepping back never adds tokens
        bucket.tokens = min(rate.burst, bucket.tokens + elapsed * rate.per_s)
        bucket.updated = max(bucket.updated, now)
        return bucket

    def allow(self, sender: str, type_name: str, now: float) -> bool:
        """Take a token for one ``type_name`` message from ``sender``; ``False`` if none left."""
        bucket = self._bucket(sender, self.class_of(type_name), now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def check(self, sender: str, type_name: str, now: float) -> None:
        """As :meth:`allow`, raising :class:`~lnhive.core.errors.RateLimited` when refused."""
        if not self.allow(sender, type_name, now):
            raise RateLimited(
                f"{sender} exceeded the {self.class_of(type_name)} rate for {type_name}"
            )

    def tracked_senders(self) -> int:
        return len(self._senders)
