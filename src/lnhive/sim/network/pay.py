"""Payments as a node's pay commands make them: a ``listsendpays`` record per part
(:func:`sendpay_gen`) and pathfinding with retries (:func:`pay_gen`, used by xpay and
keysend). Both are generators over :func:`.payments.send_htlcs`'s hook points."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lnhive.sim.errors import RpcError
from lnhive.sim.network import failcodes as fc
from lnhive.sim.network.events import HookCall
from lnhive.sim.network.payments import (
    PAY_DESTINATION_PERM_FAIL,
    PAY_RHASH_ALREADY_USED,
    PAY_ROUTE_NOT_FOUND,
    PAY_ROUTE_TOO_EXPENSIVE,
    Failure,
    send_htlcs,
)
from lnhive.sim.network.records import SendPay
from lnhive.sim.network.routing import Hop, find_route, route_fee

if TYPE_CHECKING:
    from lnhive.sim.network.model import Network
    from lnhive.sim.network.nodes import Node


def new_sendpay(
    net: Network,
    payer: str,
    route: list[Hop],
    payment_hash: str,
    *,
    amount_msat: int | None = None,
    label: str | None = None,
    bolt11: str | None = None,
    description: str | None = None,
    partid: int = 0,
    groupid: int | None = None,
) -> SendPay:
    node = net.nodes[payer]
    gid = groupid if groupid is not None else node.next_groupid.next()
    idx = node.sendpay_created.next()
    sp = SendPay(
        idx,
        idx,
        gid,
        partid,
        payment_hash,
        amount_msat if amount_msat is not None else route[-1].amount_msat,
        route[0].amount_msat,
        route[-1].node_id,
        int(net.clock.now()),
        label=label,
        bolt11=bolt11,
        description=description,
    )
    node.sendpays.append(sp)
    node.sendpays_by_hash.setdefault(payment_hash, []).append(sp)
    return sp


def sendpay_gen(
    net: Network,
    payer: str,
    route: list[Hop],
    payment_hash: str,
    *,
    payment_secret: str | None = None,
    amount_msat: int | None = None,
    label: str | None = None,
    bolt11: str | None = None,
    description: str | None = None,
    partid: int = 0,
    groupid: int | None = None,
    keysend_preimage: str | None = None,
) -> Generator[HookCall, dict[str, Any], SendPay]:
    """One payment part with its listsendpays record; ``SendPay.error`` is set on failure."""
    node = net.nodes[payer]
    for old in node.sendpays_by_hash.get(payment_hash, ()):
        if old.status == "complete":
            if old.destination != route[-1].node_id:
                raise RpcError(PAY_RHASH_ALREADY_USED, f"Already succeeded to {old.destination}")
            return old
    sp = new_sendpay(
        net,
        payer,
        route,
        payment_hash,
        amount_msat=amount_msat,
        label=label,
        bolt11=bolt11,
        description=description,
        partid=partid,
        groupid=groupid,
    )
    total = amount_msat if payment_secret is not None else None
    preimage, failure = yield from send_htlcs(
        net,
        payer,
        route,
        payment_hash,
        payment_secret=payment_secret,
        total_msat=total,
        keysend_preimage=keysend_preimage,
    )
    finish_sendpay(net, node, sp, preimage, failure)
    return sp


def finish_sendpay(
    net: Network, node: Node, sp: SendPay, preimage: str | None, failure: Failure | None
) -> None:
    now = net.clock.now()
    sp.updated_index = node.sendpay_updated.next()
    if preimage is not None:
        sp.status = "complete"
        sp.payment_preimage = preimage
        sp.completed_at = now
        net.emit(node.node_id, "sendpay_success", sp.to_json())
    else:
        assert failure is not None
        sp.status = "failed"
        data = sp.to_json()
        data.update(failure.data())
        sp.error = (failure.code, failure.message, data)
        net.emit(
            node.node_id,
            "sendpay_failure",
            {"code": failure.code, "message": failure.message, "data": data},
        )
    for w in sp.waiters:
        w(sp)
    sp.waiters.clear()


@dataclass(slots=True)
class PayResult:
    preimage: str | None
    amount_msat: int
    amount_sent_msat: int
    failed_parts: int
    successful_parts: int
    parts: list[SendPay]
    error: RpcError | None
    created_at: float

    @property
    def ok(self) -> bool:
        return self.preimage is not None


def pay_gen(
    net: Network,
    payer: str,
    destination: str,
    amount_msat: int,
    payment_hash: str,
    *,
    payment_secret: str | None = None,
    keysend_preimage: str | None = None,
    final_cltv: int = 18,
    maxfee_msat: int | None = None,
    maxdelay: int | None = None,
    label: str | None = None,
    bolt11: str | None = None,
    description: str | None = None,
    max_attempts: int = 10,
) -> Generator[HookCall, dict[str, Any], PayResult]:
    """Find a route, send, and on a failure along the route avoid that channel and retry."""
    created = net.clock.now()
    exclude: set[str] = set()
    parts: list[SendPay] = []
    groupid = net.nodes[payer].next_groupid.next()
    last: Failure | None = None
    for attempt in range(max_attempts):
        route = find_route(
            net,
            payer,
            destination,
            amount_msat,
            final_cltv=final_cltv,
            exclude=exclude,
            max_delay=maxdelay,
        )
        if route is None:
            break
        fee = route_fee(route, amount_msat)
        if maxfee_msat is not None and fee > maxfee_msat:
            err = RpcError(
                PAY_ROUTE_TOO_EXPENSIVE,
                f"Route too expensive: fee {fee}msat exceeds maxfee {maxfee_msat}msat",
                {"fee_msat": fee},
            )
            return PayResult(None, amount_msat, 0, len(parts), 0, parts, err, created)
        sp = yield from sendpay_gen(
            net,
            payer,
            route,
            payment_hash,
            payment_secret=payment_secret,
            amount_msat=amount_msat,
            label=label,
            bolt11=bolt11,
            description=description,
            partid=attempt,
            groupid=groupid,
            keysend_preimage=keysend_preimage,
        )
        parts.append(sp)
        if sp.status == "complete":
            return PayResult(
                sp.payment_preimage,
                amount_msat,
                sp.amount_sent_msat,
                len(parts) - 1,
                1,
                parts,
                None,
                created,
            )
        assert sp.error is not None
        data = sp.error[2]
        last = Failure(
            data["erring_index"],
            data["erring_node"],
            data["erring_channel"],
            data["erring_direction"],
            data["failcode"],
            data["erring_index"] == len(route),
            "",
        )
        if last.final:
            err = RpcError(
                PAY_DESTINATION_PERM_FAIL,
                f"Destination said it doesn't know invoice: {fc.name(last.failcode)}",
                data,
            )
            return PayResult(None, amount_msat, 0, len(parts), 0, parts, err, created)
        exclude.add(f"{last.erring_channel}/{last.erring_direction}")
    if parts:
        msg = (
            f"Failed after {len(parts)} attempts. Last failure: "
            f"{fc.name(last.failcode) if last else 'none'}"
        )
        code = PAY_ROUTE_NOT_FOUND
    else:
        msg = "Failed: We could not find a usable set of paths to the destination"
        code = PAY_ROUTE_NOT_FOUND
    return PayResult(None, amount_msat, 0, len(parts), 0, parts, RpcError(code, msg), created)
