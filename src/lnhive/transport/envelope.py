"""The management envelope v1 (comms spec §5.1-5.3; ARCHITECTURE decisions 3-5, §8.3).

An advisor sends the node a JSON object with exactly these keys::

    {"v":1, "schema_type":"hive:fee-policy/v1",
     "schema_payload":{"action":"set_anchor","params":{...}},
     "sender":"nostr:<64 hex>", "recipient":"<64 hex: the node's Nostr key>",
     "credential":{"mode":"bip340","id":"<credential id>"},
     "payment_proof":null, "confirm_action_id":null,
     "nonce":42, "timestamp":1739894400, "signature":"bip340:<128 hex>"}

``signature`` is ``"bip340:"`` + the hex BIP-340 Schnorr signature, by the key in
``sender``, of SHA-256 of the RFC 8785 (JCS) bytes of the envelope without
``signature``. ``recipient`` binds it to one node: an envelope for another node never
verifies here.

This module is both sides: :func:`build_envelope`/:func:`encode_envelope` for the advisor,
:func:`parse_envelope`, :func:`check_clock`, :func:`check_signature` and
:func:`verify_envelope` for the node. Failures raise the §5.5 errors:
:class:`~lnhive.core.errors.InvalidRequest`, :class:`~lnhive.core.errors.PayloadTooLarge`,
:class:`~lnhive.core.errors.ClockSkew`, :class:`~lnhive.core.errors.Unauthorized`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lnhive.core import bip340
from lnhive.core.canonical import canonical_hash, canonical_json
from lnhive.core.errors import ClockSkew, InvalidRequest, Unauthorized
from lnhive.core.hashing import sha256, sha256_hex
from lnhive.transport import jsonlimits

VERSION = 1
FIELDS: tuple[str, ...] = (
    "v",
    "schema_type",
    "schema_payload",
    "sender",
    "recipient",
    "credential",
    "payment_proof",
    "confirm_action_id",
    "nonce",
    "timestamp",
    "signature",
)
SIGNATURE_FIELD = "signature"
SIGNATURE_PREFIX = "bip340:"
SENDER_PREFIX = "nostr:"
PAYLOAD_FIELDS: tuple[str, ...] = ("action", "params")
CREDENTIAL_FIELDS: tuple[str, ...] = ("mode", "id")
CREDENTIAL_MODES: tuple[str, ...] = ("bip340",)
"""Credential modes v1 accepts (ARCHITECTURE §8.3; ``did`` may come with cl-hive-archon)."""

MAX_NONCE = 2**53 - 1
"""Largest nonce: JCS cannot carry larger integers exactly (the spec's 2**63 - 1 cannot be
signed interoperably)."""
MAX_TIMESTAMP = 2**53 - 1
DEFAULT_MAX_SKEW_S = 300
MAX_SCHEMA_TYPE_CHARS = 128
MAX_ACTION_CHARS = 64
MAX_ID_CHARS = 64

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIG = re.compile(r"bip340:[0-9a-f]{128}")
_NAME = re.compile(r"[A-Za-z0-9_:./-]+")


def is_xonly_hex(value: object) -> bool:
    """Whether ``value`` is 64 lowercase hex characters."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


@dataclass(frozen=True)
class Envelope:
    """A structurally valid envelope (the signature is checked by :func:`check_signature`)."""

    schema_type: str
    action: str
    params: dict[str, Any]
    sender: str
    """``nostr:<64 hex>``."""
    recipient: str
    credential_mode: str
    credential_id: str
    nonce: int
    timestamp: int
    signature: str
    payment_proof: None = None
    confirm_action_id: str | None = None
    v: int = VERSION
    size: int = field(default=0, compare=False)
    """JCS size in bytes, as measured by :func:`parse_envelope`."""
    _jcs: bytes | None = field(default=None, init=False, compare=False, repr=False)
    """Cached :meth:`canonical` (never copied by ``dataclasses.replace``)."""
    _request_hash: str | None = field(default=None, init=False, compare=False, repr=False)
    _digest: bytes | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def sender_key(self) -> str:
        """The sender's x-only key: 64 lowercase hex."""
        return self.sender[len(SENDER_PREFIX) :]

    def unsigned(self) -> dict[str, Any]:
        """The envelope without ``signature``: what the signature covers."""
        return {
            "v": self.v,
            "schema_type": self.schema_type,
            "schema_payload": {"action": self.action, "params": self.params},
            "sender": self.sender,
            "recipient": self.recipient,
            "credential": {"mode": self.credential_mode, "id": self.credential_id},
            "payment_proof": self.payment_proof,
            "confirm_action_id": self.confirm_action_id,
            "nonce": self.nonce,
            "timestamp": self.timestamp,
        }

    def to_json(self) -> dict[str, Any]:
        out = self.unsigned()
        out[SIGNATURE_FIELD] = self.signature
        return out

    def canonical(self) -> bytes:
        """JCS bytes of the whole envelope, signature included (computed once: an
        envelope's fields, ``params`` included, are never changed after parsing)."""
        if self._jcs is None:
            object.__setattr__(self, "_jcs", canonical_json(self.to_json()))
        assert self._jcs is not None
        return self._jcs

    def signing_digest(self) -> bytes:
        """The 32 bytes the sender signed: SHA-256(JCS(envelope without signature))."""
        if self._digest is None:
            object.__setattr__(self, "_digest", sha256(self._unsigned_canonical()))
        assert self._digest is not None
        return self._digest

    def _unsigned_canonical(self) -> bytes:
        """JCS bytes of :meth:`unsigned`, cut from :meth:`canonical` when already known.

        JCS sorts members by key, and only ``timestamp`` and ``v`` (integers) sort after
        ``signature``; so the whole envelope's bytes end with exactly ``suffix`` below,
        and without that member they are the unsigned envelope's bytes. Anything else
        (never expected) is canonicalised afresh."""
        if self._jcs is not None:
            tail = f',"timestamp":{self.timestamp},"v":{self.v}}}'.encode()
            suffix = f',"signature":"{self.signature}"'.encode() + tail
            if type(self.timestamp) is int and type(self.v) is int and self._jcs.endswith(suffix):
                return self._jcs[: -len(suffix)] + tail
        return canonical_json(self.unsigned())

    def request_hash(self) -> str:
        """Hex SHA-256 of the JCS of the whole signed envelope: the advisor's statement,
        as receipts (``request_hash``) and replies (``in_reply_to``) name it."""
        if self._request_hash is None:
            object.__setattr__(self, "_request_hash", sha256_hex(self.canonical()))
        assert self._request_hash is not None
        return self._request_hash


def signing_digest(unsigned: Mapping[str, Any]) -> bytes:
    """SHA-256 of the JCS bytes of ``unsigned`` (an envelope without ``signature``)."""
    return canonical_hash({k: v for k, v in unsigned.items() if k != SIGNATURE_FIELD})


def _name(obj: Mapping[str, Any], key: str, where: str, max_chars: int) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}{key} must be a string, got {_kind(value)}")
    if not value or len(value) > max_chars or _NAME.fullmatch(value) is None:
        raise InvalidRequest(
            f"{where}{key} must be 1-{max_chars} characters of A-Z a-z 0-9 _ : . / -"
        )
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _integer(obj: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = obj[key]
    if type(value) is not int:
        raise InvalidRequest(f"{key} must be an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise InvalidRequest(f"{key} must be between {low} and {high}")
    return value


def _closed(obj: object, fields: tuple[str, ...], what: str) -> Mapping[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidRequest(f"{what} must be a JSON object, got {_kind(obj)}")
    missing = [f for f in fields if f not in obj]
    if missing:
        raise InvalidRequest(
            f"missing {', '.join(missing)}" + ("" if what == "envelope" else f" in {what}")
        )
    extra = sorted(str(k) for k in obj if k not in fields)
    if extra:
        raise InvalidRequest(f"unknown key(s) in {what}: {', '.join(k[:64] for k in extra)}")
    return obj


def parse_envelope(raw: str | bytes | Mapping[str, Any] | Envelope) -> Envelope:
    """Check the structure of an envelope (spec §1 step 2) and return it.

    ``raw`` is JSON text (REST may carry the envelope as a string; Nostr always does) or
    an already decoded object. Checks, in order: size and shape limits
    (:mod:`~lnhive.transport.jsonlimits`), the closed key set, every field's type and
    range. Neither the clock nor the signature is checked here.
    """
    if isinstance(raw, Envelope):
        return raw
    obj: object = jsonlimits.decode_json(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(obj, dict):
        raise InvalidRequest(f"envelope must be a JSON object, got {_kind(obj)}")
    jsonlimits.check_shape(obj)
    jcs = jsonlimits.check_size_canonical(obj)
    env = _closed(obj, FIELDS, "envelope")
    _integer(env, "v", 0, MAX_NONCE)
    if env["v"] != VERSION:
        raise InvalidRequest(f"unsupported envelope version {env['v']} (this node speaks 1)")
    schema_type = _name(env, "schema_type", "", MAX_SCHEMA_TYPE_CHARS)
    payload = _closed(env["schema_payload"], PAYLOAD_FIELDS, "schema_payload")
    action = _name(payload, "action", "schema_payload.", MAX_ACTION_CHARS)
    params = payload["params"]
    if not isinstance(params, dict):
        raise InvalidRequest(f"schema_payload.params must be an object, got {_kind(params)}")
    sender = env["sender"]
    if not isinstance(sender, str) or not (
        sender.startswith(SENDER_PREFIX) and is_xonly_hex(sender[len(SENDER_PREFIX) :])
    ):
        raise InvalidRequest("sender must be 'nostr:' + 64 lowercase hex")
    recipient = env["recipient"]
    if not is_xonly_hex(recipient):
        raise InvalidRequest("recipient must be 64 lowercase hex (the node's Nostr key)")
    credential = _closed(env["credential"], CREDENTIAL_FIELDS, "credential")
    mode = credential["mode"]
    if mode not in CREDENTIAL_MODES:
        raise InvalidRequest(f"credential.mode must be one of {', '.join(CREDENTIAL_MODES)}")
    credential_id = _name(credential, "id", "credential.", MAX_ID_CHARS)
    if env["payment_proof"] is not None:
        raise InvalidRequest("payment_proof must be null in envelope v1")
    confirm = env["confirm_action_id"]
    if confirm is not None:
        confirm = _name(env, "confirm_action_id", "", MAX_ID_CHARS)
    nonce = _integer(env, "nonce", 1, MAX_NONCE)
    timestamp = _integer(env, "timestamp", 0, MAX_TIMESTAMP)
    signature = env["signature"]
    if not isinstance(signature, str) or _SIG.fullmatch(signature) is None:
        raise InvalidRequest("signature must be 'bip340:' + 128 lowercase hex")
    out = Envelope(
        schema_type=schema_type,
        action=action,
        params=params,
        sender=sender,
        recipient=recipient,
        credential_mode=mode,
        credential_id=credential_id,
        nonce=nonce,
        timestamp=timestamp,
        signature=signature,
        confirm_action_id=confirm,
        size=len(jcs),
    )
    # ``obj`` has exactly the keys and values of ``out.to_json()`` (closed key set, each
    # field checked above, ``params`` the same object), so its JCS is the envelope's.
    object.__setattr__(out, "_jcs", jcs)
    return out


def check_clock(env: Envelope, now: float, max_skew_s: float = DEFAULT_MAX_SKEW_S) -> None:
    """Spec §1 step 3: :class:`ClockSkew` unless ``|now - timestamp| <= max_skew_s``."""
    if abs(now - env.timestamp) > max_skew_s:
        raise ClockSkew(
            "timestamp outside allowed skew",
            details={"max_clock_skew_seconds": int(max_skew_s)},
        )


def check_signature(env: Envelope, recipient: str) -> None:
    """Spec §1 step 4 (signature half): :class:`Unauthorized` unless the envelope is
    addressed to ``recipient`` (our Nostr key, 64 hex) and signed by its sender."""
    if env.recipient != recipient:
        raise Unauthorized("envelope is addressed to another node")
    sig = bytes.fromhex(env.signature[len(SIGNATURE_PREFIX) :])
    if not bip340.verify(bytes.fromhex(env.sender_key), env.signing_digest(), sig):
        raise Unauthorized("bad signature")


def verify_envelope(
    raw: str | bytes | Mapping[str, Any] | Envelope,
    *,
    recipient: str,
    now: float,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
    sender_allowed: Callable[[str], bool] | None = None,
) -> Envelope:
    """Spec §1 steps 2-4: structure, clock, then authentication.

    ``sender_allowed(sender)`` (``sender`` as ``nostr:<hex>``) says whether the sender is an
    active advisor; ``None`` skips that half (the caller checks it). An unknown sender
    and a bad signature raise the same :class:`Unauthorized` (spec §5.5: expose one).
    The nonce is *not* consumed here: see :mod:`lnhive.transport.admission`.
    """
    env = parse_envelope(raw)
    check_clock(env, now, max_skew_s)
    if sender_allowed is not None and not sender_allowed(env.sender):
        raise Unauthorized("unknown or revoked sender")
    check_signature(env, recipient)
    return env


# -- advisor side -------------------------------------------------------------------


def build_envelope(
    secret: bytes,
    *,
    recipient: str,
    schema_type: str,
    action: str,
    params: Mapping[str, Any],
    credential_id: str,
    nonce: int,
    timestamp: int,
    confirm_action_id: str | None = None,
    aux: bytes | None = None,
) -> dict[str, Any]:
    """A signed envelope (as a JSON object) from the advisor whose Nostr secret is ``secret``.

    ``aux`` is BIP-340's auxiliary randomness (``None``: 32 fresh random bytes; fixed
    bytes only for test vectors). The result passes :func:`parse_envelope`; it raises the
    same errors if the arguments would not.
    """
    unsigned: dict[str, Any] = {
        "v": VERSION,
        "schema_type": schema_type,
        "schema_payload": {"action": action, "params": dict(params)},
        "sender": SENDER_PREFIX + bip340.xonly_pubkey(secret).hex(),
        "recipient": recipient,
        "credential": {"mode": "bip340", "id": credential_id},
        "payment_proof": None,
        "confirm_action_id": confirm_action_id,
        "nonce": nonce,
        "timestamp": timestamp,
    }
    placeholder = dict(unsigned, signature=SIGNATURE_PREFIX + "0" * 128)
    parse_envelope(placeholder)
    sig = bip340.sign(secret, signing_digest(unsigned), aux)
    return dict(unsigned, signature=SIGNATURE_PREFIX + sig.hex())


def encode_envelope(envelope: Mapping[str, Any] | Envelope) -> bytes:
    """The bytes to send: the JCS form (any compact JSON verifies; JCS is the smallest)."""
    obj = envelope.to_json() if isinstance(envelope, Envelope) else dict(envelope)
    return canonical_json(obj)
