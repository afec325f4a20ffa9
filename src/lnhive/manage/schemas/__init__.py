"""The node-management families (comms spec §2.2), one module per family group.

:data:`CATALOGUE` holds all sixteen families; build a fresh one with
:func:`build_catalogue`.
"""

from __future__ import annotations

from lnhive.manage.catalogue import Catalogue
from lnhive.manage.schemas import channels, funds, monitor, node, routing

FAMILIES: tuple[str, ...] = (
    "monitor",
    "fee-policy",
    "htlc-policy",
    "forwarding",
    "rebalance",
    "expansion",
    "channel",
    "splice",
    "peer",
    "payment",
    "wallet",
    "plugin",
    "config",
    "backup",
    "emergency",
    "htlc-mgmt",
)


def build_catalogue() -> Catalogue:
    catalogue = Catalogue()
    for module in (monitor, routing, channels, funds, node):
        module.register(catalogue)
    return catalogue


CATALOGUE = build_catalogue()
