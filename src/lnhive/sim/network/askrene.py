"""A node's askrene layers (``askrene-create-layer``, ``askrene-update-channel``,
``askrene-remove-layer``, ``askrene-listlayers``) and what ``getroutes`` takes from them.

A layer is a named overlay on the gossip view. The model keeps the parts a payer uses
to steer routes away from channels: per ``short_channel_id_dir`` updates (``enabled``,
htlc limits, fees, CLTV delta, stored and listed as given) and disabled nodes (none of
the served commands sets them yet). ``getroutes`` honours ``enabled: false`` and
disabled nodes; overridden fees and limits are listed but not applied to pathfinding.
The automatic layers (``auto.localchans``, ``auto.sourcefree``, ``auto.include_fees``,
``auto.no_mpp_support``) are accepted by ``getroutes``; they do not change the path (the
model's pathfinding already knows local channels' real balances), and only
``auto.localchans`` changes the reported probability: hops out of the querying node
count as known (:func:`lnhive.sim.network.routing.route_probability`). Layers are kept
in memory and ``persistent`` is reported as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lnhive.sim.errors import INVALID_PARAMS, RpcError

AUTO_LAYERS = frozenset(
    {"auto.localchans", "auto.sourcefree", "auto.include_fees", "auto.no_mpp_support"}
)
_UPDATE_FIELDS = (
    "enabled",
    "htlc_minimum_msat",
    "htlc_maximum_msat",
    "fee_base_msat",
    "fee_proportional_millionths",
    "cltv_expiry_delta",
)


def _badparam(name: str, reason: str, value: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"{name}: {reason}: invalid token '\"{value}\"'")


@dataclass
class Layer:
    name: str
    persistent: bool = False
    disabled_nodes: list[str] = field(default_factory=list)
    channel_updates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        updates = [{"short_channel_id_dir": k, **v} for k, v in self.channel_updates.items()]
        return {
            "layer": self.name,
            "persistent": self.persistent,
            "disabled_nodes": list(self.disabled_nodes),
            "created_channels": [],
            "channel_updates": updates,
            "constraints": [],
            "impressions": [],
            "biases": [],
            "node_biases": [],
        }


@dataclass
class Layers:
    """One node's askrene layers by name."""

    by_name: dict[str, Layer] = field(default_factory=dict)

    def _known(self, name: str) -> Layer:
        layer = self.by_name.get(name)
        if layer is None:
            raise _badparam("layer", "Unknown layer", name)
        return layer

    def create(self, name: str, persistent: bool | None) -> dict[str, Any]:
        # CLN checks these in this order, failing with plain messages (not param errors)
        if name.startswith("auto."):
            raise RpcError(INVALID_PARAMS, "Cannot create auto layer")
        layer = self.by_name.get(name)
        if layer is not None and not persistent:
            raise RpcError(INVALID_PARAMS, "Layer already exists")
        if layer is None:
            layer = Layer(name, bool(persistent))
            self.by_name[name] = layer
        return {"layers": [layer.to_json()]}

    def remove(self, name: str) -> dict[str, Any]:
        self._known(name)
        del self.by_name[name]
        return {}

    def update_channel(self, name: str, scid_dir: str, changes: dict[str, Any]) -> dict[str, Any]:
        layer = self._known(name)
        entry = layer.channel_updates.setdefault(scid_dir, {})
        entry.update({k: v for k, v in changes.items() if k in _UPDATE_FIELDS and v is not None})
        return {}

    def listlayers(self, name: str | None) -> dict[str, Any]:
        if name is not None:
            layer = self.by_name.get(name)
            return {"layers": [] if layer is None else [layer.to_json()]}
        return {"layers": [layer.to_json() for _, layer in sorted(self.by_name.items())]}

    def exclusions(self, names: list[str]) -> set[str]:
        """What ``getroutes`` over ``names`` must avoid: ``scid/dir`` strings of disabled
        channel directions and ids of disabled nodes. Unknown names fail as askrene does."""
        out: set[str] = set()
        for name in names:
            if name in AUTO_LAYERS:
                continue
            layer = self.by_name.get(name)
            if layer is None:
                raise _badparam("layers", "unknown layer", name)
            out.update(layer.disabled_nodes)
            out.update(k for k, v in layer.channel_updates.items() if v.get("enabled") is False)
        return out
