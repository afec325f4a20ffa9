"""The rebalancer's throwaway askrene layers (spec revenue-ops §3.3 step 3).

Each pair execution gets a layer ``rebalance-exclude-<ms>-<n>`` that disables both
directions of our two channels (so ``getroutes`` from the source's peer cannot come back
through us) and, after a failed attempt, the channel that failed. It is removed when the
pair is done; layers a crash left behind are swept at the start of the next cycle. A layer
that cannot be created is logged and the pair runs without it (route validation still
rejects a route through our node).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lnhive.cln.api import NodeApi
from lnhive.core.clock import Clock

LAYER_PREFIX = "rebalance-exclude-"


class ExclusionLayers:
    def __init__(self, node: NodeApi, clock: Clock, log: Callable[[str, str], None]) -> None:
        self.node = node
        self.clock = clock
        self.log = log
        self._seq = 0

    def make(self, *scids: str) -> str | None:
        """A new layer disabling both directions of ``scids`` (None if askrene refused)."""
        self._seq += 1
        name = f"{LAYER_PREFIX}{int(self.clock.now() * 1000)}-{self._seq}"
        try:
            self.node.call("askrene-create-layer", {"layer": name})
        except Exception as exc:
            self.log("warn", f"cannot create layer {name}: {exc}")
            return None
        for scid in scids:
            for direction in (0, 1):
                self.disable(name, f"{scid}/{direction}")
        return name

    def disable(self, layer: str | None, scid_dir: str) -> None:
        if layer is None:
            return
        try:
            self.node.call(
                "askrene-update-channel",
                {"layer": layer, "short_channel_id_dir": scid_dir, "enabled": False},
            )
        except Exception as exc:
            self.log("debug", f"cannot disable {scid_dir} in {layer}: {exc}")

    def remove(self, layer: str | None) -> None:
        if layer is None:
            return
        try:
            self.node.call("askrene-remove-layer", {"layer": layer})
        except Exception as exc:
            self.log("warn", f"cannot remove layer {layer}: {exc}")

    def sweep(self) -> list[str]:
        """Remove exclusion layers a previous run left behind; their names."""
        try:
            layers = self.node.call("askrene-listlayers", {}).get("layers", [])
        except Exception as exc:
            self.log("debug", f"askrene-listlayers: {exc}")
            return []
        names = [
            str(x.get("layer"))
            for x in layers
            if isinstance(x, Mapping) and str(x.get("layer", "")).startswith(LAYER_PREFIX)
        ]
        for name in names:
            self.remove(name)
        return names
