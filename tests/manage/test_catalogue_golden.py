"""Golden test: every action's danger per band and tier, as spec §2.2 (normative) says."""

from __future__ import annotations

import pytest

from lnhive.core.errors import Unsupported
from lnhive.manage.catalogue import Support, require_supported
from lnhive.manage.schemas import CATALOGUE, FAMILIES

M, S, A, X = "monitor", "standard", "advanced", "admin"

# schema family -> action -> {band: (D, tier)}; "default" for single-band actions.
GOLDEN: dict[str, dict[str, dict[str, tuple[int, str]]]] = {
    "monitor": {
        **{
            a: {"default": (1, M)}
            for a in (
                "health_summary",
                "channel_list",
                "peer_list",
                "fee_report",
                "htlc_snapshot",
                "forward_history",
                "invoice_list",
                "payment_list",
                "onchain_balance",
                "graph_query",
                "plugin_status",
                "backup_status",
                "capabilities",
                "comms_status",
            )
        },
        "log_stream": {"default": (2, M)},
    },
    "fee-policy": {
        "set_anchor": {"default": (3, S)},
        "set_single": {"base": (2, S), "rate": (3, S)},
        "set_bulk": {"base": (4, S), "rate": (5, S)},
        "set_zero_fee": {"default": (4, S)},
    },
    "htlc-policy": {
        "set_htlc_limits": {"min": (2, S), "max": (3, S), "bulk": (5, S)},
        "set_cltv_delta": {"default": (4, S)},
    },
    "forwarding": {
        "disable_channel": {"default": (3, S)},
        "enable_channel": {"default": (2, S)},
        "disable_all": {"default": (6, A)},
        "enable_all": {"default": (3, S)},
        "set_routing_hints": {"default": (3, A)},
    },
    "rebalance": {
        "circular_rebalance": {"small": (3, S), "large": (5, S)},
        "swap_out": {"default": (5, S)},
        "swap_in": {"default": (5, S)},
        "peer_rebalance": {"default": (4, S)},
        "liquidity_lease": {"default": (5, A)},
    },
    "expansion": {"propose_channel_open": {"small": (5, A), "large": (6, A), "batch": (7, A)}},
    "channel": {
        "open": {"small": (5, A), "large": (6, A), "batch": (7, A)},
        "close_cooperative": {"default": (6, X)},
        "close_unilateral": {"default": (7, X)},
        "close_punitive": {"default": (8, X)},
    },
    "splice": {
        "splice_in": {"default": (5, A)},
        "splice_out": {"default": (6, A)},
        "splice_open": {"default": (7, A)},
    },
    "peer": {
        "connect": {"default": (2, S)},
        "disconnect": {"no_channels": (2, S), "with_channels": (4, S)},
        "ban": {"default": (5, A)},
    },
    "payment": {
        "create_invoice": {"default": (1, M)},
        "pay": {"small": (4, S), "large": (6, A)},
        "keysend": {"small": (4, S), "large": (6, A)},
        "pay_mpp": {"default": (5, S)},
    },
    "wallet": {
        "new_address": {"default": (1, M)},
        "list_funds": {"default": (1, M)},
        "utxo_reserve": {"default": (3, S)},
        "utxo_consolidate": {"default": (4, A)},
        "bump_fee": {"default": (4, A)},
        "send_onchain": {"small": (6, A), "large": (8, X), "all": (9, X)},
    },
    "plugin": {
        "list": {"default": (1, M)},
        "start": {"default": (4, A)},
        "stop": {"default": (5, A)},
        "start_arbitrary": {"default": (9, X)},
        "configure": {"default": (4, A)},
    },
    "config": {
        "view": {"default": (1, M)},
        "set_alias": {"default": (1, S)},
        "set_color": {"default": (1, S)},
        "adjust": {"default": (3, S), "fee_rule": (4, S)},
        "set_max_channel_size": {"default": (3, S)},
        "set_dust_limit": {"default": (4, A)},
        "set_network_address": {"default": (5, A)},
        "toggle_tor": {"default": (5, A)},
        "auto_rebalance_rules": {"default": (6, A)},
        "restart_node": {"default": (7, X)},
    },
    "backup": {
        "verify_backup": {"default": (1, M)},
        "trigger_backup": {"default": (2, S)},
        "export_scb": {"default": (3, S)},
        "restore": {"default": (10, X)},
    },
    "emergency": {
        "fee_spike": {"default": (5, A)},
        "disable_forwarding": {"default": (6, A)},
        "force_close": {"default": (8, X)},
        "force_close_all": {"default": (10, X)},
        "revoke_all_credentials": {"default": (3, X)},
    },
    "htlc-mgmt": {
        "list_stuck": {"default": (2, M)},
        "inspect": {"default": (2, M)},
        "fail_htlc": {"default": (7, X)},
        "settle_htlc": {"default": (7, X)},
        "force_resolve_expired": {"default": (8, X)},
    },
}


def test_sixteen_families_in_spec_order() -> None:
    assert len(FAMILIES) == 16
    assert CATALOGUE.families == FAMILIES
    assert tuple(GOLDEN) == FAMILIES


def test_golden_covers_exactly_the_catalogue() -> None:
    golden = {(f, a) for f, actions in GOLDEN.items() for a in actions}
    actual = {(s.family, s.name) for s in CATALOGUE.all()}
    assert golden == actual


@pytest.mark.parametrize(
    ("family", "action"), [(f, a) for f, actions in GOLDEN.items() for a in actions]
)
def test_every_action_danger_and_tier_pinned(family: str, action: str) -> None:
    spec = CATALOGUE.get(f"hive:{family}/v1", action)
    got = {b.name: (b.score, spec.tier_of(b).label) for b in spec.bands}
    assert got == GOLDEN[family][action]
    for band in spec.bands:  # the score is computed from the five dimensions
        assert band.score == max(band.vector.as_tuple())


def test_every_action_names_its_mapping_and_permission() -> None:
    for spec in CATALOGUE.all():
        assert spec.cln, spec.key
        assert spec.permission, spec.key
        if spec.support is not Support.ALWAYS:
            assert spec.reason, spec.key


def test_unsupported_actions_have_clear_errors() -> None:
    fail = CATALOGUE.get("hive:htlc-mgmt/v1", "fail_htlc")
    with pytest.raises(Unsupported) as info:
        require_supported(fail, ())
    assert info.value.details["reason"] == fail.reason
    assert "dev-only" in info.value.message
    require_supported(fail, {"dev-htlc-rpcs"})  # once probed, it is supported
    restore = CATALOGUE.get("hive:backup/v1", "restore")
    with pytest.raises(Unsupported):
        require_supported(restore, {"anything", "dev-htlc-rpcs"})


def test_capabilities_lists_unsupported_actions() -> None:
    caps = CATALOGUE.capabilities("0.1.0", {"splicing"})
    assert caps["supported_schemas"][0] == "hive:monitor/v1"
    listed = {(u["schema"], u["action"]) for u in caps["unsupported_actions"]}
    assert ("hive:htlc-mgmt/v1", "fail_htlc") in listed
    assert ("hive:plugin/v1", "start_arbitrary") in listed
    assert ("hive:splice/v1", "splice_in") not in listed
    assert ("hive:fee-policy/v1", "set_single") not in listed
    without = {(u["schema"], u["action"]) for u in CATALOGUE.unsupported(())}
    assert ("hive:splice/v1", "splice_in") in without
