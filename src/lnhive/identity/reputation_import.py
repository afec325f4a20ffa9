"""Importing reputation credentials from other issuers (spec §3.4), and applying an
issuer's newer status list to the stored ones.

The checks run in the spec's order, the first failure wins: content (fields,
identifiers, self-issuance, domain, outcome, metrics, period, expiry —
:func:`~lnhive.identity.reputation_credential.check_content`), then same-principal
through the issuer's verified bindings, then revocation against the issuer's status
list (unknown status is refused: fail closed), then the ``eddsa-jcs-2022`` proof; then
one-per-period and the caps. Nothing is written unless every check passed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import Conflict, CredentialInvalid, InvalidInput, LnhiveError
from lnhive.identity.bindings import BindingFailure, verify_binding
from lnhive.identity.credentials import (
    MAX_CREDENTIAL_BYTES,
    CredentialFailure,
    check_status,
    parse_json,
    parse_object,
    verify_credential,
    verify_status_list,
)
from lnhive.identity.eddsa_jcs import MALFORMED, parse_datetime
from lnhive.identity.reputation_credential import ReputationClaim, check_content
from lnhive.identity.statuslist import revocation_entries

if TYPE_CHECKING:
    from lnhive.identity.reputation import ReputationService

MAX_BINDINGS = 4


class Importer:
    """One import over a :class:`ReputationService`."""

    def __init__(self, service: ReputationService) -> None:
        self.s = service

    def import_(
        self, vc_json: object = None, status_list_json: object = None, bindings_json: object = None
    ) -> dict[str, Any]:
        """Verify and store a reputation credential from another issuer, and/or apply an
        issuer's newer status list to stored credentials."""
        has_vc = vc_json is not None and vc_json != ""
        has_list = status_list_json is not None and status_list_json != ""
        if not has_vc and not has_list:
            raise InvalidInput("give vc_json, status_list_json or both")
        status_list = parse_object(status_list_json, "status_list_json") if has_list else None
        if not has_vc:
            assert status_list is not None
            with self.s.a.lock:
                return {"ok": True, **self._apply_list(status_list)}
        vc = parse_object(vc_json, "vc_json")
        size = len(canonical_json(vc))
        if size > MAX_CREDENTIAL_BYTES:
            raise InvalidInput(f"credential is {size} bytes, more than {MAX_CREDENTIAL_BYTES}")
        now = self.s._now()
        claim = check_content(vc, now=now)  # §3.4 steps 1-7
        bindings = self._bindings(bindings_json, claim.issuer)
        keys = {b["subject"] for b in bindings} | set(self.s._principal(claim.issuer))
        if claim.subject in keys or set(self.s._principal(claim.subject)) & keys:
            raise CredentialInvalid(
                "self-issuance rejected: the issuer and the subject are one principal"
            )
        with self.s.a.lock:
            known = self.s.a.store.query_one(
                "SELECT vc_json FROM archon_reputation WHERE credential_id = ?",
                (claim.credential_id,),
            )
            if known is not None:
                if json.loads(known["vc_json"]) == vc:
                    return {"ok": True, "credential_id": claim.credential_id, "stored": False}
                raise Conflict(f"another credential with id {claim.credential_id[:64]} is stored")
            listing = status_list if status_list is not None else self._stored_list(vc)
            try:  # §3.4 step 8 (revocation) before 9 (signature)
                status = check_status(vc, claim.issuer, listing, now=now)
                if status == "unchecked":
                    raise CredentialInvalid(
                        "unchecked: the revocation status is unknown; give the issuer's status "
                        "list (status_list_json)"
                    )
                verify_credential(vc, now=now, status_list=listing)
            except CredentialFailure as exc:
                raise _failure(exc) from None
            self.s._check_room(claim.issuer, claim.subject, claim.domain, *self._period(claim))
            with self.s.a.store.transaction() as conn:
                if status_list is not None:
                    self._store_list(conn, status_list, claim.issuer, now)
                for b in bindings:
                    conn.execute(
                        "INSERT INTO archon_principals (did, binding_type, subject, "
                        "binding_json, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (did, "
                        "binding_type) DO UPDATE SET subject = excluded.subject, "
                        "binding_json = excluded.binding_json, updated_at = excluded.updated_at",
                        (b["did"], b["binding_type"], b["subject"], json.dumps(b), now),
                    )
                self.s._insert(conn, claim, vc, now, received_from="import")
        return {
            "ok": True,
            "credential_id": claim.credential_id,
            "stored": True,
            "issuer": claim.issuer,
            "subject": claim.subject,
            "domain": claim.domain,
            "credential_score": round(claim.score, 2),
            "evidence_strength": claim.evidence_strength,
            "status": status,
        }

    @staticmethod
    def _period(claim: ReputationClaim) -> tuple[int, int]:
        return claim.period_start, claim.period_end

    def _bindings(self, value: object, issuer: str) -> list[dict[str, Any]]:
        if value is None or value == "":
            return []
        value = parse_json(value, "bindings_json")
        if not isinstance(value, list) or len(value) > MAX_BINDINGS:
            raise InvalidInput(f"bindings_json must be a list of at most {MAX_BINDINGS} bindings")
        out = []
        for doc in value:
            try:
                b = verify_binding(doc)
            except BindingFailure as exc:
                raise _failure(CredentialFailure(exc.kind, f"binding: {exc.reason}")) from None
            if b.did != issuer:
                raise InvalidInput("a binding names another DID than the credential's issuer")
            out.append(dict(doc))
        return out

    def _stored_list(self, vc: Mapping[str, Any]) -> Any:
        try:
            entries, _ = revocation_entries(vc)
        except InvalidInput:
            return None
        for entry in entries:
            row = self.s.a.store.query_one(
                "SELECT vc_json FROM archon_reputation_status_lists WHERE list_id = ?",
                (entry.list_id,),
            )
            if row is None:
                row = self.s.a.store.query_one(
                    "SELECT vc_json FROM archon_status_lists WHERE list_id = ?", (entry.list_id,)
                )
            if row is not None:
                return json.loads(row["vc_json"])
        return None

    def _store_list(
        self, conn: sqlite3.Connection, status_list: Mapping[str, Any], issuer: str, now: int
    ) -> None:
        valid_from = int(parse_datetime(status_list["validFrom"], "validFrom").timestamp())
        conn.execute(
            "INSERT INTO archon_reputation_status_lists (list_id, issuer, valid_from, vc_json, "
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (list_id) DO UPDATE SET "
            "vc_json = excluded.vc_json, valid_from = excluded.valid_from, "
            "updated_at = excluded.updated_at WHERE excluded.valid_from >= valid_from",
            (status_list["id"], issuer, valid_from, json.dumps(status_list), now),
        )

    def _apply_list(self, status_list: Mapping[str, Any]) -> dict[str, Any]:
        """Store a verified status list and revoke stored credentials whose bit is set."""
        now = self.s._now()
        issuer = status_list.get("issuer")
        if not isinstance(issuer, str):
            raise InvalidInput("malformed: status list has no issuer")
        try:
            list_id, bits = verify_status_list(status_list, issuer, now=now)
        except CredentialFailure as exc:
            raise _failure(exc) from None
        if "validFrom" not in status_list:
            raise InvalidInput("malformed: status list has no validFrom")
        valid_from = int(parse_datetime(status_list["validFrom"], "validFrom").timestamp())
        old = self.s.a.store.query_one(
            "SELECT valid_from FROM archon_reputation_status_lists WHERE list_id = ?", (list_id,)
        )
        if old is not None and int(old["valid_from"]) > valid_from:
            raise Conflict("an newer copy of this status list is already stored")
        rows = self.s.a.store.query(
            "SELECT credential_id, status_index FROM archon_reputation WHERE status_list_id = ? "
            "AND issuer = ? AND revoked_at IS NULL",
            (list_id, issuer),
        )
        hit = [
            r["credential_id"]
            for r in rows
            if r["status_index"] is not None
            and r["status_index"] < len(bits) * 8
            and bits[r["status_index"] // 8] >> (7 - r["status_index"] % 8) & 1
        ]
        with self.s.a.store.transaction() as conn:
            self._store_list(conn, status_list, issuer, now)
            conn.executemany(
                "UPDATE archon_reputation SET revoked_at = ?, revocation_reason = ? "
                "WHERE credential_id = ?",
                [(now, "revoked in the issuer's status list", cid) for cid in hit],
            )
        return {"list_id": list_id, "issuer": issuer, "revoked": hit}


def _failure(exc: CredentialFailure) -> LnhiveError:
    from lnhive.identity.archon import failure

    if exc.kind == MALFORMED:
        return InvalidInput(f"{MALFORMED}: {exc.reason}")
    return failure(exc.kind, exc.reason)
