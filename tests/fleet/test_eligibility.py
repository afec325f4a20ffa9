"""Promotion criteria and auto-vouch (spec §1.5, §8 test 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.cli.fleetsim import Fleet
from lnhive.fleet.eligibility import Criteria, evaluate
from lnhive.fleet.hive import HiveOptions

DAY = 86_400.0


def _verdict(**over: object) -> dict[str, object]:
    args: dict[str, object] = {
        "joined_at": 0.0,
        "now": 91 * DAY,
        "uptime": 0.951,
        "contribution": (1_110, 1_000),
        "own_peers": {"x"},
        "others_peers": {"y"},
        "criteria": Criteria(),
    }
    args.update(over)
    return evaluate(**args)  # type: ignore[arg-type]


def test_a_neophyte_meeting_every_criterion_is_eligible() -> None:
    assert _verdict()["eligible"] is True


@pytest.mark.parametrize(
    ("over", "failing"),
    [
        ({"uptime": 0.949}, "uptime"),
        ({"uptime": None}, "uptime"),
        ({"contribution": (800, 1_000)}, "contribution"),
        ({"contribution": (0, 0)}, "contribution"),  # no evidence: fail closed
        ({"own_peers": {"y"}}, "unique_peers"),
        ({"own_peers": set()}, "unique_peers"),
        ({"now": 89 * DAY}, "probation"),
    ],
)
def test_each_criterion_at_its_boundary(over: dict[str, object], failing: str) -> None:
    verdict = _verdict(**over)
    checks = verdict["checks"]
    assert verdict["eligible"] is False
    assert [k for k, c in checks.items() if not c["ok"]] == [failing]  # type: ignore[attr-defined]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(
        tmp_path,
        ["a", "b", "c"],
        options=HiveOptions(probation_days=1.0, min_uptime_pct=95.0),
    )
    f.net.add_node("x")
    f.hives["a"].genesis("hive_e")
    for name in ("b", "c"):
        f.connect("a", name)
        f.hives[name].join(f.hives["a"].invite()["ticket"])
        f.settle()
    yield f
    f.close()


def _scid(fleet: Fleet, me: str, peer: str) -> str:
    for c in fleet.nodes[me].listpeerchannels(id=fleet.id(peer))["channels"]:
        return str(c["short_channel_id"])
    raise AssertionError("no channel")


def test_auto_vouch_promotes_a_neophyte_that_meets_the_criteria(fleet: Fleet) -> None:
    a, b = fleet.hives["a"], fleet.hives["b"]
    fleet.net.open_channel("b", "a", 1_000_000)
    fleet.net.open_channel("a", "c", 1_000_000)
    fleet.net.open_channel("b", "x", 1_000_000)  # an external peer only b has
    fleet.advance(31)
    fleet.settle()  # the presence sweep (every 30 s) starts b's and c's clocks
    # too early: a does not vouch
    b.request_promotion()
    fleet.settle()
    assert a.roster.tier(fleet.id("b")) == "neophyte"
    report = a.contribution_report(fleet.id("b"))["peers"][0]
    assert report["checks"]["probation"]["ok"] is False
    # two days later, with forwards both ways through a (more in from b than out to b)
    fleet.advance(2 * DAY)
    fleet.settle()
    ab, ac = _scid(fleet, "a", "b"), _scid(fleet, "a", "c")
    a.on_forward({"status": "settled", "in_channel": ab, "out_channel": ac, "out_msat": 5_000})
    a.on_forward({"status": "settled", "in_channel": ac, "out_channel": ab, "out_msat": 2_000})
    a.on_forward({"status": "failed", "in_channel": ac, "out_channel": ab, "out_msat": 9_999})
    b.gossip_now()
    fleet.settle()
    report = a.contribution_report(fleet.id("b"))["peers"][0]
    assert report["checks"]["contribution"]["ratio"] == 2.5
    assert report["eligible"] is True, report
    b.request_promotion()
    fleet.settle()
    for name in ("a", "b", "c"):
        assert fleet.hives[name].roster.tier(fleet.id("b")) == "member"


def test_auto_vouch_off_never_vouches(tmp_path: Path) -> None:
    f = Fleet(tmp_path, ["a", "b"], options=HiveOptions(auto_vouch=False, probation_days=1.0))
    try:
        f.hives["a"].genesis("hive_e")
        f.connect("a", "b")
        f.hives["b"].join(f.hives["a"].invite()["ticket"])
        f.settle()
        f.advance(3 * DAY)
        f.settle()
        f.hives["b"].request_promotion()
        f.settle()
        assert f.hives["a"].roster.tier(f.id("b")) == "neophyte"
    finally:
        f.close()
