"""W3C Verifiable Credentials 2.0 issued by the node's did:key (ARCHITECTURE decision 6).

A credential is ``{"@context": [VC v2], "id": "urn:uuid:…", "type": ["VerifiableCredential",
…], "issuer": <did:key>, "validFrom", "validUntil"?, "credentialSubject": {"id": <URI>, …}}``
secured with one ``eddsa-jcs-2022`` proof (``proofPurpose`` assertionMethod).
:func:`verify_credential` checks, in order: shape (``malformed``), proof
(``unknown_cryptosuite``, ``unsupported``, ``bad_proof``, ``wrong_key``), that the proof
key is the issuer's (``wrong_key``), then the validity period (``not_yet_valid``,
``expired``), then the revocation status (``revoked``, ``bad_status_list``) when the
credential has a Bitstring Status List entry and a status list is given; the first failure
wins and says what is wrong. A status entry without a list is reported as ``unchecked``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.identity import didkey
from lnhive.identity.eddsa_jcs import (
    MALFORMED,
    WRONG_KEY,
    ProofFailure,
    parse_datetime,
    sign_document,
    verify_proof,
)
from lnhive.identity.keys import DidSigner
from lnhive.identity.statuslist import (
    LIST_TYPE,
    REVOCATION,
    SUBJECT_TYPE,
    encode_list,
    get_bit,
    list_bits,
    revocation_entries,
)

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_TYPE = "VerifiableCredential"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
REVOKED = "revoked"
BAD_STATUS_LIST = "bad_status_list"
STATUS_NONE = "none"  # no credentialStatus
STATUS_VALID = "valid"  # every revocation entry checked against its list: not revoked
STATUS_UNCHECKED = "unchecked"  # a status entry whose list was not available

MAX_CLAIMS_BYTES = 8192
MAX_CREDENTIAL_BYTES = 65536
MAX_TYPES = 8
MAX_VALID_DAYS = 3650

_NODE_URN = re.compile(r"urn:lnhive:node:0[23][0-9a-f]{64}")
_NOSTR_URN = re.compile(r"urn:lnhive:nostr:[0-9a-f]{64}")
_NODE_ID = re.compile(r"0[23][0-9a-f]{64}")
_XONLY = re.compile(r"[0-9a-f]{64}")
_DID = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]+")
_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
_CLAIM_KEY = re.compile(r"[A-Za-z@_][A-Za-z0-9_:-]{0,63}")


class CredentialFailure(Exception):
    """A credential that does not verify: ``kind`` and a reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """A credential that verified."""

    issuer: str
    subject: str | None
    cryptosuite: str
    verification_method: str
    valid_from: str | None
    valid_until: str | None
    status: str = STATUS_NONE


def iso(ts: int) -> str:
    """Unix seconds as an XML Schema dateTimeStamp in UTC (``2026-01-01T00:00:00Z``)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def subject_uri(subject: object) -> str:
    """A credential subject as a URI (decision 6); bare node ids and x-only keys become URNs."""
    if not isinstance(subject, str) or not subject:
        raise InvalidInput("subject must be a non-empty string")
    if _NODE_ID.fullmatch(subject):
        return f"urn:lnhive:node:{subject}"
    if _XONLY.fullmatch(subject):
        return f"urn:lnhive:nostr:{subject}"
    if subject.startswith(didkey.PREFIX):
        didkey.parse(subject)
        return subject
    if _NODE_URN.fullmatch(subject) or _NOSTR_URN.fullmatch(subject):
        return subject
    if len(subject) <= didkey.MAX_DID_LENGTH and _DID.fullmatch(subject):
        return subject
    raise InvalidInput(
        "subject must be a did:key, another DID, urn:lnhive:node:<66 hex> or "
        "urn:lnhive:nostr:<64 hex>"
    )


def parse_json(value: object, name: str) -> object:
    """A JSON parameter given as the value itself or as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} is not valid JSON: {exc.msg}") from None
    return value


def parse_object(value: object, name: str) -> dict[str, Any]:
    """A JSON object given as an object or as JSON text."""
    value = parse_json(value, name)
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be a JSON object")
    return value


def check_claims(claims: object) -> dict[str, Any]:
    """The subject's claims: an object without ``id``, canonical size ≤ 8 192 bytes."""
    obj = parse_object(claims, "claims")
    for key in obj:
        if not _CLAIM_KEY.fullmatch(key):
            raise InvalidInput(f"claim name {key[:40]!r} is not allowed")
    if "id" in obj:
        raise InvalidInput("claims must not contain id: the subject is its id")
    size = len(canonical_json(obj))
    if size > MAX_CLAIMS_BYTES:
        raise InvalidInput(f"claims are {size} bytes canonical, more than {MAX_CLAIMS_BYTES}")
    return obj


def check_types(types: object) -> list[str]:
    """Extra credential types (besides VerifiableCredential): list or comma-separated text."""
    if types is None or types == "":
        return []
    items = [t.strip() for t in types.split(",")] if isinstance(types, str) else types
    if not isinstance(items, list) or len(items) > MAX_TYPES:
        raise InvalidInput(f"types must be a list of at most {MAX_TYPES} names")
    out: list[str] = []
    for t in items:
        if not isinstance(t, str) or not _TYPE.fullmatch(t) or t == VC_TYPE:
            raise InvalidInput(f"type {str(t)[:40]!r} must be a CamelCase name (not {VC_TYPE})")
        if t in out:
            raise InvalidInput(f"type {t} given twice")
        out.append(t)
    return out


def build_credential(
    issuer: str,
    subject: str,
    claims: Mapping[str, Any],
    *,
    types: list[str],
    valid_from: int,
    valid_until: int | None,
    credential_id: str | None = None,
    credential_status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned VC 2.0 credential."""
    vc: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": [VC_TYPE, *types],
        "issuer": issuer,
        "validFrom": iso(valid_from),
    }
    if valid_until is not None:
        vc["validUntil"] = iso(valid_until)
    vc["credentialSubject"] = {"id": subject, **claims}
    if credential_status is not None:
        vc["credentialStatus"] = dict(credential_status)
    return vc


def issue_credential(
    signer: DidSigner,
    subject: object,
    claims: object,
    *,
    now: int,
    types: object = None,
    valid_days: object = 365,
    credential_status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A credential by ``signer`` about ``subject``, valid from ``now`` for ``valid_days`` (0: no end)."""
    uri = subject_uri(subject)
    checked = check_claims(claims)
    extra = check_types(types)
    if type(valid_days) is not int or not 0 <= valid_days <= MAX_VALID_DAYS:
        raise InvalidInput(f"valid_days must be an integer 0-{MAX_VALID_DAYS} (0: no expiry)")
    until = now + valid_days * 86400 if valid_days else None
    vc = build_credential(
        signer.did,
        uri,
        checked,
        types=extra,
        valid_from=now,
        valid_until=until,
        credential_status=credential_status,
    )
    return sign_document(vc, signer, created=iso(now))


def _shape(vc: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(issuer, subject id)`` of a well-formed credential, else InvalidInput."""
    ctx = vc.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_CONTEXT:
        raise InvalidInput(f"@context must be a list starting with {VC_CONTEXT}")
    types = vc.get("type")
    if not isinstance(types, list) or VC_TYPE not in types:
        raise InvalidInput(f"type must be a list containing {VC_TYPE}")
    if "id" in vc and not isinstance(vc["id"], str):
        raise InvalidInput("id must be a string")
    issuer = vc.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidInput("issuer must be a URI or an object with an id")
    subj = vc.get("credentialSubject")
    subjects: list[Any] = subj if isinstance(subj, list) else [subj]
    if not subjects or not all(isinstance(s, Mapping) for s in subjects):
        raise InvalidInput("credentialSubject must be an object (or a list of objects)")
    first_id = subjects[0].get("id")
    if first_id is not None and not isinstance(first_id, str):
        raise InvalidInput("credentialSubject id must be a string")
    for name in ("validFrom", "validUntil"):
        if name in vc:
            parse_datetime(vc[name], name, need_zone=True)
    return issuer, first_id


def build_list_credential(
    signer: DidSigner, list_id: str, bits: bytes, *, now: int
) -> dict[str, Any]:
    """The revocation status list credential of ``bits`` signed (eddsa-jcs-2022) by ``signer``."""
    vc: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": list_id,
        "type": [VC_TYPE, LIST_TYPE],
        "issuer": signer.did,
        "validFrom": iso(now),
        "credentialSubject": {
            "id": f"{list_id}#list",
            "type": SUBJECT_TYPE,
            "statusPurpose": REVOCATION,
            "encodedList": encode_list(bits),
        },
    }
    return sign_document(vc, signer, created=iso(now))


def verify_status_list(status_list: object, issuer: str, *, now: float) -> tuple[str, bytes]:
    """``(list id, bitstring)`` of a revocation status list credential by ``issuer``.

    Raises :class:`CredentialFailure`: ``malformed`` for a list that is not one,
    ``bad_status_list`` for one whose proof, validity or issuer is wrong.
    """
    if isinstance(status_list, str):
        try:
            status_list = json.loads(status_list)
        except json.JSONDecodeError as exc:
            raise CredentialFailure(
                MALFORMED, f"status list is not valid JSON: {exc.msg}"
            ) from None
    if not isinstance(status_list, Mapping):
        raise CredentialFailure(MALFORMED, "status list is not a JSON object")
    try:
        checked = verify_credential(status_list, now=now)
    except CredentialFailure as exc:
        kind = MALFORMED if exc.kind == MALFORMED else BAD_STATUS_LIST
        raise CredentialFailure(kind, f"status list: {exc.kind}: {exc.reason}") from None
    if checked.issuer != issuer:
        raise CredentialFailure(
            BAD_STATUS_LIST,
            f"status list is issued by {checked.issuer[:48]}, not by the issuer {issuer[:48]}",
        )
    list_id = status_list.get("id")
    if not isinstance(list_id, str) or not list_id:
        raise CredentialFailure(MALFORMED, "status list has no id")
    try:
        bits = list_bits(status_list)
    except InvalidInput as exc:
        raise CredentialFailure(MALFORMED, f"status list: {exc.message}") from None
    return list_id, bits


def check_status(vc: Mapping[str, Any], issuer: str, status_list: object, *, now: float) -> str:
    """The revocation status of a verified credential: ``none``, ``valid`` or ``unchecked``.

    Raises :class:`CredentialFailure` ``revoked`` when its bit in the given list is set.
    """
    try:
        entries, others = revocation_entries(vc)
    except InvalidInput as exc:
        raise CredentialFailure(MALFORMED, f"credentialStatus: {exc.message}") from None
    if not entries and not others:
        return STATUS_NONE
    if status_list is None:
        return STATUS_UNCHECKED
    list_id, bits = verify_status_list(status_list, issuer, now=now)
    matching = [e for e in entries if e.list_id == list_id]
    if not matching:
        raise CredentialFailure(
            BAD_STATUS_LIST, f"the credential does not point at the status list {list_id[:80]}"
        )
    for entry in matching:
        if entry.index >= len(bits) * 8:
            raise CredentialFailure(
                BAD_STATUS_LIST,
                f"statusListIndex {entry.index} is outside the list (size {len(bits) * 8})",
            )
        if get_bit(bits, entry.index):
            raise CredentialFailure(REVOKED, f"revoked: bit {entry.index} of {list_id[:80]} is set")
    return STATUS_VALID if len(matching) == len(entries) and not others else STATUS_UNCHECKED


def verify_credential(vc: object, *, now: float, status_list: object = None) -> Verified:
    """Check a credential fully; raises :class:`CredentialFailure` with the first problem.

    ``status_list`` is the issuer's revocation status list credential (object or JSON),
    checked when the credential has a ``credentialStatus``; without one such a credential's
    ``status`` is ``unchecked``.
    """
    if isinstance(vc, str):
        try:
            vc = json.loads(vc)
        except json.JSONDecodeError as exc:
            raise CredentialFailure(MALFORMED, f"not valid JSON: {exc.msg}") from None
    if not isinstance(vc, Mapping):
        raise CredentialFailure(MALFORMED, "credential is not a JSON object")
    try:
        size = len(canonical_json(vc))
        if size > MAX_CREDENTIAL_BYTES:
            raise InvalidInput(f"credential is {size} bytes, more than {MAX_CREDENTIAL_BYTES}")
        issuer, subject = _shape(vc)
    except InvalidInput as exc:
        raise CredentialFailure(MALFORMED, exc.message) from None
    try:
        check = verify_proof(vc)
    except ProofFailure as exc:
        raise CredentialFailure(exc.kind, exc.reason) from None
    if check.key.did != issuer:
        raise CredentialFailure(
            WRONG_KEY, f"proof is by {check.key.did[:48]}, not by the issuer {issuer[:48]}"
        )
    moment = datetime.fromtimestamp(now, UTC)
    if "validFrom" in vc and moment < parse_datetime(vc["validFrom"], "validFrom"):
        raise CredentialFailure(NOT_YET_VALID, f"not valid before {vc['validFrom']}")
    if "validUntil" in vc and moment > parse_datetime(vc["validUntil"], "validUntil"):
        raise CredentialFailure(EXPIRED, f"expired at {vc['validUntil']}")
    status = check_status(vc, issuer, status_list, now=now)
    return Verified(
        issuer=issuer,
        subject=subject,
        cryptosuite=str(check.proof["cryptosuite"]),
        verification_method=check.key.verification_method,
        valid_from=vc.get("validFrom"),
        valid_until=vc.get("validUntil"),
        status=status,
    )
