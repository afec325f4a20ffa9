"""Promotion and bans for :class:`~lnhive.fleet.hive.Hive` (formats in
:mod:`lnhive.fleet.promotion` and :mod:`lnhive.fleet.bans`).

Vouches, like ban proposals and votes, are origin-signed and relayed to every member;
whoever first sees a quorum of vouches signs the ``fleet.promotion`` evidence.

Proposals and votes are origin-signed and relayed to every member. Each node keeps
them in its ballot box and, whenever one arrives, checks the threshold; the first to
see it reached signs the ``fleet.ban`` evidence (proposal and approving votes
embedded) and broadcasts it, and every node that applies it removes the target. A
vote that arrives after the ban passed, or after the proposal expired, changes
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lnhive.cln.api import NodeApi
from lnhive.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from lnhive.fleet import bans, eligibility, evidence, promotion
from lnhive.fleet.envelope import Envelope, check_signature, is_msg_id, is_node_id, new_envelope
from lnhive.fleet.refused import Refused
from lnhive.fleet.roster import APPLIED, MEMBER

if TYPE_CHECKING:
    from lnhive.fleet.hive import Hive

REQUEST = "fleet.promotion_request"


class Governance:
    def __init__(self, hive: Hive) -> None:
        self.h = hive
        self.box = bans.BallotBox(hive.store)
        self.vouches = promotion.VouchBook(hive.store)

    # -- operator

    def _require_member_tier(self) -> str:
        hive_id = self.h.require_admitted()
        if self.h.roster.tier(self.h.me) != MEMBER:
            raise Unauthorized("only members (not neophytes) may propose or vote on bans")
        return hive_id

    def propose_ban(self, peer_id: object, reason: object = "") -> dict[str, Any]:
        with self.h.lock:
            hive_id = self._require_member_tier()
            if not is_node_id(peer_id):
                raise InvalidInput("peer_id must be a node id (66 lowercase hex)")
            target = str(peer_id)
            if target == self.h.me:
                raise InvalidInput("a member cannot propose its own ban")
            if not self.h.roster.is_member(target):
                raise NotFound(f"{target} is not in this hive's roster")
            text = bans.check_reason(reason)
            now = self.h.now()
            latest = self.box.latest_for(target)
            if latest is not None:
                ts, status = latest
                if status == bans.OPEN and not self._expired(ts, now):
                    raise Conflict(f"a ban proposal against {target} is already open")
                if now - ts < bans.COOLDOWN_S:
                    raise Conflict(
                        f"a ban against {target} was proposed less than 7 days ago; "
                        "wait for the cooldown"
                    )
            body = bans.proposal_body(hive_id, target, text, now)
            env = new_envelope(self.h.node, self.h.me, bans.PROPOSAL, body, now)
            proposal = bans.check_proposal(env)
            self.box.add_proposal(proposal)
            sent = self.h.broadcast(env)
            self.h.log("info", f"ban: proposed banning {target} ({proposal.id}), sent to {sent}")
            self._check(proposal, now)
            return self._summary(proposal, now)

    def vote_ban(self, proposal_id: object, vote: object) -> dict[str, Any]:
        with self.h.lock:
            hive_id = self._require_member_tier()
            if not is_msg_id(proposal_id):
                raise InvalidInput("proposal_id must be 32 lowercase hex characters")
            if vote not in (bans.APPROVE, bans.REJECT):
                raise InvalidInput("vote must be approve or reject")
            found = self.box.proposal(str(proposal_id))
            if found is None:
                raise NotFound(f"no ban proposal {proposal_id} (see hive-pending-bans)")
            proposal, status = found
            now = self.h.now()
            if status != bans.OPEN or self._expired_p(proposal, now):
                raise Conflict(f"ban proposal {proposal.id} is closed ({status})")
            if proposal.target == self.h.me:
                raise Unauthorized("the target of a ban cannot vote on it")
            if self.h.me == proposal.proposer or any(
                v.voter == self.h.me for v in self.box.votes(proposal.id)
            ):
                raise Conflict("this node has already voted on this proposal")
            body = bans.vote_body(hive_id, proposal, str(vote))
            env = new_envelope(self.h.node, self.h.me, bans.VOTE, body, now)
            self.box.add_vote(bans.check_vote(env))
            self.h.broadcast(env)
            self.h.log("info", f"ban: voted {vote} on {proposal.id}")
            self._check(proposal, now)
            return self._summary(proposal, now)

    def pending(self) -> dict[str, Any]:
        with self.h.lock:
            now = self.h.now()
            out = [self._summary(p, now) for p, _ in self.box.open_proposals()]
            return {"count": len(out), "proposals": out, "banned": self.h.roster.banned()}

    def _summary(self, proposal: bans.Proposal, now: float) -> dict[str, Any]:
        found = self.box.proposal(proposal.id)
        status = found[1] if found else bans.OPEN
        if status == bans.OPEN and self._expired_p(proposal, now):
            status = bans.EXPIRED
        votes = self.box.votes(proposal.id)
        eligible = self._eligible(proposal.target)
        approvals = ({proposal.proposer} | {v.voter for v in votes if v.vote == bans.APPROVE}) & (
            eligible
        )
        return {
            "proposal_id": proposal.id,
            "target": proposal.target,
            "proposer": proposal.proposer,
            "reason": proposal.reason,
            "proposed_at": proposal.envelope.ts,
            "expires_at": proposal.expires_at,
            "status": status,
            "approvals": len(approvals),
            "rejections": sum(1 for v in votes if v.vote == bans.REJECT),
            "needed": bans.needed(len(eligible)),
            "eligible": len(eligible),
        }

    # -- promotion

    def vouch(self, peer_id: object) -> dict[str, Any]:
        with self.h.lock:
            hive_id = self._require_member_tier()
            target = self._neophyte(peer_id)
            now = self.h.now()
            env = new_envelope(
                self.h.node, self.h.me, promotion.VOUCH, promotion.vouch_body(hive_id, target), now
            )
            self.vouches.add(promotion.check_vouch(env))
            sent = self.h.broadcast(env)
            self.h.log("info", f"promotion: vouched for {target}, sent to {sent}")
            promoted = self._check_promotion(hive_id, target, now)
            return self._vouch_summary(target, now) | {"promoted": promoted}

    def force_promote(self, peer_id: object) -> dict[str, Any]:
        with self.h.lock:
            hive_id = self._require_member_tier()
            target = self._neophyte(peer_id)
            members = sum(1 for m in self.h.roster.members() if m.tier == MEMBER)
            if members >= promotion.MIN_VOUCH_COUNT:
                raise Conflict(
                    f"the hive has {members} members: promotion needs vouches now "
                    "(hive-vouch); force-promote is for bootstrapping only"
                )
            now = self.h.now()
            body = promotion.promotion_body(hive_id, target, [])
            env = new_envelope(self.h.node, self.h.me, promotion.PROMOTION, body, now)
            status = self.h.membership.apply_evidence(env, hive_id, now)
            if status != APPLIED:
                raise Conflict(f"promotion of {target} was not applied ({status})")
            self.h.broadcast(env)
            return {"promoted": target, "tier": MEMBER, "msg_id": env.msg_id}

    def _neophyte(self, peer_id: object) -> str:
        if not is_node_id(peer_id):
            raise InvalidInput("peer_id must be a node id (66 lowercase hex)")
        target = str(peer_id)
        if target == self.h.me:
            raise InvalidInput("a member cannot vouch for or promote itself")
        tier = self.h.roster.tier(target)
        if tier is None:
            raise NotFound(f"{target} is not in this hive's roster")
        if tier != "neophyte":
            raise Conflict(f"{target} is already a member")
        return target

    def _vouch_summary(self, target: str, now: float) -> dict[str, Any]:
        members = {m.peer_id for m in self.h.roster.members() if m.tier == MEMBER}
        vouchers = {v.voucher for v in self.vouches.for_target(target, now)} & members
        return {
            "target": target,
            "tier": self.h.roster.tier(target),
            "vouches": len(vouchers),
            "needed": promotion.quorum(len(members)),
        }

    def _check_promotion(self, hive_id: str, target: str, now: float) -> bool:
        if self.h.roster.tier(target) != "neophyte":
            return False
        members = {m.peer_id for m in self.h.roster.members() if m.tier == MEMBER}
        valid = [v for v in self.vouches.for_target(target, now) if v.voucher in members]
        if len(valid) < promotion.quorum(len(members)):
            return False
        body = promotion.promotion_body(hive_id, target, valid)
        env = new_envelope(self.h.node, self.h.me, promotion.PROMOTION, body, now)
        if self.h.membership.apply_evidence(env, hive_id, now) != APPLIED:
            return False
        self.h.broadcast(env)
        self.h.log("info", f"promotion: {target} promoted with {len(valid)} vouches")
        return True

    def request_promotion(self) -> dict[str, Any]:
        """A neophyte asks the members to evaluate it (auto-vouch)."""
        with self.h.lock:
            hive_id = self.h.require_admitted()
            if self.h.roster.tier(self.h.me) != "neophyte":
                raise Conflict("this node is already a member")
            env = new_envelope(self.h.node, self.h.me, REQUEST, {"hive_id": hive_id}, self.h.now())
            sent = self.h.broadcast(env)
            return {"request_id": env.msg_id, "sent_to": sent}

    def eligibility(self, target: str, now: float) -> dict[str, Any]:
        member = self.h.roster.get(target)
        if member is None:
            raise NotFound(f"{target} is not in this hive's roster")
        own = self.h.hivemap.get(target)
        others: set[str] = set()
        for row in self.h.hivemap.all():
            if row.peer_id != target:
                others.update(row.record.get("topology", []))
        result = eligibility.evaluate(
            joined_at=member.joined_at,
            now=now,
            uptime=self.h.presence.uptime(target, member.joined_at, now),
            contribution=self.h.contribution.totals(target),
            own_peers=set(own.record.get("topology", [])) if own else set(),
            others_peers=others,
            criteria=self.h.options.criteria(),
        )
        return {"peer_id": target, "tier": member.tier, **result}

    def contribution_report(self, peer_id: object = None) -> dict[str, Any]:
        with self.h.lock:
            self.h.require_admitted()
            now = self.h.now()
            if peer_id is not None:
                if not is_node_id(peer_id):
                    raise InvalidInput("peer_id must be a node id (66 lowercase hex)")
                return {"peers": [self.eligibility(str(peer_id), now)]}
            peers = [m.peer_id for m in self.h.roster.members() if m.peer_id != self.h.me]
            return {"peers": [self.eligibility(p, now) for p in peers]}

    def on_promotion_request(self, peer: str, env: Envelope, now: float) -> None:
        if set(env.body) != {"hive_id"}:
            raise Refused("malformed", f"{REQUEST} body must be exactly {{hive_id}}")
        self.h.same_hive(str(env.body["hive_id"]))
        target = env.sender
        if self.h.roster.tier(target) != "neophyte":
            raise Refused("not_neophyte", f"promotion request from {target}, not a neophyte")
        if not self.h.options.auto_vouch or self.h.roster.tier(self.h.me) != MEMBER:
            return
        verdict = self.eligibility(target, now)
        failed = [k for k, c in verdict["checks"].items() if not c["ok"]]
        if failed:
            self.h.log("info", f"promotion: not vouching for {target}: {', '.join(failed)}")
            return
        self.vouch(target)

    def on_vouch(self, peer: str, env: Envelope, now: float) -> None:
        vouch = promotion.check_vouch(env)
        hive_id = self.h.same_hive(vouch.hive_id)
        if self.h.roster.tier(env.sender) != MEMBER:
            raise Refused("not_member_tier", f"vouch by {env.sender}, not a member")
        if self.h.roster.tier(vouch.target) != "neophyte":
            raise Refused("not_neophyte", f"vouch for {vouch.target}, not a neophyte")
        self.vouches.add(vouch)
        if self.h.options.auto_promote:
            self._check_promotion(hive_id, vouch.target, now)

    # -- inbound

    def on_proposal(self, peer: str, env: Envelope, now: float) -> None:
        proposal = bans.check_proposal(env)
        self.h.same_hive(proposal.hive_id)
        if self.h.roster.tier(env.sender) != MEMBER:
            raise Refused("not_member_tier", f"ban proposal by {env.sender}, not a member")
        if not self.h.roster.is_member(proposal.target):
            raise Refused("unknown_target", f"ban proposal against non-member {proposal.target}")
        self.box.add_proposal(proposal)
        self._check(proposal, now)

    def on_vote(self, peer: str, env: Envelope, now: float) -> None:
        vote = bans.check_vote(env)
        self.h.same_hive(vote.hive_id)
        if self.h.roster.tier(env.sender) != MEMBER:
            raise Refused("not_member_tier", f"ban vote by {env.sender}, not a member")
        found = self.box.proposal(vote.proposal_id)
        if found is not None:
            proposal, status = found
            if status != bans.OPEN or self._expired_p(proposal, now):
                raise Refused("ballot_closed", f"vote on closed proposal {proposal.id}")
            if env.ts > proposal.expires_at:
                raise Refused("ballot_closed", "vote cast after the deadline")
        self.box.add_vote(vote)
        if found is not None:
            self._check(found[0], now)

    # -- the threshold

    def _eligible(self, target: str) -> set[str]:
        return {m.peer_id for m in self.h.roster.members() if m.tier == MEMBER} - {target}

    @staticmethod
    def _expired(ts: int, now: float) -> bool:
        return now > ts + bans.PROPOSAL_TTL_S

    @staticmethod
    def _expired_p(proposal: bans.Proposal, now: float) -> bool:
        return now > proposal.expires_at

    def _check(self, proposal: bans.Proposal, now: float) -> None:
        """Sign and broadcast the ban once two thirds of the eligible members approve."""
        found = self.box.proposal(proposal.id)
        if found is None or found[1] != bans.OPEN or self._expired_p(proposal, now):
            return
        if self.h.roster.is_banned(proposal.target):
            self.box.set_status(proposal.id, bans.PASSED)
            return
        eligible = self._eligible(proposal.target)
        approving = [
            v
            for v in self.box.votes(proposal.id)
            if v.vote == bans.APPROVE and v.voter in eligible and v.voter != proposal.proposer
        ]
        approvers = {v.voter for v in approving} | ({proposal.proposer} & eligible)
        if len(approvers) < bans.needed(len(eligible)):
            return
        hive_id = self.h.same_hive(proposal.hive_id)
        env = new_envelope(
            self.h.node, self.h.me, bans.BAN, bans.ban_body(proposal, approving), now
        )
        status = self.h.membership.apply_evidence(env, hive_id, now)
        if status == APPLIED:
            self.box.set_status(proposal.id, bans.PASSED)
            self.h.broadcast(env)
            self.h.log("info", f"ban: {proposal.target} banned ({len(approvers)} approvals)")

    def on_ban_applied(self, ban: bans.Ban) -> None:
        """A ban arrived as evidence: close its proposal here too."""
        self.box.add_proposal(ban.proposal)
        self.box.set_status(ban.proposal.id, bans.PASSED)
        self.h.hivemap.forget({ban.target})


def verify_nested(node: NodeApi, env: Envelope) -> None:
    """Check every signature embedded in evidence: a ban's proposal and votes, a
    promotion's vouches."""
    if env.type == evidence.BAN:
        nested = bans.check_ban(env).nested()
    elif env.type == evidence.PROMOTION:
        nested = promotion.check_promotion(env).nested()
    else:
        return
    for inner in nested:
        check_signature(node, inner)
