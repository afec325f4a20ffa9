"""The invoice and payment commands of :class:`~.commands.NodeCommands`, as a mixin:
invoice, listinvoices, waitinvoice, delinvoice, decode, xpay, pay, keysend, sendpay,
waitsendpay, listsendpays, listpays, delpay, getroute, getroutes.

Arguments arrive bound and converted by :func:`lnhive.sim.params.bind_params`
(amounts as integer msat, ``"any"`` where allowed). Commands whose work passes hook
points (the payments) are generator functions: they yield
:class:`~.events.HookCall` and return the result object.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator
from typing import Any

from lnhive.core.hashing import sha256
from lnhive.sim.errors import INVALID_PARAMS, LIGHTNINGD, RpcError
from lnhive.sim.network import payviews
from lnhive.sim.network.events import HookCall
from lnhive.sim.network.invoices import (
    DEFAULT_CLTV,
    DEFAULT_EXPIRY,
    INVOICE_EXPIRED_DURING_WAIT,
    INVOICE_NOT_FOUND,
    Decoded,
    Invoice,
    create_invoice,
    decode,
)
from lnhive.sim.network.model import Network
from lnhive.sim.network.nodes import Node
from lnhive.sim.network.pay import PayResult, pay_gen, sendpay_gen
from lnhive.sim.network.payments import (
    PAY_INVOICE_EXPIRED,
    PAY_INVOICE_PAID,
    PAY_NO_SUCH_PAYMENT,
    PAY_ROUTE_NOT_FOUND,
    PAY_ROUTE_TOO_EXPENSIVE,
)
from lnhive.sim.network.routing import (
    Hop,
    find_route,
    getroutes_json,
    route_fee,
    route_probability,
)

Json = dict[str, Any]
Hooks = Generator[HookCall, dict[str, Any], Json]

INVOICE_STATUS_UNEXPECTED = 906
INVOICE_NO_DESCRIPTION = 908
KEYSEND_FINAL_CLTV = 22

# Invoices whose description ``delinvoice desconly`` removed, per network: (node, label).
_NO_DESCRIPTION: weakref.WeakKeyDictionary[Network, set[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def _fee_cap(amount: int, maxfee: int | None, pct: float | None, exempt: int | None) -> int:
    """pay/keysend's fee budget: ``maxfee``, else ``maxfeepercent`` (0.5) of the amount
    with fees up to ``exemptfee`` (5000msat) always allowed."""
    if maxfee is not None:
        return maxfee
    percent = 0.5 if pct is None else pct
    return max(5000 if exempt is None else exempt, int(amount * percent / 100))


class PaymentCommands:
    """Invoice and payment commands of one node; needs ``net`` and ``node_id``."""

    net: Network
    node_id: str

    @property
    def _node(self) -> Node:
        return self.net.nodes[self.node_id]

    # -- invoices ----------------------------------------------------------------
    def _invoice_json(self, inv: Invoice) -> Json:
        out: Json = inv.to_json(self.net.clock.now())
        if (self.node_id, inv.label) in _NO_DESCRIPTION.get(self.net, ()):
            out.pop("description", None)
        return out

    def invoice(
        self,
        *,
        amount_msat: int | str,
        label: str | int,
        description: str,
        expiry: int | None = None,
        fallbacks: list[str] | None = None,
        preimage: str | None = None,
        exposeprivatechannels: Any = None,
        cltv: int | None = None,
        deschashonly: bool | None = None,
    ) -> Json:
        inv = create_invoice(
            self.net,
            self.node_id,
            amount_msat=None if amount_msat == "any" else int(amount_msat),
            label=str(label),
            description=description,
            expiry=DEFAULT_EXPIRY if expiry is None else expiry,
            preimage=preimage,
            cltv=DEFAULT_CLTV if cltv is None else cltv,
        )
        return {
            "bolt11": inv.bolt11,
            "payment_hash": inv.payment_hash,
            "payment_secret": inv.payment_secret,
            "expires_at": inv.expires_at,
            "created_index": inv.created_index,
        }

    def listinvoices(
        self,
        *,
        label: str | int | None = None,
        invstring: str | None = None,
        payment_hash: str | None = None,
        offer_id: str | None = None,
        index: str | None = None,
        start: int | None = None,
        limit: int | None = None,
    ) -> Json:
        out = payviews.listinvoices(
            self.net, self.node_id, label, invstring, payment_hash, offer_id, index, start, limit
        )
        removed = _NO_DESCRIPTION.get(self.net, set())
        for item in out["invoices"]:
            if (self.node_id, item["label"]) in removed:
                item.pop("description", None)
        return out

    def waitinvoice(self, *, label: str | int) -> Json:
        """Answers at once: a paid invoice, 903 if expired, -1 if still unpaid (a driver
        that can block waits with ``InvoiceBook.wait`` instead)."""
        inv = self._node.invoices.by_label.get(str(label))
        if inv is None:
            raise RpcError(LIGHTNINGD, "Label not found")
        st = inv.status(self.net.clock.now())
        if st == "expired":
            raise RpcError(
                INVOICE_EXPIRED_DURING_WAIT, "invoice expired during wait", self._invoice_json(inv)
            )
        if st == "unpaid":
            raise RpcError(LIGHTNINGD, "invoice not paid (in-process waitinvoice cannot block)")
        return self._invoice_json(inv)

    def delinvoice(self, *, label: str | int, status: str, desconly: bool | None = None) -> Json:
        """Delete the invoice ``label`` if its status is ``status`` (CLN's 905/906/908);
        with ``desconly`` only its description goes."""
        book = self._node.invoices
        inv = book.by_label.get(str(label))
        if inv is None:
            raise RpcError(INVOICE_NOT_FOUND, "Unknown invoice")
        actual = inv.status(self.net.clock.now())
        if actual != status:
            raise RpcError(
                INVOICE_STATUS_UNEXPECTED,
                f"Invoice status is {actual} not {status}",
                {"current_status": actual, "expected_status": status},
            )
        if desconly:
            removed = _NO_DESCRIPTION.setdefault(self.net, set())
            if (self.node_id, inv.label) in removed:
                raise RpcError(INVOICE_NO_DESCRIPTION, "Invoice description already removed")
            removed.add((self.node_id, inv.label))
            return self._invoice_json(inv)
        out = self._invoice_json(inv)
        del book.by_label[inv.label]
        book.by_hash.pop(inv.payment_hash, None)
        _NO_DESCRIPTION.get(self.net, set()).discard((self.node_id, inv.label))
        return out

    def decode(self, *, string: str) -> Json:
        try:
            return decode(string, full=True).to_json()
        except ValueError as exc:
            raise RpcError(INVALID_PARAMS, f"string: {exc}") from None

    # -- paying --------------------------------------------------------------------
    def _decode_to_pay(self, name: str, invstring: str) -> Decoded:
        try:
            return decode(invstring)
        except ValueError as exc:
            raise RpcError(INVALID_PARAMS, f"{name}: {exc}") from None

    def _already_paid(self, payment_hash: str) -> None:
        for sp in self._node.sendpays_by_hash.get(payment_hash, ()):
            if sp.status == "complete":
                raise RpcError(PAY_INVOICE_PAID, "Already paid this invoice")

    def _pay_invoice(
        self, inv: Decoded, amount: int, fee_cap: int, maxdelay: int | None, label: str | None
    ) -> Generator[HookCall, dict[str, Any], PayResult]:
        res: PayResult = yield from pay_gen(
            self.net,
            self.node_id,
            inv.payee,
            amount,
            inv.payment_hash,
            payment_secret=inv.payment_secret,
            final_cltv=inv.min_final_cltv_expiry,
            maxfee_msat=fee_cap,
            maxdelay=maxdelay,
            label=label,
            bolt11=inv.bolt11,
            description=inv.description,
        )
        if res.error is not None:
            raise res.error
        return res

    def xpay(
        self,
        *,
        invstring: str,
        amount_msat: int | None = None,
        maxfee: int | None = None,
        layers: list[str] | None = None,
        retry_for: int | None = None,
        partial_msat: int | None = None,
        maxdelay: int | None = None,
        payer_note: str | None = None,
        label: str | None = None,
        localinvreqid: str | None = None,
        dev_use_shadow: bool | None = None,
    ) -> Hooks:
        inv = self._decode_to_pay("invstring", invstring)
        now = self.net.clock.now()
        if inv.created_at + inv.expiry <= now:
            raise RpcError(
                PAY_INVOICE_EXPIRED,
                "Invoice expired",
                {"now": int(now), "expiry": inv.created_at + inv.expiry},
            )
        if inv.amount_msat is None:
            if amount_msat is None:
                raise RpcError(
                    INVALID_PARAMS,
                    "amount_msat: Invoice has no amount, so you must specify amount_msat",
                )
            amount = amount_msat
        else:
            if amount_msat is not None:
                raise RpcError(
                    INVALID_PARAMS,
                    "amount_msat: Invoice has an amount, so you cannot specify amount_msat",
                )
            amount = inv.amount_msat
        self._already_paid(inv.payment_hash)
        fee_cap = max(5000, amount // 100) if maxfee is None else maxfee
        res = yield from self._pay_invoice(inv, amount, fee_cap, maxdelay, label)
        return {
            "payment_preimage": res.preimage,
            "failed_parts": res.failed_parts,
            "successful_parts": res.successful_parts,
            "amount_msat": res.amount_msat,
            "amount_sent_msat": res.amount_sent_msat,
        }

    def pay(
        self,
        *,
        bolt11: str,
        amount_msat: int | None = None,
        label: str | None = None,
        riskfactor: float | None = None,
        maxfeepercent: float | None = None,
        retry_for: int | None = None,
        maxdelay: int | None = None,
        exemptfee: int | None = None,
        localinvreqid: str | None = None,
        exclude: list[Any] | None = None,
        maxfee: int | None = None,
        description: str | None = None,
        partial_msat: int | None = None,
    ) -> Hooks:
        """The deprecated ``pay``, on the same pathfinding as xpay (CLN's texts)."""
        inv = self._decode_to_pay("bolt11", bolt11)
        if inv.created_at + inv.expiry < self.net.clock.now():
            raise RpcError(PAY_INVOICE_EXPIRED, "Invoice expired")
        if inv.amount_msat is not None:
            if amount_msat is not None:
                raise RpcError(INVALID_PARAMS, "msatoshi parameter unnecessary")
            amount = inv.amount_msat
        else:
            if amount_msat is None:
                raise RpcError(INVALID_PARAMS, "msatoshi parameter required")
            amount = amount_msat
        if partial_msat is not None:
            if partial_msat > amount:
                raise RpcError(
                    INVALID_PARAMS,
                    f"partial_msat must be less or equal to total amount {amount}msat",
                )
            if inv.payee == self.node_id:
                raise RpcError(INVALID_PARAMS, "partial_msat not supported (yet?) for self-pay")
        if maxfee is not None and (maxfeepercent is not None or exemptfee is not None):
            raise RpcError(
                INVALID_PARAMS,
                "If you specify maxfee, cannot specify maxfeepercent or exemptfee.",
            )
        self._already_paid(inv.payment_hash)
        fee_cap = _fee_cap(amount, maxfee, maxfeepercent, exemptfee)
        res = yield from self._pay_invoice(inv, amount, fee_cap, maxdelay, label)
        return {
            "payment_preimage": res.preimage,
            "destination": inv.payee,
            "payment_hash": inv.payment_hash,
            "created_at": res.created_at,
            "parts": len(res.parts),
            "amount_msat": res.amount_msat,
            "amount_sent_msat": res.amount_sent_msat,
            "status": "complete",
        }

    def keysend(
        self,
        *,
        destination: str,
        amount_msat: int,
        label: str | None = None,
        maxfeepercent: float | None = None,
        retry_for: int | None = None,
        maxdelay: int | None = None,
        exemptfee: int | None = None,
        routehints: list[Any] | None = None,
        extratlvs: dict[str, Any] | None = None,
        maxfee: int | None = None,
    ) -> Hooks:
        fee_cap = _fee_cap(amount_msat, maxfee, maxfeepercent, exemptfee)
        res, payment_hash = yield from self._spontaneous(
            destination, amount_msat, fee_cap, maxdelay, label
        )
        return {
            "payment_preimage": res.preimage,
            "destination": destination,
            "payment_hash": payment_hash,
            "created_at": res.created_at,
            "parts": res.successful_parts,
            "amount_msat": res.amount_msat,
            "amount_sent_msat": res.amount_sent_msat,
            "status": "complete",
        }

    def xkeysend(
        self,
        *,
        destination: str,
        amount_msat: int,
        label: str | None = None,
        maxfee: int | None = None,
        layers: list[str] | None = None,
        retry_for: int | None = None,
        maxdelay: int | None = None,
        extratlvs: dict[str, Any] | None = None,
    ) -> Hooks:
        """keysend's successor (v26.06), answering as xpay does; layers are ignored."""
        fee_cap = max(5000, amount_msat // 100) if maxfee is None else maxfee
        res, _hash = yield from self._spontaneous(
            destination, amount_msat, fee_cap, maxdelay, label
        )
        return {
            "payment_preimage": res.preimage,
            "failed_parts": res.failed_parts,
            "successful_parts": res.successful_parts,
            "amount_msat": res.amount_msat,
            "amount_sent_msat": res.amount_sent_msat,
        }

    def _spontaneous(
        self,
        destination: str,
        amount_msat: int,
        fee_cap: int,
        maxdelay: int | None,
        label: str | None,
    ) -> Generator[HookCall, dict[str, Any], tuple[PayResult, str]]:
        """A payment with a preimage of our own in the onion (keysend, xkeysend)."""
        preimage = self.net.rng.randbytes(32).hex()
        payment_hash = sha256(bytes.fromhex(preimage)).hex()
        res: PayResult = yield from pay_gen(
            self.net,
            self.node_id,
            destination,
            amount_msat,
            payment_hash,
            keysend_preimage=preimage,
            final_cltv=KEYSEND_FINAL_CLTV,
            maxfee_msat=fee_cap,
            maxdelay=maxdelay,
            label=label,
        )
        if res.error is not None:
            raise res.error
        return res, payment_hash

    def sendpay(
        self,
        *,
        route: list[Json],
        payment_hash: str,
        label: str | None = None,
        amount_msat: int | None = None,
        bolt11: str | None = None,
        payment_secret: str | None = None,
        partid: int | None = None,
        localinvreqid: str | None = None,
        groupid: int | None = None,
        payment_metadata: str | None = None,
        description: str | None = None,
        dev_legacy_hop: bool | None = None,
    ) -> Hooks:
        try:
            hops = [Hop.from_json(h) for h in route]
        except (KeyError, ValueError, TypeError) as exc:
            raise RpcError(INVALID_PARAMS, f"route: {exc}") from None
        if not hops:
            raise RpcError(INVALID_PARAMS, "Empty route")
        sp = yield from sendpay_gen(
            self.net,
            self.node_id,
            hops,
            payment_hash,
            payment_secret=payment_secret,
            amount_msat=amount_msat,
            label=label,
            bolt11=bolt11,
            description=description,
            partid=partid or 0,
            groupid=groupid,
        )
        if sp.status == "failed" and sp.error is not None and sp.error[2]["erring_index"] == 0:
            raise RpcError(*sp.error)
        out: Json = sp.to_json(description=False)
        if sp.status != "complete":
            out["status"] = "pending"
            out["message"] = "Monitor status with listpays or waitsendpay"
            out.pop("updated_index", None)
        return out

    def waitsendpay(
        self,
        *,
        payment_hash: str,
        timeout: int | None = None,
        partid: int | None = None,
        groupid: int | None = None,
    ) -> Json:
        parts = [
            s
            for s in self._node.sendpays_by_hash.get(payment_hash, ())
            if (partid is None or s.partid == partid) and (groupid is None or s.groupid == groupid)
        ]
        if not parts:
            raise RpcError(
                PAY_NO_SUCH_PAYMENT,
                f"Never attempted payment part {partid or 0} for '{payment_hash}'",
            )
        sp = parts[-1]
        if sp.status == "complete":
            return sp.to_json(description=False)
        if sp.status == "failed" and sp.error is not None:
            raise RpcError(*sp.error)
        raise RpcError(200, "Timed out")

    def listsendpays(
        self,
        *,
        bolt11: str | None = None,
        payment_hash: str | None = None,
        status: str | None = None,
        index: str | None = None,
        start: int | None = None,
        limit: int | None = None,
    ) -> Json:
        return payviews.listsendpays(
            self.net, self.node_id, bolt11, payment_hash, status, index, start, limit
        )

    def listpays(
        self,
        *,
        bolt11: str | None = None,
        payment_hash: str | None = None,
        status: str | None = None,
        index: str | None = None,
        start: int | None = None,
        limit: int | None = None,
    ) -> Json:
        return payviews.listpays(
            self.net, self.node_id, bolt11, payment_hash, status, index, start, limit
        )

    def delpay(
        self,
        *,
        payment_hash: str,
        status: str,
        partid: int | None = None,
        groupid: int | None = None,
    ) -> Json:
        """Delete the parts of ``payment_hash`` in ``status`` (one part with partid and
        groupid), as lightningd does; returns them as listsendpays shows them."""
        if (partid is None) != (groupid is None):
            raise RpcError(INVALID_PARAMS, "Must set both partid and groupid, or neither")
        node = self._node
        parts = node.sendpays_by_hash.get(payment_hash)
        if not parts:
            raise RpcError(
                PAY_NO_SUCH_PAYMENT, f"Unknown payment with payment_hash: {payment_hash}"
            )
        chosen, found = [], None
        for sp in parts:
            if groupid is not None and sp.groupid != groupid:
                continue
            if partid is not None and sp.partid != partid:
                continue
            if sp.status == status:
                chosen.append(sp)
            else:
                found = sp.status
        if not chosen:
            if found is not None:
                raise RpcError(
                    PAY_NO_SUCH_PAYMENT,
                    f"Payment with hash {payment_hash} has {found} status but it different "
                    f"from the one provided {status}",
                )
            raise RpcError(
                PAY_NO_SUCH_PAYMENT,
                "No payment for that payment_hash with that partid and groupid",
            )
        gone = {id(sp) for sp in chosen}
        node.sendpays = [sp for sp in node.sendpays if id(sp) not in gone]
        left = [sp for sp in parts if id(sp) not in gone]
        if left:
            node.sendpays_by_hash[payment_hash] = left
        else:
            del node.sendpays_by_hash[payment_hash]
        return {"payments": [sp.to_json(description=False) for sp in chosen]}

    # -- routes ----------------------------------------------------------------------
    def getroute(
        self,
        *,
        id: str,
        amount_msat: int,
        riskfactor: int,
        cltv: int | None = None,
        fromid: str | None = None,
        fuzzpercent: int | None = None,
        exclude: list[str] | None = None,
        maxhops: int | None = None,
    ) -> Json:
        return payviews.getroute(
            self.net,
            self.node_id,
            id,
            amount_msat,
            riskfactor,
            9 if cltv is None else cltv,
            fromid,
            exclude,
            maxhops,
        )

    def getroutes(
        self,
        *,
        source: str,
        destination: str,
        amount_msat: int,
        layers: list[str],
        maxfee_msat: int,
        final_cltv: int,
        maxdelay: int | None = None,
        maxparts: int | None = None,
    ) -> Json:
        exclude = self._node.layers.exclusions(layers)
        route = find_route(
            self.net, source, destination, amount_msat, final_cltv=final_cltv, exclude=exclude
        )
        if route is None:
            raise RpcError(PAY_ROUTE_NOT_FOUND, "Could not find route")
        fee = route_fee(route, amount_msat)
        if fee > maxfee_msat:
            raise RpcError(
                PAY_ROUTE_TOO_EXPENSIVE,
                f"Could not find route without excessive cost: fee "
                f"{fee}msat > maxfee {maxfee_msat}msat",
            )
        if maxdelay is not None and route[0].delay > maxdelay:
            raise RpcError(PAY_ROUTE_TOO_EXPENSIVE, "Could not find route without excessive delay")
        local = self.node_id if "auto.localchans" in layers else None
        probability = route_probability(self.net, route, source, local_node=local)
        return getroutes_json(self.net, route, source, amount_msat, final_cltv, probability)
