"""The reputation service of cl-hive-archon: issue, import, list and query (spec §2,
ARCHITECTURE §8.5: archon owns reputation).

- **Issue** (:meth:`ReputationService.issue`): a ``DIDReputationCredential`` by the
  node's did:key. For ``hive:advisor`` the metrics come from observed outcomes — the
  cl-hive-comms receipt chain (fetched with ``hive-client-receipts-export`` when that
  plugin is loaded, or given as an export) verified against this node, and the node's
  forwarding fees (:mod:`reputation_evidence`); other domains take operator-observed
  metrics. It carries a Bitstring Status List entry, so ``hive-archon-vc-revoke``
  revokes it.
- **Import** (:meth:`ReputationService.import_`): a credential from another issuer,
  checked in the spec's §3.4 order, its revocation status checked against the issuer's
  status list (unknown status is refused), then its proof; optional binding documents
  tie the issuer DID to its node and Nostr keys (same-principal detection, membership
  weights). A status list alone updates the revocation of stored credentials.
- **Query** (:meth:`ReputationService.reputation`): :mod:`reputation_aggregate` over the
  stored, already verified rows, with an explanation.

One credential per issuer, subject and domain per period: a second one whose period
overlaps a live one is refused. Caps: 100 live credentials per subject, 10 per issuer
and subject, 50 000 in all. A refused call changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lnhive.core.errors import (
    Conflict,
    InvalidInput,
    Unsupported,
)
from lnhive.identity.credentials import (
    iso,
    parse_object,
    subject_uri,
)
from lnhive.identity.eddsa_jcs import sign_document
from lnhive.identity.reputation_aggregate import ALL, Row, WeightContext, aggregate
from lnhive.identity.reputation_credential import (
    ReputationClaim,
    build_reputation_vc,
    check_content,
    check_evidence,
    check_period,
)
from lnhive.identity.reputation_evidence import (
    DERIVED_METRICS,
    advisor_metrics,
    fees_between,
    merge_extra,
    verified_chain,
)
from lnhive.identity.reputation_import import Importer
from lnhive.identity.reputation_profiles import (
    PROFILES,
    check_metrics,
    check_outcome,
    profile,
)
from lnhive.identity.statuslist import revocation_entries

if TYPE_CHECKING:
    from lnhive.identity.archon import Archon

ADVISOR = "hive:advisor"
EXPORT_METHOD = "hive-client-receipts-export"
MEMBERS_METHOD = "hive-members"
DAY = 86_400
DEFAULT_PERIOD_DAYS = 30
DEFAULT_VALID_DAYS = 90
MAX_VALID_DAYS = 730
CAP_SUBJECT = 100
CAP_ISSUER_SUBJECT = 10
CAP_TOTAL = 50_000
MAX_LIST = 500
MEMBERS_TTL_S = 60.0
FORMULA = (
    "score = round(Σ weight·credential_score / Σ weight); weight = issuer_weight * recency * "
    "evidence_strength; recency = e^(-0.01·days since period end); issuer_weight 1.0 "
    "(1.5 hive member issuer, 2.0 both members, *1.5 visible channel, cap 3.0, 0 same "
    "principal); evidence_strength 0.3 none, 0.7 1-4 entries, 1.0 ≥5 with a SignedReceipt; "
    "credential_score = mean of scored metrics scaled to their ranges * 100, *1.1 renew "
    "(cap 100), *0.7 revoke; only the newest credential per issuer counts"
)


def parse_domain_weights(text: str) -> dict[str, float]:
    """``hive:node=1,hive:advisor=2`` → weights; unknown domains or bad numbers raise."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or name.strip() not in PROFILES or not 0 <= weight <= 100:
            raise InvalidInput(f"domain weight {part[:40]!r} must be <domain>=<0-100>")
        out[name.strip()] = weight
    return out


def subject_of(subject: object) -> str:
    """A subject as a URI; ``nostr:<hex>`` (a receipt actor) is accepted too."""
    if isinstance(subject, str) and subject.startswith("nostr:"):
        subject = subject[len("nostr:") :]
    try:
        return subject_uri(subject)
    except InvalidInput as exc:
        raise InvalidInput(f"invalid subject_id: {exc.message}") from None


def _int(value: object, name: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise InvalidInput(f"{name} must be an integer {lo}-{hi}")
    return value


def _row(r: sqlite3.Row) -> Row:
    return Row(
        credential_id=r["credential_id"],
        issuer=r["issuer"],
        subject=r["subject"],
        domain=r["domain"],
        period_end=int(r["period_end"]),
        issued_at=int(r["issued_at"]),
        expires_at=None if r["expires_at"] is None else int(r["expires_at"]),
        outcome=r["outcome"],
        score=float(r["score"]),
        evidence_strength=float(r["evidence_strength"]),
        metrics=json.loads(r["metrics_json"]),
        revoked=r["revoked_at"] is not None,
    )


class ReputationService:
    """Reputation credentials over the archon service's store, signer and node."""

    def __init__(self, archon: Archon) -> None:
        self.a = archon
        self.domain_weights: dict[str, float] = {}
        self._members: tuple[float, frozenset[str]] = (-1e18, frozenset())
        self._members_lock = threading.Lock()

    def _now(self) -> int:
        return int(self.a.clock.now())

    # -- profiles ---------------------------------------------------------------------

    def profiles(self) -> dict[str, Any]:
        return {
            "ok": True,
            "count": len(PROFILES),
            "profiles": {d: p.to_json() for d, p in PROFILES.items()},
        }

    # -- issue ------------------------------------------------------------------------

    def _own_ids(self) -> set[str]:
        return {
            self.a.signer.did,
            f"urn:lnhive:node:{self.a.node_id}",
            f"urn:lnhive:nostr:{self.a.nostr_pubkey}",
        }

    def issue(
        self,
        subject: object,
        domain: object,
        outcome: object,
        metrics_json: object = None,
        evidence_json: object = None,
        period_days: object = DEFAULT_PERIOD_DAYS,
        valid_days: object = DEFAULT_VALID_DAYS,
        receipts: object = None,
    ) -> dict[str, Any]:
        """Issue a reputation credential about ``subject`` for the period ending now."""
        uri = subject_of(subject)
        if uri in self._own_ids():
            raise InvalidInput("self-issuance rejected: the subject is this node")
        prof = profile(domain)
        outcome = check_outcome(outcome)
        days = _int(period_days, "period_days", 1, 365)
        valid = _int(valid_days, "valid_days", 1, MAX_VALID_DAYS)
        extra: Mapping[str, Any] = {}
        if metrics_json is not None and metrics_json != "":
            extra = parse_object(metrics_json, "metrics_json")
        evidence: list[Any] = []
        if evidence_json is not None and evidence_json != "":
            if isinstance(evidence_json, str):
                try:
                    evidence_json = json.loads(evidence_json)
                except json.JSONDecodeError as exc:
                    raise InvalidInput(f"evidence_json is not valid JSON: {exc.msg}") from None
            evidence = check_evidence(evidence_json, strict=True)
        self.a.require_identity()
        now = self._now()
        start, end = check_period(now - days * DAY, now, now=now)
        summary: dict[str, Any] = {}
        if prof.domain == ADVISOR:
            if not uri.startswith("urn:lnhive:nostr:"):
                raise InvalidInput(
                    "invalid subject_id: a hive:advisor subject is the advisor's Nostr key"
                )
            if evidence:
                raise InvalidInput("hive:advisor evidence comes from the receipts; omit it")
            allowed = [k for k in prof.metrics if k not in DERIVED_METRICS]
            derived = self._advisor(uri.rsplit(":", 1)[1], start, end, receipts)
            metrics = check_metrics(prof.domain, merge_extra(derived.metrics, extra, allowed))
            evidence, summary = derived.evidence, derived.summary
        else:
            if receipts is not None and receipts != "":
                raise InvalidInput("receipts are evidence for hive:advisor credentials only")
            metrics = check_metrics(prof.domain, extra)
        expires = now + valid * DAY
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        with self.a.lock:
            self._check_room(self.a.signer.did, uri, prof.domain, start, end)

            def make(status: dict[str, Any], at: int) -> dict[str, Any]:
                vc = build_reputation_vc(
                    credential_id=credential_id,
                    issuer=self.a.signer.did,
                    subject=uri,
                    domain=prof.domain,
                    period_start=start,
                    period_end=end,
                    metrics=metrics,
                    outcome=outcome,
                    evidence=evidence,
                    issued_at=at,
                    expires_at=expires,
                    credential_status=status,
                )
                return sign_document(vc, self.a.signer, created=iso(at))

            claims: list[ReputationClaim] = []

            def store(conn: sqlite3.Connection, vc: dict[str, Any], at: int) -> None:
                claim = check_content(vc, now=at)  # fail closed: what we store must parse
                claims.append(claim)
                self._insert(conn, claim, vc, at, received_from=None)

            vc = self.a.issue_with_status(make, store)
        claim = claims[0]
        return {
            "ok": True,
            "credential_id": vc["id"],
            "issuer": vc["issuer"],
            "subject": uri,
            "domain": claim.domain,
            "outcome": outcome,
            "period": {"start": start, "end": end},
            "metrics": claim.metrics,
            "credential_score": round(claim.score, 2),
            "evidence_strength": claim.evidence_strength,
            "derived_from": summary,
            "credential": vc,
        }

    def _advisor(self, key: str, start: int, end: int, receipts: object) -> Any:
        if receipts is None or receipts == "":
            receipts = self._fetch_receipts(key)
        chain = verified_chain(receipts, self.a.node_id)
        fees_before, fees_during = self._fees(start, end)
        return advisor_metrics(
            chain,
            key,
            period_start=start,
            period_end=end,
            fees_before_msat=fees_before,
            fees_during_msat=fees_during,
        )

    def _has(self, method: str) -> bool:
        try:
            self.a.node.call("help", {"command": method})
        except Exception:
            return False
        return True

    def _fetch_receipts(self, key: str) -> object:
        if not self._has(EXPORT_METHOD):
            raise Unsupported(
                f"cl-hive-comms is not loaded ({EXPORT_METHOD} is missing); give receipts_jsonl"
            )
        try:
            return self.a.node.call(EXPORT_METHOD, {"advisor": key})
        except Exception as exc:
            raise Unsupported(f"{EXPORT_METHOD} failed: {str(exc)[:120]}") from None

    def _fees(self, start: int, end: int) -> tuple[int, int]:
        try:
            forwards = self.a.node.listforwards(status="settled").get("forwards", [])
        except Exception:
            forwards = []
        # The period's last second counts, as it does for receipts (created_at <= end):
        # end is the issuing second, and forwards resolved in it have fractional times.
        span = end + 1 - start
        return (
            fees_between(forwards, start - span, start),
            fees_between(forwards, start, end + 1),
        )

    # -- storage ----------------------------------------------------------------------

    def _check_room(self, issuer: str, subject: str, domain: str, start: int, end: int) -> None:
        """One live credential per issuer, subject and domain per period; the caps."""
        now = self._now()
        live = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at >= ?)"
        clash = self.a.store.query_one(
            "SELECT credential_id, period_start, period_end FROM archon_reputation "
            f"WHERE issuer = ? AND subject = ? AND domain = ? AND {live} "
            "AND period_start < ? AND ? < period_end LIMIT 1",
            (issuer, subject, domain, now, end, start),
        )
        if clash is not None:
            raise Conflict(
                f"one credential per issuer, subject and domain per period: "
                f"{clash['credential_id']} covers {iso(clash['period_start'])} to "
                f"{iso(clash['period_end'])}"
            )
        checks = (
            ("subject = ?", (subject,), CAP_SUBJECT, "this subject"),
            ("issuer = ? AND subject = ?", (issuer, subject), CAP_ISSUER_SUBJECT, "this issuer"),
            ("1 = 1", (), CAP_TOTAL, "the node"),
        )
        for where, params, cap, who in checks:
            row = self.a.store.query_one(
                f"SELECT COUNT(*) AS n FROM archon_reputation WHERE {where} AND {live}",
                (*params, now),
            )
            if row is not None and int(row["n"]) >= cap:
                raise Conflict(f"capacity: {who} already has {cap} live reputation credentials")

    @staticmethod
    def _insert(
        conn: sqlite3.Connection,
        claim: ReputationClaim,
        vc: Mapping[str, Any],
        now: int,
        *,
        received_from: str | None,
    ) -> None:
        entries, _ = revocation_entries(vc)
        entry = entries[0] if entries else None
        conn.execute(
            "INSERT INTO archon_reputation (credential_id, issuer, subject, domain, "
            "period_start, period_end, issued_at, expires_at, outcome, metrics_json, "
            "evidence_json, score, evidence_strength, vc_json, status_list_id, status_index, "
            "received_from, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)",
            (
                claim.credential_id,
                claim.issuer,
                claim.subject,
                claim.domain,
                claim.period_start,
                claim.period_end,
                claim.issued_at,
                claim.expires_at,
                claim.outcome,
                json.dumps(claim.metrics, sort_keys=True),
                json.dumps(claim.evidence, sort_keys=True),
                claim.score,
                claim.evidence_strength,
                json.dumps(vc, sort_keys=True),
                entry.list_id if entry else None,
                entry.index if entry else None,
                received_from,
                now,
            ),
        )

    def _principal(self, ident: str) -> list[str]:
        """The identifiers bound to ``ident`` (a DID), from imported and own bindings."""
        rows = self.a.store.query("SELECT subject FROM archon_principals WHERE did = ?", (ident,))
        out = [str(r["subject"]) for r in rows]
        if ident == self.a.signer.did:
            out += sorted(self._own_ids() - {ident})
        return out

    # -- import (reputation_import) ------------------------------------------------

    def import_(
        self, vc_json: object = None, status_list_json: object = None, bindings_json: object = None
    ) -> dict[str, Any]:
        """Verify and store another issuer's credential; see :mod:`reputation_import`."""
        return Importer(self).import_(vc_json, status_list_json, bindings_json)

    # -- list and query ---------------------------------------------------------------

    def list_credentials(
        self, subject: object = "", issuer: object = "", domain: object = "", limit: object = 50
    ) -> dict[str, Any]:
        """Stored reputation credentials, newest first, filtered."""
        limit = min(_int(limit, "limit", 1, 10**9), MAX_LIST)
        sql = "SELECT * FROM archon_reputation WHERE 1 = 1"
        params: list[Any] = []
        if subject:
            sql += " AND subject = ?"
            params.append(subject_of(subject))
        if issuer:
            if not isinstance(issuer, str):
                raise InvalidInput("issuer must be a DID")
            sql += " AND issuer = ?"
            params.append(issuer)
        if domain:
            sql += " AND domain = ?"
            params.append(profile(domain).domain)
        sql += " ORDER BY issued_at DESC, credential_id LIMIT ?"
        params.append(limit)
        now = self._now()
        items = []
        for r in self.a.store.query(sql, params):
            expired = r["expires_at"] is not None and r["expires_at"] < now
            items.append(
                {
                    "credential_id": r["credential_id"],
                    "issuer": r["issuer"],
                    "issuer_is_us": r["issuer"] == self.a.signer.did,
                    "subject": r["subject"],
                    "domain": r["domain"],
                    "period": {"start": r["period_start"], "end": r["period_end"]},
                    "outcome": r["outcome"],
                    "metrics": json.loads(r["metrics_json"]),
                    "credential_score": round(float(r["score"]), 2),
                    "evidence_strength": r["evidence_strength"],
                    "issued_at": r["issued_at"],
                    "expires_at": r["expires_at"],
                    "status": "revoked"
                    if r["revoked_at"] is not None
                    else "expired"
                    if expired
                    else "live",
                    "received_from": r["received_from"],
                }
            )
        return {"ok": True, "count": len(items), "credentials": items}

    def reputation(self, subject: object, domain: object = "") -> dict[str, Any]:
        """The subject's score, tier and confidence, with an explanation."""
        uri = subject_of(subject)
        wanted = None if domain in ("", None, ALL) else profile(domain).domain
        sql = "SELECT * FROM archon_reputation WHERE subject = ?"
        params = [uri]
        if wanted is not None:
            sql += " AND domain = ?"
            params.append(wanted)
        rows = [_row(r) for r in self.a.store.query(sql, params)]
        ctx = self._context(uri, {r.issuer for r in rows})
        rep = aggregate(
            rows, uri, wanted, now=self.a.clock.now(), ctx=ctx, domain_weights=self.domain_weights
        )
        out = {"ok": True, **rep.to_json()}
        out["explanation"] = {"formula": FORMULA, **rep.explanation}
        return out

    def _context(self, subject: str, issuers: set[str]) -> WeightContext:
        principals: dict[str, frozenset[str]] = {}
        for ident in {subject, *issuers}:
            keys = self._principal(ident)
            if keys:
                principals[ident] = frozenset(keys)
        return WeightContext(
            members=self._member_ids(),
            principals=principals,
            channels=self._channels(subject, principals),
        )

    def _channels(
        self, subject: str, principals: Mapping[str, frozenset[str]]
    ) -> frozenset[frozenset[str]]:
        """Node pairs (subject's node, a peer) with a channel in the local gossip view."""
        prefix = "urn:lnhive:node:"
        keys = {subject} | set(principals.get(subject, frozenset()))
        pairs: set[frozenset[str]] = set()
        for key in sorted(k for k in keys if k.startswith(prefix)):
            node = key[len(prefix) :]
            try:
                chans = self.a.node.listchannels(source=node).get("channels", [])
            except Exception:
                continue
            pairs |= {frozenset((node, str(c.get("destination")))) for c in chans}
        return frozenset(pairs)

    def _member_ids(self) -> frozenset[str]:
        """cl-hive's members when it is loaded (feature detection), cached for a minute."""
        now = self.a.clock.now()
        with self._members_lock:
            at, members = self._members
            if now - at < MEMBERS_TTL_S:
                return members
            members = frozenset()
            if self._has(MEMBERS_METHOD):
                try:
                    got = self.a.node.call(MEMBERS_METHOD, {}).get("members", [])
                    members = frozenset(
                        str(m.get("peer_id")) for m in got if isinstance(m, Mapping)
                    )
                except Exception:
                    members = frozenset()
            self._members = (now, members)
            return members
