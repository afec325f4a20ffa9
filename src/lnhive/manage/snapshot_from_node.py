"""Filling a :class:`NodeSnapshot` from the node (``listpeerchannels``, ``listpeers``,
``listfunds``, ``getinfo``), and the state hashes receipts carry (comms spec §6).

Only channels that can carry a policy change count: closed or closing channels are left
out, so an action on them is refused as an unknown channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.canonical import canonical_json
from lnhive.core.hashing import sha256_hex
from lnhive.manage.snapshot import SNAPSHOT_PEERCHANNELS, ChannelState, NodeSnapshot

LIVE_STATES = frozenset({"CHANNELD_NORMAL", "CHANNELD_AWAITING_SPLICE"})

"""Channel states whose policy a ``setchannel`` changes."""


def _msat(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("msat") and value[:-4].isdigit():
        return int(value[:-4])
    return 0


def channel_state(entry: Mapping[str, Any]) -> ChannelState | None:
    """A :class:`ChannelState` from one ``listpeerchannels`` entry (``None`` if it has no
    short channel id yet)."""
    scid = entry.get("short_channel_id")
    if not isinstance(scid, str):
        return None
    local = entry.get("updates", {}).get("local", {})
    return ChannelState(
        short_channel_id=scid,
        peer_id=str(entry.get("peer_id", "")),
        capacity_sats=_msat(entry.get("total_msat")) // 1000,
        to_us_msat=_msat(entry.get("to_us_msat")),
        base_fee_msat=_msat(local.get("fee_base_msat", entry.get("fee_base_msat", 0))),
        fee_ppm=int(local.get("fee_proportional_millionths", 0)),
        htlc_minimum_msat=_msat(local.get("htlc_minimum_msat", 0)),
        htlc_maximum_msat=_msat(local.get("htlc_maximum_msat", 0)),
        cltv_delta=int(local.get("cltv_expiry_delta", 34)),
        channel_id=str(entry.get("channel_id", "")),
        active=entry.get("state") in LIVE_STATES and bool(entry.get("peer_connected", False)),
        public=not entry.get("private", False),
    )


def snapshot_from_node(
    node: NodeApi, *, hive_peers: Iterable[str] = (), node_id: str | None = None
) -> NodeSnapshot:
    """The node's live channels, connected peers and on-chain funds now (``getinfo`` is
    asked for the node's id only when ``node_id`` is not given: it never changes)."""
    if node_id is None:
        node_id = str(node.getinfo().get("id", ""))
    channels = []
    peerchannels = node.listpeerchannels()
    for entry in peerchannels.get("channels", []):
        if entry.get("state") not in LIVE_STATES:
            continue
        state = channel_state(entry)
        if state is not None:
            channels.append(state)
    peers = tuple(
        str(p["id"]) for p in node.listpeers().get("peers", []) if p.get("connected", False)
    )
    confirmed = unconfirmed = 0
    for out in node.listfunds().get("outputs", []):
        if out.get("reserved"):
            continue
        sats = _msat(out.get("amount_msat")) // 1000
        if out.get("status") == "confirmed":
            confirmed += sats
        elif out.get("status") == "unconfirmed":
            unconfirmed += sats
    return NodeSnapshot(
        channels=tuple(channels),
        connected_peers=peers,
        onchain_confirmed_sats=confirmed,
        onchain_unconfirmed_sats=unconfirmed,
        node_id=node_id,
        hive_peers=tuple(hive_peers),
        extra={SNAPSHOT_PEERCHANNELS: peerchannels},
    )


def channel_policy(ch: ChannelState) -> dict[str, Any]:
    """The parts of a channel an advisor action changes."""
    return {
        "short_channel_id": ch.short_channel_id,
        "peer_id": ch.peer_id,
        "fee_base_msat": ch.base_fee_msat,
        "fee_ppm": ch.fee_ppm,
        "htlc_minimum_msat": ch.htlc_minimum_msat,
        "htlc_maximum_msat": ch.htlc_maximum_msat,
    }


def channels_state_hash(snapshot: NodeSnapshot, refs: Iterable[str]) -> str:
    """SHA-256 of the JCS of the sorted policies of the channels ``refs`` names
    (unknown references are left out)."""
    wanted = [c for ref in refs if (c := snapshot.channel(ref)) is not None]
    state = sorted(
        (channel_policy(c) for c in dict.fromkeys(wanted)), key=lambda p: p["short_channel_id"]
    )
    return sha256_hex(canonical_json(state))


def funds_state_hash(snapshot: NodeSnapshot) -> str:
    """SHA-256 of the JCS of the on-chain funds summary and the channel list."""
    state = {
        "onchain_confirmed_sats": snapshot.onchain_confirmed_sats,
        "onchain_unconfirmed_sats": snapshot.onchain_unconfirmed_sats,
        "channels": sorted(c.short_channel_id for c in snapshot.channels),
        "peers": sorted(snapshot.connected_peers),
    }
    return sha256_hex(canonical_json(state))
