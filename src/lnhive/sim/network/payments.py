"""Hop-by-hop HTLC forwarding, written as generators that yield hook points.

:func:`send_htlcs` walks a route: at each hop the sending node checks its outgoing
channel (state, peer, fee, CLTV, htlc min/max, liquidity), adds the HTLC, and the
receiving node's ``htlc_accepted`` hook point is yielded; at the payee the invoice is
checked and ``invoice_payment`` is yielded. The driver sends back the hook chain's
result. Success settles the HTLCs backwards (balances move, forwards settle); failure
removes them and reports a BOLT 4 code the way CLN does (``erring_index`` etc.).

:func:`sendpay_gen` wraps it in a ``listsendpays`` record and the ``sendpay_*``
notifications; :func:`pay_gen` adds pathfinding and retries (xpay/keysend);
:func:`run_sync` drives any of them, answering every hook at once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lnhive.core.hashing import sha256
from lnhive.sim.errors import LIGHTNINGD, RpcError
from lnhive.sim.network import failcodes as fc
from lnhive.sim.network.channel import NORMAL, Channel
from lnhive.sim.network.events import CONTINUE, HookCall
from lnhive.sim.network.invoices import Invoice
from lnhive.sim.network.onion import KEYSEND_TLV, NEXT_ONION, scid_bytes, tlv, tu
from lnhive.sim.network.records import Forward, HtlcRecord
from lnhive.sim.network.routing import Hop

if TYPE_CHECKING:
    from lnhive.sim.network.model import Network
    from lnhive.sim.network.nodes import Node

PAY_UNPARSEABLE_ONION = 202
PAY_DESTINATION_PERM_FAIL = 203
PAY_TRY_OTHER_ROUTE = 204
PAY_ROUTE_NOT_FOUND = 205
PAY_ROUTE_TOO_EXPENSIVE = 206
PAY_INVOICE_EXPIRED = 207
PAY_NO_SUCH_PAYMENT = 208
PAY_UNSPECIFIED_ERROR = 209
PAY_STOPPED_RETRYING = 210
PAY_INVOICE_PAID = 219
PAY_RHASH_ALREADY_USED = 201

MIN_EXPIRY_BLOCKS = 3  # an outgoing HTLC must expire at least this far ahead

Hooks = Generator[HookCall, dict[str, Any], Any]
Answer = Callable[[HookCall], dict[str, Any]]


@dataclass(slots=True)
class Failure:
    """Why a payment attempt failed, as CLN's routing failure object describes it."""

    erring_index: int
    erring_node: str
    erring_channel: str
    erring_direction: int
    failcode: int
    final: bool
    detail: str

    @property
    def code(self) -> int:
        """CLN's error code: 203 for a permanent failure at the destination, else 204."""
        return (
            PAY_DESTINATION_PERM_FAIL
            if self.final and self.failcode & fc.PERM
            else PAY_TRY_OTHER_ROUTE
        )

    @property
    def message(self) -> str:
        return f"failed: {fc.name(self.failcode)} ({self.detail})"

    def data(self) -> dict[str, Any]:
        return {
            "erring_index": self.erring_index,
            "failcode": self.failcode,
            "failcodename": fc.name(self.failcode),
            "erring_node": self.erring_node,
            "erring_channel": self.erring_channel,
            "erring_direction": self.erring_direction,
        }


def run_sync(gen: Hooks, answer: Answer | None = None) -> Any:
    """Drive a payment generator to completion, answering each hook with ``answer(call)``
    (default: ``{"result": "continue"}``); returns the generator's result."""
    respond = answer or (lambda _call: CONTINUE)
    try:
        call = next(gen)
        while True:
            call = gen.send(respond(call))
    except StopIteration as stop:
        return stop.value


def _record_htlc(
    net: Network,
    node: Node,
    chan: Channel,
    htlc_id: int,
    amount: int,
    expiry: int,
    payment_hash: str,
    direction: str,
) -> HtlcRecord:
    rec = HtlcRecord(
        chan.scid or "",
        node.htlc_created.next(),
        htlc_id,
        expiry,
        amount,
        direction,
        payment_hash,
        "SENT_ADD_ACK_REVOCATION" if direction == "out" else "RCVD_ADD_ACK_REVOCATION",
    )
    node.htlcs.append(rec)
    return rec


def _resolve_htlc_record(node: Node, rec: HtlcRecord) -> None:
    rec.state = (
        "RCVD_REMOVE_ACK_REVOCATION" if rec.direction == "out" else "SENT_REMOVE_ACK_REVOCATION"
    )
    rec.updated_index = node.htlc_updated.next()


def _check_forward(
    net: Network,
    chan: Channel | None,
    sender: str,
    hop: Hop,
    in_amount: int,
    in_expiry: int,
    now: float,
) -> tuple[int, str] | None:
    """The failure (code, reason) node ``sender`` reports forwarding onto ``hop``, or None."""
    if chan is None or sender not in chan.node_ids or hop.node_id not in chan.node_ids:
        return fc.UNKNOWN_NEXT_PEER, "Unknown next peer"
    side = chan.side_of(sender)
    if chan.state != NORMAL:
        return fc.TEMPORARY_CHANNEL_FAILURE, f"Channel in state {chan.state}"
    if not net.is_connected(sender, hop.node_id):
        return fc.TEMPORARY_CHANNEL_FAILURE, "Peer not connected"
    pol = chan.policies[side]
    out_expiry = net.blockheight + hop.delay
    if not chan.accepts_fee(side, in_amount, hop.amount_msat, now):
        return fc.FEE_INSUFFICIENT, "Fee insufficient"
    if not chan.accepts_cltv(side, in_expiry - out_expiry, now):
        return fc.INCORRECT_CLTV_EXPIRY, "Expiry delta too small"
    if out_expiry < net.blockheight + MIN_EXPIRY_BLOCKS:
        return fc.EXPIRY_TOO_SOON, "Expiry too soon"
    if hop.amount_msat < pol.htlc_min_msat:
        return fc.AMOUNT_BELOW_MINIMUM, "HTLC amount below minimum"
    if hop.amount_msat > pol.htlc_max_msat:
        return fc.TEMPORARY_CHANNEL_FAILURE, "HTLC amount above maximum"
    if hop.amount_msat > chan.spendable(side):
        return fc.TEMPORARY_CHANNEL_FAILURE, "Capacity exceeded"
    return None


def _check_first_hop(
    net: Network, chan: Channel | None, payer: str, hop: Hop
) -> tuple[int, str] | None:
    if chan is None or payer not in chan.node_ids or hop.node_id not in chan.node_ids:
        return fc.UNKNOWN_NEXT_PEER, "First peer not ready"
    side = chan.side_of(payer)
    if chan.state != NORMAL or not net.is_connected(payer, hop.node_id):
        return fc.TEMPORARY_CHANNEL_FAILURE, "First peer not ready"
    if hop.delay + net.blockheight < net.blockheight + MIN_EXPIRY_BLOCKS:
        return fc.EXPIRY_TOO_SOON, "Expiry too soon"
    if hop.amount_msat > chan.spendable(side):
        return fc.TEMPORARY_CHANNEL_FAILURE, "Capacity exceeded"
    return None


def _failure(route: list[Hop], payer: str, index: int, code: int, detail: str) -> Failure:
    n = len(route)
    node = payer if index == 0 else route[index - 1].node_id
    hop = route[index] if index < n else route[n - 1]
    return Failure(index, node, hop.scid, hop.direction, code, index == n, detail)


def send_htlcs(
    net: Network,
    payer: str,
    route: list[Hop],
    payment_hash: str,
    *,
    payment_secret: str | None = None,
    total_msat: int | None = None,
    keysend_preimage: str | None = None,
) -> Generator[HookCall, dict[str, Any], tuple[str | None, Failure | None]]:
    """Send one HTLC along ``route``; returns ``(preimage, None)`` or ``(None, failure)``."""
    if not route:
        raise RpcError(LIGHTNINGD, "Empty route")
    nodes = net.nodes
    clock = net.clock
    height = net.blockheight
    emit = net.has_subscribers
    n = len(route)
    added: list[tuple[Channel, Any, HtlcRecord, HtlcRecord]] = []
    forwards: list[tuple[str, Forward]] = []
    failure: Failure | None = None
    preimage: str | None = None

    first = net.by_scid.get(route[0].scid)
    err = _check_first_hop(net, first, payer, route[0])
    if err is not None:
        return None, _failure(route, payer, 0, err[0], err[1])

    for k, hop in enumerate(route):
        sender = payer if k == 0 else route[k - 1].node_id
        chan = net.by_scid.get(hop.scid)
        now = clock.now()
        fwd: Forward | None = None
        if k > 0:
            prev = route[k - 1]
            in_htlc = added[-1][1]
            snode = nodes[sender]
            err = _check_forward(net, chan, sender, hop, prev.amount_msat, height + prev.delay, now)
            fwd = Forward(
                payment_hash,
                prev.scid,
                in_htlc.id,
                prev.amount_msat,
                now,
                snode.forward_created.next(),
                out_channel=hop.scid,
                out_msat=hop.amount_msat,
            )
            snode.forwards.append(fwd)
            if err is not None:
                fwd.status = "local_failed"
                fwd.failcode, fwd.failreason = err
                fwd.resolved_time = now
                fwd.updated_index = snode.forward_updated.next()
                if emit:
                    net.emit(sender, "forward_event", fwd.to_json(notification=True))
                failure = _failure(route, payer, k, err[0], "reply from remote")
                break
        assert chan is not None
        side = chan.side_of(sender)
        expiry = height + hop.delay
        htlc = chan.add_htlc(side, hop.amount_msat, expiry, payment_hash)
        out_rec = _record_htlc(
            net, nodes[sender], chan, htlc.id, hop.amount_msat, expiry, payment_hash, "out"
        )
        in_rec = _record_htlc(
            net, nodes[hop.node_id], chan, htlc.id, hop.amount_msat, expiry, payment_hash, "in"
        )
        added.append((chan, htlc, out_rec, in_rec))
        if fwd is not None:
            fwd.out_htlc_id = htlc.id
            forwards.append((sender, fwd))
            if emit:
                net.emit(sender, "forward_event", fwd.to_json(notification=True))
        final = k == n - 1
        onion: dict[str, Any]
        if final:
            recs = [(2, tu(hop.amount_msat)), (4, tu(expiry))]
            onion = {"type": "tlv", "forward_msat": hop.amount_msat, "outgoing_cltv_value": expiry}
            if payment_secret is not None:
                tot = total_msat if total_msat is not None else hop.amount_msat
                recs.append((8, bytes.fromhex(payment_secret) + tu(tot)))
                onion.update(total_msat=tot, payment_secret=payment_secret)
            if keysend_preimage is not None:
                recs.append((KEYSEND_TLV, bytes.fromhex(keysend_preimage)))
            onion["payload"] = tlv(recs)
        else:
            nxt = route[k + 1]
            out_expiry = height + nxt.delay
            onion = {
                "payload": tlv(
                    [(2, tu(nxt.amount_msat)), (4, tu(out_expiry)), (6, scid_bytes(nxt.scid))]
                ),
                "type": "tlv",
                "short_channel_id": nxt.scid,
                "next_node_id": nxt.node_id,
                "forward_msat": nxt.amount_msat,
                "outgoing_cltv_value": out_expiry,
            }
        onion["next_onion"] = NEXT_ONION
        onion["shared_secret"] = sha256(bytes.fromhex(payment_hash) + k.to_bytes(2, "big")).hex()
        params: dict[str, Any] = {
            "peer_id": sender,
            "onion": onion,
            "htlc": {
                "short_channel_id": hop.scid,
                "id": htlc.id,
                "amount_msat": hop.amount_msat,
                "cltv_expiry": expiry,
                "cltv_expiry_relative": hop.delay,
                "payment_hash": payment_hash,
            },
        }
        if not final:
            nchan = net.by_scid.get(route[k + 1].scid)
            if nchan is not None:
                params["forward_to"] = nchan.channel_id
        result = yield HookCall(hop.node_id, "htlc_accepted", params)
        kind = result.get("result")
        if kind == "continue":
            continue
        if kind == "fail":
            if "failure_message" in result:
                code = fc.code_of(str(result["failure_message"]))
            else:
                code = fc.TEMPORARY_NODE_FAILURE
            if not final:
                rnode = nodes[hop.node_id]
                now = clock.now()
                lf = Forward(
                    payment_hash,
                    hop.scid,
                    htlc.id,
                    hop.amount_msat,
                    now,
                    rnode.forward_created.next(),
                    out_channel=route[k + 1].scid,
                    out_msat=route[k + 1].amount_msat,
                    status="local_failed",
                    resolved_time=now,
                    failcode=code,
                    failreason="rejected by htlc_accepted hook",
                )
                lf.updated_index = rnode.forward_updated.next()
                rnode.forwards.append(lf)
                if emit:
                    net.emit(hop.node_id, "forward_event", lf.to_json(notification=True))
            failure = _failure(route, payer, k + 1, code, "reply from remote")
            break
        if kind == "resolve":
            key = str(result.get("payment_key", ""))
            if sha256(bytes.fromhex(key)).hex() != payment_hash:
                raise ValueError("htlc_accepted resolve: payment_key does not match payment_hash")
            preimage = key
            break
        raise ValueError(f"htlc_accepted: invalid result {result!r}")

    if failure is None and preimage is None:
        dest = route[-1]
        outcome = yield from _at_payee(
            net, dest, height, payment_hash, payment_secret, total_msat, keysend_preimage
        )
        if isinstance(outcome, str):
            preimage = outcome
        else:
            failure = _failure(route, payer, n, outcome, "reply from remote")

    now = clock.now()
    if preimage is not None:
        _settle(net, payer, route, added, forwards, preimage, now)
        return preimage, None
    assert failure is not None
    for chan, htlc, out_rec, in_rec in reversed(added):
        chan.fail_htlc(htlc)
        _resolve_htlc_record(nodes[chan.node_ids[htlc.from_side]], out_rec)
        _resolve_htlc_record(nodes[chan.node_ids[1 - htlc.from_side]], in_rec)
    for node_id, fwd in reversed(forwards):
        fwd.status = "failed"
        fwd.failcode = failure.failcode
        fwd.resolved_time = now
        fwd.updated_index = nodes[node_id].forward_updated.next()
        if emit:
            net.emit(node_id, "forward_event", fwd.to_json(notification=True))
    return None, failure


def _at_payee(
    net: Network,
    hop: Hop,
    height: int,
    payment_hash: str,
    payment_secret: str | None,
    total_msat: int | None,
    keysend_preimage: str | None,
) -> Generator[HookCall, dict[str, Any], str | int]:
    """Checks at the destination and its ``invoice_payment`` hook: preimage or failcode."""
    dest = net.nodes[hop.node_id]
    now = net.clock.now()
    amount = hop.amount_msat
    inv = dest.invoices.by_hash.get(payment_hash)
    if keysend_preimage is not None and inv is None:
        if sha256(bytes.fromhex(keysend_preimage)).hex() != payment_hash:
            return fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
        book = dest.invoices
        label = f"keysend-{now:.9f}"
        if label in book.by_label:  # a virtual clock can pay twice in one instant
            label = f"{label}-{book.created + 1}"
        inv = Invoice(
            label=label,
            payment_hash=payment_hash,
            preimage=keysend_preimage,
            payment_secret="00" * 32,
            amount_msat=amount,
            description="keysend",
            created_at=int(now),
            expires_at=int(now) + 3600,
            cltv=0,
            created_index=book.next_created(),
        )
        book.add(inv)
    if inv is None:
        return fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    if inv.status(now) != "unpaid":
        return fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    if keysend_preimage is None and payment_secret != inv.payment_secret:
        return fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    total = total_msat if total_msat is not None else amount
    if inv.amount_msat is not None and (total < inv.amount_msat or total > 2 * inv.amount_msat):
        return fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    if height + hop.delay < height + inv.cltv:
        return fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    result = yield HookCall(
        dest.node_id,
        "invoice_payment",
        {"payment": {"label": inv.label, "preimage": inv.preimage, "msat": amount}},
    )
    kind = result.get("result")
    if kind == "reject":
        if "failure_message" in result:
            return fc.code_of(str(result["failure_message"]))
        return fc.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    if kind != "continue":
        raise ValueError(f"invoice_payment: invalid result {result!r}")
    dest.invoices.mark_paid(inv, amount, net.clock.now())
    net.emit(
        dest.node_id,
        "invoice_payment",
        {"msat": amount, "preimage": inv.preimage, "label": inv.label},
    )
    return inv.preimage


def _coin(
    net: Network,
    node: Node,
    chan: Channel,
    *,
    credit: int,
    debit: int,
    tag: str,
    payment_hash: str,
    fees: int,
    now: float,
    extra: dict[str, Any] | None = None,
) -> None:
    payload: dict[str, Any] = {
        "version": 2,
        "coin_type": "bcrt",
        "node_id": node.node_id,
        "type": "channel_mvt",
        "created_index": node.coin_movements.next(),
        "account_id": chan.channel_id,
        "credit_msat": credit,
        "debit_msat": debit,
        "timestamp": int(now),
        "primary_tag": tag,
        "payment_hash": payment_hash,
        "fees_msat": fees,
    }
    if extra:
        payload.update(extra)
    net.emit(node.node_id, "coin_movement", payload)


def _settle(
    net: Network,
    payer: str,
    route: list[Hop],
    added: list[tuple[Channel, Any, HtlcRecord, HtlcRecord]],
    forwards: list[tuple[str, Forward]],
    preimage: str,
    now: float,
) -> None:
    nodes = net.nodes
    emit = net.has_subscribers
    for chan, htlc, out_rec, in_rec in reversed(added):
        chan.settle_htlc(htlc)
        _resolve_htlc_record(nodes[chan.node_ids[htlc.from_side]], out_rec)
        _resolve_htlc_record(nodes[chan.node_ids[1 - htlc.from_side]], in_rec)
    # forwards[j] was made at route hop j + 1: in over added[j], out over added[j + 1]
    for j in range(len(forwards) - 1, -1, -1):
        node_id, fwd = forwards[j]
        node = nodes[node_id]
        fwd.status = "settled"
        fwd.resolved_time = now
        fwd.preimage = preimage
        fwd.updated_index = node.forward_updated.next()
        fee = fwd.in_msat - (fwd.out_msat or 0)
        node.fees_collected_msat += fee
        if emit:
            net.emit(node.node_id, "forward_event", fwd.to_json(notification=True))
            in_chan = added[j][0]
            out_chan = added[j + 1][0]
            _coin(
                net,
                node,
                in_chan,
                credit=fwd.in_msat,
                debit=0,
                tag="routed",
                payment_hash=fwd.payment_hash,
                fees=fee,
                now=now,
            )
            _coin(
                net,
                node,
                out_chan,
                credit=0,
                debit=fwd.out_msat or 0,
                tag="routed",
                payment_hash=fwd.payment_hash,
                fees=fee,
                now=now,
            )
    if emit:
        last = added[-1][0]
        _coin(
            net,
            nodes[route[-1].node_id],
            last,
            credit=route[-1].amount_msat,
            debit=0,
            tag="invoice",
            payment_hash=added[-1][1].payment_hash,
            fees=0,
            now=now,
        )
        _coin(
            net,
            nodes[payer],
            added[0][0],
            credit=0,
            debit=route[0].amount_msat,
            tag="invoice",
            payment_hash=added[0][1].payment_hash,
            fees=route[0].amount_msat - route[-1].amount_msat,
            now=now,
        )
