"""Reputation credentials as W3C VC 2.0 (spec §2.1-§2.3, ARCHITECTURE decision 6).

A reputation credential is a VC 2.0 credential of type ``DIDReputationCredential``
issued by a did:key and secured with ``eddsa-jcs-2022``::

    {"@context": [VC v2, REPUTATION_CONTEXT], "id": "urn:uuid:…",
     "type": ["VerifiableCredential", "DIDReputationCredential"],
     "issuer": "did:key:z6Mk…", "validFrom": <issued_at>, "validUntil": <expires_at>,
     "credentialSubject": {"id": <subject URI>, "domain": "hive:advisor",
        "period": {"start": <ISO>, "end": <ISO>}, "metrics": {…},
        "outcome": "renew" | "revoke" | "neutral", "evidence": [{type, id, description}]},
     "credentialStatus": {…BitstringStatusListEntry…}, "proof": {…}}

The spec's compact credential (node pubkeys, a zbase ``signature``) is the reference's
hive wire form; ARCHITECTURE wins: issuer is the did:key, subjects are URIs, the proof
is eddsa-jcs-2022, and the credential id is the VC ``id``.

:func:`check_content` runs the spec's §3.4 checks on the content, in its order, before
any signature is looked at (the caller verifies the proof last); the first failure wins.
:func:`evidence_strength` is the §2.5 evidence factor. Everything here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import CredentialInvalid, InvalidInput
from lnhive.identity import didkey
from lnhive.identity.credentials import VC_CONTEXT, VC_TYPE, iso, subject_uri
from lnhive.identity.eddsa_jcs import parse_datetime
from lnhive.identity.reputation_profiles import (
    check_metrics,
    check_outcome,
    credential_score,
    profile,
)

REPUTATION_CONTEXT = "https://schemas.archetech.com/credentials/reputation/v1"
REPUTATION_TYPE = "DIDReputationCredential"

EVIDENCE_TYPES: tuple[str, ...] = ("SignedReceipt", "MetricSnapshot", "Attestation", "AuditLog")
SIGNED_RECEIPT = "SignedReceipt"
MAX_EVIDENCE = 32
MAX_EVIDENCE_BYTES = 8192
MAX_EVIDENCE_TEXT = 256
MIN_TIMESTAMP = 1_700_000_000
MAX_PERIOD_S = 365 * 86_400
FUTURE_PERIOD_S = 86_400
FUTURE_ISSUE_S = 300
MAX_AGE_S = 5 * 365 * 86_400

_URI = re.compile(r"[a-z][a-z0-9+.-]*:[^\s]+")
_REQUIRED = ("@context", "type", "issuer", "validFrom", "credentialSubject", "proof")
_SUBJECT_REQUIRED = ("id", "domain", "period", "metrics", "outcome")


@dataclass(frozen=True)
class ReputationClaim:
    """The checked content of a reputation credential."""

    credential_id: str
    issuer: str
    subject: str
    domain: str
    period_start: int
    period_end: int
    issued_at: int
    expires_at: int | None
    metrics: dict[str, int | float]
    outcome: str
    evidence: list[Any]

    @property
    def score(self) -> float:
        """The credential's score 0-100 (outcome applied)."""
        return credential_score(self.domain, self.metrics, self.outcome)

    @property
    def evidence_strength(self) -> float:
        return evidence_strength(self.evidence)


def evidence_problem(entry: object) -> str | None:
    """Why an evidence entry is malformed (it then does not count), or None."""
    if not isinstance(entry, Mapping):
        return "not an object"
    if not set(entry) <= {"type", "id", "description"}:
        return "unknown keys"
    if entry.get("type") not in EVIDENCE_TYPES:
        return "type must be one of " + ", ".join(EVIDENCE_TYPES)
    ident = entry.get("id")
    if not isinstance(ident, str) or len(ident) > MAX_EVIDENCE_TEXT or not _URI.fullmatch(ident):
        return f"id must be a DID or URI of at most {MAX_EVIDENCE_TEXT} characters"
    desc = entry.get("description", "")
    if not isinstance(desc, str) or len(desc) > MAX_EVIDENCE_TEXT:
        return f"description must be text of at most {MAX_EVIDENCE_TEXT} characters"
    return None


def evidence_strength(evidence: Sequence[Any]) -> float:
    """0.3 without well-formed evidence, 0.7 with 1-4 entries (or more without a
    ``SignedReceipt``), 1.0 with 5 or more including a ``SignedReceipt`` (spec §2.5)."""
    good = [e for e in evidence if evidence_problem(e) is None]
    if not good:
        return 0.3
    if len(good) >= 5 and any(e["type"] == SIGNED_RECEIPT for e in good):
        return 1.0
    return 0.7


def check_evidence(evidence: object, *, strict: bool) -> list[Any]:
    """An evidence array: at most 32 entries and 8 192 bytes canonical. ``strict`` (our
    own issues) also refuses a malformed entry; received credentials keep it, uncounted."""
    if not isinstance(evidence, list):
        raise InvalidInput("evidence must be an array")
    if len(evidence) > MAX_EVIDENCE:
        raise InvalidInput(f"evidence has {len(evidence)} entries, more than {MAX_EVIDENCE}")
    size = len(canonical_json(evidence))
    if size > MAX_EVIDENCE_BYTES:
        raise InvalidInput(f"evidence is {size} bytes canonical, more than {MAX_EVIDENCE_BYTES}")
    if strict:
        for i, entry in enumerate(evidence):
            problem = evidence_problem(entry)
            if problem is not None:
                raise InvalidInput(f"evidence[{i}]: {problem}")
    return evidence


def check_period(start: object, end: object, *, now: float) -> tuple[int, int]:
    """Spec §2.1: integers, end > start, start > 1 700 000 000, start ≤ now + 1 day,
    span ≤ 365 days."""
    if type(start) is not int or type(end) is not int:
        raise InvalidInput("period_start/period_end must be integers")
    if end <= start:
        raise InvalidInput("period_end must be after period_start")
    if start <= MIN_TIMESTAMP:
        raise InvalidInput(f"period_start must be after {MIN_TIMESTAMP}")
    if start > now + FUTURE_PERIOD_S:
        raise InvalidInput("period_start is more than a day in the future")
    if end - start > MAX_PERIOD_S:
        raise InvalidInput("period is longer than 365 days")
    return start, end


def _seconds(value: object, name: str) -> int:
    """Unix seconds of an ISO dateTime with a zone and no fraction of a second."""
    try:
        moment: datetime = parse_datetime(value, name, need_zone=True)
    except InvalidInput as exc:
        raise InvalidInput(f"invalid {name}: {exc.message}") from None
    ts = moment.timestamp()
    if not ts.is_integer():
        raise InvalidInput(f"invalid {name}: whole seconds only")
    return int(ts)


def check_content(vc: object, *, now: float) -> ReputationClaim:
    """The spec §3.4 checks 1-7 of a reputation credential, in order (no signature, no
    revocation: the caller does those next). InvalidInput for bad content,
    CredentialInvalid for self-issuance and expiry."""
    if not isinstance(vc, Mapping):
        raise InvalidInput("credential is not a JSON object")
    # 1. fields
    for name in _REQUIRED:
        if name not in vc:
            raise InvalidInput(f"missing field: {name}")
    cs = vc["credentialSubject"]
    if not isinstance(cs, Mapping):
        raise InvalidInput("credentialSubject must be one object")
    for name in _SUBJECT_REQUIRED:
        if name not in cs:
            raise InvalidInput(f"missing field: credentialSubject.{name}")
    ctx, types = vc["@context"], vc["type"]
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_CONTEXT:
        raise InvalidInput(f"@context must be a list starting with {VC_CONTEXT}")
    if not isinstance(types, list) or VC_TYPE not in types or REPUTATION_TYPE not in types:
        raise InvalidInput(f"type must contain {VC_TYPE} and {REPUTATION_TYPE}")
    credential_id = vc.get("id")
    if not isinstance(credential_id, str) or not 1 <= len(credential_id) <= 128:
        raise InvalidInput("missing field: id (a URI of at most 128 characters)")
    # 2. identifiers and formats
    issuer = vc["issuer"]
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    try:
        if didkey.parse(issuer).key_type != "Ed25519":
            raise InvalidInput("not an Ed25519 did:key")
    except InvalidInput as exc:
        raise InvalidInput(f"invalid issuer_id: {exc.message}") from None
    assert isinstance(issuer, str)
    try:
        subject = subject_uri(cs["id"])
    except InvalidInput as exc:
        raise InvalidInput(f"invalid subject_id: {exc.message}") from None
    if subject != cs["id"]:
        raise InvalidInput("invalid subject_id: must be a URI (urn:lnhive:node:… or a DID)")
    proof = vc["proof"]
    if not isinstance(proof, Mapping) or not isinstance(proof.get("proofValue"), str):
        raise InvalidInput("invalid signature: proof must be one object with a proofValue")
    if not isinstance(cs["metrics"], Mapping):
        raise InvalidInput("metrics must be a dict")
    # 3. self-issuance (bindings are the caller's business)
    if subject == issuer:
        raise CredentialInvalid("self-issuance rejected")
    # 4. domain and outcome
    domain = profile(cs["domain"]).domain
    outcome = check_outcome(cs["outcome"])
    # 5. metrics
    metrics = check_metrics(domain, cs["metrics"])
    evidence = check_evidence(cs.get("evidence", []), strict=False)
    # 6. period and issue time
    period = cs["period"]
    if not isinstance(period, Mapping) or set(period) != {"start", "end"}:
        raise InvalidInput("period must be an object {start, end}")
    start, end = check_period(
        _seconds(period["start"], "period.start"), _seconds(period["end"], "period.end"), now=now
    )
    issued_at = _seconds(vc["validFrom"], "validFrom")
    if issued_at < max(MIN_TIMESTAMP, now - MAX_AGE_S) or issued_at < start:
        raise InvalidInput("validFrom (issued_at) is before the period or too old")
    if issued_at > now + FUTURE_ISSUE_S:
        raise InvalidInput("validFrom (issued_at) is in the future")
    # 7. expiry
    expires_at = None
    if "validUntil" in vc:
        expires_at = _seconds(vc["validUntil"], "validUntil")
        if expires_at <= issued_at:
            raise InvalidInput("invalid expires_at: validUntil must be after validFrom")
        if now > expires_at:
            raise CredentialInvalid(f"expired: credential expired at {vc['validUntil']}")
    return ReputationClaim(
        credential_id=credential_id,
        issuer=issuer,
        subject=subject,
        domain=domain,
        period_start=start,
        period_end=end,
        issued_at=issued_at,
        expires_at=expires_at,
        metrics=metrics,
        outcome=outcome,
        evidence=list(evidence),
    )


def build_reputation_vc(
    *,
    credential_id: str,
    issuer: str,
    subject: str,
    domain: str,
    period_start: int,
    period_end: int,
    metrics: Mapping[str, int | float],
    outcome: str,
    evidence: Sequence[Any],
    issued_at: int,
    expires_at: int | None,
    credential_status: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An unsigned reputation credential (the caller signs it with ``sign_document``)."""
    vc: dict[str, Any] = {
        "@context": [VC_CONTEXT, REPUTATION_CONTEXT],
        "id": credential_id,
        "type": [VC_TYPE, REPUTATION_TYPE],
        "issuer": issuer,
        "validFrom": iso(issued_at),
    }
    if expires_at is not None:
        vc["validUntil"] = iso(expires_at)
    vc["credentialSubject"] = {
        "id": subject,
        "domain": domain,
        "period": {"start": iso(period_start), "end": iso(period_end)},
        "metrics": dict(metrics),
        "outcome": outcome,
        "evidence": list(evidence),
    }
    if credential_status is not None:
        vc["credentialStatus"] = dict(credential_status)
    return vc
