"""Aggregating reputation credentials into a score (spec §2.5). Pure functions over rows.

Every row was verified once, at ingest (proof, issuer key, content, revocation), and
carries its precomputed credential score and evidence strength, so aggregating never
re-verifies a signature. For a subject and a domain:

1. candidates: live rows (not revoked, not expired); only the newest per issuer counts
   (by ``period_end``, then ``issued_at``) — a weekly re-issuer is one voice — and at most
   the newest 100 issuers;
2. ``weight = issuer_weight * recency * evidence_strength`` with
   ``recency = e^(-0.01 · age_days)`` (age from ``period_end``, half-life ≈ 69 days) and
   ``issuer_weight`` 1.0, 1.5 when the issuer is a hive member, 2.0 when both are,
   * 1.5 when a channel between them is visible, capped at 3.0, and **0** when issuer and
   subject are one principal (bound to the same key);
3. ``score = round_half_up(Σ w·s / Σ w)`` clamped to 0-100, where ``s`` is the
   credential score; tier and confidence follow (:mod:`reputation_profiles`);
4. ``components``: the weighted mean of each metric (4 decimals);
5. ``_all`` (no domain): the weighted mean of the per-domain scores (equal weights unless
   configured), over the domains that have usable credentials;
6. nothing usable: score 50, ``newcomer``, confidence ``none``, counts 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lnhive.identity.reputation_profiles import confidence, tier

ALL = "_all"
MAX_CANDIDATES = 100
RECENCY_PER_DAY = 0.01
MAX_ISSUER_WEIGHT = 3.0
DEFAULT_SCORE = 50
DAY = 86_400.0
_NODE_URN = "urn:lnhive:node:"


class Row(NamedTuple):
    """A stored reputation credential as aggregation needs it (already verified). A
    named tuple: 100 000 of them are built from SQLite rows in well under a second."""

    credential_id: str
    issuer: str
    subject: str
    domain: str
    period_end: int
    issued_at: int
    expires_at: int | None
    outcome: str
    score: float
    evidence_strength: float
    metrics: Mapping[str, float]
    revoked: bool = False


@dataclass(frozen=True)
class WeightContext:
    """What the node knows beyond the credentials: hive members (node ids), the
    identifiers bound to each DID (``did -> {urn:lnhive:node:…, urn:lnhive:nostr:…}``),
    and node pairs with a channel between them visible locally."""

    members: frozenset[str] = frozenset()
    principals: Mapping[str, frozenset[str]] = field(default_factory=dict)
    channels: frozenset[frozenset[str]] = frozenset()

    def keys_of(self, ident: str) -> frozenset[str]:
        return frozenset({ident}) | self.principals.get(ident, frozenset())

    @property
    def empty(self) -> bool:
        return not (self.members or self.principals or self.channels)

    def issuer_weight(self, issuer: str, subject: str) -> float:
        return self.weight(issuer, self.keys_of(subject))

    def weight(self, issuer: str, subject_keys: frozenset[str]) -> float:
        """The issuer weight against a subject given by its keys (:meth:`keys_of`)."""
        ik = self.keys_of(issuer)
        if ik & subject_keys:
            return 0.0
        inodes = [k[len(_NODE_URN) :] for k in ik if k.startswith(_NODE_URN)]
        snodes = [k[len(_NODE_URN) :] for k in subject_keys if k.startswith(_NODE_URN)]
        i_member = any(n in self.members for n in inodes)
        s_member = any(n in self.members for n in snodes)
        weight = 2.0 if i_member and s_member else 1.5 if i_member else 1.0
        if any(frozenset((a, b)) in self.channels for a in inodes for b in snodes):
            weight *= 1.5
        return min(MAX_ISSUER_WEIGHT, weight)


@dataclass
class Reputation:
    subject: str
    domain: str
    score: int
    tier: str
    confidence: str
    credential_count: int
    issuer_count: int
    computed_at: int
    components: dict[str, float]
    explanation: dict[str, Any] = field(default_factory=dict)
    issuer_ids: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "domain": self.domain,
            "score": self.score,
            "tier": self.tier,
            "confidence": self.confidence,
            "credential_count": self.credential_count,
            "issuer_count": self.issuer_count,
            "computed_at": self.computed_at,
            "components": self.components,
            "explanation": self.explanation,
        }


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def recency(period_end: int, now: float) -> float:
    """``e^(-0.01 · age_days)``, age from the end of the period (never negative)."""
    return math.exp(-RECENCY_PER_DAY * max(0.0, now - period_end) / DAY)


def _empty(subject: str, domain: str, now: float, explanation: dict[str, Any]) -> Reputation:
    return Reputation(
        subject, domain, DEFAULT_SCORE, tier(DEFAULT_SCORE), "none", 0, 0, int(now), {},
        explanation,
    )  # fmt: skip


def aggregate_domain(
    rows: Iterable[Row],
    subject: str,
    domain: str,
    *,
    now: float,
    ctx: WeightContext | None = None,
    explain: bool = True,
) -> Reputation:
    """The reputation of ``subject`` in ``domain`` from ``rows`` (other rows are ignored)."""
    ctx = ctx or WeightContext()
    newest: dict[str, Row] = {}
    superseded: list[str] = []
    revoked = expired = 0
    for r in rows:
        if r.subject != subject or r.domain != domain:
            continue
        if r.revoked:
            revoked += 1
            continue
        if r.expires_at is not None and r.expires_at < now:
            expired += 1
            continue
        old = newest.get(r.issuer)
        if old is None:
            newest[r.issuer] = r
        elif (r.period_end, r.issued_at, r.credential_id) > (
            old.period_end,
            old.issued_at,
            old.credential_id,
        ):
            superseded.append(old.credential_id)
            newest[r.issuer] = r
        else:
            superseded.append(r.credential_id)
    candidates = sorted(newest.values(), key=lambda r: (r.issued_at, r.credential_id), reverse=True)
    dropped = [r.credential_id for r in candidates[MAX_CANDIDATES:]]
    total_w = total_ws = 0.0
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    used: list[tuple[Row, float, float, float]] = []
    zero: list[str] = []
    plain = ctx.empty  # no bindings, members or channels: every issuer weighs 1.0
    subject_keys = ctx.keys_of(subject)
    exp = math.exp
    for r in candidates[:MAX_CANDIDATES]:
        iw = float(r.issuer != subject) if plain else ctx.weight(r.issuer, subject_keys)
        rec = exp(-RECENCY_PER_DAY * max(0.0, now - r.period_end) / DAY)
        w = iw * rec * r.evidence_strength
        if w <= 0.0:
            zero.append(r.credential_id)
            continue
        total_w += w
        total_ws += w * r.score
        for key, value in r.metrics.items():
            acc = sums[key]
            acc[0] += w * value
            acc[1] += w
        used.append((r, iw, rec, w))
    explanation: dict[str, Any] = {}
    if explain:
        explanation = {
            "excluded": {
                "revoked": revoked,
                "expired": expired,
                "superseded_by_newer_from_same_issuer": superseded,
                "same_principal_weight_zero": zero,
                "over_candidate_cap": dropped,
            },
            "credentials": [
                {
                    "credential_id": r.credential_id,
                    "issuer": r.issuer,
                    "outcome": r.outcome,
                    "credential_score": round(r.score, 2),
                    "issuer_weight": iw,
                    "recency": round(rec, 4),
                    "evidence_strength": r.evidence_strength,
                    "weight": round(w, 4),
                    "share": round(w / total_w, 4),
                }
                for r, iw, rec, w in used
            ],
        }
    if not used:
        return _empty(subject, domain, now, explanation)
    score = min(100, max(0, round_half_up(total_ws / total_w)))
    issuers = frozenset(r.issuer for r, *_ in used)
    components = {k: round(s / w, 4) for k, (s, w) in sorted(sums.items()) if w > 0}
    return Reputation(
        subject,
        domain,
        score,
        tier(score),
        confidence(len(issuers), len(used)),
        len(used),
        len(issuers),
        int(now),
        components,
        explanation,
        issuers,
    )


def aggregate(
    rows: Sequence[Row],
    subject: str,
    domain: str | None = None,
    *,
    now: float,
    ctx: WeightContext | None = None,
    domain_weights: Mapping[str, float] | None = None,
    explain: bool = True,
) -> Reputation:
    """One domain's reputation, or with ``domain`` None (or ``_all``) the weighted mean of
    the per-domain scores."""
    if domain is not None and domain != ALL:
        return aggregate_domain(rows, subject, domain, now=now, ctx=ctx, explain=explain)
    mine = [r for r in rows if r.subject == subject]
    per_domain = {
        d: aggregate_domain(mine, subject, d, now=now, ctx=ctx, explain=explain)
        for d in sorted({r.domain for r in mine})
    }
    usable = {d: rep for d, rep in per_domain.items() if rep.credential_count > 0}
    dw = {d: float((domain_weights or {}).get(d, 1.0)) for d in usable}
    total = sum(dw.values())
    explanation: dict[str, Any] = {}
    if explain:
        explanation = {
            "domains": {
                d: {
                    "score": rep.score,
                    "tier": rep.tier,
                    "confidence": rep.confidence,
                    "credential_count": rep.credential_count,
                    "domain_weight": dw.get(d, 0.0),
                }
                for d, rep in per_domain.items()
            }
        }
    if not usable or total <= 0:
        return _empty(subject, ALL, now, explanation)
    score = min(100, max(0, round_half_up(sum(dw[d] * usable[d].score for d in usable) / total)))
    count = sum(rep.credential_count for rep in usable.values())
    issuers = len(frozenset().union(*(rep.issuer_ids for rep in usable.values())))
    components = {
        f"{d}:{k}": v for d, rep in sorted(usable.items()) for k, v in rep.components.items()
    }
    return Reputation(
        subject,
        ALL,
        score,
        tier(score),
        confidence(issuers, count),
        count,
        issuers,
        int(now),
        components,
        explanation,
    )


def aggregate_all(
    rows: Iterable[Row], *, now: float, ctx: WeightContext | None = None
) -> dict[tuple[str, str], Reputation]:
    """Every (subject, domain) reputation in one pass over ``rows`` (for caches and the
    benchmark)."""
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r.subject, r.domain)].append(r)
    return {
        key: aggregate_domain(group, key[0], key[1], now=now, ctx=ctx, explain=False)
        for key, group in groups.items()
    }
