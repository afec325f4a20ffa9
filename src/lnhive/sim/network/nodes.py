"""A simulated node's own state: identity, peers, wallet outputs, records, datastore,
askrene layers."""

from __future__ import annotations

from dataclasses import dataclass, field

import coincurve

from lnhive.core.hashing import sha256
from lnhive.sim.network.askrene import Layers
from lnhive.sim.network.channel import Channel
from lnhive.sim.network.datastore import Datastore
from lnhive.sim.network.invoices import InvoiceBook
from lnhive.sim.network.records import Counter, Forward, HtlcRecord, SendPay


@dataclass(slots=True)
class Peer:
    node_id: str
    connected: bool
    direction: str  # "out" if we dialled, "in" if they did


@dataclass(slots=True)
class Utxo:
    txid: str
    output: int
    amount_msat: int
    scriptpubkey: str
    blockheight: int | None  # None while unconfirmed
    reserved: bool = False
    spent: bool = False


@dataclass(slots=True)
class PendingTx:
    txid: str
    kind: str  # "funding" | "close" | "wallet"
    channel: Channel | None = None


@dataclass(eq=False)
class Node:
    name: str
    node_id: str
    secret: bytes
    alias: str
    color: str
    port: int
    peers: dict[str, Peer] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)
    closed: list[Channel] = field(default_factory=list)
    utxos: list[Utxo] = field(default_factory=list)
    invoices: InvoiceBook = field(default_factory=InvoiceBook)
    sendpays: list[SendPay] = field(default_factory=list)
    sendpays_by_hash: dict[str, list[SendPay]] = field(default_factory=dict)
    sendpay_created: Counter = field(default_factory=Counter)
    sendpay_updated: Counter = field(default_factory=Counter)
    next_groupid: Counter = field(default_factory=Counter)
    forwards: list[Forward] = field(default_factory=list)
    forward_created: Counter = field(default_factory=Counter)
    forward_updated: Counter = field(default_factory=Counter)
    htlcs: list[HtlcRecord] = field(default_factory=list)
    htlc_created: Counter = field(default_factory=Counter)
    htlc_updated: Counter = field(default_factory=Counter)
    coin_movements: Counter = field(default_factory=Counter)
    datastore: Datastore = field(default_factory=Datastore)
    layers: Layers = field(default_factory=Layers)
    accepted_even_types: set[int] = field(default_factory=set)
    fees_collected_msat: int = 0


def derive_secret(seed: int, name: str) -> bytes:
    """A node's secret key from (seed, name): SHA-256 of a versioned label, re-hashed in the
    (astronomically unlikely) case it is not a valid secp256k1 scalar."""
    data = f"lnhive/sim/node-key/v1:{seed}:{name}".encode()
    while True:
        secret = sha256(data)
        try:
            coincurve.PrivateKey(secret)
            return secret
        except ValueError:
            data = secret


def channel_id_from(txid: str, outnum: int) -> str:
    """BOLT 2 channel_id: the funding txid (internal byte order) XOR the output index."""
    raw = bytearray(bytes.fromhex(txid)[::-1])
    raw[30] ^= (outnum >> 8) & 0xFF
    raw[31] ^= outnum & 0xFF
    return raw.hex()
