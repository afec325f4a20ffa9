"""The confirmation queue (spec §4.3, §8 tests 18-19)."""

from __future__ import annotations

import pytest

from lnhive.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from lnhive.core.store import Store
from lnhive.manage.confirm_queue import MAX_PER_ADVISOR, ConfirmQueue, PendingStatus
from lnhive.manage.danger import HoldKind
from tests.manage.conftest import ADVISOR, OTHER_ADVISOR, T0

HOUR = 3600


def hold(
    q: ConfirmQueue,
    kind: HoldKind,
    *,
    advisor: str = ADVISOR,
    danger: int = 5,
    now: float = T0,
    quorum: int | None = None,
) -> str:
    return q.hold(
        advisor_id=advisor,
        credential_id="cred",
        schema_id="hive:fee-policy/v1",
        action="set_bulk",
        params={"channels": "all", "policy": {"fee_ppm": 5}},
        envelope_json='{"v":1}',
        request_hash="ab" * 32,
        danger=danger,
        kind=kind,
        now=now,
        required_approvals=quorum,
    ).action_id


@pytest.mark.parametrize(
    ("kind", "ttl"),
    [(HoldKind.QUEUE, 24 * HOUR), (HoldKind.CONFIRM, 4 * HOUR), (HoldKind.MULTISIG, 72 * HOUR)],
)
def test_expiry_by_kind(store: Store, kind: HoldKind, ttl: int) -> None:
    q = ConfirmQueue(store)
    aid = hold(q, kind)
    assert q.get(aid).expires_at == T0 + ttl
    assert [p.action_id for p in q.pending(T0 + ttl - 1)] == [aid]
    expired = q.expire(T0 + ttl)
    assert [p.action_id for p in expired] == [aid]
    assert q.get(aid).status is PendingStatus.EXPIRED
    with pytest.raises(Conflict):
        q.approve(aid, "operator", T0 + ttl + 1)


def test_queue_approval_may_edit_params_then_runs_once(store: Store) -> None:
    q = ConfirmQueue(store)
    aid = hold(q, HoldKind.QUEUE)
    got = q.approve(
        aid, "operator", T0 + 10, params={"channels": ["100x1x0"], "policy": {"fee_ppm": 4}}
    )
    assert got.status is PendingStatus.APPROVED
    assert got.params == {"channels": ["100x1x0"], "policy": {"fee_ppm": 4}}
    assert q.mark_executed(aid, T0 + 11).status is PendingStatus.EXECUTED
    with pytest.raises(Conflict):
        q.mark_executed(aid, T0 + 12)


def test_confirm_needs_operator_then_advisor_resend(store: Store) -> None:
    q = ConfirmQueue(store)
    aid = hold(q, HoldKind.CONFIRM, danger=7)
    with pytest.raises(Conflict):  # not approved yet
        q.consume(aid, ADVISOR, T0 + 1)
    with pytest.raises(Forbidden):  # confirm holds cannot be edited
        q.approve(aid, "operator", T0 + 1, params={"x": 1})
    q.approve(aid, "operator", T0 + 2)
    with pytest.raises(Conflict):  # the operator's approval alone never runs it
        q.mark_executed(aid, T0 + 3)
    with pytest.raises(Forbidden):
        q.consume(aid, OTHER_ADVISOR, T0 + 3)
    assert q.consume(aid, ADVISOR, T0 + 3).status is PendingStatus.EXECUTED
    with pytest.raises(Conflict):
        q.consume(aid, ADVISOR, T0 + 4)


def test_approved_confirmation_still_expires(store: Store) -> None:
    q = ConfirmQueue(store)
    aid = hold(q, HoldKind.CONFIRM, danger=8)
    q.approve(aid, "operator", T0 + 1)
    with pytest.raises(Conflict):
        q.consume(aid, ADVISOR, T0 + 4 * HOUR)
    assert q.get(aid).status is PendingStatus.EXPIRED


def test_multisig_needs_distinct_approvers(store: Store) -> None:
    q = ConfirmQueue(store)
    aid = hold(q, HoldKind.MULTISIG, danger=9)
    assert q.get(aid).required_approvals == 2
    assert q.approve(aid, "alice", T0 + 1).status is PendingStatus.PENDING
    with pytest.raises(Conflict):
        q.approve(aid, "alice", T0 + 2)
    done = q.approve(aid, "bob", T0 + 3)
    assert done.status is PendingStatus.APPROVED and done.approvals == ("alice", "bob")
    with pytest.raises(InvalidInput):
        hold(q, HoldKind.MULTISIG, danger=10, quorum=1)


def test_reject_records_reason(store: Store) -> None:
    q = ConfirmQueue(store)
    aid = hold(q, HoldKind.QUEUE)
    got = q.reject(aid, "not today", T0 + 5)
    assert (got.status, got.note, got.decided_at) == (PendingStatus.REJECTED, "not today", T0 + 5)
    with pytest.raises(Conflict):
        q.approve(aid, "operator", T0 + 6)
    with pytest.raises(NotFound):
        q.get("missing")


def test_pending_limits(store: Store) -> None:
    q = ConfirmQueue(store)
    for i in range(MAX_PER_ADVISOR):
        hold(q, HoldKind.QUEUE, now=T0 + i)
    with pytest.raises(RateLimited):
        hold(q, HoldKind.QUEUE, now=T0 + 100)
    hold(q, HoldKind.QUEUE, advisor=OTHER_ADVISOR, now=T0 + 100)  # others are unaffected
    assert len(q.pending(T0 + 100, advisor_id=ADVISOR)) == MAX_PER_ADVISOR
    # once some expire, there is room again
    hold(q, HoldKind.QUEUE, now=T0 + 24 * HOUR + 1)


def test_expiry_is_never_late_after_new_holds_or_a_rolled_back_sweep(store: Store) -> None:
    """expire() skips its queries until the earliest open expiry it knows of; a new hold
    and a rolled-back sweep must both still expire on time."""
    q = ConfirmQueue(store)
    assert q.expire(T0) == []  # nothing open: nothing due until a hold
    late = hold(q, HoldKind.QUEUE)  # expires T0 + 24 h
    assert q.expire(T0 + HOUR) == []
    early = hold(q, HoldKind.CONFIRM, now=T0 + HOUR, advisor=OTHER_ADVISOR)  # T0 + 5 h
    assert [p.action_id for p in q.expire(T0 + 5 * HOUR)] == [early]
    # a sweep inside a transaction that is rolled back: the action is open again
    with pytest.raises(RuntimeError), store.transaction():
        assert [p.action_id for p in q.expire(T0 + 24 * HOUR)] == [late]
        raise RuntimeError("rolled back")
    assert q.get(late).status is PendingStatus.PENDING
    assert [p.action_id for p in q.expire(T0 + 24 * HOUR + 1)] == [late]
    assert q.get(late).status is PendingStatus.EXPIRED
