"""Channels: funding, balances per side, reserves, per-direction policies and HTLCs in flight.

A channel's two endpoints are ordered as gossip orders them (``node_ids[0] < node_ids[1]``
by their compressed public keys), so "side" ``d`` is also the ``direction`` of the
channel_update that side publishes. Amounts are integer msat.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

OPENINGD = "OPENINGD"
AWAITING_LOCKIN = "CHANNELD_AWAITING_LOCKIN"
NORMAL = "CHANNELD_NORMAL"
SHUTTING_DOWN = "CHANNELD_SHUTTING_DOWN"
CLOSINGD_SIGEXCHANGE = "CLOSINGD_SIGEXCHANGE"
CLOSINGD_COMPLETE = "CLOSINGD_COMPLETE"
AWAITING_UNILATERAL = "AWAITING_UNILATERAL"
FUNDING_SPEND_SEEN = "FUNDING_SPEND_SEEN"
ONCHAIN = "ONCHAIN"

#: CLN's defaults for a new channel's policy (fee-base, fee-per-satoshi, cltv-delta).
DEFAULT_FEE_BASE_MSAT = 1000
DEFAULT_FEE_PPM = 10
DEFAULT_CLTV_DELTA = 34
DEFAULT_HTLC_MIN_MSAT = 0
#: Channel reserve each side must keep: 1% of capacity (CLN's default).
RESERVE_PERCENT = 1
DUST_LIMIT_MSAT = 546_000
MAX_ACCEPTED_HTLCS = 483
TO_SELF_DELAY = 6


@dataclass(frozen=True, slots=True)
class Policy:
    """One direction's forwarding policy (what its channel_update says)."""

    fee_base_msat: int
    fee_ppm: int
    cltv_delta: int
    htlc_min_msat: int
    htlc_max_msat: int
    timestamp: float
    ignore_fee_limits: bool = False

    def fee(self, amount_out_msat: int) -> int:
        """Fee this hop charges to forward ``amount_out_msat``: base + floor(out x ppm / 1e6)."""
        return self.fee_base_msat + amount_out_msat * self.fee_ppm // 1_000_000

    def updated(self, **changes: Any) -> Policy:
        return replace(self, **changes)


@dataclass(slots=True)
class Htlc:
    """An HTLC in flight on a channel, offered by side ``from_side``."""

    id: int
    from_side: int
    amount_msat: int
    expiry: int
    payment_hash: str
    created_index_by_side: tuple[int, int] = (0, 0)


@dataclass(slots=True)
class Channel:
    channel_id: str
    funding_txid: str
    funding_outnum: int
    capacity_sat: int
    node_ids: tuple[str, str]
    opener_side: int
    balance: list[int]
    policies: list[Policy]
    announce: bool = True
    pushed_msat: int = 0
    state: str = AWAITING_LOCKIN
    scid: str | None = None
    funding_height: int | None = None
    mindepth: int = 3
    opened_at: float = 0.0
    normal_since: float | None = None
    #: Past policies per side, oldest first; the newest equals ``policies[side]``.
    history: list[list[Policy]] = field(default_factory=lambda: [[], []])
    #: Policy still honoured until ``enforce_until[side]`` after a ``setchannel``.
    old_policy: list[Policy | None] = field(default_factory=lambda: [None, None])
    enforce_until: list[float] = field(default_factory=lambda: [0.0, 0.0])
    htlcs: dict[tuple[int, int], Htlc] = field(default_factory=dict)
    next_htlc_id: list[int] = field(default_factory=lambda: [0, 0])
    offered_count: list[int] = field(default_factory=lambda: [0, 0])
    offered_msat: list[int] = field(default_factory=lambda: [0, 0])
    fulfilled_count: list[int] = field(default_factory=lambda: [0, 0])
    fulfilled_msat: list[int] = field(default_factory=lambda: [0, 0])
    state_changes: list[dict[str, Any]] = field(default_factory=list)
    closer_side: int | None = None
    close_cause: str = "unknown"
    close_txid: str | None = None
    close_height: int | None = None
    unilateral: bool = False
    commitments: int = 1

    def __post_init__(self) -> None:
        for side in (0, 1):
            if not self.history[side]:
                self.history[side].append(self.policies[side])

    @property
    def capacity_msat(self) -> int:
        return self.capacity_sat * 1000

    @property
    def reserve_msat(self) -> int:
        """What each side must keep on its side of the channel (1% of capacity)."""
        return self.capacity_sat * RESERVE_PERCENT // 100 * 1000

    def side_of(self, node_id: str) -> int:
        if node_id == self.node_ids[0]:
            return 0
        if node_id == self.node_ids[1]:
            return 1
        raise KeyError(node_id)

    def peer_of(self, node_id: str) -> str:
        return self.node_ids[1 - self.side_of(node_id)]

    def spendable(self, side: int) -> int:
        """What ``side`` can still offer now: its balance minus its reserve (HTLCs in
        flight are already off its balance)."""
        spend = self.balance[side] - self.reserve_msat
        return spend if spend > 0 else 0

    def receivable(self, side: int) -> int:
        return self.spendable(1 - side)

    def inflight_msat(self) -> int:
        return sum(h.amount_msat for h in self.htlcs.values())

    def set_policy(self, side: int, policy: Policy, enforce_until: float) -> None:
        """Replace ``side``'s policy; the previous one stays acceptable until ``enforce_until``."""
        self.old_policy[side] = self.policies[side]
        self.enforce_until[side] = enforce_until
        self.policies[side] = policy
        self.history[side].append(policy)

    def accepts_fee(self, side: int, amount_in: int, amount_out: int, now: float) -> bool:
        """Does forwarding ``amount_in`` → ``amount_out`` pay ``side``'s fee (or the previous
        fee while ``enforcedelay`` has not passed)?"""
        paid = amount_in - amount_out
        if paid >= self.policies[side].fee(amount_out):
            return True
        old = self.old_policy[side]
        return old is not None and now < self.enforce_until[side] and paid >= old.fee(amount_out)

    def accepts_cltv(self, side: int, delta: int, now: float) -> bool:
        if delta >= self.policies[side].cltv_delta:
            return True
        old = self.old_policy[side]
        return old is not None and now < self.enforce_until[side] and delta >= old.cltv_delta

    def add_htlc(self, from_side: int, amount_msat: int, expiry: int, payment_hash: str) -> Htlc:
        hid = self.next_htlc_id[from_side]
        self.next_htlc_id[from_side] = hid + 1
        htlc = Htlc(hid, from_side, amount_msat, expiry, payment_hash)
        self.htlcs[(from_side, hid)] = htlc
        self.balance[from_side] -= amount_msat
        self.offered_count[from_side] += 1
        self.offered_msat[from_side] += amount_msat
        self.commitments += 1
        return htlc

    def settle_htlc(self, htlc: Htlc) -> None:
        """Pay ``htlc`` to the receiving side (no-op if it already left, e.g. the channel
        closed on chain while a driver awaited a hook)."""
        if self.htlcs.pop((htlc.from_side, htlc.id), None) is None:
            return
        self.balance[1 - htlc.from_side] += htlc.amount_msat
        self.fulfilled_count[htlc.from_side] += 1
        self.fulfilled_msat[htlc.from_side] += htlc.amount_msat
        self.commitments += 1

    def fail_htlc(self, htlc: Htlc) -> None:
        """Return ``htlc`` to its sender (no-op if it already left)."""
        if self.htlcs.pop((htlc.from_side, htlc.id), None) is None:
            return
        self.balance[htlc.from_side] += htlc.amount_msat
        self.commitments += 1


def default_policy(capacity_sat: int, now: float) -> Policy:
    return Policy(
        fee_base_msat=DEFAULT_FEE_BASE_MSAT,
        fee_ppm=DEFAULT_FEE_PPM,
        cltv_delta=DEFAULT_CLTV_DELTA,
        htlc_min_msat=DEFAULT_HTLC_MIN_MSAT,
        htlc_max_msat=capacity_sat * 1000,
        timestamp=now,
    )
