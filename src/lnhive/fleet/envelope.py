"""The signed fleet envelope (ARCHITECTURE decisions 4, 5 and 8).

An envelope is the JSON object::

    {"v":1, "type":"fleet.hello", "sender":"02…", "ts":1767225600,
     "msg_id":"<32 lowercase hex>", "body":{…}, "sig":"<zbase>"}

``sig`` is the node's CLN ``signmessage`` signature (zbase32) over the text
``lnhive:fleet:v1:`` + lowercase hex SHA-256 of the RFC 8785 (JCS) bytes of the
envelope without ``sig``. It is produced through :meth:`NodeApi.signmessage` and
checked with :meth:`NodeApi.checkmessage`, always given the expected pubkey (the
``sender``), so unannounced nodes verify and a signature by anyone else fails.

Because signatures cover JCS bytes, key order and whitespace never matter: an
envelope may be re-serialised, stored, and embedded verbatim in another envelope's
body as evidence (vouches, votes) and still verify (:func:`verify_embedded`).

Every defect raises an :mod:`lnhive.core.errors` exception: structural defects
:class:`MalformedEnvelope` (``invalid_input``), timestamps outside the accepted window
:class:`StaleEnvelope` (``invalid_input``), and signature failures
:class:`BadSignature` (``unauthorized``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core import zbase32
from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput, Unauthorized
from lnhive.core.hashing import sha256_hex

VERSION = 1
DOMAIN = "fleet"
SIGNING_PREFIX = f"lnhive:{DOMAIN}:v1:"
"""Prefix of the text the node signs (decision 5, domain ``fleet``)."""

FIELDS: tuple[str, ...] = ("v", "type", "sender", "ts", "msg_id", "body", "sig")
UNSIGNED_FIELDS: tuple[str, ...] = FIELDS[:-1]

MAX_TYPE_LEN = 64
MAX_FUTURE_S = 300.0
"""How far ahead of our clock a ``ts`` may be (spec §2.2: clocks within 300 s)."""
MAX_TS = 2**53 - 1
"""Largest ``ts`` JCS can represent exactly."""

_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_NODE_ID_RE = re.compile(r"0[23][0-9a-f]{64}")
_MSG_ID_RE = re.compile(r"[0-9a-f]{32}")
_ZBASE_LEN = 104
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class MalformedEnvelope(InvalidInput):
    """The envelope's shape, a field's type or a field's value is wrong."""


class StaleEnvelope(InvalidInput):
    """The envelope's ``ts`` lies outside the accepted window."""


class BadSignature(Unauthorized):
    """``sig`` is not the ``sender``'s signature of this envelope."""


def is_node_id(value: object) -> bool:
    """Whether ``value`` is a 66-character lowercase hex compressed pubkey."""
    return isinstance(value, str) and _NODE_ID_RE.fullmatch(value) is not None


def is_msg_id(value: object) -> bool:
    """Whether ``value`` is 32 lowercase hex characters."""
    return isinstance(value, str) and _MSG_ID_RE.fullmatch(value) is not None


def is_type_name(value: object) -> bool:
    """Whether ``value`` is a dotted lowercase type name such as ``fleet.hello``."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_TYPE_LEN
        and _TYPE_RE.fullmatch(value) is not None
    )


def new_msg_id() -> str:
    """16 random bytes as 32 lowercase hex characters."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Envelope:
    """A structurally valid envelope (its signature is checked by :func:`verify_envelope`)."""

    type: str
    sender: str
    ts: int
    msg_id: str
    body: dict[str, Any]
    sig: str
    v: int = VERSION

    def unsigned(self) -> dict[str, Any]:
        """The envelope without ``sig``: what the signature covers."""
        return {
            "v": self.v,
            "type": self.type,
            "sender": self.sender,
            "ts": self.ts,
            "msg_id": self.msg_id,
            "body": self.body,
        }

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON object, ``sig`` included."""
        out = self.unsigned()
        out["sig"] = self.sig
        return out

    def canonical(self) -> bytes:
        """JCS bytes of the whole envelope."""
        return canonical_json(self.to_json())

    def signing_text(self) -> str:
        """The text the sender signed."""
        return signing_text(self.unsigned())


def signing_text(unsigned: Mapping[str, Any]) -> str:
    """``lnhive:fleet:v1:`` + hex SHA-256 of JCS(``unsigned``)."""
    return SIGNING_PREFIX + sha256_hex(canonical_json(dict(unsigned)))


def _check_zbase(sig: object) -> str:
    """The signature if it parses as CLN's would; otherwise :class:`BadSignature`.

    Checked here so a malformed signature never becomes a node RPC error.
    """
    if not isinstance(sig, str):
        raise MalformedEnvelope(f"sig must be a string, got {type(sig).__name__}")
    if len(sig) != _ZBASE_LEN:
        raise BadSignature(f"sig must be {_ZBASE_LEN} zbase32 characters, got {len(sig)}")
    try:
        raw = zbase32.decode(sig)
    except ValueError as exc:
        raise BadSignature(f"sig is not zbase32: {exc}") from None
    recid = raw[0] - 31
    r = int.from_bytes(raw[1:33], "big")
    s = int.from_bytes(raw[33:65], "big")
    if len(raw) != 65 or not 0 <= recid <= 3 or not 0 < r < _ORDER or not 0 < s < _ORDER:
        raise BadSignature("sig does not parse as a recoverable signature")
    return sig


def parse_envelope(obj: object) -> Envelope:
    """Check the structure of ``obj`` (a decoded JSON object) and return it as an
    :class:`Envelope`; the signature is *not* verified here."""
    if isinstance(obj, Envelope):
        obj = obj.to_json()
    if not isinstance(obj, Mapping):
        raise MalformedEnvelope(f"envelope must be a JSON object, got {type(obj).__name__}")
    keys = set(obj)
    missing = [f for f in FIELDS if f not in keys]
    if missing:
        raise MalformedEnvelope(f"envelope lacks field(s): {', '.join(missing)}")
    extra = sorted(str(k) for k in keys - set(FIELDS))
    if extra:
        raise MalformedEnvelope(f"envelope has unknown field(s): {', '.join(extra)}")
    v = obj["v"]
    if type(v) is not int:
        raise MalformedEnvelope(f"v must be an integer, got {type(v).__name__}")
    if v != VERSION:
        raise MalformedEnvelope(f"unsupported envelope version {v} (this code speaks {VERSION})")
    etype = obj["type"]
    if not isinstance(etype, str):
        raise MalformedEnvelope(f"type must be a string, got {type(etype).__name__}")
    if not is_type_name(etype):
        raise MalformedEnvelope(
            f"type {etype[:80]!r} is not a dotted lowercase name (e.g. 'fleet.hello', "
            f"at most {MAX_TYPE_LEN} characters)"
        )
    sender = obj["sender"]
    if not is_node_id(sender):
        raise MalformedEnvelope("sender must be a node id (66 lowercase hex, 02/03 prefix)")
    ts = obj["ts"]
    if type(ts) is not int:
        raise MalformedEnvelope(f"ts must be an integer (unix seconds), got {type(ts).__name__}")
    if not 0 <= ts <= MAX_TS:
        raise MalformedEnvelope(f"ts {ts} is out of range")
    msg_id = obj["msg_id"]
    if not is_msg_id(msg_id):
        raise MalformedEnvelope("msg_id must be 32 lowercase hex characters")
    body = obj["body"]
    if not isinstance(body, dict):
        raise MalformedEnvelope(f"body must be a JSON object, got {type(body).__name__}")
    sig = _check_zbase(obj["sig"])
    env = Envelope(type=etype, sender=sender, ts=ts, msg_id=msg_id, body=body, sig=sig, v=v)
    try:
        canonical_json(env.unsigned())
    except InvalidInput as exc:
        raise MalformedEnvelope(f"body {exc.message}") from None
    return env


def _check_unsigned_args(sender: str, type: str, body: object) -> None:
    if not is_node_id(sender):
        raise MalformedEnvelope("sender must be a node id (66 lowercase hex, 02/03 prefix)")
    if not is_type_name(type):
        raise MalformedEnvelope(f"type {type!r} is not a dotted lowercase name")
    if not isinstance(body, dict):
        raise MalformedEnvelope("body must be a dict")


def new_envelope(
    node: NodeApi,
    sender: str,
    type: str,
    body: dict[str, Any],
    now: float,
    msg_id: str | None = None,
) -> Envelope:
    """Build and sign an envelope with ``node``'s key.

    ``sender`` must be ``node``'s own id (otherwise the envelope will not verify);
    ``ts`` is ``int(now)``; ``msg_id`` defaults to 16 random bytes.
    """
    _check_unsigned_args(sender, type, body)
    mid = new_msg_id() if msg_id is None else msg_id
    if not is_msg_id(mid):
        raise MalformedEnvelope("msg_id must be 32 lowercase hex characters")
    unsigned: dict[str, Any] = {
        "v": VERSION,
        "type": type,
        "sender": sender,
        "ts": int(now),
        "msg_id": mid,
        "body": body,
    }
    try:
        text = signing_text(unsigned)
    except InvalidInput as exc:
        raise MalformedEnvelope(f"body {exc.message}") from None
    sig = str(node.signmessage(message=text)["zbase"])
    return Envelope(
        type=type, sender=sender, ts=int(now), msg_id=mid, body=dict(body), sig=sig, v=VERSION
    )


def check_signature(node: NodeApi, env: Envelope) -> None:
    """Raise :class:`BadSignature` unless ``env.sig`` is ``env.sender``'s signature."""
    result = node.checkmessage(message=env.signing_text(), zbase=env.sig, pubkey=env.sender)
    if result.get("verified") is not True:
        raise BadSignature(f"signature of {env.type} {env.msg_id} is not by {env.sender}")
    recovered = result.get("pubkey", env.sender)
    if recovered != env.sender:
        raise BadSignature(
            f"signature of {env.type} {env.msg_id} is by {recovered}, not the sender"
        )


def _check_time(env: Envelope, now: float, max_past_s: float, max_future_s: float) -> None:
    age = now - env.ts
    if age > max_past_s:
        raise StaleEnvelope(
            f"{env.type} {env.msg_id} is {age:.0f} s old (accepted: {max_past_s:.0f} s)"
        )
    if -age > max_future_s:
        raise StaleEnvelope(
            f"{env.type} {env.msg_id} is {-age:.0f} s in the future "
            f"(accepted: {max_future_s:.0f} s)"
        )


def verify_envelope(
    node: NodeApi,
    env: Mapping[str, Any] | Envelope,
    *,
    now: float,
    max_skew_s: float,
    expected_type: str | None = None,
) -> Envelope:
    """Check structure, freshness (``|now - ts| <= max_skew_s``) and the sender's
    signature; return the envelope. Raises on the first defect."""
    parsed = parse_envelope(env)
    if expected_type is not None and parsed.type != expected_type:
        raise MalformedEnvelope(f"expected a {expected_type} envelope, got {parsed.type}")
    _check_time(parsed, now, max_skew_s, max_skew_s)
    check_signature(node, parsed)
    return parsed


def verify_embedded(
    node: NodeApi,
    evidence: object,
    *,
    now: float,
    max_age_s: float,
    max_future_s: float = MAX_FUTURE_S,
    expected_type: str | None = None,
    expected_sender: str | None = None,
) -> Envelope:
    """Verify an envelope embedded verbatim in another envelope's body (evidence).

    Evidence may be older than live traffic (a vouch lives 7 days), so the window is
    ``now - max_age_s <= ts <= now + max_future_s``. ``expected_type`` and
    ``expected_sender`` pin what the evidence must be (e.g. a ``fleet.vouch`` by a
    given member).
    """
    parsed = parse_envelope(evidence)
    if expected_type is not None and parsed.type != expected_type:
        raise MalformedEnvelope(f"evidence must be a {expected_type}, got {parsed.type}")
    if expected_sender is not None and parsed.sender != expected_sender:
        raise BadSignature(f"evidence is from {parsed.sender}, expected {expected_sender}")
    _check_time(parsed, now, max_age_s, max_future_s)
    check_signature(node, parsed)
    return parsed
