"""The node boundary: the Core Lightning RPC calls domain code needs, as a typed protocol.

Domain packages receive a :class:`NodeApi` and never know whether it is a real node
(over pyln's ``LightningRpc``), the stand-in's socket, or the in-process network model
(``lnhive.sim.network.inprocess.InProcessNode``). Parameters are keyword-only and named
as CLN names them; amounts may be given as integers (msat, or sat where CLN's type is
``sat``) or CLN's amount strings (``"10sat"``). Every method returns CLN's JSON result
object as a ``dict`` whose amounts are plain integers, and raises the implementation's
RPC error (code and message as CLN sends them) on failure.
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
        ...

    def listpeers(self, *, id: str | None = None) -> Json:
        """``{peers: [{id, connected, num_channels, netaddr?, features?}]}``."""
        ...

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
        ...

    def listchannels(
        self,
        *,
        short_channel_id: str | None = None,
        source: str | None = None,
        destination: str | None = None,
    ) -> Json:
        """``{channels: [...]}``: one entry per direction in our gossip view (fees,
        ``delay``, htlc limits, ``active``, ``last_update``)."""
        ...

    def listnodes(self, *, id: str | None = None) -> Json:
        """``{nodes: [{nodeid, last_timestamp?, alias?, color?, features?, addresses?}]}``."""
        ...

    def listfunds(self, *, spent: bool | None = None) -> Json:
        """``{outputs: [...on-chain UTXOs], channels: [...our_amount_msat per channel]}``."""
        ...

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
        ...

    def listclosedchannels(self, *, id: str | None = None) -> Json:
        """``{closedchannels: [{peer_id, channel_id, short_channel_id, closer, close_cause,
        total_msat, final_to_us_msat, ...}]}``."""
        ...

    def feerates(self, *, style: str) -> Json:
        """``{perkb|perkw: {opening, mutual_close, ..., estimates}, onchain_fee_estimates}``."""
        ...

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
        ...

    def connect(self, *, id: str, host: str | None = None, port: int | None = None) -> Json:
        """``{id, features, direction, address}``."""
        ...

    def disconnect(self, *, id: str, force: bool | None = None) -> Json:
        """``{}``."""
        ...

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
        ...

    def close(
        self, *, id: str, unilateraltimeout: int | None = None, destination: str | None = None
    ) -> Json:
        """``{type: mutual|unilateral|unopened, txs?, txids?}``."""
        ...

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
        ...

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
        ...

    def delinvoice(self, *, label: str | int, status: str, desconly: bool | None = None) -> Json:
        """Delete invoice ``label`` if its status is ``status`` (``paid``, ``expired`` or
        ``unpaid``), or with ``desconly`` only remove its description; returns the invoice
        as listinvoices shows it. 905 unknown label, 906 status differs (``data``:
        ``{current_status, expected_status}``), 908 description already removed."""
        ...

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
        ...

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
        ...

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
        ...

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
        ...

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
        ...

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
        ...

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
        ...

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
        ...

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
        ...

    def decode(self, *, string: str) -> Json:
        """The decoded BOLT11 invoice: ``{type: "bolt11 invoice", valid, currency,
        created_at, expiry, payee, amount_msat?, payment_hash, ...}``."""
        ...

    def sendcustommsg(self, *, node_id: str, msg: str) -> Json:
        """``{status: "Message sent to connectd for delivery"}``."""
        ...

    def signmessage(self, *, message: str) -> Json:
        """``{signature, recid, zbase}`` by the node key."""
        ...

    def checkmessage(self, *, message: str, zbase: str, pubkey: str | None = None) -> Json:
        """``{pubkey, verified}``."""
        ...

    def makesecret(self, *, hex: str | None = None, string: str | None = None) -> Json:
        """``{secret}``: 32 bytes derived from the node secret and the given label."""
        ...

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
        ...

    def listdatastore(self, *, key: str | list[str] | None = None) -> Json:
        """``{datastore: [{key, generation?, hex?, string?}]}``."""
        ...

    def deldatastore(self, *, key: str | list[str], generation: int | None = None) -> Json:
        """The deleted entry ``{key, generation, hex, string?}``."""
        ...

    def newaddr(self, *, addresstype: str | None = None) -> Json:
        """A wallet address: ``{p2tr}`` by default, ``{bech32}``, or both with ``all``."""
        ...

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
        ...

    def call(self, method: str, params: Json | None = None) -> Json:
        """Any CLN command by name with named parameters (``None`` values dropped)."""
        ...
