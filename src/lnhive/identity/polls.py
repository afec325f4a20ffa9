"""Fleet polls and votes as self-authenticating signed objects (spec §1.5, §3.4; ARCHITECTURE §8.5).

A poll and a vote are each signed with the *node key* (``signmessage``), so a vote is
pinned to the node, not to a DID that re-provisioning could replace (spec §5.6). The
signed text follows decision 5 with the domains ``poll`` and ``vote``:
``lnhive:poll:v1:`` / ``lnhive:vote:v1:`` + hex SHA-256(JCS(object without ``sig``)).
Anyone re-verifies offline by key recovery against ``creator`` / ``voter`` — no RPC
and no trust in whoever relayed the object.

Poll::

    {"type": "LnhivePoll", "v": 1, "poll_id": <32 hex>, "poll_type": "expansion",
     "title": "...", "options": ["yes", "no"], "metadata": {}, "creator": <node id>,
     "eligible": [<sorted node ids>], "created_at": <s>, "deadline": <s>,
     "nonce": <32 hex>, "sig": <zbase>}

``poll_id`` is the first 32 hex of SHA-256(JCS(poll without ``poll_id`` and ``sig``)),
so an id names exactly one content. ``eligible`` is the fleet's members when the poll
was made, fixed in the signed poll so every member tallies against the same list.

Vote::

    {"type": "LnhiveVote", "v": 1, "poll_id": …, "voter": <node id>, "choice": "yes" |
     "spoil", "reason": "", "voted_at": <s>, "sig": <zbase>}

``vote_id`` = first 32 hex of SHA-256(``"<poll_id>:<voter>:<choice>:<voted_at>"``).
This module only builds and checks objects; storage and delivery live in
:mod:`lnhive.identity.voting`, counting in :mod:`lnhive.identity.tally`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core.canonical import canonical_json, without
from lnhive.core.errors import InvalidInput, Unauthorized
from lnhive.core.hashing import sha256_hex
from lnhive.core.signmessage import ZbaseError, verify_message

POLL_TYPE = "LnhivePoll"
VOTE_TYPE = "LnhiveVote"
VERSION = 1
POLL_PREFIX = "lnhive:poll:v1:"
VOTE_PREFIX = "lnhive:vote:v1:"
SPOIL = "spoil"
MAX_TITLE = 200
MAX_OPTION = 64
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_METADATA_BYTES = 8192
MAX_REASON = 500
MAX_ELIGIBLE = 100
"""cl-hive allows at most 100 members."""
MAX_DURATION_S = 365 * 86400
_POLL_TYPE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_NODE_ID = re.compile(r"0[23][0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_ZBASE = re.compile(r"[ybndrfg8ejkmcpqxot1uwisza345h769]{104}")
POLL_FIELDS = frozenset(
    {
        "type",
        "v",
        "poll_id",
        "poll_type",
        "title",
        "options",
        "metadata",
        "creator",
        "eligible",
        "created_at",
        "deadline",
        "nonce",
        "sig",
    }
)
VOTE_FIELDS = frozenset({"type", "v", "poll_id", "voter", "choice", "reason", "voted_at", "sig"})

Signer = Callable[[str], str]
"""``signmessage(text) -> zbase`` by the node key."""


def is_node_id(value: object) -> bool:
    return isinstance(value, str) and _NODE_ID.fullmatch(value) is not None


def _int(value: object, name: str) -> int:
    if type(value) is not int or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer")
    return value


def _text(value: object, name: str, max_len: int, *, min_len: int = 1) -> str:
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise InvalidInput(f"{name} must be a string of {min_len}-{max_len} characters")
    if value != value.strip() and value:
        raise InvalidInput(f"{name} must not begin or end with spaces")
    return value


def check_poll_type(value: object) -> str:
    if not isinstance(value, str) or _POLL_TYPE_RE.fullmatch(value) is None:
        raise InvalidInput("poll_type must be 1-32 characters of A-Z a-z 0-9 _ -")
    return value


def check_title(value: object) -> str:
    return _text(value, "title", MAX_TITLE)


def check_options(value: object) -> list[str]:
    if not isinstance(value, list) or not MIN_OPTIONS <= len(value) <= MAX_OPTIONS:
        raise InvalidInput(f"options must be a list of {MIN_OPTIONS}-{MAX_OPTIONS} strings")
    out = [_text(o, "each option", MAX_OPTION) for o in value]
    if len(set(out)) != len(out):
        raise InvalidInput("options must be unique")
    if SPOIL in out:
        raise InvalidInput(f"{SPOIL!r} is reserved for spoilt ballots and cannot be an option")
    return out


def check_metadata(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be a JSON object")
    try:
        size = len(canonical_json(value))
    except Exception:
        raise InvalidInput("metadata must be JSON (no NaN or infinities)") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is over {MAX_METADATA_BYTES} bytes canonical")
    return value


def check_eligible(value: object) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ELIGIBLE:
        raise InvalidInput(f"eligible must be a list of 1-{MAX_ELIGIBLE} node ids")
    if not all(is_node_id(v) for v in value):
        raise InvalidInput("eligible must hold node ids (66 hex, 02/03)")
    ids = [str(v) for v in value]
    if ids != sorted(set(ids)):
        raise InvalidInput("eligible must be sorted and unique")
    return ids


def check_reason(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise InvalidInput(f"reason must be a string of at most {MAX_REASON} characters")
    return value


def poll_id_of(poll: Mapping[str, Any]) -> str:
    """First 32 hex of SHA-256(JCS(poll without ``poll_id`` and ``sig``))."""
    return sha256_hex(canonical_json(without(poll, "poll_id", "sig")))[:32]


def vote_id_of(poll_id: str, voter: str, choice: str, voted_at: int) -> str:
    return sha256_hex(f"{poll_id}:{voter}:{choice}:{voted_at}".encode())[:32]


def signing_text(prefix: str, obj: Mapping[str, Any]) -> str:
    return prefix + sha256_hex(canonical_json(without(obj, "sig")))


@dataclass(frozen=True)
class Poll:
    """A poll that passed :func:`check_poll` (signature included)."""

    poll_id: str
    poll_type: str
    title: str
    options: tuple[str, ...]
    metadata: dict[str, Any]
    creator: str
    eligible: tuple[str, ...]
    created_at: int
    deadline: int
    doc: dict[str, Any]
    """The signed object, verbatim."""

    @property
    def choices(self) -> tuple[str, ...]:
        """What a ballot may say: an option or ``spoil``."""
        return (*self.options, SPOIL)

    def is_open(self, now: float) -> bool:
        return now < self.deadline


@dataclass(frozen=True)
class Vote:
    """A vote that passed :func:`check_vote` against its poll (signature included)."""

    vote_id: str
    poll_id: str
    voter: str
    choice: str
    reason: str
    voted_at: int
    doc: dict[str, Any]


def _check_sig(prefix: str, obj: Mapping[str, Any], signer_id: str, what: str) -> None:
    sig = obj.get("sig")
    if not isinstance(sig, str) or _ZBASE.fullmatch(sig) is None:
        raise Unauthorized(f"{what} signature is not a zbase32 signmessage signature")
    try:
        ok = verify_message(signing_text(prefix, obj), sig, bytes.fromhex(signer_id))
    except ZbaseError:
        ok = False
    if not ok:
        raise Unauthorized(f"{what} signature does not verify for {signer_id[:16]}…")


def check_poll(obj: object) -> Poll:
    """Check a signed poll's shape, bounds, id and creator signature; errors name the field."""
    if not isinstance(obj, dict):
        raise InvalidInput("poll must be a JSON object")
    if set(obj) != POLL_FIELDS:
        missing = sorted(POLL_FIELDS - set(obj))
        extra = sorted(set(obj) - POLL_FIELDS)
        raise InvalidInput(f"poll fields wrong: missing {missing}, unknown {extra}"[:180])
    if obj["type"] != POLL_TYPE or obj["v"] != VERSION or type(obj["v"]) is not int:
        raise InvalidInput(f"poll must have type {POLL_TYPE} and v {VERSION}")
    poll_type = check_poll_type(obj["poll_type"])
    title = check_title(obj["title"])
    options = check_options(obj["options"])
    metadata = check_metadata(obj["metadata"])
    if not is_node_id(obj["creator"]):
        raise InvalidInput("creator must be a node id")
    eligible = check_eligible(obj["eligible"])
    created_at = _int(obj["created_at"], "created_at")
    deadline = _int(obj["deadline"], "deadline")
    if not created_at < deadline <= created_at + MAX_DURATION_S:
        raise InvalidInput("deadline must be after created_at and within 365 days")
    if not isinstance(obj["nonce"], str) or _HEX32.fullmatch(obj["nonce"]) is None:
        raise InvalidInput("nonce must be 32 lowercase hex")
    if obj["poll_id"] != poll_id_of(obj):
        raise InvalidInput("poll_id does not match the poll's content")
    _check_sig(POLL_PREFIX, obj, str(obj["creator"]), "poll")
    return Poll(
        poll_id=str(obj["poll_id"]),
        poll_type=poll_type,
        title=title,
        options=tuple(options),
        metadata=metadata,
        creator=str(obj["creator"]),
        eligible=tuple(eligible),
        created_at=created_at,
        deadline=deadline,
        doc=obj,
    )


def check_vote(obj: object, poll: Poll) -> Vote:
    """Check a signed vote against ``poll``: shape, choice, eligibility, time, signature.

    Time: ``created_at <= voted_at < deadline``. Arrival time is not judged here (that
    is the receiver's business), so the result depends on the objects alone.
    """
    if not isinstance(obj, dict):
        raise InvalidInput("vote must be a JSON object")
    if set(obj) != VOTE_FIELDS:
        raise InvalidInput(f"vote fields must be exactly {sorted(VOTE_FIELDS)}"[:180])
    if obj["type"] != VOTE_TYPE or obj["v"] != VERSION or type(obj["v"]) is not int:
        raise InvalidInput(f"vote must have type {VOTE_TYPE} and v {VERSION}")
    if obj["poll_id"] != poll.poll_id:
        raise InvalidInput("vote is for another poll")
    voter = obj["voter"]
    if not is_node_id(voter):
        raise InvalidInput("voter must be a node id")
    choice = obj["choice"]
    if not isinstance(choice, str) or choice not in poll.choices:
        raise InvalidInput(f"invalid choice; valid_choices: {', '.join(poll.choices)}"[:190])
    reason = check_reason(obj["reason"])
    voted_at = _int(obj["voted_at"], "voted_at")
    if str(voter) not in poll.eligible:
        raise Unauthorized("voter is not eligible for this poll")
    if voted_at < poll.created_at:
        raise InvalidInput("vote is dated before the poll was created")
    if voted_at >= poll.deadline:
        raise InvalidInput("vote is dated at or after the poll's deadline")
    _check_sig(VOTE_PREFIX, obj, str(voter), "vote")
    return Vote(
        vote_id=vote_id_of(poll.poll_id, str(voter), choice, voted_at),
        poll_id=poll.poll_id,
        voter=str(voter),
        choice=choice,
        reason=reason,
        voted_at=voted_at,
        doc=obj,
    )


def make_poll(
    sign: Signer,
    *,
    creator: str,
    poll_type: object,
    title: object,
    options: object,
    metadata: object,
    eligible: list[str],
    created_at: int,
    deadline: object,
    nonce: str | None = None,
) -> Poll:
    """Build, sign and check a new poll; bad input raises before anything is signed."""
    if type(deadline) is not int:
        raise InvalidInput("deadline must be an integer (unix seconds)")
    if deadline <= created_at:
        raise InvalidInput("deadline must be in the future")
    doc: dict[str, Any] = {
        "type": POLL_TYPE,
        "v": VERSION,
        "poll_type": check_poll_type(poll_type),
        "title": check_title(title),
        "options": check_options(options),
        "metadata": check_metadata(metadata),
        "creator": creator,
        "eligible": check_eligible(sorted(set(eligible))),
        "created_at": created_at,
        "deadline": deadline,
        "nonce": nonce or secrets.token_hex(16),
    }
    if deadline > created_at + MAX_DURATION_S:
        raise InvalidInput("deadline must be within 365 days")
    doc["poll_id"] = poll_id_of(doc)
    doc["sig"] = sign(signing_text(POLL_PREFIX, doc))
    return check_poll(doc)


def make_vote(
    sign: Signer, poll: Poll, *, voter: str, choice: object, reason: object, voted_at: int
) -> Vote:
    """Build, sign and check a vote on ``poll``; bad input raises before signing."""
    if not isinstance(choice, str) or choice not in poll.choices:
        raise InvalidInput(f"invalid choice; valid_choices: {', '.join(poll.choices)}"[:190])
    doc: dict[str, Any] = {
        "type": VOTE_TYPE,
        "v": VERSION,
        "poll_id": poll.poll_id,
        "voter": voter,
        "choice": choice,
        "reason": check_reason(reason),
        "voted_at": voted_at,
    }
    doc["sig"] = sign(signing_text(VOTE_PREFIX, doc))
    return check_vote(doc, poll)
