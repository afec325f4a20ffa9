"""The payment calls of :class:`~.inprocess.InProcessNode` (xpay, keysend, sendpay,
waitsendpay, listsendpays, listpays, getroute, getroutes), as a mixin."""

from __future__ import annotations

from typing import Any

from lnhive.core.amounts import AmountError, parse_msat
from lnhive.core.hashing import sha256
from lnhive.sim.errors import INVALID_PARAMS, RpcError
from lnhive.sim.network import payviews
from lnhive.sim.network.invoices import decode
from lnhive.sim.network.model import Network
from lnhive.sim.network.nodes import Node
from lnhive.sim.network.pay import PayResult, pay_gen, sendpay_gen
from lnhive.sim.network.payments import (
    PAY_INVOICE_EXPIRED,
    PAY_INVOICE_PAID,
    PAY_NO_SUCH_PAYMENT,
    PAY_ROUTE_NOT_FOUND,
    PAY_ROUTE_TOO_EXPENSIVE,
    run_sync,
)
from lnhive.sim.network.routing import Hop, find_route, getroutes_json, route_fee

Json = dict[str, Any]


def msat_param(name: str, value: int | str) -> int:
    """An ``msat`` parameter, or -32602 with CLN's wording."""
    try:
        return parse_msat(value)
    except AmountError as exc:
        raise RpcError(INVALID_PARAMS, f"{name}: {exc.reason}: invalid token") from None


class PaymentCalls:
    """Payment commands of one node; needs ``net``, ``node_id`` and ``answer``."""

    net: Network
    node_id: str
    answer: Any

    def _run(self, gen: Any) -> Any:
        return run_sync(gen, self.answer)

    @property
    def _node(self) -> Node:
        return self.net.nodes[self.node_id]

    # -- payments ----------------------------------------------------------------
    def _pay_result(self, res: PayResult) -> None:
        if res.error is not None:
            raise res.error

    def xpay(
        self,
        *,
        invstring: str,
        amount_msat: int | str | None = None,
        maxfee: int | str | None = None,
        layers: list[str] | None = None,
        retry_for: int | None = None,
        partial_msat: int | str | None = None,
        maxdelay: int | None = None,
    ) -> Json:
        try:
            inv = decode(invstring)
        except ValueError as exc:
            raise RpcError(INVALID_PARAMS, f"invstring: {exc}") from None
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
            amount = msat_param("amount_msat", amount_msat)
        else:
            if amount_msat is not None:
                raise RpcError(
                    INVALID_PARAMS,
                    "amount_msat: Invoice has an amount, so you cannot specify amount_msat",
                )
            amount = inv.amount_msat
        for sp in self._node.sendpays_by_hash.get(inv.payment_hash, ()):
            if sp.status == "complete":
                raise RpcError(PAY_INVOICE_PAID, "Already paid this invoice")
        fee_cap = max(5000, amount // 100) if maxfee is None else msat_param("maxfee", maxfee)
        res: PayResult = self._run(
            pay_gen(
                self.net,
                self.node_id,
                inv.payee,
                amount,
                inv.payment_hash,
                payment_secret=inv.payment_secret,
                final_cltv=inv.min_final_cltv_expiry,
                maxfee_msat=fee_cap,
                maxdelay=maxdelay,
                bolt11=inv.bolt11,
                description=inv.description,
            )
        )
        self._pay_result(res)
        return {
            "payment_preimage": res.preimage,
            "failed_parts": res.failed_parts,
            "successful_parts": res.successful_parts,
            "amount_msat": res.amount_msat,
            "amount_sent_msat": res.amount_sent_msat,
        }

    def keysend(
        self,
        *,
        destination: str,
        amount_msat: int | str,
        label: str | None = None,
        maxfeepercent: float | None = None,
        retry_for: int | None = None,
        maxdelay: int | None = None,
        exemptfee: int | str | None = None,
        maxfee: int | str | None = None,
    ) -> Json:
        amount = msat_param("amount_msat", amount_msat)
        if maxfee is not None:
            fee_cap = msat_param("maxfee", maxfee)
        else:
            pct = 0.5 if maxfeepercent is None else maxfeepercent
            exempt = 5000 if exemptfee is None else msat_param("exemptfee", exemptfee)
            fee_cap = max(exempt, int(amount * pct / 100))
        preimage = self.net.rng.randbytes(32).hex()
        payment_hash = sha256(bytes.fromhex(preimage)).hex()
        res: PayResult = self._run(
            pay_gen(
                self.net,
                self.node_id,
                destination,
                amount,
                payment_hash,
                keysend_preimage=preimage,
                final_cltv=22,
                maxfee_msat=fee_cap,
                maxdelay=maxdelay,
                label=label,
            )
        )
        self._pay_result(res)
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

    def sendpay(
        self,
        *,
        route: list[Json],
        payment_hash: str,
        label: str | None = None,
        amount_msat: int | str | None = None,
        bolt11: str | None = None,
        payment_secret: str | None = None,
        partid: int | None = None,
        groupid: int | None = None,
        description: str | None = None,
    ) -> Json:
        try:
            hops = [Hop.from_json(h) for h in route]
        except (KeyError, ValueError, TypeError) as exc:
            raise RpcError(INVALID_PARAMS, f"route: {exc}") from None
        if not hops:
            raise RpcError(INVALID_PARAMS, "Empty route")
        amount = None if amount_msat is None else msat_param("amount_msat", amount_msat)
        sp = self._run(
            sendpay_gen(
                self.net,
                self.node_id,
                hops,
                payment_hash,
                payment_secret=payment_secret,
                amount_msat=amount,
                label=label,
                bolt11=bolt11,
                description=description,
                partid=partid or 0,
                groupid=groupid,
            )
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

    def getroute(
        self,
        *,
        id: str,
        amount_msat: int | str,
        riskfactor: int,
        cltv: int | None = None,
        fromid: str | None = None,
        exclude: list[str] | None = None,
        maxhops: int | None = None,
    ) -> Json:
        return payviews.getroute(
            self.net,
            self.node_id,
            id,
            msat_param("amount_msat", amount_msat),
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
        amount_msat: int | str,
        layers: list[str],
        maxfee_msat: int | str,
        final_cltv: int,
        maxdelay: int | None = None,
        maxparts: int | None = None,
    ) -> Json:
        amount = msat_param("amount_msat", amount_msat)
        maxfee = msat_param("maxfee_msat", maxfee_msat)
        route = find_route(self.net, source, destination, amount, final_cltv=final_cltv)
        if route is None:
            raise RpcError(PAY_ROUTE_NOT_FOUND, "Could not find route")
        if route_fee(route, amount) > maxfee:
            raise RpcError(
                PAY_ROUTE_TOO_EXPENSIVE,
                f"Could not find route without excessive cost: fee "
                f"{route_fee(route, amount)}msat > maxfee {maxfee}msat",
            )
        if maxdelay is not None and route[0].delay > maxdelay:
            raise RpcError(PAY_ROUTE_TOO_EXPENSIVE, "Could not find route without excessive delay")
        return getroutes_json(self.net, route, source, amount, final_cltv)
