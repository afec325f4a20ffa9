"""Anti-entropy: ``fleet.state_hash``, ``fleet.roster`` and ``fleet.state_versions``.

On every (re)connection between two hive nodes each sends ``fleet.state_hash``
``{"hive_id", "membership_hash", "fleet_hash", "member_count"}`` (direct, not acked).

*Membership.* A receiver whose membership hash differs answers with its whole
evidence chain in ``fleet.roster``
frames ``{"hive_id", "part", "parts", "evidence": [<envelope>, …]}`` (reliable:
acked, retried), packed greedily so every frame's body stays under
:data:`ROSTER_BODY_BUDGET` bytes. The receiver re-verifies every envelope it does not
have yet and applies it (:mod:`lnhive.fleet.evidence`); nothing in a roster frame is
taken on the sender's word, so a member cannot inject or promote anyone. Because both
sides send, both end with the union of valid evidence.

*Member records.* A receiver whose fleet hash differs sends ``fleet.state_versions``
``{"hive_id", "versions": {<peer_id>: <version>}, "reply": false}``. The other side
sends back, each as its own frame, the origin-signed ``fleet.gossip`` envelopes it
holds in a newer version, and — if the versions show the asker holds newer ones —
its own ``fleet.state_versions`` with ``"reply": true``, which is answered with
records only. Only missing records travel, every one under its own size limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.fleet.envelope import Envelope, MalformedEnvelope, is_node_id
from lnhive.fleet.roster import body_hive_id

STATE_HASH = "fleet.state_hash"
STATE_VERSIONS = "fleet.state_versions"
ROSTER = "fleet.roster"
MAX_VERSIONS = 1_000
ROSTER_BODY_BUDGET = 50_000
"""Bytes of JCS(body) per roster frame; the frame limit for ``fleet.roster`` is 60,000."""
MAX_EVIDENCE_PER_FRAME = 200
_FRAME_SLACK = 200
"""Bytes kept free in a roster body for its other fields."""

_HASH_RE = re.compile(r"[0-9a-f]{64}")


def state_hash_body(
    hive_id: str, membership_hash: str, fleet_hash: str, member_count: int
) -> dict[str, Any]:
    return {
        "hive_id": hive_id,
        "membership_hash": membership_hash,
        "fleet_hash": fleet_hash,
        "member_count": member_count,
    }


def check_state_hash(body: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(hive_id, membership_hash, fleet_hash)`` of a state hash body."""
    if set(body) != {"hive_id", "membership_hash", "fleet_hash", "member_count"}:
        raise MalformedEnvelope(
            f"{STATE_HASH} body must be hive_id, membership_hash, fleet_hash, member_count"
        )
    hive_id = body_hive_id(body, STATE_HASH)
    for key in ("membership_hash", "fleet_hash"):
        value = body[key]
        if not isinstance(value, str) or _HASH_RE.fullmatch(value) is None:
            raise MalformedEnvelope(f"{STATE_HASH}: {key} must be 64 lowercase hex")
    count = body["member_count"]
    if type(count) is not int or not 0 <= count <= 10_000:
        raise MalformedEnvelope(f"{STATE_HASH}: member_count must be an integer 0..10000")
    return hive_id, str(body["membership_hash"]), str(body["fleet_hash"])


def state_versions_body(hive_id: str, versions: Mapping[str, int], reply: bool) -> dict[str, Any]:
    return {"hive_id": hive_id, "versions": dict(versions), "reply": reply}


def check_state_versions(body: Mapping[str, Any]) -> tuple[str, dict[str, int], bool]:
    if set(body) != {"hive_id", "versions", "reply"}:
        raise MalformedEnvelope(f"{STATE_VERSIONS} body must be hive_id, versions, reply")
    hive_id = body_hive_id(body, STATE_VERSIONS)
    versions = body["versions"]
    if not isinstance(versions, dict) or len(versions) > MAX_VERSIONS:
        raise MalformedEnvelope(f"{STATE_VERSIONS}: versions must map at most {MAX_VERSIONS} ids")
    for peer, version in versions.items():
        if not is_node_id(peer) or type(version) is not int or version < 0:
            raise MalformedEnvelope(f"{STATE_VERSIONS}: versions maps node ids to integers >= 0")
    if not isinstance(body["reply"], bool):
        raise MalformedEnvelope(f"{STATE_VERSIONS}: reply must be true or false")
    return hive_id, dict(versions), bool(body["reply"])


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
    hive_id = body_hive_id(body, ROSTER)
    part, parts = body["part"], body["parts"]
    if type(part) is not int or type(parts) is not int or not 1 <= part <= parts <= 1000:
        raise MalformedEnvelope(f"{ROSTER}: need integers 1 <= part <= parts <= 1000")
    evidence = body["evidence"]
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE_PER_FRAME:
        raise MalformedEnvelope(
            f"{ROSTER}: evidence must be a list of at most {MAX_EVIDENCE_PER_FRAME} envelopes"
        )
    return hive_id, list(evidence)
