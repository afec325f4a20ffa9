"""The flow classes a channel can be in (spec revenue-ops §1, "Classification").

One authority for the fee controller and the rebalancer. SOURCE drains our outbound
liquidity, SINK fills it.
"""

from __future__ import annotations

import enum


class FlowClass(enum.StrEnum):
    SOURCE = "source"
    SINK = "sink"
    BALANCED = "balanced"
    BALANCED_ACTIVE = "balanced_active"
    DORMANT = "dormant"
    CONGESTED = "congested"
