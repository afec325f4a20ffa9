"""revenue-policy: validation (spec §7 test 26), semantics, rate limit and batch atomicity."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.core.errors import REVENUE_BASE, InvalidInput, LnhiveError, RateLimited
from lnhive.revenue.policy import PeerPolicy, PolicyService, RebalanceMode, Strategy
from lnhive.revenue.store import RevenueStore

T0 = 1_767_225_600.0
A = "02" + "11" * 32
B = "03" + "22" * 32
C = "02" + "33" * 32


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every policy row and change, read through a separate connection."""
    with sqlite3.connect(path) as conn:
        return {
            t: list(conn.execute(f"SELECT * FROM {t} ORDER BY 1"))
            for t in ("peer_policies", "policy_changes")
        }


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "revenue.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[RevenueStore]:
    s = RevenueStore(db_path)
    yield s
    s.close()


@pytest.fixture
def woken() -> list[str]:
    return []


@pytest.fixture
def svc(store: RevenueStore, woken: list[str]) -> PolicyService:
    return PolicyService(store, on_change=woken.append)


# -- spec §7 test 26: every bad input is a clear error and changes nothing ---------
BAD_SETS: list[tuple[dict[str, Any], type[LnhiveError], str]] = [
    ({"peer_id": A[:65], "strategy": "static", "fee_ppm": 1}, InvalidInput, "65 characters"),
    ({"peer_id": "02" + "zz" * 32, "strategy": "passive"}, InvalidInput, "non-hex"),
    ({"peer_id": "04" + "11" * 32, "strategy": "passive"}, InvalidInput, "02 or 03"),
    ({"peer_id": 42, "strategy": "passive"}, InvalidInput, "66-character hex"),
    (
        {"peer_id": A, "strategy": "foo"},
        InvalidInput,
        "strategy 'foo' is not valid; valid values: dynamic, static, passive, hive",
    ),
    (
        {"peer_id": A, "rebalance": "sometimes"},
        InvalidInput,
        "valid values: enabled, disabled, source_only, sink_only",
    ),
    ({"peer_id": A, "strategy": "static", "fee_ppm": -1}, InvalidInput, "from 0 to 100000"),
    ({"peer_id": A, "strategy": "static", "fee_ppm": 100_001}, InvalidInput, "from 0 to 100000"),
    ({"peer_id": A, "strategy": "static", "fee_ppm": 1.5}, InvalidInput, "integer"),
    ({"peer_id": A, "strategy": "static", "fee_ppm": True}, InvalidInput, "integer"),
    ({"peer_id": A, "fee_multiplier_min": 0.05}, InvalidInput, "from 0.1 to 5.0"),
    ({"peer_id": A, "fee_multiplier_max": 6}, InvalidInput, "from 0.1 to 5.0"),
    ({"peer_id": A, "fee_multiplier_max": "nan"}, InvalidInput, "from 0.1 to 5.0"),
    (
        {"peer_id": A, "fee_multiplier_min": 2, "fee_multiplier_max": 1.5},
        InvalidInput,
        "must not exceed",
    ),
    ({"peer_id": A, "strategy": "passive", "expires_in_hours": 721}, InvalidInput, "at most 720"),
    ({"peer_id": A, "strategy": "passive", "expires_in_hours": 0}, InvalidInput, "above 0"),
    ({"peer_id": A, "strategy": "static"}, InvalidInput, "static needs fee_ppm"),
    ({"peer_id": A}, InvalidInput, "set needs at least one of"),
    ({"strategy": "passive"}, InvalidInput, "peer_id is required"),
    ({"peer_id": A, "strategy": "passive", "since": 5}, InvalidInput, "does not apply"),
]


@pytest.mark.parametrize(("params", "error", "text"), BAD_SETS)
def test_bad_set_is_a_clear_error_and_changes_nothing(
    svc: PolicyService,
    db_path: Path,
    woken: list[str],
    params: dict[str, Any],
    error: type[LnhiveError],
    text: str,
) -> None:
    svc.handle("set", {"peer_id": A, "strategy": "passive", "tag": None}, T0)
    before = snapshot(db_path)
    with pytest.raises(error) as exc:
        svc.handle("set", params, T0 + 1)
    assert type(exc.value) is error
    assert text in exc.value.message
    assert exc.value.rpc_message().startswith("invalid_input: ")
    assert exc.value.rpc_code(REVENUE_BASE) == 23001
    assert snapshot(db_path) == before
    assert woken == [A]


def test_eleventh_change_in_a_minute_is_rate_limited(
    svc: PolicyService, db_path: Path, woken: list[str]
) -> None:
    for i in range(10):
        svc.handle("set", {"peer_id": A, "strategy": "static", "fee_ppm": 100 + i}, T0 + i)
    before = snapshot(db_path)
    with pytest.raises(RateLimited) as exc:
        svc.handle("set", {"peer_id": A, "strategy": "static", "fee_ppm": 999}, T0 + 30)
    assert exc.value.rpc_message().startswith("rate_limited: ")
    assert exc.value.rpc_code(REVENUE_BASE) == 23008
    assert "limit is 10 per minute" in exc.value.message
    assert snapshot(db_path) == before
    assert svc.effective(A, T0 + 30).fee_ppm_target == 109
    # other peers are not limited; a batch is exempt; the window slides
    svc.handle("tag", {"peer_id": B, "tag": "x"}, T0 + 30)
    svc.handle("batch", {"updates": [{"peer_id": A, "strategy": "passive"}]}, T0 + 31)
    with pytest.raises(RateLimited):
        svc.handle("delete", {"peer_id": A}, T0 + 59.5)
    svc.handle("delete", {"peer_id": A}, T0 + 60.5)  # the first change left the window
    assert len(woken) == 13


@pytest.mark.parametrize(
    ("updates", "text"),
    [
        ({"peer_id": A}, "got a JSON object"),
        ("not json", "not JSON"),
        ('{"peer_id": "x"}', "got a JSON object"),
        (7, "got a JSON number"),
        (None, "got null"),
        ([{"peer_id": A, "strategy": "passive"}] * 101, "at most 100"),
    ],
)
def test_batch_that_is_not_a_json_array(
    svc: PolicyService, db_path: Path, updates: object, text: str
) -> None:
    before = snapshot(db_path)
    with pytest.raises(InvalidInput) as exc:
        svc.handle("batch", {"updates": updates}, T0)
    assert exc.value.message.startswith("updates ")
    assert text in exc.value.message
    assert snapshot(db_path) == before


def test_batch_is_all_or_nothing(svc: PolicyService, db_path: Path, woken: list[str]) -> None:
    svc.handle("set", {"peer_id": C, "strategy": "passive"}, T0)
    before = snapshot(db_path)
    updates = [
        {"peer_id": A, "strategy": "hive"},
        {"peer_id": C, "action": "delete"},
        {"peer_id": B, "strategy": "foo"},
    ]
    with pytest.raises(InvalidInput) as exc:
        svc.handle("batch", {"updates": updates}, T0 + 1)
    assert exc.value.message.startswith("updates[2]: strategy 'foo' is not valid")
    assert exc.value.details == {"index": 2}
    assert snapshot(db_path) == before
    assert svc.effective(A, T0 + 1).strategy is Strategy.DYNAMIC
    assert svc.effective(C, T0 + 1).strategy is Strategy.PASSIVE
    for bad, text in [
        ({"peer_id": A, "action": "get"}, "not valid in a batch"),
        ({"peer_id": A, "since": 1}, "does not apply"),
        ("x", "each update must be an object"),
    ]:
        with pytest.raises(InvalidInput, match=text):
            svc.handle("batch", {"updates": [updates[0], bad]}, T0 + 1)
        assert snapshot(db_path) == before
    assert woken == [C]


def test_batch_applies_in_order_and_records_changes(svc: PolicyService, woken: list[str]) -> None:
    updates = [{"peer_id": p, "strategy": "hive"} for p in (A, B)] + [
        {"peer_id": A, "action": "tag", "tag": "member"},
        {"peer_id": B, "action": "untag", "tag": "absent"},
    ]
    out = svc.handle("batch", {"updates": updates * 1 + [{"peer_id": A, "fee_ppm": 0}] * 20}, T0)
    assert out["applied"] == 24
    pol = svc.handle("get", {"peer_id": A}, T0)["policy"]
    assert pol["strategy"] == "hive" and pol["tags"] == ["member"] and pol["fee_ppm_target"] == 0
    changes = svc.handle("changes", {"since": T0 - 1}, T0)["changes"]
    assert len(changes) == 23 and all(c["via_batch"] for c in changes)  # the no-op untag is not
    assert woken == [A, B]
    # the JSON-string form of an array is accepted too
    assert (
        svc.handle("batch", {"updates": f'[{{"peer_id": "{C}", "strategy": "passive"}}]'}, T0)[
            "applied"
        ]
        == 1
    )


def test_default_policy_and_static_held(svc: PolicyService) -> None:
    got = svc.handle("get", {"peer_id": A}, T0)
    assert got["source"] == "default" and got["is_default"]
    assert got["policy"]["strategy"] == "dynamic" and got["policy"]["rebalance_mode"] == "enabled"
    out = svc.handle(
        "set", {"peer_id": A, "strategy": "static", "fee_ppm": "300", "rebalance": "sink_only"}, T0
    )
    assert out["previous"]["strategy"] == "dynamic"
    eff = svc.effective(A, T0 + 86_400 * 365)
    assert eff.strategy is Strategy.STATIC and eff.fee_ppm_target == 300
    assert eff.rebalance_mode is RebalanceMode.SINK_ONLY
    assert svc.handle("get", {"peer_id": A}, T0)["source"] == "stored"


def test_expiry_reverts_to_dynamic_and_keeps_tags(svc: PolicyService, woken: list[str]) -> None:
    svc.handle("tag", {"peer_id": A, "tag": "no_close"}, T0)
    svc.handle(
        "set", {"peer_id": A, "strategy": "static", "fee_ppm": 500, "expires_in_hours": 2}, T0
    )
    assert svc.effective(A, T0 + 7199).strategy is Strategy.STATIC
    assert svc.handle("get", {"peer_id": A}, T0 + 10)["policy"]["expires_at"] == T0 + 7200
    after = svc.effective(A, T0 + 7200)
    assert after.strategy is Strategy.DYNAMIC and after.fee_ppm_target is None
    assert after.tags == ("no_close",)
    got = svc.handle("get", {"peer_id": A}, T0 + 7200)
    assert got["source"] == "expired" and got["policy"]["strategy"] == "dynamic"
    assert [
        p["peer_id"] for p in svc.handle("find", {"tag": "no_close"}, T0 + 7200)["policies"]
    ] == [A]
    assert svc.handle("find", {"strategy": "static"}, T0 + 7200)["count"] == 0
    # purge makes it final and tells pollers
    assert svc.purge_expired(T0 + 7200) == [A]
    assert svc.purge_expired(T0 + 7300) == []
    changes = svc.handle("changes", {"since": T0}, T0 + 7200)["changes"]
    assert [c["action"] for c in changes] == ["expire"]
    assert changes[0]["policy"]["strategy"] == "dynamic"
    assert woken[-1] == A


def test_expiry_sweep_does_not_use_the_rate_limit(svc: PolicyService) -> None:
    for i in range(8):
        svc.handle("tag", {"peer_id": A, "tag": f"t{i}"}, T0)
    svc.handle("set", {"peer_id": A, "strategy": "passive", "expires_in_hours": 0.001}, T0)
    assert svc.purge_expired(T0 + 4) == [A]  # nine writes and one expire record
    assert svc.handle("untag", {"peer_id": A, "tag": "t0"}, T0 + 5)["changed"]  # the tenth
    with pytest.raises(RateLimited):
        svc.handle("untag", {"peer_id": A, "tag": "t1"}, T0 + 5)


def test_set_without_expiry_is_permanent(svc: PolicyService) -> None:
    svc.handle(
        "set", {"peer_id": A, "strategy": "static", "fee_ppm": 90, "expires_in_hours": 1}, T0
    )
    svc.handle("set", {"peer_id": A, "strategy": "hive"}, T0 + 10)
    eff = svc.effective(A, T0 + 30 * 86_400)
    assert eff.strategy is Strategy.HIVE and eff.expires_at is None and eff.fee_ppm_target == 90


def test_expired_policy_without_tags_is_purged(svc: PolicyService, store: RevenueStore) -> None:
    svc.handle("set", {"peer_id": B, "strategy": "passive", "expires_in_hours": 720}, T0)
    assert svc.handle("list", {}, T0 + 720 * 3600 - 1)["count"] == 1
    assert svc.handle("list", {}, T0 + 720 * 3600)["count"] == 0
    svc.purge_expired(T0 + 720 * 3600)
    assert store.get_policy(B) is None


def test_delete_returns_to_default(svc: PolicyService, woken: list[str]) -> None:
    svc.handle("set", {"peer_id": A, "strategy": "hive"}, T0)
    out = svc.handle("delete", {"peer_id": A}, T0 + 1)
    assert out["deleted"] and out["policy"]["strategy"] == "dynamic"
    assert svc.handle("get", {"peer_id": A}, T0 + 1)["source"] == "default"
    again = svc.handle("delete", {"peer_id": A}, T0 + 2)
    assert again["deleted"] is False
    assert woken == [A, A]
    assert [c["action"] for c in svc.handle("changes", {}, T0 + 3)["changes"]] == ["set", "delete"]


def test_changes_since(svc: PolicyService) -> None:
    svc.handle("set", {"peer_id": A, "strategy": "hive"}, T0)
    svc.handle("set", {"peer_id": B, "strategy": "hive"}, T0 + 10)
    svc.handle("delete", {"peer_id": A}, T0 + 20)
    out = svc.handle("changes", {"since": T0}, T0 + 30)
    assert [(c["peer_id"], c["action"]) for c in out["changes"]] == [(B, "set"), (A, "delete")]
    assert out["changes"][1]["policy"] is None and out["latest"] == T0 + 20
    assert out["changes"][0]["policy"]["strategy"] == "hive"
    assert svc.handle("changes", {"since": T0 + 20}, T0 + 30)["count"] == 0
    assert svc.handle("changes", {"since": str(T0 - 1)}, T0 + 30)["count"] == 3
    with pytest.raises(InvalidInput, match="since must be a UNIX time"):
        svc.handle("changes", {"since": "yesterday"}, T0)
    with pytest.raises(InvalidInput, match="since must be a UNIX time"):
        svc.handle("changes", {"since": -5}, T0)


def test_tags_and_find(svc: PolicyService, store: RevenueStore) -> None:
    svc.handle("tag", {"peer_id": A, "tag": "member"}, T0)
    svc.handle("tag", {"peer_id": A, "tag": "member"}, T0)  # no-op, no change recorded
    svc.handle("tag", {"peer_id": B, "tag": "member"}, T0)
    svc.handle("set", {"peer_id": B, "strategy": "passive", "rebalance": "disabled"}, T0)
    svc.handle("tag", {"peer_id": B, "tag": "zombie"}, T0)
    assert [p["peer_id"] for p in svc.handle("find", {"tag": "member"}, T0)["policies"]] == [A, B]
    found = svc.handle("find", {"tag": "member", "rebalance": "disabled"}, T0)["policies"]
    assert [p["peer_id"] for p in found] == [B]
    assert svc.handle("find", {"strategy": "passive"}, T0)["count"] == 1
    assert svc.handle("get", {"peer_id": B}, T0)["policy"]["tags"] == ["member", "zombie"]
    assert len(svc.handle("changes", {}, T0)["changes"]) == 4
    # untagging the last thing that made A special removes its row
    out = svc.handle("untag", {"peer_id": A, "tag": "member"}, T0 + 1)
    assert out["changed"] and store.get_policy(A) is None
    assert svc.handle("untag", {"peer_id": A, "tag": "member"}, T0 + 1)["changed"] is False
    assert svc.handle("list", {}, T0)["count"] == 1
    for params, text in [
        ({"peer_id": A}, "tag is required"),
        ({"peer_id": A, "tag": "has space"}, "tag must be"),
        ({"peer_id": A, "tag": ""}, "tag must be"),
    ]:
        with pytest.raises(InvalidInput, match=text):
            svc.handle("tag", params, T0)
    with pytest.raises(InvalidInput, match="find needs at least one"):
        svc.handle("find", {}, T0)
    with pytest.raises(InvalidInput, match="strategy 'x' is not valid"):
        svc.handle("find", {"strategy": "x"}, T0)


def test_unknown_action_and_misplaced_params(svc: PolicyService) -> None:
    with pytest.raises(InvalidInput) as exc:
        svc.handle("frobnicate", {}, T0)
    assert exc.value.message == (
        "action 'frobnicate' is not valid; valid values: "
        "list, get, set, delete, tag, untag, find, changes, batch"
    )
    with pytest.raises(InvalidInput, match="takes: no parameters"):
        svc.handle("list", {"peer_id": A}, T0)
    with pytest.raises(InvalidInput, match="peer_id is required for action=get"):
        svc.handle("get", {}, T0)


def test_peer_id_is_case_insensitive(svc: PolicyService) -> None:
    peer = "03" + "ab" * 32
    svc.handle("set", {"peer_id": peer.upper(), "strategy": "passive"}, T0)
    assert svc.handle("get", {"peer_id": peer}, T0)["source"] == "stored"
    assert svc.handle("list", {}, T0)["policies"][0]["peer_id"] == peer


def test_multipliers_merge_with_stored_bounds(svc: PolicyService) -> None:
    svc.handle("set", {"peer_id": A, "fee_multiplier_min": 0.5, "fee_multiplier_max": "2"}, T0)
    with pytest.raises(InvalidInput, match="must not exceed"):
        svc.handle("set", {"peer_id": A, "fee_multiplier_min": 3}, T0)
    svc.handle("set", {"peer_id": A, "fee_multiplier_max": 5.0}, T0)
    eff = svc.effective(A, T0)
    assert (eff.fee_multiplier_min, eff.fee_multiplier_max) == (0.5, 5.0)


def test_policies_survive_reopen(db_path: Path) -> None:
    with RevenueStore(db_path) as s:
        PolicyService(s).handle(
            "set", {"peer_id": A, "strategy": "static", "fee_ppm": 300, "expires_in_hours": 5}, T0
        )
        PolicyService(s).handle("tag", {"peer_id": A, "tag": "anchor"}, T0)
    with RevenueStore(db_path) as s:
        p = PolicyService(s).effective(A, T0 + 60)
    assert p == PeerPolicy(
        A, Strategy.STATIC, RebalanceMode.ENABLED, 300, ("anchor",), None, None, T0 + 18_000, T0
    )


def test_list_output_is_json_ready(svc: PolicyService) -> None:
    import json

    svc.handle("set", {"peer_id": A, "strategy": "hive"}, T0)
    out = svc.handle("list", {}, T0)
    assert json.loads(json.dumps(out)) == out
    assert out["policies"][0] == {
        "peer_id": A,
        "strategy": "hive",
        "rebalance_mode": "enabled",
        "fee_ppm_target": None,
        "tags": [],
        "fee_multiplier_min": None,
        "fee_multiplier_max": None,
        "expires_at": None,
        "updated_at": T0,
    }
