"""The simulated Lightning network: nodes, peers, wallets, channels and blocks.

``Network`` is a library: it runs under any :class:`~lnhive.core.clock.Clock` and keeps
no timers. Everything that depends on time (gossip propagation, the old fee honoured
for ``enforcedelay``, invoice expiry) is evaluated from timestamps when asked, so the
same model runs a month of traffic under a virtual clock or serves sockets in wall time.
Payments live in :mod:`.payments`, CLN-shaped answers in :mod:`.views`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import coincurve

from lnhive.core.clock import Clock
from lnhive.core.hashing import sha256
from lnhive.sim.errors import INVALID_PARAMS, LIGHTNINGD, RpcError
from lnhive.sim.network import chainmoves
from lnhive.sim.network import channel as ch
from lnhive.sim.network.channel import Channel, Policy, default_policy
from lnhive.sim.network.events import Event, Subscriber, iso_timestamp
from lnhive.sim.network.nodes import (
    Node,
    Peer,
    PendingTx,
    Utxo,
    channel_id_from,
    derive_secret,
)

# Funding error codes (common/jsonrpc_errors.h).
FUNDING_CANNOT_AFFORD = 301
FUNDING_OUTPUT_IS_DUST = 302
FUNDING_PEER_NOT_CONNECTED = 305
FUNDING_UNKNOWN_PEER = 306

#: Feature bits we advertise (hex), fixed for every simulated node.
INIT_FEATURES = "08a0880a8a59a1"
NODE_FEATURES = "88a0880a8a59a1"
CHANNEL_FEATURES = ""
INVOICE_FEATURES = "02000002024100"
#: On-chain fees in sat, from the fixed feerates in :mod:`.views` (7500 perkw).
FUNDING_FEE_SAT = 5265
CLOSING_FEE_SAT = 2524
MIN_CAPACITY_SAT = 10_000
BASE_PORT = 19735


class Network:
    """A simulated Lightning network under ``clock``."""

    def __init__(
        self,
        clock: Clock,
        seed: int = 0,
        *,
        gossip_delay: float = 60.0,
        funding_confirms: int = 3,
        forget_after: int = 100,
        start_height: int = 100,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.gossip_delay = gossip_delay
        self.funding_confirms = funding_confirms
        self.forget_after = forget_after
        self.blockheight = start_height
        self.rng = random.Random(seed)
        self.nodes: dict[str, Node] = {}
        self.by_name: dict[str, str] = {}
        self.channels: dict[str, Channel] = {}
        self.by_scid: dict[str, Channel] = {}
        self.pending: list[PendingTx] = []
        self._awaiting: list[Channel] = []
        self._onchain: list[Channel] = []
        self._subscribers: list[Subscriber] = []
        self._txcount = 0
        self.custommsgs: Any = None  # set by messages.Mailer on first use

    # -- events ------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every notification; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def emit(self, node_id: str, topic: str, payload: dict[str, Any]) -> None:
        if not self._subscribers:
            return
        event = Event(node_id, topic, payload)
        for cb in list(self._subscribers):
            cb(event)

    # -- nodes -------------------------------------------------------------------
    def add_node(self, name: str, alias: str | None = None, secret: bytes | None = None) -> str:
        """Create a node with the 32-byte key ``secret``, or one derived from (seed, name);
        returns its node id."""
        if name in self.by_name:
            raise ValueError(f"node {name!r} already exists")
        if secret is None:
            secret = derive_secret(self.seed, name)
        elif len(secret) != 32:
            raise ValueError(f"node {name!r}: the secret must be 32 bytes, not {len(secret)}")
        try:
            node_id = coincurve.PrivateKey(secret).public_key.format(compressed=True).hex()
        except ValueError:
            raise ValueError(f"node {name!r}: the secret is not a valid secp256k1 key") from None
        if node_id in self.nodes:
            raise ValueError(f"node {name!r}: another node already has this key")
        color = node_id[2:8]
        node = Node(
            name, node_id, secret, alias or name.upper(), color, BASE_PORT + len(self.nodes)
        )
        self.nodes[node_id] = node
        self.by_name[name] = node_id
        return node_id

    def node(self, name_or_id: str) -> Node:
        """The node with this name or id (KeyError if none)."""
        node_id = self.by_name.get(name_or_id, name_or_id)
        return self.nodes[node_id]

    def now(self) -> float:
        return self.clock.now()

    def _new_txid(self, label: str) -> str:
        self._txcount += 1
        return sha256(f"lnhive/sim/tx:{self.seed}:{self._txcount}:{label}".encode())[::-1].hex()

    # -- peers -------------------------------------------------------------------
    def is_connected(self, a: str, b: str) -> bool:
        peer = self.nodes[a].peers.get(b)
        return peer is not None and peer.connected

    def connect(self, a: str, b: str) -> dict[str, Any]:
        """``a`` dials ``b``; returns ``a``'s ``connect`` result."""
        na, nb = self.node(a), self.node(b)
        if na is nb:
            raise RpcError(INVALID_PARAMS, "Cannot connect to self")
        result: dict[str, Any] = {
            "id": nb.node_id,
            "features": INIT_FEATURES,
            "direction": "out",
            "address": {"type": "ipv4", "address": "127.0.0.1", "port": nb.port},
        }
        existing = na.peers.get(nb.node_id)
        if existing is not None and existing.connected:
            result["direction"] = existing.direction
            return result
        na.peers[nb.node_id] = Peer(nb.node_id, True, "out")
        nb.peers[na.node_id] = Peer(na.node_id, True, "in")
        self.emit(
            na.node_id,
            "connect",
            {"id": nb.node_id, "direction": "out", "address": dict(result["address"])},
        )
        self.emit(
            nb.node_id,
            "connect",
            {
                "id": na.node_id,
                "direction": "in",
                "address": {"type": "ipv4", "address": "127.0.0.1", "port": na.port},
            },
        )
        return result

    def disconnect(self, a: str, b: str, *, force: bool = False) -> None:
        na, nb = self.node(a), self.node(b)
        peer = na.peers.get(nb.node_id)
        if peer is None:
            raise RpcError(LIGHTNINGD, "Unknown peer")
        if not peer.connected:
            raise RpcError(LIGHTNINGD, "Peer not connected")
        if not force:
            for chan in self.channels_between(na.node_id, nb.node_id):
                if chan.state == ch.NORMAL:
                    raise RpcError(
                        LIGHTNINGD, f"Peer has (at least one) channel in state {chan.state}"
                    )
        peer.connected = False
        other = nb.peers.get(na.node_id)
        if other is not None:
            other.connected = False
        self.emit(na.node_id, "disconnect", {"id": nb.node_id})
        self.emit(nb.node_id, "disconnect", {"id": na.node_id})
        if self.custommsgs is not None:
            self.custommsgs.drop_pair(na.node_id, nb.node_id)

    # -- wallet ------------------------------------------------------------------
    def fund_wallet(self, node: str, sat: int) -> Utxo:
        """Give ``node`` a confirmed on-chain output of ``sat`` satoshis."""
        n = self.node(node)
        txid = self._new_txid("deposit")
        utxo = Utxo(txid, 0, sat * 1000, self._script(n, txid), self.blockheight)
        n.utxos.append(utxo)
        chainmoves.deposit(self, n.node_id, txid, 0, sat * 1000)
        return utxo

    def _script(self, n: Node, salt: str) -> str:
        return "0014" + sha256(f"{n.node_id}:{salt}".encode())[:20].hex()

    def wallet_msat(self, node: str) -> int:
        return sum(u.amount_msat for u in self.node(node).utxos if not u.spent and not u.reserved)

    # -- channels ----------------------------------------------------------------
    def live_channels(self) -> list[Channel]:
        return list(self.channels.values())

    def channels_between(self, a: str, b: str) -> list[Channel]:
        return [c for c in self.nodes[a].channels if b in c.node_ids]

    def resolve_channel(self, node: str, ident: str) -> list[Channel]:
        """Channels of ``node`` named by scid, channel id, peer id or ``all``."""
        n = self.node(node)
        if ident == "all":
            return list(n.channels)
        return [
            c
            for c in n.channels
            if ident in (c.scid, c.channel_id) or (ident in c.node_ids and ident != n.node_id)
        ]

    def fundchannel(
        self,
        opener: str,
        peer: str,
        amount_sat: int | str,
        *,
        announce: bool = True,
        push_msat: int = 0,
        mindepth: int | None = None,
    ) -> tuple[Channel, dict[str, Any]]:
        """Open a channel funded by ``opener`` (``amount_sat`` may be ``"all"``); the funding
        transaction confirms on the next :meth:`mine`. Returns the channel and
        fundchannel's result."""
        no = self.node(opener)
        if peer not in self.nodes:
            raise RpcError(FUNDING_UNKNOWN_PEER, "Unknown peer")
        np_ = self.nodes[peer]
        if not self.is_connected(no.node_id, np_.node_id):
            raise RpcError(FUNDING_PEER_NOT_CONNECTED, "Peer not connected")
        available = [
            u for u in no.utxos if not u.spent and not u.reserved and u.blockheight is not None
        ]
        total_msat = sum(u.amount_msat for u in available)
        amount = total_msat // 1000 - FUNDING_FEE_SAT if amount_sat == "all" else int(amount_sat)
        if amount < MIN_CAPACITY_SAT:
            if amount_sat == "all" or amount * 1000 + FUNDING_FEE_SAT * 1000 > total_msat:
                raise RpcError(
                    FUNDING_CANNOT_AFFORD,
                    f"Could not afford {max(amount, 0)}sat using all {len(available)} "
                    "available UTXOs",
                )
            raise RpcError(
                LIGHTNINGD, f"channel capacity is {amount}sat, which is below {MIN_CAPACITY_SAT}sat"
            )
        need = (amount + FUNDING_FEE_SAT) * 1000
        if need > total_msat:
            short = (need - total_msat) // 1000
            raise RpcError(
                FUNDING_CANNOT_AFFORD,
                f"Could not afford {amount}sat using all {len(available)} available "
                f"UTXOs: {short}sat short",
            )
        if push_msat > amount * 1000:
            raise RpcError(INVALID_PARAMS, "push_msat must be < amount")
        # Spend the oldest outputs first; any change returns to the wallet unconfirmed.
        picked, got = [], 0
        for u in available:
            picked.append(u)
            got += u.amount_msat
            if got >= need:
                break
        txid = self._new_txid("funding")
        for u in picked:
            u.spent = True
        change = got - need
        if change > 0:
            no.utxos.append(Utxo(txid, 1, change, self._script(no, txid), None))
        now = self.now()
        ids = sorted((no.node_id, np_.node_id))
        opener_side = ids.index(no.node_id)
        balance = [0, 0]
        balance[opener_side] = amount * 1000 - push_msat
        balance[1 - opener_side] = push_msat
        chan = Channel(
            channel_id=channel_id_from(txid, 0),
            funding_txid=txid,
            funding_outnum=0,
            capacity_sat=amount,
            node_ids=(ids[0], ids[1]),
            opener_side=opener_side,
            balance=balance,
            policies=[default_policy(amount, now), default_policy(amount, now)],
            announce=announce,
            pushed_msat=push_msat,
            mindepth=self.funding_confirms if mindepth is None else mindepth,
            opened_at=now,
        )
        self.channels[chan.channel_id] = chan
        no.channels.append(chan)
        np_.channels.append(chan)
        self.pending.append(PendingTx(txid, "funding", chan))
        self._awaiting.append(chan)
        self._state(chan, ch.AWAITING_LOCKIN, opener_side, "user", "new channel opened")
        self.emit(
            np_.node_id,
            "channel_opened",
            {
                "id": no.node_id,
                "funding_msat": amount * 1000,
                "funding_txid": txid,
                "channel_ready": False,
            },
        )
        result = {
            "tx": self._fake_tx(txid),
            "txid": txid,
            "outnum": 0,
            "channel_id": chan.channel_id,
            "channel_type": {"bits": [12, 22], "names": ["static_remotekey/even", "anchors/even"]},
            "mindepth": chan.mindepth,
        }
        return chan, result

    def _fake_tx(self, txid: str) -> str:
        return "02000000000101" + txid + "00000000" + "00" * 8

    def _state(
        self, chan: Channel, new: str, initiator_side: int, cause: str, message: str
    ) -> None:
        """Move ``chan`` to ``new`` and tell both ends (cause as seen by the initiator; the
        other end sees ``remote`` when the initiator acted as ``user``/``local``)."""
        old = chan.state if chan.state_changes else None
        chan.state = new
        now = self.now()
        ts = iso_timestamp(now)
        chan.state_changes.append(
            {
                "timestamp": ts,
                "old_state": old or ch.OPENINGD,
                "new_state": new,
                "cause": cause,
                "message": message,
                "initiator_side": initiator_side,
            }
        )
        if not self._subscribers:
            return
        for side in (initiator_side, 1 - initiator_side):
            side_cause = cause
            if side != initiator_side and cause in ("user", "local"):
                side_cause = "remote"
            payload: dict[str, Any] = {
                "peer_id": chan.node_ids[1 - side],
                "channel_id": chan.channel_id,
            }
            if chan.scid is not None:
                payload["short_channel_id"] = chan.scid
            payload["timestamp"] = ts
            if old is not None:
                payload["old_state"] = old
            payload.update(new_state=new, cause=side_cause, message=message)
            self.emit(chan.node_ids[side], "channel_state_changed", payload)

    def close(self, node: str, ident: str, *, force_unilateral: bool = False) -> dict[str, Any]:
        """Close the one channel ``ident`` names (peer id, channel id or scid): mutual when the
        peer is connected, else unilateral. Returns close's result."""
        n = self.node(node)
        chans = [c for c in self.resolve_channel(n.node_id, ident) if c.close_txid is None]
        if not chans:
            if ident in self.nodes:
                raise RpcError(LIGHTNINGD, "Peer has no active channel")
            raise RpcError(LIGHTNINGD, f"Short channel ID not found: '{ident}'")
        if len(chans) > 1:
            raise RpcError(
                LIGHTNINGD, "Peer has multiple channels: use channel_id or short_channel_id"
            )
        chan = chans[0]
        side = chan.side_of(n.node_id)
        peer = chan.node_ids[1 - side]
        chan.closer_side = side
        chan.close_cause = "user"
        txid = self._new_txid("close")
        chan.close_txid = txid
        if self.is_connected(n.node_id, peer) and not force_unilateral:
            self._state(
                chan, ch.SHUTTING_DOWN, side, "user", "User or plugin invoked close command"
            )
            self._state(chan, ch.CLOSINGD_SIGEXCHANGE, side, "user", "Start closingd")
            self._state(chan, ch.CLOSINGD_COMPLETE, side, "user", "Closing complete")
            kind = "mutual"
        else:
            chan.unilateral = True
            self._state(
                chan,
                ch.AWAITING_UNILATERAL,
                side,
                "user",
                "Forcibly closed by `close` command timeout",
            )
            kind = "unilateral"
        self.pending.append(PendingTx(txid, "close", chan))
        return {"type": kind, "txs": [self._fake_tx(txid)], "txids": [txid]}

    def _settle_close(self, chan: Channel) -> None:
        """The closing transaction confirmed: pay each side's balance to its wallet."""
        txid = chan.close_txid or ""
        chan.close_height = self.blockheight
        fee = CLOSING_FEE_SAT * 1000
        for htlc in list(chan.htlcs.values()):  # in-flight HTLCs time out back to the sender
            chan.fail_htlc(htlc)
        paid = [0, 0]
        for side in (0, 1):
            amount = chan.balance[side]
            if side == chan.opener_side:
                amount = max(0, amount - fee)
            amount -= amount % 1000
            if amount > ch.DUST_LIMIT_MSAT:
                n = self.nodes[chan.node_ids[side]]
                n.utxos.append(Utxo(txid, side, amount, self._script(n, txid), self.blockheight))
                paid[side] = amount
        chainmoves.channel_close(self, chan, paid)
        closer = chan.closer_side if chan.closer_side is not None else 0
        self._state(chan, ch.FUNDING_SPEND_SEEN, closer, "onchain", "Onchain funding spend")
        self._state(chan, ch.ONCHAIN, closer, "onchain", "Onchain init reply")
        self._onchain.append(chan)

    def _forget(self, chan: Channel) -> None:
        for node_id in chan.node_ids:
            n = self.nodes[node_id]
            if chan in n.channels:
                n.channels.remove(chan)
                n.closed.append(chan)
        self.channels.pop(chan.channel_id, None)
        if chan.scid is not None:
            self.by_scid.pop(chan.scid, None)

    # -- blocks ------------------------------------------------------------------
    def mine(self, n: int = 1) -> int:
        """Mine ``n`` blocks, confirming pending transactions in the first; returns the height."""
        for _ in range(n):
            self.blockheight += 1
            height = self.blockheight
            txs, self.pending = self.pending, []
            for index, tx in enumerate(txs, start=1):
                chan = tx.channel
                if chan is None:
                    if tx.kind == "wallet":  # withdraw: its outputs confirm
                        for owner in self.nodes.values():
                            for u in owner.utxos:
                                if u.txid == tx.txid and u.blockheight is None:
                                    u.blockheight = height
                    continue
                if tx.kind == "funding":
                    chan.funding_height = height
                    chan.scid = f"{height}x{index}x{chan.funding_outnum}"
                    self.by_scid[chan.scid] = chan
                    opener = self.nodes[chan.node_ids[chan.opener_side]]
                    for u in opener.utxos:
                        if u.txid == tx.txid and u.blockheight is None:
                            u.blockheight = height
                elif tx.kind == "close":
                    self._settle_close(chan)
            still = []
            for chan in self._awaiting:
                if chan.close_txid is not None:
                    continue
                if (
                    chan.funding_height is not None
                    and height - chan.funding_height + 1 >= chan.mindepth
                ):
                    chan.normal_since = self.now()
                    self._state(chan, ch.NORMAL, chan.opener_side, "user", "Lockin complete")
                    chainmoves.channel_open(self, chan)
                else:
                    still.append(chan)
            self._awaiting = still
            keep = []
            for chan in self._onchain:
                if (
                    chan.close_height is not None
                    and height >= chan.close_height + self.forget_after
                ):
                    self._forget(chan)
                else:
                    keep.append(chan)
            self._onchain = keep
            if self._subscribers:
                block_hash = sha256(f"lnhive/sim/block:{self.seed}:{height}".encode())[::-1].hex()
                for node_id in self.nodes:
                    self.emit(node_id, "block_added", {"hash": block_hash, "height": height})
        return self.blockheight

    # -- fees --------------------------------------------------------------------
    def setchannel(
        self,
        node: str,
        ident: str,
        *,
        feebase: int | None = None,
        feeppm: int | None = None,
        htlcmin: int | None = None,
        htlcmax: int | None = None,
        enforcedelay: int = 600,
        ignorefeelimits: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Change ``node``'s policy on the channels ``ident`` names; returns setchannel's
        ``channels``. The previous fee stays acceptable for ``enforcedelay`` seconds."""
        n = self.node(node)
        chans = [
            c
            for c in self.resolve_channel(n.node_id, ident)
            if c.state in (ch.AWAITING_LOCKIN, ch.NORMAL)
        ]
        if not chans:
            if ident == "all":
                return []
            if ident in self.nodes:
                raise RpcError(
                    LIGHTNINGD, "Could not find any active channels of peer with that id"
                )
            raise RpcError(LIGHTNINGD, "Could not find active channel with that id")
        now = self.now()
        out = []
        for chan in chans:
            side = chan.side_of(n.node_id)
            cur = chan.policies[side]
            stamp = now if now > cur.timestamp else cur.timestamp + 1
            warn_max = None
            new_max = cur.htlc_max_msat if htlcmax is None else htlcmax
            if new_max > chan.capacity_msat:
                new_max = chan.capacity_msat
                warn_max = "Set maximum_htlc_out_msat to maximum possible in channel"
            pol = Policy(
                fee_base_msat=cur.fee_base_msat if feebase is None else feebase,
                fee_ppm=cur.fee_ppm if feeppm is None else feeppm,
                cltv_delta=cur.cltv_delta,
                htlc_min_msat=cur.htlc_min_msat if htlcmin is None else htlcmin,
                htlc_max_msat=new_max,
                timestamp=stamp,
                ignore_fee_limits=cur.ignore_fee_limits
                if ignorefeelimits is None
                else ignorefeelimits,
            )
            chan.set_policy(side, pol, now + enforcedelay)
            item: dict[str, Any] = {
                "peer_id": chan.node_ids[1 - side],
                "channel_id": chan.channel_id,
            }
            if chan.scid is not None:
                item["short_channel_id"] = chan.scid
            item.update(
                fee_base_msat=pol.fee_base_msat,
                fee_proportional_millionths=pol.fee_ppm,
                ignore_fee_limits=pol.ignore_fee_limits,
                minimum_htlc_out_msat=pol.htlc_min_msat,
                maximum_htlc_out_msat=pol.htlc_max_msat,
            )
            if warn_max is not None:
                item["warning_htlcmax_too_high"] = warn_max
            out.append(item)
        return out

    # -- conveniences for tests and scenarios -------------------------------------
    def open_channel(
        self,
        a: str,
        b: str,
        capacity_sat: int,
        *,
        push_msat: int = 0,
        announce: bool = True,
        confirm: bool = True,
    ) -> Channel:
        """Fund ``a``'s wallet as needed, connect, open and (by default) mine to NORMAL."""
        na, nb = self.node(a), self.node(b)
        need = capacity_sat + FUNDING_FEE_SAT
        if self.wallet_msat(na.node_id) < need * 1000:
            self.fund_wallet(na.node_id, need)
        self.connect(na.node_id, nb.node_id)
        chan, _ = self.fundchannel(
            na.node_id, nb.node_id, capacity_sat, announce=announce, push_msat=push_msat
        )
        if confirm:
            self.mine(chan.mindepth)
        return chan
