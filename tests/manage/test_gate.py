"""Stages 6-10 end to end on a real store: credential, validation, scope, constraints,
counters and policy together (spec §8 tests 5, 10, 13, 15-16, 21, 24, 34)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import (
    BudgetExhausted,
    Conflict,
    ConstraintViolation,
    CredentialInvalid,
    Forbidden,
    InvalidParams,
    PolicyBlocked,
    RateLimited,
    Unsupported,
)
from lnhive.core.store import Store
from lnhive.manage import CATALOGUE, Decision, Gate, GateResult, NodeSnapshot
from lnhive.manage.credential import Credential, Signer
from lnhive.manage.danger import HoldKind
from tests.manage.conftest import ADVISOR, NODE_ID, OTHER_ADVISOR, PEER_X, SNAPSHOT

DAY = 86_400


@pytest.fixture
def gate(store: Store, clock: VirtualClock) -> Gate:
    return Gate(store, CATALOGUE, clock, NODE_ID, capabilities={"revenue-ops"})


def grant(gate: Gate, signer: Signer, advisor: str = ADVISOR, **kw: Any) -> Credential:
    args: dict[str, Any] = {
        "tier": "standard",
        "permissions": {"monitor": True, "fee_policy": True, "rebalance": True},
        "allowed_schemas": ["hive:monitor/*", "hive:fee-policy/*", "hive:rebalance/*"],
        "valid_for_s": 30 * DAY,
        "now": gate.clock.now(),
    }
    args.update(kw)
    return gate.credentials.issue(advisor_key=advisor, signer=signer, **args)


def ask(
    gate: Gate,
    cred: Credential,
    schema: str,
    action: str,
    snapshot: NodeSnapshot = SNAPSHOT,
    advisor: str = ADVISOR,
    **params: Any,
) -> GateResult:
    return gate.check(
        advisor_key=advisor,
        credential_id=cred.credential_id,
        schema_type=f"hive:{schema}/v1",
        payload={"action": action, "params": params},
        snapshot=snapshot,
    )


def with_fee(snapshot: NodeSnapshot, ppm: int) -> NodeSnapshot:
    first = replace(snapshot.channels[0], fee_ppm=ppm)
    return replace(snapshot, channels=(first, *snapshot.channels[1:]))


def test_allowed_request_and_its_counters(gate: Gate, signer: Signer) -> None:
    cred = grant(gate, signer)
    got = ask(gate, cred, "fee-policy", "set_single", channel_id="100x1x0", fee_ppm=110)
    assert got.decision.decision is Decision.ALLOW and got.prepared.danger == 3
    gate.record(ADVISOR, got, SNAPSHOT)
    assert gate.log.advisor(ADVISOR).count(since=0, effects=["fee_change"]) == 1
    assert gate.log.node().fee_at_window_start("100x1x0", 0) == 100


def test_scope_forbids_by_pattern_tier_and_permission(gate: Gate, signer: Signer) -> None:
    cred = grant(
        gate,
        signer,
        permissions={"monitor": True, "fee_policy": True},
        allowed_schemas=["hive:monitor/*", "hive:fee-policy/*"],
    )
    with pytest.raises(Forbidden, match="insufficient permissions for schema"):
        ask(
            gate,
            cred,
            "channel",
            "close_cooperative",
            channel_id="100x1x0",
            destination="bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            reason="x",
        )
    wide = grant(gate, signer, allowed_schemas=["*"])
    with pytest.raises(Forbidden) as info:
        ask(gate, wide, "channel", "close_unilateral", channel_id="100x1x0", reason="x")
    assert info.value.details["reason"] == "tier"
    with pytest.raises(Forbidden) as info:
        ask(gate, wide, "peer", "connect", node_id=PEER_X)
    assert info.value.details["reason"] == "permission"
    only = grant(gate, signer, allowed_actions=["hive:fee-policy/v1#set_single"])
    with pytest.raises(Forbidden):
        ask(gate, only, "fee-policy", "set_anchor", channel_id="100x1x0", target_fee_ppm=100)


def test_credential_lifecycle(gate: Gate, signer: Signer, clock: VirtualClock) -> None:
    cred = grant(gate, signer)
    ask(gate, cred, "monitor", "channel_list")
    with pytest.raises(CredentialInvalid):  # someone else's credential id
        ask(gate, cred, "monitor", "channel_list", advisor=OTHER_ADVISOR)
    gate.credentials.revoke(ADVISOR, "done", clock.now())
    with pytest.raises(CredentialInvalid) as info:
        ask(gate, cred, "monitor", "channel_list")
    assert info.value.details["reason"] == "revoked"
    fresh = grant(gate, signer, valid_for_s=60)
    clock.advance(60)
    with pytest.raises(CredentialInvalid) as info:
        ask(gate, fresh, "monitor", "channel_list")
    assert info.value.details["reason"] == "expired"


def test_trial_limits_scope(gate: Gate, signer: Signer) -> None:
    cred = grant(gate, signer, trial_days=7)
    ask(gate, cred, "fee-policy", "set_single", channel_id="100x1x0", fee_ppm=110)
    with pytest.raises(Forbidden, match="trial"):
        ask(
            gate,
            cred,
            "rebalance",
            "circular_rebalance",
            from_channel="100x1x0",
            to_channel="101x1x0",
            amount_sats=1000,
            max_fee_ppm=10,
        )


def test_validation_and_support_errors_come_first(gate: Gate, signer: Signer) -> None:
    cred = grant(gate, signer)
    with pytest.raises(InvalidParams):
        ask(gate, cred, "fee-policy", "set_single", channel_id="100x1x0", fee_ppm=1, x=1)
    wide = grant(gate, signer, tier="admin", allowed_schemas=["*"], permissions={"htlc": True})
    with pytest.raises(Unsupported):
        ask(gate, wide, "htlc-mgmt", "fail_htlc", htlc_id="100x1x0:1", reason="stuck")


def test_credential_fee_limit_per_action(gate: Gate, signer: Signer) -> None:
    cred = grant(gate, signer, constraints={"max_fee_change_pct": 50})
    gate.policy.set_preset("aggressive")  # its 50% per 24 h does not bind first
    assert ask(
        gate, cred, "fee-policy", "set_single", channel_id="100x1x0", fee_ppm=150
    ).decision.allowed
    with pytest.raises(ConstraintViolation) as info:
        ask(gate, cred, "fee-policy", "set_single", channel_id="100x1x0", fee_ppm=151)
    assert info.value.details["key"] == "max_fee_change_pct"
    assert info.value.details["limit"] == 50


def test_policy_fee_window_across_two_changes(
    gate: Gate, signer: Signer, clock: VirtualClock
) -> None:
    cred = grant(gate, signer)  # moderate: 30% per 24 h per channel
    first = ask(gate, cred, "fee-policy", "set_single", channel_id="100x1x0", fee_ppm=120)
    assert first.decision.allowed
    gate.record(ADVISOR, first, SNAPSHOT)
    clock.advance(3600)
    second = ask(
        gate,
        cred,
        "fee-policy",
        "set_single",
        with_fee(SNAPSHOT, 120),
        channel_id="100x1x0",
        fee_ppm=138,
    )
    assert second.decision.decision is Decision.REJECT
    assert second.decision.symbol == "policy_blocked"
    clock.advance(DAY)
    later = ask(
        gate,
        cred,
        "fee-policy",
        "set_single",
        with_fee(SNAPSHOT, 120),
        channel_id="100x1x0",
        fee_ppm=138,
    )
    assert later.decision.allowed


def test_eleventh_fee_change_in_an_hour(gate: Gate, signer: Signer, clock: VirtualClock) -> None:
    cred = grant(gate, signer)
    for i in range(10):
        got = ask(gate, cred, "fee-policy", "set_single", channel_id="100x1x0", base_msat=i)
        assert got.decision.allowed
        gate.record(ADVISOR, got, SNAPSHOT)
        clock.advance(60)
    eleventh = ask(gate, cred, "fee-policy", "set_single", channel_id="100x1x0", base_msat=11)
    assert eleventh.decision.decision is Decision.REJECT
    assert eleventh.decision.symbol == "rate_limited"
    # another advisor is not drained by the first one's activity
    other = grant(gate, signer, advisor=OTHER_ADVISOR)
    ok = ask(
        gate,
        other,
        "fee-policy",
        "set_single",
        advisor=OTHER_ADVISOR,
        channel_id="100x1x0",
        base_msat=1,
    )
    assert ok.decision.allowed
    clock.advance(3600)
    assert ask(
        gate, cred, "fee-policy", "set_single", channel_id="100x1x0", base_msat=11
    ).decision.allowed


def test_sixth_high_danger_request_in_a_minute(
    gate: Gate, signer: Signer, clock: VirtualClock
) -> None:
    cred = grant(gate, signer)
    params = dict(
        from_channel="100x1x0",
        to_channel="101x1x0",
        amount_sats=100_000,
        max_fee_ppm=10,
        prefer_hive_route=False,
    )
    for _ in range(5):
        got = ask(gate, cred, "rebalance", "circular_rebalance", **params)
        assert got.prepared.danger == 5
        gate.record(ADVISOR, got, SNAPSHOT)
        clock.advance(5)
    with pytest.raises(RateLimited):
        ask(gate, cred, "rebalance", "circular_rebalance", **params)
    clock.advance(60)
    ask(gate, cred, "rebalance", "circular_rebalance", **params)


def test_stricter_of_credential_and_policy_wins(gate: Gate, signer: Signer) -> None:
    cred = grant(gate, signer, constraints={"max_rebalance_sats": 200_000})
    params = dict(
        from_channel="100x1x0", to_channel="101x1x0", max_fee_ppm=10, prefer_hive_route=True
    )
    with pytest.raises(ConstraintViolation):  # credential 200k < moderate 500k
        ask(gate, cred, "rebalance", "circular_rebalance", amount_sats=200_001, **params)
    gate.policy.set_preset("conservative")  # policy 100k < credential 200k
    got = ask(gate, cred, "rebalance", "circular_rebalance", amount_sats=150_000, **params)
    assert got.decision.decision is Decision.REJECT
    assert got.decision.details["key"] == "max_rebalance_sats"


def test_daily_sats_budget(gate: Gate, signer: Signer, clock: VirtualClock) -> None:
    cred = grant(gate, signer, constraints={"max_daily_sats": 1000})
    params = dict(
        from_channel="100x1x0", to_channel="101x1x0", max_fee_ppm=1000, prefer_hive_route=True
    )
    first = ask(gate, cred, "rebalance", "circular_rebalance", amount_sats=80_000, **params)
    assert first.effects.sats_out == 80  # the fee ceiling is what may leave
    for _ in range(10):
        gate.record(ADVISOR, first, SNAPSHOT)
        clock.advance(1)
    with pytest.raises(BudgetExhausted):  # 800 spent + 300 asked > 1000
        ask(gate, cred, "rebalance", "circular_rebalance", amount_sats=300_000, **params)
    ask(gate, cred, "rebalance", "circular_rebalance", amount_sats=200_000, **params)
    clock.advance(DAY)
    ask(gate, cred, "rebalance", "circular_rebalance", amount_sats=300_000, **params)


def test_held_action_goes_to_the_queue(gate: Gate, signer: Signer) -> None:
    cred = grant(
        gate, signer, tier="advanced", allowed_schemas=["*"], permissions={"fee_policy": True}
    )
    got = ask(gate, cred, "forwarding", "disable_all", reason="storm")
    assert got.decision.decision is Decision.ALLOW  # moderate auto-runs D 6
    gate.policy.set_preset("conservative")
    got = ask(gate, cred, "forwarding", "disable_all", reason="storm")
    assert got.decision.decision is Decision.HOLD and got.decision.hold is HoldKind.QUEUE
    pending = gate.queue.hold(
        advisor_id=ADVISOR,
        credential_id=cred.credential_id,
        schema_id=got.prepared.schema_id,
        action=got.prepared.action,
        params=got.params,
        envelope_json="{}",
        request_hash="00" * 32,
        danger=got.prepared.danger,
        kind=got.decision.hold,
        now=gate.clock.now(),
    )
    assert [p.action_id for p in gate.queue.pending(gate.clock.now())] == [pending.action_id]


def test_bulk_skips_protected_and_history_is_narrowed(gate: Gate, signer: Signer) -> None:
    cred = grant(gate, signer, constraints={"history_limit": {"duration_s": 3600}})
    gate.policy.set_overrides({"protected_channels": ["102x1x0"]})
    got = ask(gate, cred, "fee-policy", "set_bulk", channels="all", policy={"base_msat": 0})
    assert got.decision.allowed and got.skip_channels == ("102x1x0",)
    lst = ask(gate, cred, "monitor", "invoice_list", since=0)
    assert lst.params["since"] == int(gate.clock.now()) - 3600


def test_confirmation_runs_only_on_the_advisor_s_resend(gate: Gate, signer: Signer) -> None:
    cred = grant(
        gate, signer, tier="admin", allowed_schemas=["*"], permissions={"config_tune": True}
    )
    got = ask(gate, cred, "config", "restart_node", reason="upgrade")
    assert got.decision.hold is HoldKind.CONFIRM
    item = gate.queue.hold(
        advisor_id=ADVISOR,
        credential_id=cred.credential_id,
        schema_id=got.prepared.schema_id,
        action=got.prepared.action,
        params=got.params,
        envelope_json="{}",
        request_hash="00" * 32,
        danger=got.prepared.danger,
        kind=HoldKind.CONFIRM,
        now=gate.clock.now(),
    )
    resent = ask(gate, cred, "config", "restart_node", reason="upgrade")
    with pytest.raises(Conflict):  # not approved yet
        gate.confirm(ADVISOR, item.action_id, resent)
    gate.queue.approve(item.action_id, "operator", gate.clock.now())
    other = ask(gate, cred, "config", "restart_node", reason="something else")
    with pytest.raises(Conflict):
        gate.confirm(ADVISOR, item.action_id, other)
    gate.policy.set_overrides({"max_danger": 6})  # the policy changed meanwhile
    with pytest.raises(PolicyBlocked):
        gate.confirm(
            ADVISOR, item.action_id, ask(gate, cred, "config", "restart_node", reason="upgrade")
        )
    gate.policy.set_overrides({"max_danger": 8})
    done = gate.confirm(
        ADVISOR, item.action_id, ask(gate, cred, "config", "restart_node", reason="upgrade")
    )
    assert done.status.value == "executed"


def test_policy_onchain_budget_is_node_wide(gate: Gate, signer: Signer) -> None:
    gate.policy.set_preset("aggressive")
    gate.policy.set_overrides({"onchain_budget": {"absolute_amt_sats": 300_000}})
    perms = {"channel_open": True}
    a = grant(gate, signer, tier="advanced", allowed_schemas=["*"], permissions=perms)
    b = grant(
        gate,
        signer,
        advisor=OTHER_ADVISOR,
        tier="advanced",
        allowed_schemas=["*"],
        permissions=perms,
    )
    params = dict(peer_id=PEER_X, push_msat=0, announce=True, feerate=2)
    first = ask(gate, a, "channel", "open", amount_sats=200_000, **params)
    assert first.decision.allowed
    gate.record(ADVISOR, first, SNAPSHOT)
    second = ask(gate, b, "channel", "open", advisor=OTHER_ADVISOR, amount_sats=200_000, **params)
    assert (
        second.decision.decision is Decision.REJECT and second.decision.symbol == "budget_exhausted"
    )
