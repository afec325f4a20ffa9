"""``InProcessNode``: the :class:`~lnhive.cln.api.NodeApi` of one node of the model.

Calls run synchronously against the :class:`~.model.Network`: hooks are answered by
``answer`` (default ``{"result": "continue"}``), custom messages are delivered at once,
and the node's notifications go to ``on_event`` if given. Failures raise
:class:`lnhive.sim.errors.RpcError` with CLN's codes and messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lnhive.core.amounts import AmountError, parse_msat_or_any, parse_sat_or_all
from lnhive.sim.errors import INVALID_PARAMS, LIGHTNINGD, METHOD_NOT_FOUND, RpcError
from lnhive.sim.network import payviews, views
from lnhive.sim.network.datastore import as_key
from lnhive.sim.network.events import Event, HookCall
from lnhive.sim.network.inprocess_pay import PaymentCalls, msat_param
from lnhive.sim.network.invoices import (
    DEFAULT_CLTV,
    DEFAULT_EXPIRY,
    INVOICE_EXPIRED_DURING_WAIT,
    create_invoice,
    decode,
)
from lnhive.sim.network.messages import mailer
from lnhive.sim.network.model import Network

Json = dict[str, Any]
Answer = Callable[[HookCall], dict[str, Any]]
SIGNMESSAGE_PUBKEY_NOT_FOUND = 1301
CONNECT_NO_KNOWN_ADDRESS = 400


_msat = msat_param


class InProcessNode(PaymentCalls):
    """One node of ``network`` behind the NodeApi protocol."""

    def __init__(
        self,
        network: Network,
        node: str,
        *,
        on_event: Callable[[Event], None] | None = None,
        answer: Answer | None = None,
    ) -> None:
        self.net = network
        self.node_id = network.node(node).node_id
        self.answer = answer
        self._unsubscribe: Callable[[], None] | None = None
        if on_event is not None:
            me = self.node_id

            def _filter(ev: Event) -> None:
                if ev.node_id == me:
                    on_event(ev)

            self._unsubscribe = network.subscribe(_filter)

    def close_events(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- information -----------------------------------------------------------
    def getinfo(self) -> Json:
        return views.getinfo(self.net, self.node_id)

    def listpeers(self, *, id: str | None = None) -> Json:
        return views.listpeers(self.net, self.node_id, id)

    def listpeerchannels(
        self,
        *,
        id: str | None = None,
        short_channel_id: str | None = None,
        channel_id: str | None = None,
    ) -> Json:
        return views.listpeerchannels(self.net, self.node_id, id, short_channel_id, channel_id)

    def listchannels(
        self,
        *,
        short_channel_id: str | None = None,
        source: str | None = None,
        destination: str | None = None,
    ) -> Json:
        return views.listchannels(self.net, self.node_id, short_channel_id, source, destination)

    def listnodes(self, *, id: str | None = None) -> Json:
        return views.listnodes(self.net, self.node_id, id)

    def listfunds(self, *, spent: bool | None = None) -> Json:
        return views.listfunds(self.net, self.node_id, bool(spent))

    def listforwards(
        self,
        *,
        status: str | None = None,
        in_channel: str | None = None,
        out_channel: str | None = None,
        index: str | None = None,
        start: int | None = None,
        limit: int | None = None,
    ) -> Json:
        return views.listforwards(
            self.net, self.node_id, status, in_channel, out_channel, index, start, limit
        )

    def listhtlcs(
        self,
        *,
        id: str | None = None,
        index: str | None = None,
        start: int | None = None,
        limit: int | None = None,
    ) -> Json:
        return views.listhtlcs(self.net, self.node_id, id, index, start, limit)

    def listclosedchannels(self, *, id: str | None = None) -> Json:
        return views.listclosedchannels(self.net, self.node_id, id)

    def feerates(self, *, style: str) -> Json:
        return views.feerates(style)

    # -- peers and channels ----------------------------------------------------
    def setchannel(
        self,
        *,
        id: str,
        feebase: int | str | None = None,
        feeppm: int | None = None,
        htlcmin: int | str | None = None,
        htlcmax: int | str | None = None,
        enforcedelay: int | None = None,
        ignorefeelimits: bool | None = None,
    ) -> Json:
        chans = self.net.setchannel(
            self.node_id,
            id,
            feebase=None if feebase is None else _msat("feebase", feebase),
            feeppm=feeppm,
            htlcmin=None if htlcmin is None else _msat("htlcmin", htlcmin),
            htlcmax=None if htlcmax is None else _msat("htlcmax", htlcmax),
            enforcedelay=600 if enforcedelay is None else enforcedelay,
            ignorefeelimits=ignorefeelimits,
        )
        return {"channels": chans}

    def connect(self, *, id: str, host: str | None = None, port: int | None = None) -> Json:
        peer = id.split("@", 1)[0]
        if peer not in self.net.nodes:
            raise RpcError(CONNECT_NO_KNOWN_ADDRESS, "Unable to connect, no address known for peer")
        return self.net.connect(self.node_id, peer)

    def disconnect(self, *, id: str, force: bool | None = None) -> Json:
        if id not in self.net.nodes:
            raise RpcError(LIGHTNINGD, "Unknown peer")
        self.net.disconnect(self.node_id, id, force=bool(force))
        return {}

    def fundchannel(
        self,
        *,
        id: str,
        amount: int | str,
        feerate: str | int | None = None,
        announce: bool | None = None,
        minconf: int | None = None,
        push_msat: int | str | None = None,
        mindepth: int | None = None,
        reserve: int | str | None = None,
    ) -> Json:
        try:
            amt = parse_sat_or_all(amount)
        except AmountError as exc:
            raise RpcError(INVALID_PARAMS, f"amount: {exc.reason}: invalid token") from None
        _, result = self.net.fundchannel(
            self.node_id,
            id,
            amt,
            announce=True if announce is None else announce,
            push_msat=0 if push_msat is None else _msat("push_msat", push_msat),
            mindepth=mindepth,
        )
        return result

    def close(
        self, *, id: str, unilateraltimeout: int | None = None, destination: str | None = None
    ) -> Json:
        """Mutual close with a connected peer; unilateral at once otherwise (the model does
        not wait out ``unilateraltimeout``)."""
        return self.net.close(self.node_id, id)

    # -- invoices ----------------------------------------------------------------
    def invoice(
        self,
        *,
        amount_msat: int | str,
        label: str | int,
        description: str,
        expiry: int | None = None,
        preimage: str | None = None,
        cltv: int | None = None,
    ) -> Json:
        try:
            amt = parse_msat_or_any(amount_msat)
        except AmountError as exc:
            raise RpcError(INVALID_PARAMS, f"amount_msat: {exc.reason}: invalid token") from None
        inv = create_invoice(
            self.net,
            self.node_id,
            amount_msat=None if amt == "any" else amt,
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
        return payviews.listinvoices(
            self.net, self.node_id, label, invstring, payment_hash, offer_id, index, start, limit
        )

    def waitinvoice(self, *, label: str | int) -> Json:
        """In-process the wait cannot block: a paid invoice answers, an expired one fails
        with 903, an unpaid one fails with -1 (a socket driver waits instead)."""
        now = self.net.clock.now()
        inv = self._node.invoices.by_label.get(str(label))
        if inv is None:
            raise RpcError(LIGHTNINGD, "Label not found")
        st = inv.status(now)
        if st == "expired":
            raise RpcError(INVOICE_EXPIRED_DURING_WAIT, "invoice expired during wait")
        if st == "unpaid":
            raise RpcError(LIGHTNINGD, "invoice not paid (in-process waitinvoice cannot block)")
        out: Json = inv.to_json(now)
        return out

    def decode(self, *, string: str) -> Json:
        try:
            return decode(string, full=True).to_json()
        except ValueError as exc:
            raise RpcError(INVALID_PARAMS, f"string: {exc}") from None

    # -- messages and keys ---------------------------------------------------------
    def sendcustommsg(self, *, node_id: str, msg: str) -> Json:
        m = mailer(self.net)
        out = m.send(self.node_id, node_id, msg)
        self._run(m.deliver())
        return out

    def signmessage(self, *, message: str) -> Json:
        from lnhive.core.errors import InvalidInput
        from lnhive.core.signmessage import sign_message

        try:
            signed = sign_message(self._node.secret, message)
        except InvalidInput as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from None
        return {"signature": signed.signature, "recid": signed.recid, "zbase": signed.zbase}

    def checkmessage(self, *, message: str, zbase: str, pubkey: str | None = None) -> Json:
        from lnhive.core.signmessage import ZbaseError, recover_pubkey

        try:
            key = recover_pubkey(message, zbase)
        except ZbaseError as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from None
        if key is None:
            return {"verified": False}
        recovered = key.hex()
        if pubkey is not None:
            return {"pubkey": recovered, "verified": recovered == pubkey}
        known = {n["nodeid"] for n in views.listnodes(self.net, self.node_id)["nodes"]}
        if recovered not in known:
            raise RpcError(
                SIGNMESSAGE_PUBKEY_NOT_FOUND,
                "pubkey not found in the graph",
                {"claimed_key": recovered},
            )
        return {"pubkey": recovered, "verified": True}

    def makesecret(self, *, hex: str | None = None, string: str | None = None) -> Json:
        from lnhive.core.derive import hkdf_secret

        if (hex is None) == (string is None):
            raise RpcError(INVALID_PARAMS, "Must specify exactly one of hex or string")
        try:
            info = bytes.fromhex(hex) if hex is not None else (string or "").encode()
        except ValueError:
            raise RpcError(INVALID_PARAMS, "hex: should be a hex value: invalid token") from None
        return {"secret": hkdf_secret(self._node.secret, info).hex()}

    def datastore(
        self,
        *,
        key: str | list[str],
        string: str | None = None,
        hex: str | None = None,
        mode: str | None = None,
        generation: int | None = None,
    ) -> Json:
        if (string is None) == (hex is None):
            raise RpcError(INVALID_PARAMS, "Must have either hex or string")
        data = string.encode() if string is not None else bytes.fromhex(hex or "")
        out: Json = self._node.datastore.put(as_key(key), data, mode or "must-create", generation)
        return out

    def listdatastore(self, *, key: str | list[str] | None = None) -> Json:
        return {"datastore": self._node.datastore.list(None if key is None else as_key(key))}

    def deldatastore(self, *, key: str | list[str], generation: int | None = None) -> Json:
        out: Json = self._node.datastore.delete(as_key(key), generation)
        return out

    # -- escape hatch ----------------------------------------------------------------
    _METHODS = frozenset(
        {
            "getinfo",
            "listpeers",
            "listpeerchannels",
            "listchannels",
            "listnodes",
            "listfunds",
            "listforwards",
            "listhtlcs",
            "listclosedchannels",
            "feerates",
            "setchannel",
            "connect",
            "disconnect",
            "fundchannel",
            "close",
            "invoice",
            "listinvoices",
            "waitinvoice",
            "decode",
            "xpay",
            "keysend",
            "sendpay",
            "waitsendpay",
            "listsendpays",
            "listpays",
            "getroute",
            "getroutes",
            "sendcustommsg",
            "signmessage",
            "checkmessage",
            "makesecret",
            "datastore",
            "listdatastore",
            "deldatastore",
        }
    )

    def call(self, method: str, params: Json | None = None) -> Json:
        if method not in self._METHODS:
            raise RpcError(METHOD_NOT_FOUND, f"Unknown command '{method}'")
        kwargs = {k: v for k, v in (params or {}).items() if v is not None}
        fn = getattr(self, method)
        sig = inspect.signature(fn)
        for name in kwargs:
            if name not in sig.parameters:
                raise RpcError(
                    INVALID_PARAMS,
                    f"unknown parameter: {name}, this may be caused by a failure to autodetect "
                    "key=value-style parameters. Please try using the -k flag and explicit "
                    "key=value pairs of parameters.",
                )
        for name, p in sig.parameters.items():
            if p.default is inspect.Parameter.empty and name not in kwargs:
                raise RpcError(INVALID_PARAMS, f"missing required parameter: {name}")
        result: Json = fn(**kwargs)
        return result
