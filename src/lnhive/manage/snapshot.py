"""The live state the scorer, scope checks and policy rules look at.

Domain code never calls the node: the executor fills a :class:`NodeSnapshot` from
``listpeerchannels``, ``listpeers`` and ``listfunds`` and passes it in. Amounts are
integers (sats or msat, as the field names say).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ChannelState:
    """One of our channels, as the checks need it."""

    short_channel_id: str
    peer_id: str
    capacity_sats: int
    to_us_msat: int = 0
    base_fee_msat: int = 0
    fee_ppm: int = 0
    htlc_minimum_msat: int = 0
    htlc_maximum_msat: int = 0
    cltv_delta: int = 34
    channel_id: str = ""
    """The 64-hex channel id, when known."""
    active: bool = True
    public: bool = True

    def matches(self, ref: str) -> bool:
        """Whether ``ref`` (an SCID or a 64-hex channel id) names this channel."""
        return ref == self.short_channel_id or (bool(self.channel_id) and ref == self.channel_id)


SNAPSHOT_PEERCHANNELS = "listpeerchannels"
"""Key in :attr:`NodeSnapshot.extra` of the whole ``listpeerchannels`` answer a snapshot
was made from (the executor's reads in the same request use it instead of asking again)."""


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """Our channels, connected peers and on-chain funds at one moment."""

    channels: tuple[ChannelState, ...] = ()
    connected_peers: tuple[str, ...] = ()
    onchain_confirmed_sats: int = 0
    onchain_unconfirmed_sats: int = 0
    node_id: str = ""
    hive_peers: tuple[str, ...] = ()
    """Peers cl-revenue-ops runs with the ``hive`` strategy (fleet members, ARCHITECTURE §8.2)."""
    extra: dict[str, object] = field(default_factory=dict)
    """Anything else an executor wants rules to see (not used by the core checks)."""

    def channel(self, ref: str) -> ChannelState | None:
        """The channel named by an SCID or channel id, or ``None``."""
        for ch in self.channels:
            if ch.matches(ref):
                return ch
        return None

    def channels_with(self, peer_id: str) -> tuple[ChannelState, ...]:
        return tuple(ch for ch in self.channels if ch.peer_id == peer_id)

    @property
    def total_onchain_sats(self) -> int:
        return self.onchain_confirmed_sats + self.onchain_unconfirmed_sats


EMPTY_SNAPSHOT = NodeSnapshot()
