"""Per-node records: forwards, outgoing payment parts (sendpays), HTLC history, indexes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lnhive.sim.network.events import ms_time


@dataclass(slots=True)
class Counter:
    """A 1-based monotonically increasing index (created_index / updated_index)."""

    value: int = 0

    def next(self) -> int:
        self.value += 1
        return self.value


@dataclass(slots=True)
class Forward:
    payment_hash: str
    in_channel: str
    in_htlc_id: int
    in_msat: int
    received_time: float
    created_index: int
    out_channel: str | None = None
    out_htlc_id: int | None = None
    out_msat: int | None = None
    status: str = "offered"
    resolved_time: float | None = None
    updated_index: int | None = None
    failcode: int | None = None
    failreason: str | None = None
    preimage: str | None = None

    def to_json(self, *, notification: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if notification:
            out["payment_hash"] = self.payment_hash
        out["created_index"] = self.created_index
        if self.updated_index is not None:
            out["updated_index"] = self.updated_index
        out["in_channel"] = self.in_channel
        out["in_htlc_id"] = self.in_htlc_id
        out["in_msat"] = self.in_msat
        if self.out_channel is not None:
            out["out_channel"] = self.out_channel
            if self.out_htlc_id is not None:
                out["out_htlc_id"] = self.out_htlc_id
            if self.out_msat is not None:
                out["out_msat"] = self.out_msat
                out["fee_msat"] = self.in_msat - self.out_msat
        out["status"] = self.status
        out["style"] = "tlv"
        out["received_time"] = ms_time(self.received_time)
        resolved_states = (
            ("settled", "failed", "local_failed") if notification else ("settled", "failed")
        )
        if self.resolved_time is not None and self.status in resolved_states:
            out["resolved_time"] = ms_time(self.resolved_time)
        if self.failcode is not None and self.status in ("failed", "local_failed"):
            out["failcode"] = self.failcode
            if self.failreason is not None:
                out["failreason"] = self.failreason
        if notification and self.status == "settled" and self.preimage is not None:
            out["preimage"] = self.preimage
        return out


@dataclass(slots=True)
class SendPay:
    """One payment part a node sent (listsendpays / waitsendpay / sendpay_* notifications)."""

    created_index: int
    id: int
    groupid: int
    partid: int
    payment_hash: str
    amount_msat: int
    amount_sent_msat: int
    destination: str
    created_at: int
    status: str = "pending"
    label: str | None = None
    bolt11: str | None = None
    description: str | None = None
    updated_index: int | None = None
    completed_at: float | None = None
    payment_preimage: str | None = None
    #: The CLN error (code, message, data) of a failed part.
    error: tuple[int, str, dict[str, Any]] | None = None
    waiters: list[Any] = field(default_factory=list)

    def to_json(self, *, description: bool = True) -> dict[str, Any]:
        """The listsendpays entry (``description=False``: sendpay/waitsendpay's shape)."""
        out: dict[str, Any] = {
            "created_index": self.created_index,
            "id": self.id,
            "groupid": self.groupid,
            "partid": self.partid,
            "payment_hash": self.payment_hash,
        }
        if self.updated_index is not None:
            out["updated_index"] = self.updated_index
        out["status"] = self.status
        out["amount_msat"] = self.amount_msat
        out["destination"] = self.destination
        out["created_at"] = self.created_at
        out["amount_sent_msat"] = self.amount_sent_msat
        if self.label is not None:
            out["label"] = self.label
        if self.bolt11 is not None:
            out["bolt11"] = self.bolt11
        if description and self.description is not None:
            out["description"] = self.description
        if self.status == "complete":
            if self.completed_at is not None:
                out["completed_at"] = int(self.completed_at)
            out["payment_preimage"] = self.payment_preimage
        return out


@dataclass(slots=True)
class HtlcRecord:
    """An HTLC as listhtlcs shows it, from one node's point of view."""

    short_channel_id: str
    created_index: int
    id: int
    expiry: int
    amount_msat: int
    direction: str
    payment_hash: str
    state: str
    updated_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "short_channel_id": self.short_channel_id,
            "created_index": self.created_index,
        }
        if self.updated_index is not None:
            out["updated_index"] = self.updated_index
        out.update(
            id=self.id,
            expiry=self.expiry,
            amount_msat=self.amount_msat,
            direction=self.direction,
            payment_hash=self.payment_hash,
            state=self.state,
        )
        return out
