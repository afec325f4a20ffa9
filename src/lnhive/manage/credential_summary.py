"""Credential templates (doc 08) and a human-readable summary of what a credential allows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lnhive.core.errors import InvalidInput
from lnhive.manage.catalogue import Catalogue
from lnhive.manage.credential import Credential
from lnhive.manage.danger import Tier
from lnhive.manage.patterns import any_matches


@dataclass(frozen=True)
class Template:
    name: str
    tier: Tier
    permissions: tuple[str, ...]
    allowed_schemas: tuple[str, ...]
    constraints: dict[str, Any]


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("monitor_only", Tier.MONITOR, ("monitor",), ("hive:monitor/*",), {}),
        Template(
            "fee_optimization",
            Tier.STANDARD,
            ("monitor", "fee_policy"),
            ("hive:monitor/*", "hive:fee-policy/*", "hive:htlc-policy/*", "hive:forwarding/*"),
            {"max_fee_change_pct": 50, "max_daily_actions": 50},
        ),
        Template(
            "full_routing",
            Tier.STANDARD,
            ("monitor", "fee_policy", "rebalance", "config_tune"),
            (
                "hive:monitor/*",
                "hive:fee-policy/*",
                "hive:htlc-policy/*",
                "hive:forwarding/*",
                "hive:rebalance/*",
                "hive:config/*",
            ),
            {"max_fee_change_pct": 50, "max_rebalance_sats": 1_000_000, "max_daily_actions": 100},
        ),
        Template(
            "complete_management",
            Tier.ADVANCED,
            (
                "monitor",
                "fee_policy",
                "rebalance",
                "config_tune",
                "channel_open",
                "splice",
                "peer",
                "payment",
                "wallet",
                "plugin",
                "backup",
                "htlc",
            ),
            ("*",),
            {"max_fee_change_pct": 50, "max_rebalance_sats": 1_000_000, "max_daily_actions": 200},
        ),
    )
}
"""``complete_management`` has no ``channel_close`` or ``emergency``: no closes or force closes."""


def template(name: str) -> Template:
    if name not in TEMPLATES:
        raise InvalidInput(f"unknown template {name!r}; known: {sorted(TEMPLATES)}")
    return TEMPLATES[name]


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def allowed_actions(credential: Credential, catalogue: Catalogue) -> list[str]:
    """``schema#action`` keys the credential's tier, patterns and permissions admit."""
    out = []
    for spec in catalogue.all():
        if not any_matches(credential.allowed_schemas, spec.schema_id):
            continue
        if credential.allowed_actions is not None and spec.key not in credential.allowed_actions:
            continue
        if not credential.has_permission(spec.permission):
            continue
        if min(spec.tier_of(b) for b in spec.bands) > credential.tier:
            continue
        out.append(spec.key)
    return out


def describe(credential: Credential, catalogue: Catalogue) -> str:
    """A few lines an operator can read before approving a credential."""
    perms = sorted(p for p, on in credential.permissions.items() if on)
    lines = [
        f"Advisor {credential.agent_id} may act on node {credential.node_id} "
        f"at tier {credential.tier.label}"
        + (" (trial)" if credential.is_trial else "")
        + f", from {_when(credential.valid_from)} until {_when(credential.effective_until)}.",
        f"Permissions: {', '.join(perms) if perms else 'none'}.",
        f"Schemas: {', '.join(credential.allowed_schemas)}.",
    ]
    if credential.allowed_actions is not None:
        lines.append(f"Only these actions: {', '.join(credential.allowed_actions)}.")
    actions = allowed_actions(credential, catalogue)
    families = sorted({a.split("#")[0] for a in actions})
    lines.append(f"That admits {len(actions)} actions in {len(families)} families.")
    raw = credential.constraints.raw
    if raw:
        lines.append("Limits: " + "; ".join(f"{k} = {raw[k]}" for k in sorted(raw)) + ".")
    else:
        lines.append("No limits beyond the node's policy.")
    lines.append("The node's policy still applies and can refuse or hold any action.")
    return "\n".join(lines)
