"""Membership evidence: the signed envelopes that change the roster, and how they apply.

Two kinds exist in this slice (promotions, bans and leaves come later and follow the
same pattern):

``fleet.genesis`` — ``{"hive_id": …}``, self-signed by the founder. It makes the
founder the hive's first ``member``. Only one genesis per hive is ever accepted.

``fleet.welcome`` — signed by a ``member`` that ran the handshake with the joiner::

    {"hive_id": …, "joiner": <node id>, "tier": "neophyte",
     "attest": <msg_id of the joiner's fleet.attest>,
     "member_count": <roster size after admission>,
     "membership_hash": <the welcomer's membership hash after admission>}

``fleet.member_left`` — ``{"hive_id": …, "reason": <at most 512 characters>}``, signed
by the member that leaves; it removes the signer from the roster.

A welcome admits ``joiner`` as a ``neophyte``. The same envelope goes to the joiner (which
accepts it only after its own HELLO to that member) and to every other member, and is
replayed verbatim inside ``fleet.roster`` frames, so a node never takes membership on
another node's word: it re-verifies who signed what.

:func:`apply` decides one envelope against the roster: ``applied`` (the roster
changed), ``pending`` (it may apply once other evidence arrives: a welcome signed by
a member we have not learned of yet) or ``rejected`` (never: wrong hive, signer not a
member, joiner already in the roster, …). Signatures are checked by the caller before
anything is recorded.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from lnhive.fleet import bans, promotion
from lnhive.fleet.envelope import Envelope, MalformedEnvelope, is_msg_id, is_node_id
from lnhive.fleet.roster import (
    APPLIED,
    MEMBER,
    NEOPHYTE,
    PENDING,
    REJECTED,
    Roster,
    body_hive_id,
    check_hive_id,
)

GENESIS = "fleet.genesis"
WELCOME = "fleet.welcome"
MEMBER_LEFT = "fleet.member_left"
BAN = bans.BAN
PROMOTION = promotion.PROMOTION
EVIDENCE_TYPES: frozenset[str] = frozenset({GENESIS, WELCOME, MEMBER_LEFT, BAN, PROMOTION})
MAX_REASON = 512

_HASH_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str | None = None
    subject: str = ""


def genesis_body(hive_id: str) -> dict[str, Any]:
    return {"hive_id": check_hive_id(hive_id)}


def welcome_body(
    hive_id: str, joiner: str, attest_msg_id: str, member_count: int, membership_hash: str
) -> dict[str, Any]:
    return {
        "hive_id": hive_id,
        "joiner": joiner,
        "tier": NEOPHYTE,
        "attest": attest_msg_id,
        "member_count": member_count,
        "membership_hash": membership_hash,
    }


def check_genesis(env: Envelope) -> str:
    """The hive id of a structurally valid genesis."""
    if set(env.body) != {"hive_id"}:
        raise MalformedEnvelope(f"{GENESIS} body must be exactly {{hive_id}}")
    return body_hive_id(env.body, GENESIS)


def check_welcome(env: Envelope) -> tuple[str, str]:
    """``(hive_id, joiner)`` of a structurally valid welcome."""
    body = env.body
    fields = {"hive_id", "joiner", "tier", "attest", "member_count", "membership_hash"}
    if set(body) != fields:
        raise MalformedEnvelope(f"{WELCOME} body must have exactly {', '.join(sorted(fields))}")
    hive_id = body_hive_id(body, WELCOME)
    joiner = body["joiner"]
    if not is_node_id(joiner):
        raise MalformedEnvelope(f"{WELCOME}: joiner must be a node id")
    if joiner == env.sender:
        raise MalformedEnvelope(f"{WELCOME}: a member cannot welcome itself")
    if body["tier"] != NEOPHYTE:
        raise MalformedEnvelope(f"{WELCOME}: joiners are admitted as neophytes only")
    if not is_msg_id(body["attest"]):
        raise MalformedEnvelope(f"{WELCOME}: attest must be the ATTEST's msg_id")
    count = body["member_count"]
    if type(count) is not int or not 1 <= count <= 10_000:
        raise MalformedEnvelope(f"{WELCOME}: member_count must be an integer 1..10000")
    mh = body["membership_hash"]
    if not isinstance(mh, str) or _HASH_RE.fullmatch(mh) is None:
        raise MalformedEnvelope(f"{WELCOME}: membership_hash must be 64 lowercase hex")
    return hive_id, joiner


def left_body(hive_id: str, reason: str) -> dict[str, Any]:
    return {"hive_id": hive_id, "reason": reason}


def check_left(env: Envelope) -> str:
    """The hive id of a structurally valid leave."""
    if set(env.body) != {"hive_id", "reason"}:
        raise MalformedEnvelope(f"{MEMBER_LEFT} body must be exactly {{hive_id, reason}}")
    reason = env.body["reason"]
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise MalformedEnvelope(f"{MEMBER_LEFT}: reason must be at most {MAX_REASON} characters")
    return body_hive_id(env.body, MEMBER_LEFT)


def subject_of(env: Envelope) -> str:
    """The node an evidence envelope is about (founder, joiner or leaver)."""
    if env.type in (GENESIS, MEMBER_LEFT):
        return env.sender
    if env.type in (BAN, PROMOTION):
        target = env.body.get("target")
        return target if isinstance(target, str) else ""
    if env.type == WELCOME:
        joiner = env.body.get("joiner")
        return joiner if isinstance(joiner, str) else ""
    raise MalformedEnvelope(f"{env.type} is not membership evidence")


def check_structure(env: Envelope) -> str:
    """Raise :class:`MalformedEnvelope` unless ``env`` is well-formed evidence; return
    its hive id."""
    if env.type == GENESIS:
        return check_genesis(env)
    if env.type == WELCOME:
        return check_welcome(env)[0]
    if env.type == MEMBER_LEFT:
        return check_left(env)
    if env.type == BAN:
        return bans.check_ban(env).hive_id
    if env.type == PROMOTION:
        return promotion.check_promotion(env).hive_id
    raise MalformedEnvelope(f"{env.type} is not membership evidence")


def decide(roster: Roster, env: Envelope, hive_id: str) -> Outcome:
    """Whether ``env`` (structure and signature already checked) applies to the roster
    of ``hive_id`` now, may apply later, or never will."""
    subject = subject_of(env)
    ev_hive = check_structure(env)
    if ev_hive != hive_id:
        return Outcome(REJECTED, f"evidence for hive {ev_hive}, not {hive_id}", subject)
    if env.type == GENESIS:
        genesis = roster.genesis_msg_id
        if genesis is not None and genesis != env.msg_id:
            return Outcome(REJECTED, "the hive already has a genesis", subject)
        if roster.is_member(env.sender):
            return Outcome(REJECTED, "founder is already in the roster", subject)
        return Outcome(APPLIED, None, subject)
    if env.type == BAN:
        return _decide_ban(roster, bans.check_ban(env))
    if env.type == PROMOTION:
        return _decide_promotion(roster, promotion.check_promotion(env))
    if roster.is_banned(subject):
        return Outcome(REJECTED, f"{subject} is banned", subject)
    signer = roster.get(env.sender)
    if env.type == MEMBER_LEFT:
        if signer is None:
            return Outcome(PENDING, f"leaver {env.sender} is not known (yet)", subject)
        if signer.joined_at > env.ts:
            return Outcome(REJECTED, "leave predates the member's admission", subject)
        return Outcome(APPLIED, None, subject)
    if signer is None:
        return Outcome(PENDING, f"welcomer {env.sender} is not known (yet)", subject)
    if signer.tier != MEMBER:
        return Outcome(REJECTED, f"welcomer {env.sender} is a {signer.tier}, not a member", subject)
    if signer.joined_at > env.ts:
        return Outcome(REJECTED, "welcome predates the welcomer's own admission", subject)
    left = roster.last_left(subject)
    if left is not None and left >= env.ts:
        return Outcome(REJECTED, f"{subject} left after this welcome", subject)
    current = roster.get(subject)
    if current is not None:
        if current.joined_at < env.ts:
            # a rejoin whose leave we have not seen yet, or a second admission; the
            # leave, if any, applies it, and a later leave makes it obsolete
            return Outcome(PENDING, f"{subject} is still in the roster", subject)
        return Outcome(REJECTED, f"{subject} is already in the roster", subject)
    return Outcome(APPLIED, None, subject)


def _decide_promotion(roster: Roster, promo: promotion.Promotion) -> Outcome:
    """A promotion applies to a neophyte with a quorum of member vouches (or, while the
    hive has fewer than three members, a member's word alone)."""
    target = promo.target
    current = roster.get(target)
    if current is None:
        return Outcome(PENDING, f"{target} is not in the roster (yet)", target)
    if current.tier == MEMBER:
        return Outcome(REJECTED, f"{target} is already a member", target)
    if current.joined_at > promo.envelope.ts:
        return Outcome(REJECTED, "promotion predates the target's admission", target)
    signer = roster.get(promo.envelope.sender)
    if signer is None:
        return Outcome(PENDING, f"promoter {promo.envelope.sender} is not known (yet)", target)
    if signer.tier != MEMBER:
        return Outcome(REJECTED, "only members promote", target)
    members = {m.peer_id for m in roster.members() if m.tier == MEMBER}
    if not promo.vouches:
        if len(members) < promotion.MIN_VOUCH_COUNT:
            return Outcome(APPLIED, None, target)
        return Outcome(
            REJECTED,
            f"no vouches, and the hive has {len(members)} members (bootstrap is over)",
            target,
        )
    valid = promo.vouchers() & members
    need = promotion.quorum(len(members))
    if len(valid) >= need:
        return Outcome(APPLIED, None, target)
    if promo.vouchers() - members:
        # a voucher we do not know, or know only as a neophyte, may be a member by
        # evidence we have not applied yet (events of the same second)
        return Outcome(PENDING, f"{len(valid)} member vouches of {need}; others pending", target)
    return Outcome(REJECTED, f"{len(valid)} member vouches of {need} needed", target)


def _decide_ban(roster: Roster, ban: bans.Ban) -> Outcome:
    """A ban applies when its approvers are two thirds of the eligible members."""
    target = ban.target
    if roster.is_banned(target):
        return Outcome(REJECTED, f"{target} is already banned", target)
    signer = roster.get(ban.envelope.sender)
    if signer is None:
        return Outcome(PENDING, f"ban signer {ban.envelope.sender} is not known (yet)", target)
    eligible = {m.peer_id for m in roster.members() if m.tier == MEMBER} - {target}
    approvals = ban.approvers() & eligible
    need = bans.needed(len(eligible))
    if len(approvals) < need:
        if ban.approvers() - eligible - {target}:
            # approvers we do not know, or know only as neophytes, may be members by
            # evidence not applied yet
            return Outcome(PENDING, f"{len(approvals)} approvals of {need}; others pending", target)
        return Outcome(
            REJECTED,
            f"{len(approvals)} approvals of {need} needed ({len(eligible)} eligible)",
            target,
        )
    if not roster.is_member(target):
        return Outcome(PENDING, f"{target} is not in the roster (yet)", target)
    return Outcome(APPLIED, None, target)


def apply(
    roster: Roster, conn: sqlite3.Connection, env: Envelope, hive_id: str, now: float
) -> Outcome:
    """Decide ``env`` and record it (and its roster change) inside ``conn``'s transaction."""
    outcome = decide(roster, env, hive_id)
    if outcome.status == APPLIED:
        if env.type == GENESIS:
            roster.add(conn, env.sender, MEMBER, env.ts, env.sender, env.msg_id)
            roster.set_meta(conn, "genesis", env.msg_id)
        elif env.type == MEMBER_LEFT:
            roster.remove(conn, env.sender)
        elif env.type == BAN:
            roster.remove(conn, outcome.subject)
            bans.record_ban(conn, bans.check_ban(env))
        elif env.type == PROMOTION:
            roster.set_tier(conn, outcome.subject, MEMBER)
        else:
            roster.add(conn, outcome.subject, NEOPHYTE, env.ts, env.sender, env.msg_id)
    roster.record_evidence(conn, env, outcome.subject, outcome.status, outcome.reason, now)
    return outcome


_RANK = {GENESIS: 0, WELCOME: 1, PROMOTION: 2, MEMBER_LEFT: 3, BAN: 4}
"""Order of evidence with the same ``ts``: admission, promotion, leave, ban."""


def settle_pending(roster: Roster, hive_id: str, now: float) -> int:
    """Retry pending evidence in causal order — by ``ts``, admissions before leaves of
    the same second — until nothing more applies; return how many applied."""
    applied = 0
    while True:
        progress = False
        rows = sorted(
            roster.evidence_list(PENDING), key=lambda r: (r.ts, _RANK.get(r.type, 9), r.msg_id)
        )
        for row in rows:
            with roster.store.transaction() as conn:
                outcome = apply(roster, conn, row.envelope, hive_id, now)
            if outcome.status == APPLIED:
                applied += 1
                progress = True
        if not progress:
            return applied
