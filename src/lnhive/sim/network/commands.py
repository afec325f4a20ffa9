"""``NodeCommands``: one implementation per CLN command one node of the model serves.

Both drivers run these: ``InProcessNode`` (synchronously, answering hooks at once) and
the stand-in's socket server (awaiting plugins between hook points). Arguments arrive
bound and converted by :func:`lnhive.sim.params.bind_params`: named exactly as CLN
names them, amounts as integer msat/sat (or ``"all"``/``"any"``), integer types as
``int``, pubkeys and hex lower-cased. Commands whose work passes hook points are
generator functions that yield :class:`~.events.HookCall` and return the result
object; the others return it. Failures raise :class:`lnhive.sim.errors.RpcError`
with CLN's code and message. ``sendcustommsg`` only queues: a driver then runs
:func:`.messages.deliver_pending`.
"""

from __future__ import annotations

import base64
import functools
import inspect
from typing import Any

from lnhive.core.derive import hkdf_secret
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256
from lnhive.core.signmessage import ZbaseError, recover_pubkey, sign_message
from lnhive.sim.errors import (
    INVALID_PARAMS,
    LIGHTNINGD,
    METHOD_NOT_FOUND,
    SIGNMESSAGE_PUBKEY_NOT_FOUND,
    RpcError,
)
from lnhive.sim.network import views
from lnhive.sim.network.commands_pay import PaymentCommands
from lnhive.sim.network.messages import mailer
from lnhive.sim.network.model import (
    FUNDING_CANNOT_AFFORD,
    FUNDING_OUTPUT_IS_DUST,
    Network,
)
from lnhive.sim.network.nodes import PendingTx, Utxo
from lnhive.sim.params import unknown_parameter_message

Json = dict[str, Any]

CONNECT_NO_KNOWN_ADDRESS = 400
MAX_SIGNED_MESSAGE = 65535
#: withdraw's on-chain fee: a one-input, two-output transaction (562 weight units) at
#: the fixed 7500 perkw of :func:`.views.feerates`.
WITHDRAW_FEE_SAT = 4215
DUST_LIMIT_SAT = 546

#: The commands a node of the model serves.
COMMANDS: frozenset[str] = frozenset(
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
        "delinvoice",
        "decode",
        "xpay",
        "pay",
        "keysend",
        "xkeysend",
        "sendpay",
        "waitsendpay",
        "listsendpays",
        "listpays",
        "delpay",
        "getroute",
        "getroutes",
        "askrene-create-layer",
        "askrene-remove-layer",
        "askrene-update-channel",
        "askrene-listlayers",
        "sendcustommsg",
        "signmessage",
        "checkmessage",
        "makesecret",
        "datastore",
        "listdatastore",
        "deldatastore",
        "datastoreusage",
        "newaddr",
        "withdraw",
    }
)
#: Commands CLN v26.06 marks deprecated (refused when allow-deprecated-apis is false).
DEPRECATED: frozenset[str] = frozenset({"pay", "getroute", "keysend"})

# -- segwit addresses (BIP-173 bech32, BIP-350 bech32m) ----------------------------
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32, _BECH32M = 1, 0x2BC830A3
HRP = "bcrt"


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i, g in enumerate(_GEN):
            if (top >> i) & 1:
                chk ^= g
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: bytes | list[int], frm: int, to: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out = []
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & ((1 << to) - 1))
    if pad and bits:
        out.append((acc << (to - bits)) & ((1 << to) - 1))
    elif not pad and (bits >= frm or (acc << (to - bits)) & ((1 << to) - 1)):
        return None
    return out


def segwit_address(version: int, program: bytes, hrp: str = HRP) -> str:
    """The bech32 (v0) or bech32m (v1+) address of a witness program."""
    data = [version, *(_regroup(program, 8, 5, True) or [])]
    const = _BECH32 if version == 0 else _BECH32M
    mod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    check = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + check)


def decode_segwit(addr: str) -> tuple[str, int, bytes] | None:
    """(hrp, witness version, program) of a valid segwit address, else None."""
    if addr.lower() != addr and addr.upper() != addr:
        return None
    addr = addr.lower()
    pos = addr.rfind("1")
    if pos < 1 or pos + 7 > len(addr) or len(addr) > 90:
        return None
    hrp, rest = addr[:pos], addr[pos + 1 :]
    if any(c not in _CHARSET for c in rest):
        return None
    data = [_CHARSET.index(c) for c in rest]
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (_BECH32, _BECH32M) or not data[:-6]:
        return None
    version = data[0]
    prog = _regroup(data[1:-6], 5, 8, False)
    if prog is None or not 2 <= len(prog) <= 40 or version > 16:
        return None
    if (version == 0) != (const == _BECH32):
        return None
    if version == 0 and len(prog) not in (20, 32):
        return None
    return hrp, version, bytes(prog)


def _script(version: int, program: bytes) -> str:
    op = 0 if version == 0 else 0x50 + version
    return bytes([op, len(program)]).hex() + program.hex()


def node_addresses(node_id: str) -> dict[str, str]:
    """A node's deterministic regtest addresses: ``{"bech32": bcrt1q…, "p2tr": bcrt1p…}``."""
    v0 = sha256(f"lnhive/sim/address/v1:bech32:{node_id}".encode())[:20]
    v1 = sha256(f"lnhive/sim/address/v1:p2tr:{node_id}".encode())
    return {"bech32": segwit_address(0, v0), "p2tr": segwit_address(1, v1)}


@functools.cache
def _parameters(method: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The keyword parameters of command ``method`` and the required ones."""
    sig = inspect.signature(getattr(NodeCommands, method.replace("-", "_")))
    params = [p for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return (
        frozenset(p.name for p in params),
        tuple(p.name for p in params if p.default is inspect.Parameter.empty),
    )


class NodeCommands(PaymentCommands):
    """The CLN commands of node ``node_id`` of ``net``, one method per command."""

    def __init__(self, net: Network, node_id: str) -> None:
        self.net = net
        self.node_id = net.node(node_id).node_id

    def invoke(self, method: str, args: dict[str, Any]) -> Any:
        """Run ``method`` with bound ``args``: the result dict, or for a command with hook
        points the generator to drive. Unknown methods fail with -32601, unknown or
        missing parameters with lightningd's -32602 (``args`` are not type-checked here:
        bind them with :func:`lnhive.sim.params.bind_params` first)."""
        if method not in COMMANDS:
            raise RpcError(METHOD_NOT_FOUND, f"Unknown command '{method}'")
        names, required = _parameters(method)
        for name in args:
            if name not in names:
                raise RpcError(INVALID_PARAMS, unknown_parameter_message(name))
        for name in required:
            if name not in args:
                raise RpcError(INVALID_PARAMS, f"missing required parameter: {name}")
        return getattr(self, method.replace("-", "_"))(**args)

    # -- information -----------------------------------------------------------
    def getinfo(self) -> Json:
        return views.getinfo(self.net, self.node_id)

    def listpeers(self, *, id: str | None = None, level: str | None = None) -> Json:
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
        feebase: int | None = None,
        feeppm: int | None = None,
        htlcmin: int | None = None,
        htlcmax: int | None = None,
        enforcedelay: int | None = None,
        ignorefeelimits: bool | None = None,
    ) -> Json:
        chans = self.net.setchannel(
            self.node_id,
            id,
            feebase=feebase,
            feeppm=feeppm,
            htlcmin=htlcmin,
            htlcmax=htlcmax,
            enforcedelay=600 if enforcedelay is None else enforcedelay,
            ignorefeelimits=ignorefeelimits,
        )
        return {"channels": chans}

    def connect(self, *, id: str, host: str | None = None, port: int | None = None) -> Json:
        peer = id.split("@", 1)[0].lower()
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
        feerate: int | str | None = None,
        announce: bool | None = None,
        minconf: int | None = None,
        push_msat: int | None = None,
        close_to: str | None = None,
        request_amt: int | None = None,
        compact_lease: str | None = None,
        utxos: list[str] | None = None,
        mindepth: int | None = None,
        reserve: int | None = None,
        channel_type: list[int] | None = None,
    ) -> Json:
        _, result = self.net.fundchannel(
            self.node_id,
            id,
            amount,
            announce=True if announce is None else announce,
            push_msat=0 if push_msat is None else push_msat,
            mindepth=mindepth,
        )
        return result

    def close(
        self,
        *,
        id: str,
        unilateraltimeout: int | None = None,
        destination: str | None = None,
        fee_negotiation_step: str | None = None,
        wrong_funding: str | None = None,
        force_lease_closed: bool | None = None,
        feerange: list[Any] | None = None,
    ) -> Json:
        """Mutual close with a connected peer; unilateral at once otherwise (the model
        does not wait out ``unilateraltimeout``)."""
        return self.net.close(self.node_id, id)

    # -- messages and keys -------------------------------------------------------
    def sendcustommsg(self, *, node_id: str, msg: str) -> Json:
        """Check and queue; delivery is the driver's (``deliver_pending``)."""
        return mailer(self.net).send(self.node_id, node_id, msg)

    def signmessage(self, *, message: str) -> Json:
        if len(message.encode()) > MAX_SIGNED_MESSAGE:
            raise RpcError(INVALID_PARAMS, "Message must be < 64k")
        try:
            signed = sign_message(self._node.secret, message)
        except InvalidInput as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from None
        return {"signature": signed.signature, "recid": signed.recid, "zbase": signed.zbase}

    def checkmessage(self, *, message: str, zbase: str, pubkey: str | None = None) -> Json:
        try:
            recovered = recover_pubkey(message, zbase)
        except ZbaseError as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from None
        if recovered is None:
            return {"verified": False}
        key = recovered.hex()
        if pubkey is not None:
            return {"pubkey": key, "verified": key == pubkey}
        if key == self.node_id or any(
            n["nodeid"] == key for n in views.listnodes(self.net, self.node_id)["nodes"]
        ):
            return {"pubkey": key, "verified": True}
        raise RpcError(
            SIGNMESSAGE_PUBKEY_NOT_FOUND, "pubkey not found in the graph", {"claimed_key": key}
        )

    def makesecret(self, *, hex: str | None = None, string: str | None = None) -> Json:
        if (hex is None) == (string is None):
            raise RpcError(INVALID_PARAMS, "Must have either hex or string")
        try:
            info = bytes.fromhex(hex) if hex is not None else (string or "").encode()
        except ValueError:
            raise RpcError(INVALID_PARAMS, "hex: should be a hex value: invalid token") from None
        return {"secret": hkdf_secret(self._node.secret, info).hex()}

    # -- datastore -----------------------------------------------------------------
    def datastore(
        self,
        *,
        key: str | list[str],
        string: str | None = None,
        hex: str | None = None,
        mode: str | None = None,
        generation: int | None = None,
    ) -> Json:
        return self._node.datastore.datastore(
            key, string=string, hex=hex, mode=mode, generation=generation
        )

    def listdatastore(self, *, key: str | list[str] | None = None) -> Json:
        return self._node.datastore.listdatastore(key)

    def deldatastore(self, *, key: str | list[str], generation: int | None = None) -> Json:
        return self._node.datastore.deldatastore(key, generation)

    def datastoreusage(self, *, key: str | list[str] | None = None) -> Json:
        return self._node.datastore.datastoreusage(key)

    # -- askrene layers (served as askrene-*) -------------------------------------------
    def askrene_create_layer(self, *, layer: str, persistent: bool | None = None) -> Json:
        return self._node.layers.create(layer, persistent)

    def askrene_remove_layer(self, *, layer: str) -> Json:
        return self._node.layers.remove(layer)

    def askrene_update_channel(
        self,
        *,
        layer: str,
        short_channel_id_dir: str,
        enabled: bool | None = None,
        htlc_minimum_msat: int | None = None,
        htlc_maximum_msat: int | None = None,
        fee_base_msat: int | None = None,
        fee_proportional_millionths: int | None = None,
        cltv_expiry_delta: int | None = None,
    ) -> Json:
        changes = {
            "enabled": enabled,
            "htlc_minimum_msat": htlc_minimum_msat,
            "htlc_maximum_msat": htlc_maximum_msat,
            "fee_base_msat": fee_base_msat,
            "fee_proportional_millionths": fee_proportional_millionths,
            "cltv_expiry_delta": cltv_expiry_delta,
        }
        return self._node.layers.update_channel(layer, short_channel_id_dir, changes)

    def askrene_listlayers(self, *, layer: str | None = None) -> Json:
        return self._node.layers.listlayers(layer)

    # -- on-chain wallet -------------------------------------------------------------
    def newaddr(self, *, addresstype: str | None = None) -> Json:
        """This node's deterministic address of the type asked (p2tr by default)."""
        kind = "p2tr" if addresstype is None else addresstype
        addrs = node_addresses(self.node_id)
        if kind == "all":
            return {"p2tr": addrs["p2tr"], "bech32": addrs["bech32"]}
        if kind not in addrs:
            raise RpcError(
                INVALID_PARAMS,
                f"'addresstype' should be 'p2tr', 'bech32', or 'all', not '\"{kind}\"'",
            )
        return {kind: addrs[kind]}

    def withdraw(
        self,
        *,
        destination: str,
        satoshi: int | str,
        feerate: int | str | None = None,
        minconf: int | None = None,
        utxos: list[str] | None = None,
    ) -> Json:
        """Spend wallet outputs (oldest first, or ``utxos``) to ``destination``; change and
        the output to a node of the model confirm on the next block."""
        decoded = decode_segwit(destination)
        if decoded is None:
            raise RpcError(
                LIGHTNINGD,
                "Could not parse destination address, destination should be a valid address",
            )
        hrp, version, program = decoded
        if hrp != HRP:
            raise RpcError(LIGHTNINGD, "Destination address is not on network regtest")
        node = self._node
        if utxos is not None:
            picked = [self._wallet_utxo(op) for op in utxos]
            available = list(picked)
        else:
            depth = 1 if minconf is None else minconf
            available = [
                u
                for u in node.utxos
                if not u.spent
                and not u.reserved
                and (
                    depth == 0
                    or (
                        u.blockheight is not None
                        and self.net.blockheight - u.blockheight + 1 >= depth
                    )
                )
            ]
            picked = []
        total = sum(u.amount_msat for u in available) // 1000
        fee = WITHDRAW_FEE_SAT
        if satoshi == "all":
            if not available:
                raise RpcError(
                    FUNDING_CANNOT_AFFORD,
                    "Could not afford all using all 0 available UTXOs: all short",
                )
            amount = total - fee
            if amount < DUST_LIMIT_SAT:
                raise RpcError(
                    FUNDING_CANNOT_AFFORD,
                    f"Could not afford 'all' output: only {max(amount, 0)}sat left",
                )
            picked = available
        else:
            amount = int(satoshi)
            if amount < DUST_LIMIT_SAT:
                raise RpcError(
                    FUNDING_OUTPUT_IS_DUST,
                    f"Receive amount is below dust limit ({DUST_LIMIT_SAT}sat)",
                )
            need = amount + fee
            if total < need:
                raise RpcError(
                    FUNDING_CANNOT_AFFORD,
                    f"Could not afford {amount}sat using all {len(available)} available "
                    f"UTXOs: {need - total}sat short",
                )
            if utxos is None:
                got = 0
                for u in available:
                    picked.append(u)
                    got += u.amount_msat // 1000
                    if got >= need:
                        break
            else:
                picked = available
        return self._spend(picked, amount, fee, _script(version, program), destination)

    def _wallet_utxo(self, outpoint: str) -> Utxo:
        txid, _, n = outpoint.partition(":")
        for u in self._node.utxos:
            if u.txid == txid and str(u.output) == n:
                if u.spent:
                    raise RpcError(INVALID_PARAMS, f"Already spent UTXO {outpoint}")
                if u.reserved:
                    raise RpcError(INVALID_PARAMS, f"UTXO {outpoint} already reserved")
                return u
        raise RpcError(INVALID_PARAMS, f"Unknown UTXO {outpoint}")

    def _spend(
        self, picked: list[Utxo], amount: int, fee: int, script: str, destination: str
    ) -> Json:
        net, node = self.net, self._node
        # The model's transaction helpers (txids and fake transactions) are its own.
        txid = net._new_txid("withdraw")
        for u in picked:
            u.spent = True
        receiver = next(
            (n for n in net.nodes.values() if destination in node_addresses(n.node_id).values()),
            None,
        )
        if receiver is not None:
            receiver.utxos.append(Utxo(txid, 0, amount * 1000, script, None))
        change = sum(u.amount_msat for u in picked) - (amount + fee) * 1000
        if change > DUST_LIMIT_SAT * 1000:
            node.utxos.append(Utxo(txid, 1, change, net._script(node, txid), None))
        net.pending.append(PendingTx(txid, "wallet"))
        psbt = base64.b64encode(b"psbt\xff" + bytes.fromhex(txid)).decode()
        return {"tx": net._fake_tx(txid), "txid": txid, "psbt": psbt}
