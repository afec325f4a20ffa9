"""``InProcessNode``: the :class:`~lnhive.cln.api.NodeApi` of one node of the model.

A thin synchronous driver over :class:`~.commands.NodeCommands`: a call is bound as
lightningd binds it (:func:`lnhive.sim.params.bind_params`, with CLN's parameter
errors), run, and if the command passes hook points its generator is driven at once,
every hook answered by ``answer`` (default ``{"result": "continue"}``). Custom messages a
call queued are delivered before it returns. The node's notifications go to
``on_event`` if given. Failures raise :class:`lnhive.sim.errors.RpcError` with CLN's
codes and messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, cast

from lnhive.sim.errors import METHOD_NOT_FOUND, RpcError
from lnhive.sim.network.commands import COMMANDS, NodeCommands
from lnhive.sim.network.events import Event, HookCall
from lnhive.sim.network.messages import deliver_pending, has_pending
from lnhive.sim.network.model import Network
from lnhive.sim.network.payments import run_sync
from lnhive.sim.params import bind_params

Json = dict[str, Any]
Answer = Callable[[HookCall], dict[str, Any]]
Amount = int | str
Hooks = Generator[HookCall, dict[str, Any], Any]


def _given(**kwargs: Any) -> Json:
    return {k: v for k, v in kwargs.items() if v is not None}


class InProcessNode:
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
        self.commands = NodeCommands(network, self.node_id)
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

    def call(self, method: str, params: Json | None = None) -> Json:
        """Any served command by name (named or positional params, CLN's binding)."""
        if method not in COMMANDS:
            raise RpcError(METHOD_NOT_FOUND, f"Unknown command '{method}'")
        args = bind_params(method, {} if params is None else params)
        out: Any = self.commands.invoke(method, args)
        try:
            if inspect.isgenerator(out):
                out = run_sync(cast(Hooks, out), self.answer)
        finally:
            if has_pending(self.net):
                run_sync(deliver_pending(self.net), self.answer)
        result: Json = out
        return result

    # -- information -----------------------------------------------------------
    def getinfo(self) -> Json:
        return self.call("getinfo")

    def listpeers(self, *, id: str | None = None) -> Json:
        return self.call("listpeers", _given(id=id))

    def listpeerchannels(
        self,
        *,
        id: str | None = None,
        short_channel_id: str | None = None,
        channel_id: str | None = None,
    ) -> Json:
        return self.call(
            "listpeerchannels",
            _given(id=id, short_channel_id=short_channel_id, channel_id=channel_id),
        )

    def listchannels(
        self,
        *,
        short_channel_id: str | None = None,
        source: str | None = None,
        destination: str | None = None,
    ) -> Json:
        return self.call(
            "listchannels",
            _given(short_channel_id=short_channel_id, source=source, destination=destination),
        )

    def listnodes(self, *, id: str | None = None) -> Json:
        return self.call("listnodes", _given(id=id))

    def listfunds(self, *, spent: bool | None = None) -> Json:
        return self.call("listfunds", _given(spent=spent))

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
        return self.call(
            "listforwards",
            _given(
                status=status,
                in_channel=in_channel,
                out_channel=out_channel,
                index=index,
                start=start,
                limit=limit,
            ),
        )

    def listhtlcs(
        self,
        *,
        id: str | None = None,
        index: str | None = None,
        start: int | None = None,
        limit: int | None = None,
    ) -> Json:
        return self.call("listhtlcs", _given(id=id, index=index, start=start, limit=limit))

    def listclosedchannels(self, *, id: str | None = None) -> Json:
        return self.call("listclosedchannels", _given(id=id))

    def feerates(self, *, style: str) -> Json:
        return self.call("feerates", {"style": style})

    # -- peers and channels ----------------------------------------------------
    def setchannel(
        self,
        *,
        id: str,
        feebase: Amount | None = None,
        feeppm: int | None = None,
        htlcmin: Amount | None = None,
        htlcmax: Amount | None = None,
        enforcedelay: int | None = None,
        ignorefeelimits: bool | None = None,
    ) -> Json:
        return self.call(
            "setchannel",
            _given(
                id=id,
                feebase=feebase,
                feeppm=feeppm,
                htlcmin=htlcmin,
                htlcmax=htlcmax,
                enforcedelay=enforcedelay,
                ignorefeelimits=ignorefeelimits,
            ),
        )

    def connect(self, *, id: str, host: str | None = None, port: int | None = None) -> Json:
        return self.call("connect", _given(id=id, host=host, port=port))

    def disconnect(self, *, id: str, force: bool | None = None) -> Json:
        return self.call("disconnect", _given(id=id, force=force))

    def fundchannel(
        self,
        *,
        id: str,
        amount: Amount,
        feerate: str | int | None = None,
        announce: bool | None = None,
        minconf: int | None = None,
        push_msat: Amount | None = None,
        mindepth: int | None = None,
        reserve: Amount | None = None,
    ) -> Json:
        return self.call(
            "fundchannel",
            _given(
                id=id,
                amount=amount,
                feerate=feerate,
                announce=announce,
                minconf=minconf,
                push_msat=push_msat,
                mindepth=mindepth,
                reserve=reserve,
            ),
        )

    def close(
        self, *, id: str, unilateraltimeout: int | None = None, destination: str | None = None
    ) -> Json:
        return self.call(
            "close",
            _given(id=id, unilateraltimeout=unilateraltimeout, destination=destination),
        )

    # -- invoices ----------------------------------------------------------------
    def invoice(
        self,
        *,
        amount_msat: Amount,
        label: str | int,
        description: str,
        expiry: int | None = None,
        preimage: str | None = None,
        cltv: int | None = None,
    ) -> Json:
        return self.call(
            "invoice",
            _given(
                amount_msat=amount_msat,
                label=label,
                description=description,
                expiry=expiry,
                preimage=preimage,
                cltv=cltv,
            ),
        )

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
        return self.call(
            "listinvoices",
            _given(
                label=label,
                invstring=invstring,
                payment_hash=payment_hash,
                offer_id=offer_id,
                index=index,
                start=start,
                limit=limit,
            ),
        )

    def waitinvoice(self, *, label: str | int) -> Json:
        """In-process the wait cannot block: a paid invoice answers, an expired one fails
        with 903, an unpaid one fails with -1."""
        return self.call("waitinvoice", {"label": label})

    def delinvoice(self, *, label: str | int, status: str, desconly: bool | None = None) -> Json:
        return self.call("delinvoice", _given(label=label, status=status, desconly=desconly))

    def decode(self, *, string: str) -> Json:
        return self.call("decode", {"string": string})

    # -- payments ----------------------------------------------------------------
    def xpay(
        self,
        *,
        invstring: str,
        amount_msat: Amount | None = None,
        maxfee: Amount | None = None,
        layers: list[str] | None = None,
        retry_for: int | None = None,
        partial_msat: Amount | None = None,
        maxdelay: int | None = None,
    ) -> Json:
        return self.call(
            "xpay",
            _given(
                invstring=invstring,
                amount_msat=amount_msat,
                maxfee=maxfee,
                layers=layers,
                retry_for=retry_for,
                partial_msat=partial_msat,
                maxdelay=maxdelay,
            ),
        )

    def pay(
        self,
        *,
        bolt11: str,
        amount_msat: Amount | None = None,
        label: str | None = None,
        maxfeepercent: float | None = None,
        retry_for: int | None = None,
        maxdelay: int | None = None,
        exemptfee: Amount | None = None,
        maxfee: Amount | None = None,
        description: str | None = None,
    ) -> Json:
        return self.call(
            "pay",
            _given(
                bolt11=bolt11,
                amount_msat=amount_msat,
                label=label,
                maxfeepercent=maxfeepercent,
                retry_for=retry_for,
                maxdelay=maxdelay,
                exemptfee=exemptfee,
                maxfee=maxfee,
                description=description,
            ),
        )

    def keysend(
        self,
        *,
        destination: str,
        amount_msat: Amount,
        label: str | None = None,
        maxfeepercent: float | None = None,
        retry_for: int | None = None,
        maxdelay: int | None = None,
        exemptfee: Amount | None = None,
        maxfee: Amount | None = None,
    ) -> Json:
        return self.call(
            "keysend",
            _given(
                destination=destination,
                amount_msat=amount_msat,
                label=label,
                maxfeepercent=maxfeepercent,
                retry_for=retry_for,
                maxdelay=maxdelay,
                exemptfee=exemptfee,
                maxfee=maxfee,
            ),
        )

    def sendpay(
        self,
        *,
        route: list[Json],
        payment_hash: str,
        label: str | None = None,
        amount_msat: Amount | None = None,
        bolt11: str | None = None,
        payment_secret: str | None = None,
        partid: int | None = None,
        groupid: int | None = None,
        description: str | None = None,
    ) -> Json:
        return self.call(
            "sendpay",
            _given(
                route=route,
                payment_hash=payment_hash,
                label=label,
                amount_msat=amount_msat,
                bolt11=bolt11,
                payment_secret=payment_secret,
                partid=partid,
                groupid=groupid,
                description=description,
            ),
        )

    def waitsendpay(
        self,
        *,
        payment_hash: str,
        timeout: int | None = None,
        partid: int | None = None,
        groupid: int | None = None,
    ) -> Json:
        return self.call(
            "waitsendpay",
            _given(payment_hash=payment_hash, timeout=timeout, partid=partid, groupid=groupid),
        )

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
        return self.call(
            "listsendpays",
            _given(
                bolt11=bolt11,
                payment_hash=payment_hash,
                status=status,
                index=index,
                start=start,
                limit=limit,
            ),
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
        return self.call(
            "listpays",
            _given(
                bolt11=bolt11,
                payment_hash=payment_hash,
                status=status,
                index=index,
                start=start,
                limit=limit,
            ),
        )

    def delpay(
        self,
        *,
        payment_hash: str,
        status: str,
        partid: int | None = None,
        groupid: int | None = None,
    ) -> Json:
        return self.call(
            "delpay",
            _given(payment_hash=payment_hash, status=status, partid=partid, groupid=groupid),
        )

    def getroute(
        self,
        *,
        id: str,
        amount_msat: Amount,
        riskfactor: int,
        cltv: int | None = None,
        fromid: str | None = None,
        exclude: list[str] | None = None,
        maxhops: int | None = None,
    ) -> Json:
        return self.call(
            "getroute",
            _given(
                id=id,
                amount_msat=amount_msat,
                riskfactor=riskfactor,
                cltv=cltv,
                fromid=fromid,
                exclude=exclude,
                maxhops=maxhops,
            ),
        )

    def getroutes(
        self,
        *,
        source: str,
        destination: str,
        amount_msat: Amount,
        layers: list[str],
        maxfee_msat: Amount,
        final_cltv: int,
        maxdelay: int | None = None,
        maxparts: int | None = None,
    ) -> Json:
        return self.call(
            "getroutes",
            _given(
                source=source,
                destination=destination,
                amount_msat=amount_msat,
                layers=layers,
                maxfee_msat=maxfee_msat,
                final_cltv=final_cltv,
                maxdelay=maxdelay,
                maxparts=maxparts,
            ),
        )

    # -- messages and keys ---------------------------------------------------------
    def sendcustommsg(self, *, node_id: str, msg: str) -> Json:
        return self.call("sendcustommsg", {"node_id": node_id, "msg": msg})

    def signmessage(self, *, message: str) -> Json:
        return self.call("signmessage", {"message": message})

    def checkmessage(self, *, message: str, zbase: str, pubkey: str | None = None) -> Json:
        return self.call("checkmessage", _given(message=message, zbase=zbase, pubkey=pubkey))

    def makesecret(self, *, hex: str | None = None, string: str | None = None) -> Json:
        return self.call("makesecret", _given(hex=hex, string=string))

    def datastore(
        self,
        *,
        key: str | list[str],
        string: str | None = None,
        hex: str | None = None,
        mode: str | None = None,
        generation: int | None = None,
    ) -> Json:
        return self.call(
            "datastore",
            _given(key=key, string=string, hex=hex, mode=mode, generation=generation),
        )

    def listdatastore(self, *, key: str | list[str] | None = None) -> Json:
        return self.call("listdatastore", _given(key=key))

    def deldatastore(self, *, key: str | list[str], generation: int | None = None) -> Json:
        return self.call("deldatastore", _given(key=key, generation=generation))

    def datastoreusage(self, *, key: str | list[str] | None = None) -> Json:
        return self.call("datastoreusage", _given(key=key))

    # -- on-chain wallet -------------------------------------------------------------
    def newaddr(self, *, addresstype: str | None = None) -> Json:
        return self.call("newaddr", _given(addresstype=addresstype))

    def withdraw(
        self,
        *,
        destination: str,
        satoshi: Amount,
        feerate: str | int | None = None,
        minconf: int | None = None,
        utxos: list[str] | None = None,
    ) -> Json:
        return self.call(
            "withdraw",
            _given(
                destination=destination,
                satoshi=satoshi,
                feerate=feerate,
                minconf=minconf,
                utxos=utxos,
            ),
        )
