"""What a prepared action touches, in the terms scope checks and policy rules use.

:func:`effects_of` reads the validated params of a :class:`PreparedAction` and the
live :class:`NodeSnapshot`: the channels and peers it targets (``"all"`` and
all-channel actions expanded from the snapshot), the fee and HTLC changes it asks
for, the sats that may leave the node, on-chain amounts and feerates, destinations,
plugin names and history starts. Unknown channels are kept by reference so the
rules can refuse them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lnhive.manage.catalogue import Effect, PreparedAction
from lnhive.manage.snapshot import NodeSnapshot


@dataclass(frozen=True, slots=True)
class FeeChange:
    channel: str
    """The reference as given (SCID or channel id)."""
    base_msat: int | None
    fee_ppm: int | None


@dataclass(frozen=True, slots=True)
class ActionEffects:
    kinds: frozenset[Effect]
    channels: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    """Peers named in the params (opens, connects, payment destinations)."""
    channel_peers: tuple[str, ...] = ()
    """Peers of the targeted channels we know of."""
    fee_changes: tuple[FeeChange, ...] = ()
    htlc_minimum_msat: int | None = None
    htlc_maximum_msat: int | None = None
    cltv_delta: int | None = None
    sats_out: int = 0
    """Upper bound of sats that may leave the node (payments, sends, opens, fees)."""
    onchain_sats: int = 0
    """Sats moved on chain from the wallet (sends, opens, splices)."""
    feerate: int | None = None
    """sat/vB."""
    open_capacities: tuple[int, ...] = ()
    push_sats: int = 0
    announce: bool | None = None
    destinations: tuple[str, ...] = ()
    """On-chain addresses funds would go to."""
    rebalance_sats: int = 0
    rebalance_fee_ppm: int | None = None
    plugin: str | None = None
    since: int | None = None
    sweep: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def has(self, kind: Effect) -> bool:
        return kind in self.kinds


def _fee_changes(action: str, params: dict[str, Any], channels: tuple[str, ...]) -> list[FeeChange]:
    if action == "set_single":
        return [FeeChange(params["channel_id"], params.get("base_msat"), params.get("fee_ppm"))]
    if action == "set_anchor":
        return [FeeChange(params["channel_id"], None, params["target_fee_ppm"])]
    if action == "set_zero_fee":
        return [FeeChange(params["channel_id"], 0, 0)]
    if action == "set_bulk":
        policy = params["policy"]
        return [FeeChange(ch, policy.get("base_msat"), policy.get("fee_ppm")) for ch in channels]
    return []


def effects_of(prepared: PreparedAction, snapshot: NodeSnapshot) -> ActionEffects:
    spec, p = prepared.spec, prepared.params
    kinds = set(spec.effects)
    all_channels = tuple(ch.short_channel_id for ch in snapshot.channels)

    channels: list[str] = []
    for key in ("channel_id", "from_channel", "to_channel"):
        if key in p:
            channels.append(p[key])
    if "channels" in p:
        channels.extend(all_channels if p["channels"] == "all" else p["channels"])
        if p["channels"] == "all":
            kinds.add(Effect.ALL_CHANNELS)
    if "htlc_id" in p:
        channels.append(p["htlc_id"].split(":", 1)[0])
    if Effect.ALL_CHANNELS in kinds and "channels" not in p:
        channels.extend(all_channels)
    channel_refs = tuple(dict.fromkeys(channels))

    peers: list[str] = []
    for key in ("peer_id", "node_id", "provider"):
        if key in p:
            peers.append(p[key])
    if spec.name in ("pay", "keysend", "pay_mpp") and "destination" in p:
        peers.append(p["destination"])
    for entry in p.get("destinations", ()):
        if isinstance(entry, dict):
            peers.append(entry["peer_id"])
    channel_peers = [
        known.peer_id for ref in channel_refs if (known := snapshot.channel(ref)) is not None
    ]

    open_caps: tuple[int, ...] = ()
    if Effect.OPEN in kinds or Effect.PROPOSAL in kinds:
        if "destinations" in p:
            open_caps = tuple(e["amount_sats"] for e in p["destinations"])
        elif "amount_sats" in p:
            open_caps = (p["amount_sats"],)
    push_sats = p.get("push_sats", 0) + p.get("push_msat", 0) // 1000

    sweep = p.get("amount_sats") == "all"
    onchain = 0
    if spec.name == "send_onchain":
        onchain = snapshot.total_onchain_sats if sweep else p["amount_sats"]
    elif spec.name == "open":
        onchain = sum(open_caps)
    elif spec.name == "splice_in":
        onchain = p["amount_sats"]
    elif spec.name == "splice_open":
        onchain = p["in_sats"]

    sats_out = onchain + push_sats
    if spec.name in ("swap_out", "splice_out"):
        sats_out += p["amount_sats"]
    if spec.name == "splice_open":
        sats_out += p["out_sats"]
    if Effect.PAYMENT in kinds and "amount_msat" in p:
        amount = p["amount_msat"]
        sats_out += -(-amount * (1_000_000 + p.get("max_fee_ppm", 0)) // 1_000_000_000)
    rebalance_sats = p.get("amount_sats", 0) if spec.name == "circular_rebalance" else 0
    if rebalance_sats:
        sats_out += -(-rebalance_sats * p["max_fee_ppm"] // 1_000_000)
    if spec.name == "peer_rebalance":
        rebalance_sats = p["amount_sats"]

    destinations = tuple(
        p[k]
        for k in ("destination", "address")
        if k in p and spec.name not in ("pay", "keysend", "pay_mpp")
    )
    if sweep:
        kinds.add(Effect.SWEEP)
    return ActionEffects(
        kinds=frozenset(kinds),
        channels=channel_refs,
        peers=tuple(dict.fromkeys(peers)),
        channel_peers=tuple(dict.fromkeys(channel_peers)),
        fee_changes=tuple(_fee_changes(spec.name, p, channel_refs)),
        htlc_minimum_msat=p.get("htlc_minimum_msat"),
        htlc_maximum_msat=p.get("htlc_maximum_msat"),
        cltv_delta=p.get("cltv_delta"),
        sats_out=sats_out,
        onchain_sats=onchain,
        feerate=p.get("feerate"),
        open_capacities=open_caps,
        push_sats=push_sats,
        announce=p.get("announce"),
        destinations=destinations,
        rebalance_sats=rebalance_sats,
        rebalance_fee_ppm=p.get("max_fee_ppm") if spec.name == "circular_rebalance" else None,
        plugin=p.get("name") if spec.family == "plugin" else None,
        since=p.get("since"),
        sweep=sweep,
    )
