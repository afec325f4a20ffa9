"""``RpcNodeApi``: the :class:`~lnhive.cln.api.NodeApi` over pyln's ``LightningRpc``.

Works the same against a real lightningd and against the stand-in's socket. Every
method sends ``rpc.call(method, params)`` with Core Lightning's own parameter names
(never pyln's convenience wrappers, whose keyword names differ: ``listpeerchannels
(peer_id=)``, ``listpeers(peerid=)``, ... — see the pyln-client caveat in
``spec/cln-interface.md`` (b)), drops ``None`` values, and returns CLN's result object
unchanged. Failures raise :class:`~lnhive.cln.errors.NodeError`: an error answered by
the node keeps CLN's code, message and data; a socket that is missing, refuses, or
drops the connection gives ``code=None`` and a message saying what to check.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pyln.client import LightningRpc, RpcError

from lnhive.cln.api import Amount, Json
from lnhive.cln.errors import NodeError

if TYPE_CHECKING:
    from lnhive.cln.api import NodeApi

__all__ = ["RpcNodeApi"]

_CONNECTION_LOST = "Connection to RPC server lost."


class RpcNodeApi:
    """A node reached through its ``lightning-rpc`` unix socket.

    Thread-safe as far as pyln's ``LightningRpc`` is: it opens a new connection per
    call, so calls from several threads run concurrently.
    """

    def __init__(self, rpc: LightningRpc) -> None:
        self.rpc = rpc

    @classmethod
    def from_socket(cls, path: str | os.PathLike[str]) -> RpcNodeApi:
        """A client of the socket at ``path`` (``<lightning-dir>/<network>/lightning-rpc``).

        Nothing is opened here: a missing socket fails on the first call.
        """
        return cls(LightningRpc(os.fspath(path)))

    @property
    def socket_path(self) -> str:
        return str(self.rpc.socket_path)

    def __repr__(self) -> str:
        return f"RpcNodeApi({self.socket_path!r})"

    # -- the escape hatch every method goes through -----------------------------
    def call(self, method: str, params: Json | None = None) -> Json:
        payload = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            result = self.rpc.call(method, payload)
        except RpcError as exc:
            raise self._from_rpc_error(method, exc) from exc
        except OSError as exc:
            raise self._from_os_error(method, exc) from exc
        except ValueError as exc:  # pyln: malformed reply, wrong id, bad JSON
            raise NodeError(
                method,
                None,
                f"malformed reply from the node at {self.socket_path}: {exc}",
                hint="check that the path is a Core Lightning RPC socket",
            ) from exc
        if not isinstance(result, dict):
            raise NodeError(
                method,
                None,
                f"the node answered a {type(result).__name__} instead of a JSON object",
                hint=f"check that {self.socket_path} is a Core Lightning RPC socket",
            )
        return result

    def _from_rpc_error(self, method: str, exc: RpcError) -> NodeError:
        err: Any = exc.error
        if isinstance(err, dict):
            code = err.get("code")
            return NodeError(
                method,
                code if isinstance(code, int) else None,
                str(err.get("message", "")),
                err.get("data"),
            )
        # pyln reports a connection closed without a reply as a string error.
        if err == _CONNECTION_LOST:
            return NodeError(
                method,
                None,
                f"the connection to {self.socket_path} closed before the node replied",
                hint="check whether the node is shutting down or crashed (see its log)",
            )
        return NodeError(method, None, str(err))

    def _from_os_error(self, method: str, exc: OSError) -> NodeError:
        path = self.socket_path
        if isinstance(exc, FileNotFoundError):
            what = f"no RPC socket at {path}"
            hint = (
                "check that lightningd (or the stand-in) is running and that the path is its "
                "lightning-rpc file (<lightning-dir>/<network>/lightning-rpc)"
            )
        elif isinstance(exc, ConnectionRefusedError):
            what = f"nothing is listening on {path} (connection refused)"
            hint = "the node has stopped or crashed and left its socket behind; check it is running"
        elif isinstance(exc, PermissionError):
            what = f"permission denied on {path}"
            hint = "check the socket's permissions: run as the node's user"
        elif isinstance(exc, ConnectionError):
            what = f"the connection to {path} failed ({exc})"
            hint = "check whether the node is shutting down or crashed (see its log)"
        else:
            what = f"cannot talk to the node at {path} ({exc})"
            hint = "check that the node is running and that the path is its lightning-rpc file"
        return NodeError(method, None, what, hint=hint)

    # -- information -----------------------------------------------------------
    def getinfo(self) -> Json:
        return self.call("getinfo")

    def listpeers(self, *, id: str | None = None) -> Json:
        return self.call("listpeers", {"id": id})

    def listpeerchannels(
        self,
        *,
        id: str | None = None,
        short_channel_id: str | None = None,
        channel_id: str | None = None,
    ) -> Json:
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
        return self.call(
            "listchannels",
            {"short_channel_id": short_channel_id, "source": source, "destination": destination},
        )

    def listnodes(self, *, id: str | None = None) -> Json:
        return self.call("listnodes", {"id": id})

    def listfunds(self, *, spent: bool | None = None) -> Json:
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
        return self.call("listclosedchannels", {"id": id})

    def feerates(self, *, style: str) -> Json:
        return self.call("feerates", {"style": style})

    # -- channels and peers ------------------------------------------------------
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
        return self.call("connect", {"id": id, "host": host, "port": port})

    def disconnect(self, *, id: str, force: bool | None = None) -> Json:
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
        return self.call(
            "close",
            {"id": id, "unilateraltimeout": unilateraltimeout, "destination": destination},
        )

    # -- invoices and payments ---------------------------------------------------
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
        return self.call("decode", {"string": string})

    # -- messages, keys and storage ------------------------------------------------
    def sendcustommsg(self, *, node_id: str, msg: str) -> Json:
        return self.call("sendcustommsg", {"node_id": node_id, "msg": msg})

    def signmessage(self, *, message: str) -> Json:
        return self.call("signmessage", {"message": message})

    def checkmessage(self, *, message: str, zbase: str, pubkey: str | None = None) -> Json:
        return self.call("checkmessage", {"message": message, "zbase": zbase, "pubkey": pubkey})

    def makesecret(self, *, hex: str | None = None, string: str | None = None) -> Json:
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
        return self.call(
            "datastore",
            {"key": key, "string": string, "hex": hex, "mode": mode, "generation": generation},
        )

    def listdatastore(self, *, key: str | list[str] | None = None) -> Json:
        return self.call("listdatastore", {"key": key})

    def deldatastore(self, *, key: str | list[str], generation: int | None = None) -> Json:
        return self.call("deldatastore", {"key": key, "generation": generation})

    # -- on-chain wallet -----------------------------------------------------------
    def newaddr(self, *, addresstype: str | None = None) -> Json:
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


if TYPE_CHECKING:
    # mypy proves RpcNodeApi satisfies the whole protocol (a missing or mistyped
    # method fails type checking here rather than at the caller).
    def _conforms(api: RpcNodeApi) -> NodeApi:
        return api
