"""HiveMap gossip and record anti-entropy for :class:`~lnhive.fleet.hive.Hive`.

Our own record is rebuilt from the node (:func:`lnhive.fleet.hivemap.snapshot`) at most
every minute (or every heartbeat, if shorter) and gossiped when it changed meaningfully
— capacity to members by more than ``hive-gossip-threshold``, the fee policy, the
external peers, the members we are connected to, addresses or liquidity needs — or
when the heartbeat is due, never twice within :data:`MIN_GOSSIP_INTERVAL_S`. Each
gossip carries a new ``version`` = max(previous + 1, now in unix seconds), so a node
that lost its database still out-versions what its peers remember.

A gossip goes to every connected member with ``ttl`` 3; members relay it only toward
connected members that the origin's own record does not list as its peers
(:meth:`Hive.relay`). ``fleet.state_versions`` exchanges repair whatever that missed
(see :mod:`lnhive.fleet.rostersync`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lnhive.fleet import hivemap, rostersync
from lnhive.fleet.envelope import Envelope, new_envelope
from lnhive.fleet.refused import Refused
from lnhive.fleet.wire import encode_frame

if TYPE_CHECKING:
    from lnhive.fleet.hive import Hive

MIN_GOSSIP_INTERVAL_S = 10.0
MAX_CHECK_INTERVAL_S = 60.0


class StateSync:
    """The HiveMap side of a :class:`~lnhive.fleet.hive.Hive`."""

    def __init__(self, hive: Hive) -> None:
        self.h = hive
        self.last_check = float("-inf")

    def on_state_versions(self, peer: str, env: Envelope, now: float) -> None:
        hive_id, theirs, reply = rostersync.check_state_versions(env.body)
        self.h.same_hive(hive_id)
        members = self.h.member_ids()
        ours = {p: v for p, v in self.h.hivemap.versions().items() if p in members}
        sent = 0
        for row in self.h.hivemap.all():
            if row.peer_id in members and row.version > theirs.get(row.peer_id, 0):
                # we hand it over as a relay (path [us], ttl 0: not relayed further)
                path = () if row.peer_id == self.h.me else (self.h.me,)
                self.h.send_frame(peer, encode_frame(row.envelope, ttl=0, path=path))
                sent += 1
        newer_there = any(v > ours.get(p, 0) for p, v in theirs.items() if p in members)
        if newer_there and not reply:
            self.send_versions(peer, hive_id, reply=True)
        self.h.log("debug", f"sync: sent {sent} record(s) to {peer}")

    def send_versions(self, peer: str, hive_id: str, *, reply: bool) -> None:
        members = self.h.member_ids()
        versions = {p: v for p, v in self.h.hivemap.versions().items() if p in members}
        body = rostersync.state_versions_body(hive_id, versions, reply)
        self.h.send_direct(
            peer,
            new_envelope(self.h.node, self.h.me, rostersync.STATE_VERSIONS, body, self.h.now()),
        )

    def on_gossip(self, peer: str, env: Envelope, now: float) -> None:
        hivemap.check_record(env.body)
        if env.sender == self.h.me:
            raise Refused("own_record", "our own record came back")
        if self.h.hivemap.offer(env, now):
            self.h.stats["gossip.applied"] += 1
        else:
            self.h.stats["gossip.not_newer"] += 1

    def summary(self, peer_id: str, now: float) -> dict[str, Any] | None:
        """What ``hive-members`` shows of a member's record (``None`` before its first)."""
        state = self.h.hivemap.get(peer_id)
        if state is None:
            return None
        rec = state.record
        return {
            "version": state.version,
            "updated_at": state.ts,
            "stale": state.stale(now),
            "capacity_sats": rec["capacity_sats"],
            "available_sats": rec["available_sats"],
            "channel_count": rec["channel_count"],
            "fee_policy": rec["fee_policy"],
            "health": rec["health"],
            "hive_peers": len(rec["hive_peers"]),
            "external_peers": len(rec["topology"]),
        }

    def fleet_hash(self) -> str:
        return self.h.hivemap.fleet_hash(self.h.member_ids())

    def gossip_now(self, reason: str = "forced") -> dict[str, Any]:
        """Build, sign, store and broadcast our record now."""
        with self.h.lock:
            self.h.require_admitted()
            return self.gossip(self.h.now(), reason)

    def gossip(self, now: float, reason: str) -> dict[str, Any]:
        members = self.h.member_ids()
        snap = hivemap.snapshot(self.h.node, self.h.me, members, [])
        own = self.h.hivemap.get(self.h.me)
        version = max((own.version + 1) if own else 1, int(now))
        body = {"version": version, **snap.body}
        env = new_envelope(self.h.node, self.h.me, hivemap.GOSSIP, body, now)
        self.h.hivemap.offer(env, now)
        sent = self.h.broadcast(env)
        self.h.log("debug", f"gossip: version {version} ({reason}) to {sent} member(s)")
        return {"version": version, "reason": reason, "sent_to": sent}

    def maybe_gossip(self, now: float) -> None:
        check_every = min(MAX_CHECK_INTERVAL_S, self.h.options.heartbeat_s)
        if now - self.last_check < check_every:
            return
        self.last_check = now
        own = self.h.hivemap.get(self.h.me)
        if own is not None and now - own.ts < MIN_GOSSIP_INTERVAL_S:
            return
        snap = hivemap.snapshot(self.h.node, self.h.me, self.h.member_ids(), [])
        reason = snap.differs(None if own is None else own.record, self.h.options.gossip_threshold)
        if reason is None and own is not None and now - own.ts >= self.h.options.heartbeat_s:
            reason = "heartbeat"
        if reason is not None:
            self.gossip(now, reason)
