"""cl-hive-archon reputation: aggregation over 100,000 credentials and VC verifications
per second, against baselines measured in the same run.

1. Aggregation (target ≤ 1 s for 100,000 credentials): every (subject, domain) score
   from 100,000 stored rows — pure (rows in memory), and from SQLite (select, decode the
   metrics JSON, aggregate). Rows were verified at ingest, so nothing is re-verified.
   Baseline: one pass summing ``score * e^(-0.01 * age)`` over the same rows (the
   arithmetic floor of the weighted mean).
2. Verification (target ≥ 2,000/s): full ``verify_credential`` of signed reputation
   credentials (shape, JCS of the document and proof options, SHA-256, Ed25519, issuer key,
   validity) and the reputation content checks done at import. Baseline: a plain Ed25519
   verify loop over 64-byte messages (the physical floor).

Run: ``python bench/bench_archon.py [--credentials 100000] [--vcs 2000]``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lnhive.identity.credentials import iso, verify_credential
from lnhive.identity.eddsa_jcs import sign_document
from lnhive.identity.keys import DidSigner
from lnhive.identity.reputation_aggregate import Row, aggregate_all
from lnhive.identity.reputation_credential import build_reputation_vc, check_content
from lnhive.identity.reputation_profiles import credential_score
from lnhive.identity.store import open_archon_store

NOW = 1_767_225_600
DAY = 86_400
DOMAINS = ("hive:advisor", "hive:node")


def best(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def metrics_for(domain: str, rng: random.Random) -> dict[str, int | float]:
    if domain == "hive:advisor":
        return {
            "revenue_delta_pct": round(rng.uniform(-50, 400), 2),
            "actions_taken": rng.randint(0, 500),
            "uptime_pct": round(rng.uniform(50, 100), 1),
            "channels_managed": rng.randint(1, 50),
        }
    return {
        "routing_reliability": round(rng.random(), 3),
        "uptime": round(rng.random(), 3),
        "htlc_success_rate": round(rng.random(), 3),
        "avg_fee_ppm": rng.randint(0, 2000),
    }


def make_rows(n: int, subjects: int, seed: int) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        domain = DOMAINS[(i // subjects) % 2]
        metrics = metrics_for(domain, rng)
        outcome = rng.choice(("renew", "neutral", "revoke"))
        end = NOW - rng.randint(0, 200) * DAY
        rows.append(
            Row(
                credential_id=f"urn:uuid:{i}",
                issuer=f"did:key:issuer{rng.randrange(2000)}",
                subject=f"urn:lnhive:node:{i % subjects:066x}",
                domain=domain,
                period_end=end,
                issued_at=end + 60,
                expires_at=end + 90 * DAY,
                outcome=outcome,
                score=credential_score(domain, metrics, outcome),
                evidence_strength=rng.choice((0.3, 0.7, 1.0)),
                metrics=metrics,
            )
        )
    return rows


def bench_aggregation(n: int, subjects: int) -> None:
    rows = make_rows(n, subjects, seed=1)
    pure_s, result = best(lambda: aggregate_all(rows, now=NOW))

    def baseline() -> float:
        total = 0.0
        for r in rows:
            total += r.score * math.exp(-0.01 * (NOW - r.period_end) / DAY)
        return total

    base_s, _ = best(baseline)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_archon_store(Path(tmp) / "bench.sqlite3")
        store.executemany(
            "INSERT INTO archon_reputation (credential_id, issuer, subject, domain, "
            "period_start, period_end, issued_at, expires_at, outcome, metrics_json, "
            "evidence_json, score, evidence_strength, vc_json, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, '{}', ?)",
            [
                (r.credential_id, r.issuer, r.subject, r.domain, r.period_end - 30 * DAY,
                 r.period_end, r.issued_at, r.expires_at, r.outcome, json.dumps(r.metrics),
                 r.score, r.evidence_strength, NOW)
                for r in rows
            ],
        )  # fmt: skip

        def from_db() -> int:
            cur = store.connection().cursor()
            cur.row_factory = None  # plain tuples
            cur.execute(
                "SELECT credential_id, issuer, subject, domain, period_end, issued_at, "
                "expires_at, outcome, score, evidence_strength, metrics_json "
                "FROM archon_reputation WHERE revoked_at IS NULL"
            )
            loads = json.loads
            loaded = [Row(*q[:10], loads(q[10])) for q in cur.fetchall()]
            return len(aggregate_all(loaded, now=NOW))

        db_s, groups = best(from_db)
        one_s, _ = best(
            lambda: store.query(
                "SELECT * FROM archon_reputation WHERE subject = ?",
                (rows[0].subject,),
            ),
            repeat=20,
        )
        store.close()
    print(f"aggregation over {n:,} credentials ({len(result):,} subject/domain scores):")
    print(f"  pure:      {pure_s * 1000:8.1f} ms   (target <= 1000 ms)")
    print(f"  from DB:   {db_s * 1000:8.1f} ms   (select + JSON decode + aggregate, {groups:,})")
    print(f"  baseline:  {base_s * 1000:8.1f} ms   (one pass of score * recency)")
    print(f"  ratio:     {pure_s / base_s:8.2f}x  pure / baseline")
    print(f"  one subject's rows from SQLite: {one_s * 1e6:.0f} us")


def make_vcs(n: int) -> tuple[list[dict[str, Any]], DidSigner]:
    rng = random.Random(2)
    signer = DidSigner(bytes(range(32)))
    vcs = []
    for i in range(n):
        domain = DOMAINS[i % 2]
        vc = build_reputation_vc(
            credential_id=f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            issuer=signer.did,
            subject=f"urn:lnhive:node:02{i:064x}",
            domain=domain,
            period_start=NOW - 30 * DAY,
            period_end=NOW,
            metrics=metrics_for(domain, rng),
            outcome="renew",
            evidence=[
                {
                    "type": "SignedReceipt",
                    "id": f"urn:lnhive:receipt:x:{k}:{'ab' * 32}",
                    "description": "hive:fee-policy/v1#set_single executed/success",
                }
                for k in range(5)
            ],
            issued_at=NOW,
            expires_at=NOW + 90 * DAY,
            credential_status={
                "id": f"urn:lnhive:status-list:x:revocation#{i}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": str(i),
                "statusListCredential": "urn:lnhive:status-list:x:revocation",
            },
        )
        vcs.append(sign_document(vc, signer, created=iso(NOW)))
    return vcs, signer


def bench_verify(n: int) -> None:
    vcs, _ = make_vcs(n)
    now = NOW + 60

    def verify_all() -> int:
        for vc in vcs:
            verify_credential(vc, now=now)
        return len(vcs)

    def ingest_checks() -> int:
        for vc in vcs:
            check_content(vc, now=now)
            verify_credential(vc, now=now)
        return len(vcs)

    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    pub = key.public_key()
    msgs = [i.to_bytes(8, "big") * 8 for i in range(n)]
    sigs = [key.sign(m) for m in msgs]

    def ed_loop() -> int:
        for m, s in zip(msgs, sigs, strict=True):
            pub.verify(s, m)
        return n

    vc_s, _ = best(verify_all)
    ingest_s, _ = best(ingest_checks)
    ed_s, _ = best(ed_loop)
    vc_rate, ingest_rate, ed_rate = n / vc_s, n / ingest_s, n / ed_s
    size = len(json.dumps(vcs[0]))
    print(f"VC verification ({n:,} reputation credentials, ~{size} bytes each):")
    print(f"  verify_credential:      {vc_rate:10,.0f} /s   (target >= 2,000/s)")
    print(f"  import checks + verify: {ingest_rate:10,.0f} /s")
    print(f"  baseline Ed25519 loop:  {ed_rate:10,.0f} /s   (physical floor)")
    print(
        f"  ratio:                  {vc_rate / ed_rate:10.3f}  VC verifications per Ed25519 verify"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--credentials", type=int, default=100_000)
    ap.add_argument("--subjects", type=int, default=5_000)
    ap.add_argument("--vcs", type=int, default=2_000)
    args = ap.parse_args()
    bench_aggregation(args.credentials, args.subjects)
    bench_verify(args.vcs)


if __name__ == "__main__":
    main()
