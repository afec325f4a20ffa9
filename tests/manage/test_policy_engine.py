"""The policy engine: presets, overrides, holds, fail-closed, tighten-only (spec §4, §8 tests 13, 17-18, 20, 33)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import Forbidden, InvalidInput
from lnhive.core.store import Store
from lnhive.manage.danger import HoldKind
from lnhive.manage.policy_doc import PolicyDocument, effective_policy
from lnhive.manage.policy_engine import Decision, PolicyEngine, PolicyService, decide
from lnhive.manage.rules import RuleContext
from tests.manage.conftest import PEER_A, PEER_X, SNAPSHOT, T0, ctx_for

ADDR = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"

# One request per danger score (all valid against the snapshot).
BY_DANGER: dict[int, tuple[str, str, dict[str, Any]]] = {
    1: ("monitor", "channel_list", {}),
    3: ("fee-policy", "set_single", {"channel_id": "100x1x0", "fee_ppm": 110}),
    4: ("peer", "disconnect", {"node_id": PEER_A}),
    5: ("peer", "ban", {"node_id": PEER_X, "reason": "spam"}),
    6: ("forwarding", "disable_all", {"reason": "storm"}),
    7: ("config", "restart_node", {"reason": "upgrade"}),
    8: ("channel", "close_punitive", {"channel_id": "100x1x0", "reason": "cheat"}),
    9: ("wallet", "send_onchain", {"destination": ADDR, "amount_sats": "all", "feerate": 2}),
    10: ("backup", "restore", {}),
}


def ctx(d: int, **kw: Any) -> RuleContext:
    schema, action, params = BY_DANGER[d]
    c = ctx_for(schema, action, **params, **kw)
    assert c.danger == d
    return c


def run(preset: str, d: int, **overrides: Any) -> Any:
    policy = effective_policy(PolicyDocument(preset, overrides), T0)
    return decide(policy, ctx(d))


@pytest.mark.parametrize(
    ("preset", "danger", "decision", "kind"),
    [
        ("conservative", 3, Decision.ALLOW, None),
        ("conservative", 4, Decision.ALLOW, None),
        ("conservative", 5, Decision.HOLD, HoldKind.QUEUE),
        ("conservative", 6, Decision.HOLD, HoldKind.QUEUE),
        ("conservative", 7, Decision.REJECT, None),
        ("moderate", 5, Decision.ALLOW, None),
        ("moderate", 6, Decision.ALLOW, None),
        ("moderate", 7, Decision.HOLD, HoldKind.CONFIRM),
        ("moderate", 9, Decision.REJECT, None),
        ("moderate", 10, Decision.REJECT, None),
        ("aggressive", 7, Decision.ALLOW, None),
        ("aggressive", 10, Decision.HOLD, HoldKind.MULTISIG),
    ],
)
def test_preset_lines(preset: str, danger: int, decision: Decision, kind: HoldKind | None) -> None:
    got = run(preset, danger)
    assert got.decision is decision, got
    assert got.hold is kind
    if decision is Decision.REJECT:
        assert got.symbol == "policy_blocked"


def test_reject_reason_names_max_danger() -> None:
    got = run("conservative", 7)
    assert got.reason == "danger_score exceeds max_danger (6)"


def test_forbidden_classes_per_preset() -> None:
    close = ctx_for(
        "channel", "close_cooperative", channel_id="100x1x0", destination=ADDR, reason="x"
    )
    cons = effective_policy(PolicyDocument("conservative"), T0)
    assert "close is forbidden" in decide(cons, close).reason
    mod = effective_policy(PolicyDocument("moderate"), T0)
    force = ctx_for("emergency", "force_close", channel_id="100x1x0", reason="x")
    assert decide(mod, force).reason.startswith("force_close is forbidden")
    agg = effective_policy(PolicyDocument("aggressive"), T0)
    sweep = ctx(9)
    assert decide(agg, sweep).reason.startswith("wallet_sweep is forbidden")
    all_close = ctx_for("emergency", "force_close_all", reason="x")
    assert decide(agg, all_close).reason.startswith("force_close_all is forbidden")
    # moderate: starting a plugin needs it approved
    start = ctx_for("plugin", "start", name="summary")
    assert decide(mod, start).decision is Decision.REJECT
    approved = effective_policy(PolicyDocument("moderate", {"approved_plugins": ["summary"]}), T0)
    assert decide(approved, start).decision is Decision.ALLOW


def test_nine_and_ten_never_run_without_quorum_even_with_auto_execute() -> None:
    doc = PolicyDocument("aggressive", {"approval_overrides": {"*": "auto_execute"}})
    got = decide(effective_policy(doc, T0), ctx(10))
    assert got.decision is Decision.HOLD and got.hold is HoldKind.MULTISIG
    assert got.required_approvals == 2


def test_overrides_move_lines_and_add_confirmations() -> None:
    assert run("moderate", 5, max_danger=4).decision is Decision.REJECT
    assert run("moderate", 3, require_confirmation_at=3).decision is Decision.HOLD
    held = run("moderate", 4, approval_overrides={"peer_*": "always_confirm"})
    assert (held.decision, held.hold) == (Decision.HOLD, HoldKind.CONFIRM)
    auto = run("conservative", 5, approval_overrides={"peer_ban": "auto_execute"})
    assert auto.decision is Decision.ALLOW
    close = ctx_for(
        "channel", "close_cooperative", channel_id="100x1x0", destination=ADDR, reason="x"
    )
    doc = PolicyDocument(
        "moderate",
        {"required_confirmation": {"channel_close": "always"}, "address_allowlist": [ADDR]},
    )
    assert decide(effective_policy(doc, T0), close).decision is Decision.HOLD


def test_destinations_outside_the_allow_list_are_held_not_run() -> None:
    send = ctx_for("wallet", "send_onchain", destination=ADDR, amount_sats=50_000, feerate=2)
    agg = effective_policy(PolicyDocument("aggressive"), T0)
    got = decide(agg, send)
    assert got.decision is Decision.HOLD and "not allow-listed" in got.reason
    allowed = effective_policy(PolicyDocument("aggressive", {"address_allowlist": [ADDR]}), T0)
    assert decide(allowed, send).decision is Decision.ALLOW


def test_proposals_always_wait() -> None:
    prop = ctx_for(
        "expansion",
        "propose_channel_open",
        peer_id=PEER_X,
        amount_sats=100_000,
        push_sats=0,
        reasoning="good peer",
        peer_intel={},
    )
    got = decide(effective_policy(PolicyDocument("aggressive"), T0), prop)
    assert got.decision is Decision.HOLD and got.hold is HoldKind.QUEUE


def test_protected_channels_are_skipped_by_bulk_actions() -> None:
    doc = PolicyDocument("moderate", {"protected_channels": ["101x1x0"]})
    bulk = ctx_for("fee-policy", "set_bulk", channels="all", policy={"base_msat": 0})
    got = decide(effective_policy(doc, T0), bulk)
    assert got.decision is Decision.ALLOW and got.skip_channels == ("101x1x0",)
    single = ctx_for("fee-policy", "set_single", channel_id="101x1x0", fee_ppm=5)
    assert decide(effective_policy(doc, T0), single).decision is Decision.REJECT


def test_forbidden_peer_open_rejected() -> None:
    doc = PolicyDocument("aggressive", {"forbidden_peers": [PEER_X]})
    op = ctx_for(
        "channel",
        "open",
        peer_id=PEER_X,
        amount_sats=100_000,
        push_msat=0,
        announce=True,
        feerate=3,
    )
    got = decide(effective_policy(doc, T0), op)
    assert got.decision is Decision.REJECT and "forbidden" in got.reason
    ok = ctx_for(
        "channel",
        "open",
        peer_id=PEER_A,
        amount_sats=100_000,
        push_msat=0,
        announce=True,
        feerate=3,
    )
    assert decide(effective_policy(doc, T0), ok).decision is Decision.ALLOW


def test_rebalance_limited_by_preset() -> None:
    reb = ctx_for(
        "rebalance",
        "circular_rebalance",
        from_channel="100x1x0",
        to_channel="101x1x0",
        amount_sats=100_001,
        max_fee_ppm=10,
        prefer_hive_route=False,
    )
    cons = decide(effective_policy(PolicyDocument("conservative"), T0), reb)
    assert cons.decision is Decision.REJECT and cons.details["key"] == "max_rebalance_sats"
    assert decide(effective_policy(PolicyDocument("moderate"), T0), reb).decision is Decision.ALLOW


def test_quiet_hours_block_above_their_danger() -> None:
    doc = PolicyDocument(
        "moderate",
        {
            "time_restrictions": {
                "quiet_hours": {"start": "23:00", "end": "07:00", "timezone": "UTC"},
                "quiet_hour_max_danger": 2,
            }
        },
    )
    policy = effective_policy(doc, T0)
    got = decide(policy, ctx(3, now=T0 + 3600))
    assert got.decision is Decision.REJECT and got.reason == "quiet_hours"
    assert decide(policy, ctx(1, now=T0 + 3600)).decision is Decision.ALLOW
    assert decide(policy, ctx(3, now=T0 + 12 * 3600)).decision is Decision.ALLOW


def test_temporary_overrides_expire() -> None:
    doc = PolicyDocument.from_json(
        {
            "preset": "moderate",
            "overrides": {},
            "temporary": [{"key": "max_danger", "value": 2, "expires_at": T0 + 60}],
        }
    )
    assert decide(effective_policy(doc, T0), ctx(3)).decision is Decision.REJECT
    assert decide(effective_policy(doc, T0 + 60), ctx(3)).decision is Decision.ALLOW


def test_stored_policy_drives_the_engine(store: Store, clock: VirtualClock) -> None:
    service, engine = PolicyService(store, clock), PolicyEngine(store, clock)
    assert engine.evaluate(ctx(6)).decision is Decision.ALLOW  # default moderate
    service.set_preset("conservative")
    assert engine.evaluate(ctx(6)).decision is Decision.HOLD
    service.set_overrides({"max_danger": 5}, duration_s=60)
    assert engine.evaluate(ctx(6)).decision is Decision.REJECT
    clock.advance(61)
    assert engine.evaluate(ctx(6, now=clock.now())).decision is Decision.HOLD
    service.set_overrides({"max_danger": 5}, duration_s=600)
    service.clear_override("max_danger")
    assert engine.evaluate(ctx(6, now=clock.now())).decision is Decision.HOLD
    shown = service.get()
    assert shown["preset"] == "conservative" and shown["max_danger"] == 6
    assert shown["rules"]["fee_change_limit"] == {"max_pct": 15, "window_s": 86_400}
    with pytest.raises(InvalidInput):
        service.set_overrides({"max_danger": 11})
    with pytest.raises(InvalidInput):
        service.set_preset("yolo")


def test_corrupt_policy_fails_closed_until_reset(store: Store, clock: VirtualClock) -> None:
    engine, service = PolicyEngine(store, clock), PolicyService(store, clock)
    store.execute(
        "INSERT INTO comms_policy (id, policy_json, updated_at) VALUES (1, '{not json', 0)"
    )
    for d in (3, 4, 6):
        got = engine.evaluate(ctx(d))
        assert got.decision is Decision.REJECT and got.reason == "policy_unreadable"
    assert engine.evaluate(ctx(1)).decision is Decision.ALLOW
    store.execute(
        "UPDATE comms_policy SET policy_json = ? WHERE id = 1",
        ('{"preset": "moderate", "overrides": {"max_danger": "ten"}}',),
    )
    assert engine.evaluate(ctx(3)).decision is Decision.REJECT
    service.reset()
    assert engine.evaluate(ctx(3)).decision is Decision.ALLOW


def test_internal_errors_fail_closed(store: Store, clock: VirtualClock, monkeypatch: Any) -> None:
    import lnhive.manage.policy_engine as pe

    def boom(*_: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(pe, "decide", boom)
    got = PolicyEngine(store, clock).evaluate(ctx(1))
    assert got.decision is Decision.REJECT and got.reason == "internal_error"


def test_remote_may_only_tighten(store: Store, clock: VirtualClock) -> None:
    service = PolicyService(store, clock)
    service.tighten(overrides={"forbidden_peers": [PEER_X]})
    service.tighten(overrides={"max_danger": 6, "rate_limits": {"fee_changes_per_hour": 5}})
    service.tighten(preset_name="conservative")
    for loosen in (
        {"preset_name": "moderate"},
        {"overrides": {"max_danger": 7}},
        {"overrides": {"forbidden_peers": []}},
        {"overrides": {"rate_limits": {"fee_changes_per_hour": 6}}},
        {"overrides": {"max_fee_change_per_24h_pct": 16}},
        {"overrides": {"approval_overrides": {"*": "auto_execute"}}},
        {"overrides": {"address_allowlist": [ADDR]}},
    ):
        with pytest.raises(Forbidden):
            service.tighten(**loosen)
    doc = service.get()
    assert doc["preset"] == "conservative"
    assert doc["overrides"]["forbidden_peers"] == [PEER_X]
    # the operator, locally, may loosen
    service.set_overrides({"forbidden_peers": []})
    assert service.get()["overrides"]["forbidden_peers"] == []


def test_hive_member_fee_actions_need_the_operator_s_leave() -> None:
    members = replace(SNAPSHOT, hive_peers=(PEER_A,))
    fee = ctx_for("fee-policy", "set_single", snapshot=members, channel_id="100x1x0", fee_ppm=110)
    got = decide(effective_policy(PolicyDocument(), T0), fee)
    assert (got.decision, got.reason, got.symbol) == (
        Decision.REJECT,
        "hive_member",
        "policy_blocked",
    )
    allowed = PolicyDocument("moderate", {"allow_hive_member_fees": True})
    assert decide(effective_policy(allowed, T0), fee).decision is Decision.ALLOW
