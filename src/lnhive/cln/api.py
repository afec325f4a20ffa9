"""The node boundary: the Core Lightning RPC calls domain code needs, as a typed protocol.

Domain packages receive a :class:`NodeApi` and never know whether it is a real node
(over pyln's ``LightningRpc``), the stand-in's socket, or the in-process network model
(``lnhive.sim.network.inprocess.InProcessNode``). Parameters are keyword-only and named
as CLN names them; amounts may be given as integers (msat, or sat where CLN's type is
``sat``) or CLN's amount strings (``"10sat"``). Every method returns CLN's JSON result
object as a ``dict`` whose amounts are plain integers, and raises the implementation's
RPC error (code and message as CLN sends them) on failure.

Each typed method forwards to :meth:`NodeApi.call` with CLN's parameter names, so an
implementation subclasses ``NodeApi`` and provides ``call`` alone (``None`` values mean
"not given" and are dropped there); any object with these methods also satisfies the
protocol structurally.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

Json = dict[str, Any]
Amount = int | str


@runtime_checkable
class NodeApi(Protocol):
    """What domain code may ask of a Lightning node (CLN v26.06 shapes)."""

    def getinfo(self) -> Json:
        """``{id, alias, color, num_peers, num_*_channels, address[], binding[], version,
        blockheight, network, fees_collected_msat, lightning-dir, our_features}``."""
        return self.call("getinfo", {})

    def listpeers(self, *, id: str | None = None) -> Json:
        """``{peers: [{id, connected, num_channels, netaddr?, features?}]}``."""
        return self.call("listpeers", {"id": id})

    def listpeerchannels(
        self,
        *,
        id: str | None = None,
        short_channel_id: str | None = None,
        channel_id: str | None = None,
    ) -> Json:
        """``{channels: [...]}``: our channels with state, balances (``to_us_msat``,
        ``spendable_msat``, ``receivable_msat``), policies (``updates.local/remote``),
        funding, HTLCs in flight and state changes."""
        return self.call(
            "listpeerchannels",
            {"id": id, "short_channel_id": short_channel_id, "channel_id": channel_id},
        )

    def listchannels(
        self,
        *,
        short_channel_id: str | None = None,
        source: str | None = None,
        destination: str | None = None,
    ) -> Json:
        """``{channels: [...]}``: one entry per direction in our gossip view (fees,
        ``delay``, htlc limits, ``active``, ``last_update``)."""
        return self.call(
            "listchannels",
            {"short_channel_id": short_channel_id, "source": source, "destination": destination},
        )

    def listnodes(self, *, id: str | None = None) -> Json:
        """``{nodes: [{nodeid, last_timestamp?, alias?, color?, features?, addresses?}]}``."""
        return self.call("listnodes", {"id": id})

    def listfunds(self, *, spent: bool | None = None) -> Json:
        """``{outputs: [...on-chain UTXOs], channels: [...our_amount_msat per channel]}``."""
        return self.call("listfunds", {"spent": spent})

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
        """``{forwards: [{in_channel, out_channel, in_msat, out_msat, fee_msat, status,
        received_time, resolved_time, created_index, updated_index, ...}]}``."""
        return self.call(
            "listforwards",
            {
                "status": status,
                "in_channel": in_channel,
                "out_channel": out_channel,
                "index": index,
                "start": start,
                "limit": limit,
            },
        )

    def listclosedchannels(self, *, id: str | None = None) -> Json:
        """``{closedchannels: [{peer_id, channel_id, short_channel_id, closer, close_cause,
        total_msat, final_to_us_msat, ...}]}``."""
        return self.call("listclosedchannels", {"id": id})

    def feerates(self, *, style: str) -> Json:
        """``{perkb|perkw: {opening, mutual_close, ..., estimates}, onchain_fee_estimates}``."""
        return self.call("feerates", {"style": style})

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
        """``{channels: [{peer_id, channel_id, short_channel_id, fee_base_msat,
        fee_proportional_millionths, minimum/maximum_htlc_out_msat, ...}]}``."""
        return self.call(
            "setchannel",
            {
                "id": id,
                "feebase": feebase,
                "feeppm": feeppm,
                "htlcmin": htlcmin,
                "htlcmax": htlcmax,
                "enforcedelay": enforcedelay,
                "ignorefeelimits": ignorefeelimits,
            },
        )

    def connect(self, *, id: str, host: str | None = None, port: int | None = None) -> Json:
        """``{id, features, direction, address}``."""
        return self.call("connect", {"id": id, "host": host, "port": port})

    def disconnect(self, *, id: str, force: bool | None = None) -> Json:
        """``{}``."""
        return self.call("disconnect", {"id": id, "force": force})

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
        """``{tx, txid, outnum, channel_id, channel_type, mindepth?}``."""
        return self.call(
            "fundchannel",
            {
                "id": id,
                "amount": amount,
                "feerate": feerate,
                "announce": announce,
                "minconf": minconf,
                "push_msat": push_msat,
                "mindepth": mindepth,
                "reserve": reserve,
            },
        )

    def close(
        self, *, id: str, unilateraltimeout: int | None = None, destination: str | None = None
    ) -> Json:
        """``{type: mutual|unilateral|unopened, txs?, txids?}``."""
        return self.call(
            "close", {"id": id, "unilateraltimeout": unilateraltimeout, "destination": destination}
        )

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
        """``{bolt11, payment_hash, payment_secret, expires_at, created_index}``."""
        return self.call(
            "invoice",
            {
                "amount_msat": amount_msat,
                "label": label,
                "description": description,
                "expiry": expiry,
                "preimage": preimage,
                "cltv": cltv,
            },
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
        """``{invoices: [{label, bolt11, payment_hash, status, amount_msat?, expires_at,
        paid_at?, payment_preimage?, ...}]}``."""
        return self.call(
            "listinvoices",
            {
                "label": label,
                "invstring": invstring,
                "payment_hash": payment_hash,
                "offer_id": offer_id,
                "index": index,
                "start": start,
                "limit": limit,
            },
        )

    def delinvoice(self, *, label: str | int, status: str, desconly: bool | None = None) -> Json:
        """Delete invoice ``label`` if its status is ``status`` (``paid``, ``expired`` or
        ``unpaid``), or with ``desconly`` only remove its description; returns the invoice
        as listinvoices shows it. 905 unknown label, 906 status differs (``data``:
        ``{current_status, expected_status}``), 908 description already removed."""
        return self.call("delinvoice", {"label": label, "status": status, "desconly": desconly})

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
        """``{payment_preimage, failed_parts, successful_parts, amount_msat,
        amount_sent_msat}``."""
        return self.call(
            "xpay",
            {
                "invstring": invstring,
                "amount_msat": amount_msat,
                "maxfee": maxfee,
                "layers": layers,
                "retry_for": retry_for,
                "partial_msat": partial_msat,
                "maxdelay": maxdelay,
            },
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
        """Deprecated in CLN v26.06 (refused when ``allow-deprecated-apis`` is false);
        prefer :meth:`xpay`. ``{payment_preimage, destination?, payment_hash, created_at,
        parts, amount_msat, amount_sent_msat, status}``."""
        return self.call(
            "pay",
            {
                "bolt11": bolt11,
                "amount_msat": amount_msat,
                "label": label,
                "maxfeepercent": maxfeepercent,
                "retry_for": retry_for,
                "maxdelay": maxdelay,
                "exemptfee": exemptfee,
                "maxfee": maxfee,
                "description": description,
            },
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
        """``{payment_preimage, destination, payment_hash, created_at, parts, amount_msat,
        amount_sent_msat, status: complete}``."""
        return self.call(
            "keysend",
            {
                "destination": destination,
                "amount_msat": amount_msat,
                "label": label,
                "maxfeepercent": maxfeepercent,
                "retry_for": retry_for,
                "maxdelay": maxdelay,
                "exemptfee": exemptfee,
                "maxfee": maxfee,
            },
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
        """The new payment part: ``{created_index, id, groupid, payment_hash, status:
        pending|complete, amount_msat, amount_sent_msat, destination, created_at, ...}``."""
        return self.call(
            "sendpay",
            {
                "route": route,
                "payment_hash": payment_hash,
                "label": label,
                "amount_msat": amount_msat,
                "bolt11": bolt11,
                "payment_secret": payment_secret,
                "partid": partid,
                "groupid": groupid,
                "description": description,
            },
        )

    def waitsendpay(
        self,
        *,
        payment_hash: str,
        timeout: int | None = None,
        partid: int | None = None,
        groupid: int | None = None,
    ) -> Json:
        """The completed part (``status: complete`` with ``payment_preimage``); a failed
        part raises 203/204 with the routing failure in ``data``."""
        return self.call(
            "waitsendpay",
            {
                "payment_hash": payment_hash,
                "timeout": timeout,
                "partid": partid,
                "groupid": groupid,
            },
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
        """``{payments: [...one per part]}``."""
        return self.call(
            "listsendpays",
            {
                "bolt11": bolt11,
                "payment_hash": payment_hash,
                "status": status,
                "index": index,
                "start": start,
                "limit": limit,
            },
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
        """``{pays: [...one per payment attempt group]}``."""
        return self.call(
            "listpays",
            {
                "bolt11": bolt11,
                "payment_hash": payment_hash,
                "status": status,
                "index": index,
                "start": start,
                "limit": limit,
            },
        )

    def delpay(
        self,
        *,
        payment_hash: str,
        status: str,
        partid: int | None = None,
        groupid: int | None = None,
    ) -> Json:
        """Delete the ``complete`` or ``failed`` parts of a payment (one part when
        ``partid`` and ``groupid`` are given): ``{payments: [...the deleted parts]}``;
        208 when there is no such payment or its status differs."""
        return self.call(
            "delpay",
            {"payment_hash": payment_hash, "status": status, "partid": partid, "groupid": groupid},
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
        """``{probability_ppm, routes: [{probability_ppm, amount_msat, final_cltv,
        path: [{short_channel_id_dir, amount_in_msat, amount_out_msat, node_id_in,
        node_id_out, cltv_in, cltv_out}]}]}``."""
        return self.call(
            "getroutes",
            {
                "source": source,
                "destination": destination,
                "amount_msat": amount_msat,
                "layers": layers,
                "maxfee_msat": maxfee_msat,
                "final_cltv": final_cltv,
                "maxdelay": maxdelay,
                "maxparts": maxparts,
            },
        )

    def decode(self, *, string: str) -> Json:
        """The decoded BOLT11 invoice: ``{type: "bolt11 invoice", valid, currency,
        created_at, expiry, payee, amount_msat?, payment_hash, ...}``."""
        return self.call("decode", {"string": string})

    def sendcustommsg(self, *, node_id: str, msg: str) -> Json:
        """``{status: "Message sent to connectd for delivery"}``."""
        return self.call("sendcustommsg", {"node_id": node_id, "msg": msg})

    def signmessage(self, *, message: str) -> Json:
        """``{signature, recid, zbase}`` by the node key."""
        return self.call("signmessage", {"message": message})

    def checkmessage(self, *, message: str, zbase: str, pubkey: str | None = None) -> Json:
        """``{pubkey, verified}``."""
        return self.call("checkmessage", {"message": message, "zbase": zbase, "pubkey": pubkey})

    def makesecret(self, *, hex: str | None = None, string: str | None = None) -> Json:
        """``{secret}``: 32 bytes derived from the node secret and the given label."""
        return self.call("makesecret", {"hex": hex, "string": string})

    def datastore(
        self,
        *,
        key: str | list[str],
        string: str | None = None,
        hex: str | None = None,
        mode: str | None = None,
        generation: int | None = None,
    ) -> Json:
        """``{key, generation, hex, string?}`` as stored."""
        return self.call(
            "datastore",
            {"key": key, "string": string, "hex": hex, "mode": mode, "generation": generation},
        )

    def listdatastore(self, *, key: str | list[str] | None = None) -> Json:
        """``{datastore: [{key, generation?, hex?, string?}]}``."""
        return self.call("listdatastore", {"key": key})

    def deldatastore(self, *, key: str | list[str], generation: int | None = None) -> Json:
        """The deleted entry ``{key, generation, hex, string?}``."""
        return self.call("deldatastore", {"key": key, "generation": generation})

    def newaddr(self, *, addresstype: str | None = None) -> Json:
        """A wallet address: ``{p2tr}`` by default, ``{bech32}``, or both with ``all``."""
        return self.call("newaddr", {"addresstype": addresstype})

    def withdraw(
        self,
        *,
        destination: str,
        satoshi: Amount,
        feerate: str | int | None = None,
        minconf: int | None = None,
        utxos: list[str] | None = None,
    ) -> Json:
        """Send ``satoshi`` (sat, or ``"all"``) of on-chain funds to ``destination``:
        ``{tx, txid, psbt}``; 301 when the wallet cannot afford it, 302 below dust."""
        return self.call(
            "withdraw",
            {
                "destination": destination,
                "satoshi": satoshi,
                "feerate": feerate,
                "minconf": minconf,
                "utxos": utxos,
            },
        )

    def listhtlcs(
        self,
        *,
        id: str | None = None,
        index: str | None = None,
        start: int | None = None,
        limit: int | None = None,
    ) -> Json:
        """CLN's ``listhtlcs`` result object."""
        return self.call("listhtlcs", {"id": id, "index": index, "start": start, "limit": limit})

    def waitinvoice(self, *, label: str | int) -> Json:
        """In-process the wait cannot block: a paid invoice answers, an expired one fails
        with 903, an unpaid one fails with -1."""
        return self.call("waitinvoice", {"label": label})

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
        """CLN's ``getroute`` result object."""
        return self.call(
            "getroute",
            {
                "id": id,
                "amount_msat": amount_msat,
                "riskfactor": riskfactor,
                "cltv": cltv,
                "fromid": fromid,
                "exclude": exclude,
                "maxhops": maxhops,
            },
        )

    def datastoreusage(self, *, key: str | list[str] | None = None) -> Json:
        """CLN's ``datastoreusage`` result object."""
        return self.call("datastoreusage", {"key": key})

    def call(self, method: str, params: Json | None = None) -> Json:
        """Any CLN command by name with named parameters (``None`` values dropped)."""
        ...
