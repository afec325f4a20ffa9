"""Aggregation (spec §2.5, §6 tests 19-21) with hand-computed vectors."""

from __future__ import annotations

import math

import pytest

from lnhive.identity.reputation_aggregate import (
    ALL,
    Row,
    WeightContext,
    aggregate,
    aggregate_all,
    aggregate_domain,
    recency,
    round_half_up,
)
from lnhive.identity.reputation_credential import evidence_strength

NOW = 1_767_225_600
DAY = 86_400
SUBJECT = "urn:lnhive:nostr:" + "aa" * 32
NODE_A = "02" + "11" * 32
NODE_B = "03" + "22" * 32


def row(
    cid: str,
    issuer: str,
    score: float,
    *,
    age_days: float = 0,
    strength: float = 1.0,
    domain: str = "hive:advisor",
    subject: str = SUBJECT,
    issued_at: int | None = None,
    metrics: dict[str, float] | None = None,
    revoked: bool = False,
    expires_at: int | None = None,
) -> Row:
    end = int(NOW - age_days * DAY)
    return Row(
        credential_id=cid,
        issuer=issuer,
        subject=subject,
        domain=domain,
        period_end=end,
        issued_at=end if issued_at is None else issued_at,
        expires_at=expires_at,
        outcome="neutral",
        score=score,
        evidence_strength=strength,
        metrics=metrics or {},
        revoked=revoked,
    )


def test_nothing_usable_is_50_newcomer_none() -> None:
    rep = aggregate([], SUBJECT, "hive:advisor", now=NOW)
    assert (rep.score, rep.tier, rep.confidence, rep.credential_count, rep.issuer_count) == (
        50,
        "newcomer",
        "none",
        0,
        0,
    )
    assert aggregate([], SUBJECT, now=NOW).domain == ALL


def test_weighted_mean_by_hand() -> None:
    """Two issuers: 90 fresh with full evidence, 40 at 69.3 days with weak evidence.

    w1 = 1 * 1 * 1.0 = 1.0; w2 = 1 * e^-0.693 * 0.7 = 0.35; score = (90 + 14) / 1.35
    = 77.04 → 77 (trusted)."""
    rows = [
        row("c1", "did:key:i1", 90, metrics={"uptime_pct": 99.0}),
        row("c2", "did:key:i2", 40, age_days=100 * math.log(2), strength=0.7,
            metrics={"uptime_pct": 50.0}),
    ]  # fmt: skip
    rep = aggregate_domain(rows, SUBJECT, "hive:advisor", now=NOW)
    w2 = 0.5 * 0.7
    assert recency(rows[1].period_end, NOW) == pytest.approx(0.5, abs=1e-5)
    assert rep.score == round_half_up((90 + 40 * w2) / (1 + w2)) == 77
    assert rep.tier == "trusted" and rep.confidence == "low"
    assert rep.components["uptime_pct"] == pytest.approx(
        round((99 + 50 * w2) / (1 + w2), 4), abs=1e-4
    )
    shares = {c["credential_id"]: c["share"] for c in rep.explanation["credentials"]}
    assert shares == {"c1": round(1 / 1.35, 4), "c2": round(0.35 / 1.35, 4)}


def test_recency_halves_at_69_days() -> None:
    """Spec §6 test 20: a 69-day-old period_end weighs about half."""
    assert recency(NOW - 69 * DAY, NOW) == pytest.approx(math.exp(-0.69))
    assert 0.49 < recency(NOW - 69 * DAY, NOW) < 0.51
    assert recency(NOW + DAY, NOW) == 1.0  # never more than 1


def test_evidence_strength_steps() -> None:
    """Spec §6 test 20: 0/3/6 entries with a SignedReceipt → 0.3/0.7/1.0; 6 without → 0.7."""
    rec = {"type": "SignedReceipt", "id": "urn:lnhive:receipt:x:1:ab", "description": "r"}
    snap = {"type": "MetricSnapshot", "id": "urn:uuid:1"}
    assert evidence_strength([]) == 0.3
    assert evidence_strength([rec] * 3) == 0.7
    assert evidence_strength([rec] + [snap] * 5) == 1.0
    assert evidence_strength([snap] * 6) == 0.7
    bad = [{"type": "Rumour", "id": "urn:x"}, {"type": "SignedReceipt", "id": "not a uri"}, 7]
    assert evidence_strength(bad * 3) == 0.3  # malformed entries do not count
    assert evidence_strength([rec] * 4 + bad) == 0.7


def test_one_issuer_counts_once() -> None:
    """Spec §6 test 21: ten credentials from one issuer are one voice (the newest)."""
    rows = [row(f"c{i}", "did:key:same", 10 * i, age_days=10 - i) for i in range(10)]
    rep = aggregate_domain(rows, SUBJECT, "hive:advisor", now=NOW)
    assert rep.credential_count == 1 and rep.issuer_count == 1 and rep.score == 90
    assert sorted(rep.explanation["excluded"]["superseded_by_newer_from_same_issuer"]) == sorted(
        f"c{i}" for i in range(9)
    )


def test_confidence_needs_diverse_issuers() -> None:
    rows = [row(f"c{i}", f"did:key:i{i}", 80) for i in range(10)]
    assert aggregate_domain(rows, SUBJECT, "hive:advisor", now=NOW).confidence == "high"
    assert aggregate_domain(rows[:9], SUBJECT, "hive:advisor", now=NOW).confidence == "medium"
    assert aggregate_domain(rows[:2], SUBJECT, "hive:advisor", now=NOW).confidence == "low"


def test_same_principal_issuer_weighs_zero() -> None:
    """Spec §6 test 21: an issuer bound to the subject's key gets weight 0."""
    rows = [row("self", "did:key:sock", 100), row("honest", "did:key:other", 40)]
    ctx = WeightContext(principals={"did:key:sock": frozenset({SUBJECT})})
    rep = aggregate_domain(rows, SUBJECT, "hive:advisor", now=NOW, ctx=ctx)
    assert rep.score == 40 and rep.credential_count == 1
    assert rep.explanation["excluded"]["same_principal_weight_zero"] == ["self"]
    only_sock = aggregate_domain(rows[:1], SUBJECT, "hive:advisor", now=NOW, ctx=ctx)
    assert only_sock.score == 50 and only_sock.confidence == "none"


def test_member_and_channel_issuer_weights() -> None:
    subject = f"urn:lnhive:node:{NODE_B}"
    issuer_keys = {"did:key:a": frozenset({f"urn:lnhive:node:{NODE_A}"})}
    ctx = WeightContext(members=frozenset({NODE_A}), principals=issuer_keys)
    assert ctx.issuer_weight("did:key:a", subject) == 1.5
    both = WeightContext(members=frozenset({NODE_A, NODE_B}), principals=issuer_keys)
    assert both.issuer_weight("did:key:a", subject) == 2.0
    chan = WeightContext(
        members=frozenset({NODE_A, NODE_B}),
        principals=issuer_keys,
        channels=frozenset({frozenset((NODE_A, NODE_B))}),
    )
    assert chan.issuer_weight("did:key:a", subject) == 3.0  # 2.0 x 1.5, capped at 3.0
    assert WeightContext().issuer_weight("did:key:a", subject) == 1.0
    # a member issuer at 80 outweighs an outsider at 20: (1.5*80 + 20) / 2.5 = 56
    rows = [
        row("m", "did:key:a", 80, subject=subject, domain="hive:node"),
        row("o", "did:key:z", 20, subject=subject, domain="hive:node"),
    ]
    assert aggregate_domain(rows, subject, "hive:node", now=NOW, ctx=ctx).score == 56


def test_revoked_and_expired_rows_are_left_out() -> None:
    rows = [
        row("live", "did:key:a", 70),
        row("gone", "did:key:b", 10, revoked=True),
        row("old", "did:key:c", 10, expires_at=NOW - 1),
    ]
    rep = aggregate_domain(rows, SUBJECT, "hive:advisor", now=NOW)
    assert rep.score == 70
    assert rep.explanation["excluded"]["revoked"] == 1
    assert rep.explanation["excluded"]["expired"] == 1


def test_all_domains_is_a_weighted_mean_of_domain_scores() -> None:
    rows = [
        row("a1", "did:key:a", 90, domain="hive:advisor"),
        row("a2", "did:key:b", 70, domain="hive:advisor"),
        row("c1", "did:key:a", 30, domain="hive:client"),
    ]
    rep = aggregate(rows, SUBJECT, now=NOW)
    assert rep.domain == ALL and rep.score == round_half_up((80 + 30) / 2) == 55
    assert rep.credential_count == 3 and rep.issuer_count == 2
    weighted = aggregate(rows, SUBJECT, now=NOW, domain_weights={"hive:advisor": 3})
    assert weighted.score == round_half_up((3 * 80 + 30) / 4) == 68
    assert set(rep.explanation["domains"]) == {"hive:advisor", "hive:client"}


def test_newest_100_issuers_at_most() -> None:
    rows = [row(f"c{i}", f"did:key:i{i}", 60, issued_at=NOW - i) for i in range(120)]
    rep = aggregate_domain(rows, SUBJECT, "hive:advisor", now=NOW)
    assert rep.credential_count == 100
    assert len(rep.explanation["excluded"]["over_candidate_cap"]) == 20


def test_aggregate_all_groups_by_subject_and_domain() -> None:
    other = "urn:lnhive:nostr:" + "bb" * 32
    rows = [row("x", "did:key:a", 90), row("y", "did:key:a", 20, subject=other)]
    out = aggregate_all(rows, now=NOW)
    assert out[(SUBJECT, "hive:advisor")].score == 90
    assert out[(other, "hive:advisor")].score == 20
