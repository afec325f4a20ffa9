"""The fleet frame in custom message type 34865 (ARCHITECTURE decision 8).

A hive custom message is the 2-byte big-endian type ``0x8831`` followed by the UTF-8
JSON (written as RFC 8785 JCS) ``{"hdr":{"ttl":<int>,"path":[<node ids>]},"env":<envelope>}``.
The whole message, type included, is at most 65,535 bytes. ``hdr`` is not signed, so
relays update it; the envelope is signed by its origin (:mod:`lnhive.fleet.envelope`).

Header rules:

- ``ttl`` is an integer from 0 to :data:`MAX_TTL` (8): how many more times the frame
  may be relayed. A frame received with ``ttl`` 0 is processed but not relayed.
- ``path`` lists the relays that forwarded the frame, in order, each once; the origin
  (the envelope's ``sender``) is never on it. Since every relay decrements ``ttl`` and
  appends itself, ``len(path) + ttl <= MAX_TTL`` for any honest frame.

Body size limits (:data:`SIZE_LIMITS`, bytes of JCS(body)) are per type, with a
namespace default (``"archon.*"``) and an overall default (``"*"``). They are chosen
so that an envelope whose body is at its limit, relayed the full :data:`MAX_TTL` hops,
still fits the 65,535-byte message (the largest limit is 60,000 bytes):

=========================  ======  =============================================
type                       bytes   why
=========================  ======  =============================================
``*`` (default)            8,192   any other fleet message
``archon.*``               32,768  polls, votes, credentials carried for archon
``fleet.ack``              256     ``{"ack": msg_id}``
``fleet.hello``            12,288  carries an optional invitation ticket (<=10 KB)
``fleet.challenge``        1,024   nonce and hive id
``fleet.attest``           4,096   manifest and two signatures
``fleet.welcome``          4,096   hive id, tier, counts, state hash, signature
``fleet.gossip``           16,384  one member's state record (spec §9: <= 16 KB)
``fleet.state_hash``       1,024   hashes and counts
``fleet.full_sync``        60,000  origin-signed records, as many as fit
``fleet.intent``           2,048   one intent
``fleet.intent_abort``     2,048   one abort
``fleet.intent_commit``    2,048   one commit
``fleet.promotion``        60,000  up to 50 embedded vouches
``fleet.ban_proposal``     2,048   reason <= 512 characters
``fleet.ban_vote``         2,048   one vote
``fleet.ban``              60,000  the proposal and up to 100 approving votes
``fleet.vouch``            1,024   hive id and target
``fleet.roster``           60,000  membership evidence, as many envelopes as fit
``fleet.state_versions``   60,000  a version per member (up to 1,000)
=========================  ======  =============================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.fleet.envelope import Envelope, is_node_id, parse_envelope

HIVE_MSG_TYPE = 0x8831
"""34865: odd, so peers without the hive ignore it."""
TYPE_PREFIX = HIVE_MSG_TYPE.to_bytes(2, "big")
MAX_MESSAGE_BYTES = 65_535
"""The whole custom message, its 2-byte type included."""
MAX_TTL = 8
DEFAULT_TTL = 3

SIZE_LIMITS: dict[str, int] = {
    "*": 8_192,
    "archon.*": 32_768,
    "fleet.ack": 256,
    "fleet.hello": 12_288,
    "fleet.challenge": 1_024,
    "fleet.attest": 4_096,
    "fleet.welcome": 4_096,
    "fleet.gossip": 16_384,
    "fleet.state_hash": 1_024,
    "fleet.full_sync": 60_000,
    "fleet.intent": 2_048,
    "fleet.intent_abort": 2_048,
    "fleet.intent_commit": 2_048,
    "fleet.promotion": 60_000,
    "fleet.ban_proposal": 2_048,
    "fleet.ban_vote": 2_048,
    "fleet.ban": 60_000,
    "fleet.vouch": 1_024,
    "fleet.roster": 60_000,
    "fleet.state_versions": 60_000,
}
"""Body limits in bytes of JCS(body): exact type, then ``<namespace>.*``, then ``*``."""

_HEX_RE = re.compile(r"[0-9a-fA-F]*")


class FrameError(InvalidInput):
    """A custom message that is not a valid hive frame."""


class NotHiveFrame(FrameError):
    """A custom message of another type (not 34865): not ours, ignore it."""


@dataclass(frozen=True)
class Frame:
    """A decoded frame: the unsigned relay header and the (not yet verified) envelope."""

    ttl: int
    path: tuple[str, ...]
    env: Envelope

    def to_json(self) -> dict[str, Any]:
        return {"hdr": {"ttl": self.ttl, "path": list(self.path)}, "env": self.env.to_json()}

    def encode(self, limits: Mapping[str, int] = SIZE_LIMITS) -> str:
        """This frame as ``sendcustommsg`` hex."""
        return encode_frame(self.env, self.ttl, self.path, limits=limits)


def body_limit(type_name: str, limits: Mapping[str, int] = SIZE_LIMITS) -> int:
    """The body size limit of ``type_name`` in ``limits``."""
    if type_name in limits:
        return limits[type_name]
    namespace = type_name.split(".", 1)[0] + ".*"
    if namespace in limits:
        return limits[namespace]
    return limits["*"]


def _check_body_size(env: Envelope, limits: Mapping[str, int]) -> None:
    size = len(canonical_json(env.body))
    limit = body_limit(env.type, limits)
    if size > limit:
        raise FrameError(f"{env.type} body is {size} bytes, over its limit of {limit}")


def _check_hdr(ttl: object, path: object, sender: str) -> tuple[int, tuple[str, ...]]:
    if type(ttl) is not int:
        raise FrameError(f"hdr.ttl must be an integer, got {type(ttl).__name__}")
    if not 0 <= ttl <= MAX_TTL:
        raise FrameError(f"hdr.ttl {ttl} is outside 0..{MAX_TTL}")
    if not isinstance(path, list | tuple):
        raise FrameError(f"hdr.path must be a list, got {type(path).__name__}")
    if len(path) > MAX_TTL:
        raise FrameError(f"hdr.path has {len(path)} hops, more than {MAX_TTL}")
    for hop in path:
        if not is_node_id(hop):
            raise FrameError("hdr.path entries must be node ids (66 lowercase hex)")
    if len(set(path)) != len(path):
        raise FrameError("hdr.path repeats a node")
    if sender in path:
        raise FrameError("hdr.path contains the envelope's sender")
    if len(path) + ttl > MAX_TTL:
        raise FrameError(f"hdr.ttl {ttl} with {len(path)} hops exceeds {MAX_TTL} in total")
    return ttl, tuple(path)


def encode_frame(
    env: Envelope,
    ttl: int = DEFAULT_TTL,
    path: Sequence[str] = (),
    *,
    limits: Mapping[str, int] = SIZE_LIMITS,
) -> str:
    """The custom message (type included) as hex for ``sendcustommsg``.

    Raises :class:`FrameError` if the header is invalid, the body is over its type's
    limit or the message would exceed :data:`MAX_MESSAGE_BYTES`.
    """
    ttl, hops = _check_hdr(ttl, list(path), env.sender)
    _check_body_size(env, limits)
    doc = {"hdr": {"ttl": ttl, "path": list(hops)}, "env": env.to_json()}
    raw = TYPE_PREFIX + canonical_json(doc)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise FrameError(
            f"{env.type} frame is {len(raw)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit"
        )
    return raw.hex()


def is_hive_payload(payload_hex: object) -> bool:
    """Whether a ``custommsg`` payload starts with our type (cheap pre-check)."""
    return isinstance(payload_hex, str) and payload_hex[:4].lower() == TYPE_PREFIX.hex()


def _no_constants(name: str) -> Any:
    raise FrameError(f"frame JSON contains {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FrameError(f"frame JSON repeats the key {key[:40]!r}")
        out[key] = value
    return out


def decode_frame(payload_hex: str, *, limits: Mapping[str, int] = SIZE_LIMITS) -> Frame:
    """Decode a ``custommsg`` payload (hex, type included) into a :class:`Frame`.

    The envelope's structure is checked; its signature is not (that needs the node:
    :func:`lnhive.fleet.envelope.verify_envelope`). Raises :class:`NotHiveFrame` for
    another message type and :class:`FrameError` for every other defect.
    """
    if not isinstance(payload_hex, str):
        raise FrameError("payload must be a hex string")
    if len(payload_hex) > 2 * MAX_MESSAGE_BYTES:
        raise FrameError(
            f"message is {len(payload_hex) // 2} bytes, over the {MAX_MESSAGE_BYTES}-byte limit"
        )
    if len(payload_hex) % 2 or _HEX_RE.fullmatch(payload_hex) is None:
        raise FrameError("payload is not hex")
    raw = bytes.fromhex(payload_hex)
    if len(raw) < 2:
        raise FrameError("message is shorter than its 2-byte type")
    if raw[:2] != TYPE_PREFIX:
        raise NotHiveFrame(f"message type {int.from_bytes(raw[:2], 'big')} is not {HIVE_MSG_TYPE}")
    try:
        text = raw[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"frame is not UTF-8: {exc.reason}") from None
    try:
        doc = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise FrameError(f"frame is not JSON: {exc.msg} at {exc.pos}") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise FrameError(f"frame is not acceptable JSON: {exc}") from None
    except RecursionError:
        raise FrameError("frame JSON is nested too deeply") from None
    if not isinstance(doc, dict) or set(doc) != {"hdr", "env"}:
        raise FrameError('frame must be an object with exactly "hdr" and "env"')
    hdr = doc["hdr"]
    if not isinstance(hdr, dict) or set(hdr) != {"ttl", "path"}:
        raise FrameError('hdr must be an object with exactly "ttl" and "path"')
    env = parse_envelope(doc["env"])
    ttl, path = _check_hdr(hdr["ttl"], hdr["path"], env.sender)
    _check_body_size(env, limits)
    return Frame(ttl=ttl, path=path, env=env)


def next_hop_frame(frame: Frame, me: str) -> Frame | None:
    """The frame ``me`` relays onward (``ttl - 1``, ``me`` appended to ``path``), or
    ``None`` when it must not be relayed: ``ttl`` exhausted, ``me`` already on the path,
    or ``me`` is the origin."""
    if not is_node_id(me):
        raise InvalidInput("me must be a node id")
    if frame.ttl <= 0 or me in frame.path or me == frame.env.sender:
        return None
    return Frame(ttl=frame.ttl - 1, path=(*frame.path, me), env=frame.env)
