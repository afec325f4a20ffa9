"""Reputation profiles: the four domains, metric bounds with the spec's §3.4 messages,
credential scores, tiers and confidence (spec §2.2, §2.5, §6 tests 14 and 19)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lnhive.core.errors import InvalidInput
from lnhive.identity.reputation_profiles import (
    PROFILES,
    check_metrics,
    check_outcome,
    confidence,
    credential_score,
    normalised,
    profile,
    tier,
)

NODE_METRICS = {
    "routing_reliability": 0.93,
    "uptime": 0.985,
    "htlc_success_rate": 0.96,
    "avg_fee_ppm": 320,
    "forward_count": 1840,
}
ADVISOR_METRICS = {
    "revenue_delta_pct": 340,
    "actions_taken": 87,
    "uptime_pct": 99.2,
    "channels_managed": 19,
}


def test_four_profiles_with_required_and_scored_metrics() -> None:
    assert sorted(PROFILES) == ["agent:general", "hive:advisor", "hive:client", "hive:node"]
    advisor = PROFILES["hive:advisor"]
    assert advisor.required == (
        "revenue_delta_pct",
        "actions_taken",
        "uptime_pct",
        "channels_managed",
    )
    assert advisor.scored == ("revenue_delta_pct", "uptime_pct")  # counts are not scored
    assert PROFILES["agent:general"].metrics["response_time_ms"].lower_better
    assert PROFILES["hive:node"].metrics["avg_fee_ppm"].lower_better
    doc = advisor.to_json()
    assert doc["metric_ranges"]["uptime_pct"] == {
        "min": 0,
        "max": 100,
        "integer": False,
        "required": True,
        "scored": True,
        "lower_is_better": False,
    }


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"uptime": 0.9}, "metrics invalid: missing required metric: routing_reliability"),
        ({**NODE_METRICS, "color": 1}, "metrics invalid: unknown metric: color"),
        ({**NODE_METRICS, "uptime": True}, "metrics invalid: metric uptime must be numeric, got bool"),
        ({**NODE_METRICS, "uptime": "1"}, "metrics invalid: metric uptime must be numeric, got str"),
        ({**NODE_METRICS, "uptime": math.nan}, "metrics invalid: metric uptime must be finite"),
        ({**NODE_METRICS, "uptime": math.inf}, "metrics invalid: metric uptime must be finite"),
        ({**NODE_METRICS, "uptime": -math.inf}, "metrics invalid: metric uptime must be finite"),
        ({**NODE_METRICS, "uptime": 1.01}, "metrics invalid: metric uptime value 1.01 out of range [0, 1]"),
        ({**NODE_METRICS, "avg_fee_ppm": 50_001}, "out of range [0, 50000]"),
        ({**NODE_METRICS, "forward_count": 1.5}, "metrics invalid: metric forward_count must be an integer"),
        ([1, 2], "metrics must be a dict"),
    ],
)  # fmt: skip
def test_bad_metrics_name_the_problem(metrics: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_metrics("hive:node", metrics)
    assert message in err.value.message


def test_bounds_are_inclusive_and_integers_normalised() -> None:
    ok = check_metrics("hive:advisor", {**ADVISOR_METRICS, "revenue_delta_pct": -100})
    assert ok["revenue_delta_pct"] == -100
    ok = check_metrics("hive:advisor", {**ADVISOR_METRICS, "actions_taken": 100_000.0})
    assert ok["actions_taken"] == 100_000 and type(ok["actions_taken"]) is int
    with pytest.raises(InvalidInput, match="out of range"):
        check_metrics("hive:advisor", {**ADVISOR_METRICS, "actions_taken": 100_001})
    with pytest.raises(InvalidInput, match="unknown metric: xxxxxxxx"):
        check_metrics("hive:node", {**NODE_METRICS, "x" * 5000: 1})  # never echoed whole
    with pytest.raises(InvalidInput, match="invalid domain: hive:referrer"):
        profile("hive:referrer")
    with pytest.raises(InvalidInput, match="invalid outcome: great"):
        check_outcome("great")


def test_spec_vector_node_credential_senior_then_recognized() -> None:
    """Spec §6 test 19: 0.93/0.985/0.96/320 ppm, renew → senior; as revoke → recognized."""
    norm = normalised("hive:node", NODE_METRICS)
    assert norm["avg_fee_ppm"] == pytest.approx(1 - 320 / 50_000)
    base = 100 * (0.93 + 0.985 + 0.96 + (1 - 320 / 50_000)) / 4  # 96.715
    assert credential_score("hive:node", NODE_METRICS, "neutral") == pytest.approx(base)
    assert credential_score("hive:node", NODE_METRICS, "renew") == 100.0  # capped
    revoke = credential_score("hive:node", NODE_METRICS, "revoke")
    assert revoke == pytest.approx(base * 0.7)  # 67.70
    assert tier(round(revoke)) == "recognized" and tier(100) == "senior"


def test_strong_advisor_is_not_a_newcomer() -> None:
    """Spec §2.5 step 3: counts are not scored, so +340 % and 99.2 % uptime score well."""
    score = credential_score("hive:advisor", ADVISOR_METRICS, "neutral")
    assert score == pytest.approx(100 * ((340 + 100) / 1100 + 0.992) / 2)  # 69.6
    assert tier(round(score)) == "recognized"


def test_tiers_and_confidence_boundaries() -> None:
    assert [tier(s) for s in (0, 59, 60, 74, 75, 84, 85, 100)] == [
        "newcomer",
        "newcomer",
        "recognized",
        "recognized",
        "trusted",
        "trusted",
        "senior",
        "senior",
    ]
    assert confidence(0, 0) == "none"
    assert confidence(1, 1) == "low"
    assert confidence(2, 3) == "medium"
    assert confidence(5, 9) == "medium"
    assert confidence(4, 10) == "medium"
    assert confidence(5, 10) == "high"
