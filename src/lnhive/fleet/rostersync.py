"""Membership anti-entropy: ``fleet.state_hash`` and ``fleet.roster``.

On every (re)connection between two hive nodes each sends ``fleet.state_hash``
``{"hive_id", "membership_hash", "member_count"}`` (direct, not acked). A receiver
whose own hash differs answers with its whole evidence chain in ``fleet.roster``
frames ``{"hive_id", "part", "parts", "evidence": [<envelope>, …]}`` (reliable:
acked, retried), packed greedily so every frame's body stays under
:data:`ROSTER_BODY_BUDGET` bytes. The receiver re-verifies every envelope it does not
have yet and applies it (:mod:`lnhive.fleet.evidence`); nothing in a roster frame is
taken on the sender's word, so a member cannot inject or promote anyone. Because both
sides send, both end with the union of valid evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.fleet.envelope import Envelope, MalformedEnvelope
from lnhive.fleet.roster import check_hive_id

STATE_HASH = "fleet.state_hash"
ROSTER = "fleet.roster"
ROSTER_BODY_BUDGET = 50_000
"""Bytes of JCS(body) per roster frame; the frame limit for ``fleet.roster`` is 60,000."""
MAX_EVIDENCE_PER_FRAME = 200
_FRAME_SLACK = 200
"""Bytes kept free in a roster body for its other fields."""

_HASH_RE = re.compile(r"[0-9a-f]{64}")


def state_hash_body(hive_id: str, membership_hash: str, member_count: int) -> dict[str, Any]:
    return {"hive_id": hive_id, "membership_hash": membership_hash, "member_count": member_count}


def check_state_hash(body: Mapping[str, Any]) -> tuple[str, str, int]:
    if set(body) != {"hive_id", "membership_hash", "member_count"}:
        raise MalformedEnvelope(f"{STATE_HASH} body must be hive_id, membership_hash, member_count")
    try:
        hive_id = check_hive_id(body["hive_id"])
    except InvalidInput as exc:
        raise MalformedEnvelope(f"{STATE_HASH}: {exc.message}") from None
    mh = body["membership_hash"]
    if not isinstance(mh, str) or _HASH_RE.fullmatch(mh) is None:
        raise MalformedEnvelope(f"{STATE_HASH}: membership_hash must be 64 lowercase hex")
    count = body["member_count"]
    if type(count) is not int or not 0 <= count <= 10_000:
        raise MalformedEnvelope(f"{STATE_HASH}: member_count must be an integer 0..10000")
    return hive_id, mh, count


def roster_bodies(hive_id: str, evidence: Sequence[Envelope]) -> list[dict[str, Any]]:
    """The evidence chain split into roster bodies, each under the byte budget."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for env in evidence:
        doc = env.to_json()
        n = len(canonical_json(doc)) + 1
        if n > ROSTER_BODY_BUDGET - _FRAME_SLACK:
            raise InvalidInput(f"evidence {env.msg_id} is too large for a roster frame")
        full = size + n > ROSTER_BODY_BUDGET - _FRAME_SLACK
        if chunks[-1] and (full or len(chunks[-1]) >= MAX_EVIDENCE_PER_FRAME):
            chunks.append([])
            size = 0
        chunks[-1].append(doc)
        size += n
    parts = len(chunks)
    return [
        {"hive_id": hive_id, "part": i + 1, "parts": parts, "evidence": chunk}
        for i, chunk in enumerate(chunks)
    ]


def check_roster(body: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """``(hive_id, evidence objects)`` of a roster body (each envelope parsed later)."""
    if set(body) != {"hive_id", "part", "parts", "evidence"}:
        raise MalformedEnvelope(f"{ROSTER} body must be hive_id, part, parts, evidence")
    try:
        hive_id = check_hive_id(body["hive_id"])
    except InvalidInput as exc:
        raise MalformedEnvelope(f"{ROSTER}: {exc.message}") from None
    part, parts = body["part"], body["parts"]
    if type(part) is not int or type(parts) is not int or not 1 <= part <= parts <= 1000:
        raise MalformedEnvelope(f"{ROSTER}: need integers 1 <= part <= parts <= 1000")
    evidence = body["evidence"]
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE_PER_FRAME:
        raise MalformedEnvelope(
            f"{ROSTER}: evidence must be a list of at most {MAX_EVIDENCE_PER_FRAME} envelopes"
        )
    return hive_id, list(evidence)
