"""Issuing, superseding and revoking credentials on a real SQLite file (spec §3.3, §8 tests 5, 34)."""

from __future__ import annotations

from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import InvalidInput, NotFound
from lnhive.core.store import Store
from lnhive.manage.confirm_queue import ConfirmQueue, PendingStatus
from lnhive.manage.credential import Signer, check_credential
from lnhive.manage.credential_store import CredentialStore
from lnhive.manage.danger import HoldKind
from lnhive.manage.schemas import CATALOGUE
from tests.manage.conftest import ADVISOR, NODE_ID, OTHER_ADVISOR, T0

DAY = 86_400


def issue(creds: CredentialStore, signer: Signer, advisor: str = ADVISOR, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "tier": "standard",
        "permissions": {"monitor": True, "fee_policy": True},
        "allowed_schemas": ["hive:monitor/*", "hive:fee-policy/*"],
        "valid_for_s": 30 * DAY,
        "now": T0,
    }
    args.update(kw)
    return creds.issue(advisor_key=advisor, signer=signer, **args)


def hold(queue: ConfirmQueue, advisor: str = ADVISOR, now: float = T0) -> str:
    return queue.hold(
        advisor_id=advisor,
        credential_id="c",
        schema_id="hive:channel/v1",
        action="open",
        params={},
        envelope_json="{}",
        request_hash="00" * 32,
        danger=6,
        kind=HoldKind.QUEUE,
        now=now,
    ).action_id


def test_issue_signs_and_stores(store: Store, signer: Signer) -> None:
    creds = CredentialStore(store, CATALOGUE.schema_ids, NODE_ID)
    cred = issue(creds, signer)
    check_credential(cred, node_id=NODE_ID, now=T0, revoked=False)
    assert creds.active_for(ADVISOR) == cred
    assert creds.get(cred.credential_id) == cred
    assert creds.status(cred.credential_id) == "active"
    assert cred.valid_until - cred.valid_from == 30 * DAY


def test_reissue_supersedes(store: Store, signer: Signer) -> None:
    creds = CredentialStore(store, CATALOGUE.schema_ids, NODE_ID)
    first = issue(creds, signer)
    second = issue(
        creds,
        signer,
        tier="monitor",
        permissions={"monitor": True},
        allowed_schemas=["hive:monitor/*"],
    )
    assert creds.active_for(ADVISOR) == second
    assert creds.status(first.credential_id) == "superseded"
    assert creds.is_revoked(first.credential_id)
    assert [c.credential_id for c in creds.all("superseded")] == [first.credential_id]


def test_issue_validates(store: Store, signer: Signer) -> None:
    creds = CredentialStore(store, CATALOGUE.schema_ids, NODE_ID)
    with pytest.raises(InvalidInput):
        issue(creds, signer, valid_for_s=731 * DAY)
    issue(creds, signer, valid_for_s=730 * DAY)
    with pytest.raises(InvalidInput):
        issue(creds, signer, constraints={"max_rebalance_fee_ppm": 5000})
    with pytest.raises(InvalidInput):
        issue(creds, signer, trial_days=0)
    with pytest.raises(InvalidInput):
        issue(creds, signer, advisor=NODE_ID[2:])
    assert issue(creds, signer, trial_days=14).is_trial


def test_revoke_cancels_pending_in_one_step_and_is_idempotent(
    store: Store, signer: Signer, clock: VirtualClock
) -> None:
    creds = CredentialStore(store, CATALOGUE.schema_ids, NODE_ID)
    queue = ConfirmQueue(store)
    cred = issue(creds, signer)
    issue(creds, signer, advisor=OTHER_ADVISOR)
    mine, theirs = hold(queue), hold(queue, OTHER_ADVISOR)
    rev = creds.revoke(ADVISOR, "compromised", T0 + 5)
    assert rev is not None
    assert rev.credential_id == cred.credential_id and rev.cancelled_actions == (mine,)
    assert creds.status(cred.credential_id) == "revoked"
    assert creds.revocation(cred.credential_id) == (T0 + 5, "compromised")
    assert creds.active_for(ADVISOR) is None
    assert queue.get(mine).status is PendingStatus.CANCELLED
    assert queue.get(theirs).status is PendingStatus.PENDING
    assert creds.revoke(ADVISOR, "again", T0 + 6) is None
    with pytest.raises(InvalidInput):
        creds.revoke(OTHER_ADVISOR, "", T0)
    with pytest.raises(InvalidInput):
        creds.revoke(OTHER_ADVISOR, "x" * 501, T0)


def test_revoke_all_is_a_lockdown(store: Store, signer: Signer) -> None:
    creds = CredentialStore(store, CATALOGUE.schema_ids, NODE_ID)
    queue = ConfirmQueue(store)
    issue(creds, signer)
    issue(creds, signer, advisor=OTHER_ADVISOR)
    a, b = hold(queue), hold(queue, OTHER_ADVISOR)
    revs = creds.revoke_all("lockdown", T0 + 1)
    assert len(revs) == 2
    assert creds.all("active") == []
    assert {queue.get(a).status, queue.get(b).status} == {PendingStatus.CANCELLED}


def test_credentials_survive_reopening(tmp_path: Any, signer: Signer) -> None:
    from lnhive.manage.store import open_manage_store

    path = tmp_path / "c.sqlite3"
    with open_manage_store(path) as s1:
        cred = issue(CredentialStore(s1, CATALOGUE.schema_ids, NODE_ID), signer)
    with open_manage_store(path) as s2:
        again = CredentialStore(s2, CATALOGUE.schema_ids, NODE_ID)
        assert again.active_for(ADVISOR) == cred
        with pytest.raises(NotFound):
            again.get("nope")
