"""CLN-shaped answers about invoices and outgoing payments (listinvoices, listsendpays,
listpays, waitsendpay results) and routes (getroute)."""

from __future__ import annotations

from typing import Any

from lnhive.sim.errors import INVALID_PARAMS, RpcError
from lnhive.sim.network.invoices import decode
from lnhive.sim.network.model import Network
from lnhive.sim.network.records import SendPay
from lnhive.sim.network.routing import find_route
from lnhive.sim.network.views import _paginate

PAY_ROUTE_NOT_FOUND = 205


def listinvoices(
    net: Network,
    node_id: str,
    label: str | int | None = None,
    invstring: str | None = None,
    payment_hash: str | None = None,
    offer_id: str | None = None,
    index: str | None = None,
    start: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    if sum(x is not None for x in (label, invstring, payment_hash, offer_id)) > 1:
        raise RpcError(
            INVALID_PARAMS,
            "Can only specify one of {label}, {invstring}, {payment_hash} or {offer_id}",
        )
    book = net.nodes[node_id].invoices
    now = net.clock.now()
    items = list(book.by_label.values())
    if label is not None:
        items = [i for i in items if i.label == str(label)]
    if invstring is not None:
        items = [i for i in items if i.bolt11 == invstring.lower()]
    if payment_hash is not None:
        items = [i for i in items if i.payment_hash == payment_hash]
    if offer_id is not None:
        items = []
    items = _paginate(
        items, index, start, limit, lambda i: i.created_index, lambda i: i.updated_index
    )
    return {"invoices": [i.to_json(now) for i in items]}


def _filter_sendpays(
    net: Network, node_id: str, bolt11: str | None, payment_hash: str | None, status: str | None
) -> list[SendPay]:
    n = net.nodes[node_id]
    if payment_hash is not None:
        items = list(n.sendpays_by_hash.get(payment_hash, ()))
    else:
        items = list(n.sendpays)
    if bolt11 is not None:
        want = decode(bolt11).payment_hash
        items = [s for s in items if s.payment_hash == want]
    if status is not None:
        items = [s for s in items if s.status == status]
    return items


def listsendpays(
    net: Network,
    node_id: str,
    bolt11: str | None = None,
    payment_hash: str | None = None,
    status: str | None = None,
    index: str | None = None,
    start: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    items = _filter_sendpays(net, node_id, bolt11, payment_hash, status)
    items = _paginate(
        items, index, start, limit, lambda s: s.created_index, lambda s: s.updated_index
    )
    return {"payments": [s.to_json() for s in items]}


def listpays(
    net: Network,
    node_id: str,
    bolt11: str | None = None,
    payment_hash: str | None = None,
    status: str | None = None,
    index: str | None = None,
    start: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Payments grouped by (payment_hash, groupid): complete if a part completed, failed if
    every part failed, else pending."""
    groups: dict[tuple[str, int], list[SendPay]] = {}
    for s in _filter_sendpays(net, node_id, bolt11, payment_hash, None):
        groups.setdefault((s.payment_hash, s.groupid), []).append(s)
    pays = []
    for parts in groups.values():
        first = parts[0]
        done = [p for p in parts if p.status == "complete"]
        if done:
            st = "complete"
        elif all(p.status == "failed" for p in parts):
            st = "failed"
        else:
            st = "pending"
        if status is not None and st != status:
            continue
        item: dict[str, Any] = {
            "payment_hash": first.payment_hash,
            "status": st,
            "destination": first.destination,
            "created_at": first.created_at,
        }
        if done and done[-1].completed_at is not None:
            item["completed_at"] = int(done[-1].completed_at)
        if first.label is not None:
            item["label"] = first.label
        if first.bolt11 is not None:
            item["bolt11"] = first.bolt11
        if first.description is not None:
            item["description"] = first.description
        item["created_index"] = first.created_index
        upd = [p.updated_index for p in parts if p.updated_index is not None]
        if upd:
            item["updated_index"] = max(upd)
        if st == "complete":
            item["amount_msat"] = sum(p.amount_msat for p in done)
            item["amount_sent_msat"] = sum(p.amount_sent_msat for p in done)
            item["preimage"] = done[0].payment_preimage
            item["number_of_parts"] = len(done)
        elif st == "failed":
            item["amount_sent_msat"] = 0
        pays.append(item)
    pays = _paginate(
        pays, index, start, limit, lambda p: p["created_index"], lambda p: p.get("updated_index")
    )
    return {"pays": pays}


def getroute(
    net: Network,
    node_id: str,
    id: str,
    amount_msat: int,
    riskfactor: int,
    cltv: int = 9,
    fromid: str | None = None,
    exclude: list[str] | None = None,
    maxhops: int | None = None,
) -> dict[str, Any]:
    source = fromid or node_id
    route = find_route(
        net,
        source,
        id,
        amount_msat,
        final_cltv=cltv,
        exclude=set(exclude or ()),
        maxhops=maxhops or 20,
    )
    if route is None:
        raise RpcError(PAY_ROUTE_NOT_FOUND, "Could not find a route")
    return {"route": [h.to_json() for h in route]}
