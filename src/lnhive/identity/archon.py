"""The cl-hive-archon service: provisioning, bindings, credentials and signing (slice 1).

Everything runs offline. Every credential the node issues carries a W3C Bitstring Status
List entry in the node's revocation list; revoking sets its bit and re-signs the list. The DID is the did:key of the Ed25519 key derived with
``makesecret`` (decisions 2 and 6), so provisioning again — or on a node restored from
the same ``hsm_secret`` — yields the same DID. Failures raise :mod:`lnhive.core.errors`
classes (the plugin maps them into 22000-22999); nothing is written unless every
signature was made first.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from lnhive.cln.api import NodeApi
from lnhive.core import bip340
from lnhive.core.clock import Clock
from lnhive.core.derive import NOSTR_LABEL
from lnhive.core.errors import (
    Conflict,
    CredentialInvalid,
    Internal,
    InvalidInput,
    LnhiveError,
    NodeRpcError,
    NotFound,
    Unsupported,
)
from lnhive.core.store import Store
from lnhive.identity import didkey
from lnhive.identity.binding_service import KeyBindings
from lnhive.identity.bindings import (
    KINDS,
    BindingFailure,
    binding_id,
    parse_revocations,
    verify_binding,
)
from lnhive.identity.credentials import (
    REVOKED,
    CredentialFailure,
    build_list_credential,
    check_status,
    issue_credential,
    parse_object,
    subject_uri,
    verify_credential,
)
from lnhive.identity.eddsa_jcs import MALFORMED, UNKNOWN_CRYPTOSUITE, UNSUPPORTED, parse_datetime
from lnhive.identity.keys import DidSigner, verify_message
from lnhive.identity.reputation import ReputationService, parse_domain_weights
from lnhive.identity.statuslist import (
    MIN_BITS,
    REVOCATION,
    empty_list,
    revocation_entries,
    set_bit,
    status_entry,
)
from lnhive.identity.store import open_archon_store

SOURCE = "makesecret"
MAX_LABEL = 120
MAX_LIST = 500
MAX_REASON = 500
DEFAULT_GATEWAY = "https://archon.technology"
DEFAULT_MIN_BOND = 50_000
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ArchonOptions:
    """Plugin options (spec §1.10). The gateway serves only the optional did:cid alias."""

    network_enabled: bool = False
    gateway: str = DEFAULT_GATEWAY
    gateway_auth_token: str = ""
    governance_min_bond: int = DEFAULT_MIN_BOND
    reputation_domain_weights: str = ""

    def __repr__(self) -> str:  # never print the token
        return (
            f"ArchonOptions(network_enabled={self.network_enabled}, gateway={self.gateway!r}, "
            f"governance_min_bond={self.governance_min_bond})"
        )

    def normalised(self) -> tuple[ArchonOptions, list[str]]:
        """Lenient options as spec §1.10 says: a bad value falls back, with a warning."""
        warnings: list[str] = []
        out = self
        if gateway_problem(self.gateway):
            warnings.append(f"hive-archon-gateway: {gateway_problem(self.gateway)}; network off")
            out = replace(out, network_enabled=False)
        if self.governance_min_bond < 1:
            warnings.append("hive-archon-governance-min-bond must be at least 1; using 50000")
            out = replace(out, governance_min_bond=DEFAULT_MIN_BOND)
        try:
            parse_domain_weights(self.reputation_domain_weights)
        except InvalidInput as exc:
            warnings.append(f"hive-archon-reputation-domain-weights: {exc.message}; equal weights")
            out = replace(out, reputation_domain_weights="")
        if out.network_enabled and urlsplit(out.gateway).hostname in _LOCAL_HOSTS:
            # the gateway client refuses loopback addresses (SSRF policy, spec §1.7)
            warnings.append("hive-archon-gateway: a loopback gateway is refused; staying offline")
            out = replace(out, network_enabled=False)
        return out, warnings


def gateway_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable gateway (https, or http on a loopback name), or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "not a URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host in _LOCAL_HOSTS:
        return None
    return "must be https://, or http:// on localhost"


def failure(kind: str, reason: str) -> LnhiveError:
    """The RPC error of a failed verification: ``<kind>: <reason>`` in the matching class."""
    text = f"{kind}: {reason}"
    if kind == MALFORMED:
        return InvalidInput(text)
    if kind == REVOKED:
        return CredentialInvalid(text)
    if kind in (UNKNOWN_CRYPTOSUITE, UNSUPPORTED):
        return Unsupported(text)
    return CredentialInvalid(text)


class Archon:
    """The node's identity service over a NodeApi, a store and a clock."""

    def __init__(
        self,
        node: NodeApi,
        db_path: str,
        clock: Clock,
        options: ArchonOptions | None = None,
    ) -> None:
        self.node = node
        self.clock = clock
        self.options = options or ArchonOptions()
        self.lock = threading.RLock()
        try:
            self.node_id = str(node.getinfo()["id"])
            nostr_hex = str(node.makesecret(string=NOSTR_LABEL)["secret"])
        except Exception as exc:
            raise NodeRpcError(f"cannot read the node's identity: {type(exc).__name__}") from exc
        self.signer = DidSigner.from_node(node)
        nostr_secret = bytes.fromhex(nostr_hex)
        self.nostr_pubkey = bip340.xonly_pubkey(nostr_secret).hex()
        self.store: Store = open_archon_store(db_path)
        self.bindings = KeyBindings(self, nostr_secret)
        self.reputation = ReputationService(self)
        try:
            self.reputation.domain_weights = parse_domain_weights(
                self.options.reputation_domain_weights
            )
        except InvalidInput:
            self.reputation.domain_weights = {}

    def close(self) -> None:
        self.store.close()

    def _now(self) -> int:
        return int(self.clock.now())

    # -- identity ---------------------------------------------------------------------

    def _identity(self) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM archon_identity WHERE singleton_id = 1")

    def require_identity(self) -> sqlite3.Row:
        return self._require_identity()

    def _require_identity(self) -> sqlite3.Row:
        row = self._identity()
        if row is None:
            raise NotFound("identity not provisioned; run hive-archon-provision")
        if row["did"] != self.signer.did:
            raise Conflict(
                "the stored DID is not the one this node derives; run hive-archon-provision "
                "force=true"
            )
        return row

    def _bindings(self) -> dict[str, dict[str, Any]]:
        return self.bindings.active()

    def provision(self, force: object = False, label: object = "") -> dict[str, Any]:
        """Store the derived DID and bind it to the node key and the Nostr key (idempotent).

        A revoked binding is not made again here (``hive-archon-bind-*`` does that);
        ``force`` re-signs the active ones."""
        if not isinstance(force, bool):
            raise InvalidInput("force must be true or false")
        if not isinstance(label, str) or len(label.strip()) > MAX_LABEL:
            raise InvalidInput(f"label must be a string of at most {MAX_LABEL} characters")
        label = label.strip()
        with self.lock:
            row = self._identity()
            if row is not None and row["did"] != self.signer.did and not force:
                raise Conflict(
                    f"this database holds {row['did'][:32]}…, not the DID this node derives "
                    f"({self.signer.did[:32]}…); force=true replaces it"
                )
            same = row is not None and row["did"] == self.signer.did
            existing = self._bindings() if same else {}
            wanted = set(KINDS) - (self.bindings.revoked_kinds() if same else set())
            todo = wanted if force else wanted - set(existing)
            if row is not None and same and not todo:
                return self._provision_result(row, existing, already=True)
            now = self._now()
            docs = {kind: self.bindings.make(kind, now) for kind in sorted(todo)}
            label = label or (str(row["label"]) if same and row is not None else "")
            with self.store.transaction() as conn:
                if not same:
                    conn.execute("DELETE FROM archon_bindings")
                created = row["created_at"] if same and row is not None else now
                conn.execute(
                    "INSERT INTO archon_identity (singleton_id, did, label, source, created_at, "
                    "updated_at) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (singleton_id) DO UPDATE "
                    "SET did = excluded.did, label = excluded.label, source = excluded.source, "
                    "created_at = excluded.created_at, updated_at = excluded.updated_at",
                    (self.signer.did, label, SOURCE, created, now),
                )
                for doc in docs.values():
                    self.bindings.save(conn, doc, now)
            row = self._identity()
            assert row is not None
            return self._provision_result(row, {**existing, **docs}, already=False)

    def _provision_result(
        self, row: sqlite3.Row, docs: dict[str, dict[str, Any]], *, already: bool
    ) -> dict[str, Any]:
        return {
            "ok": True,
            "did": row["did"],
            "source": row["source"],
            "label": row["label"],
            "already_provisioned": already,
            "bindings": {
                kind: binding_id(row["did"], kind, doc["subject"]) for kind, doc in docs.items()
            },
        }

    def status(self) -> dict[str, Any]:
        """The DID, its bindings (re-verified), credential counts and options."""
        with self.lock:
            row = self._identity()
            bindings: dict[str, Any] = {}
            for kind, doc in self._bindings().items():
                try:
                    verify_binding(doc)
                    verified = True
                except BindingFailure:
                    verified = False
                bindings[kind] = {
                    "binding_id": binding_id(doc["did"], kind, doc["subject"]),
                    "subject": doc["subject"],
                    "created_at": doc["created_at"],
                    "verified": verified,
                }
            now = self._now()
            counts = self.store.query_one(
                "SELECT COUNT(*) AS total, SUM(revoked_at IS NULL AND (valid_until IS NULL OR "
                "valid_until >= ?)) AS live, SUM(revoked_at IS NOT NULL) AS revoked "
                "FROM archon_credentials",
                (now,),
            )
        identity = None
        if row is not None:
            identity = {
                "did": row["did"],
                "verification_method": self.signer.verification_method,
                "source": row["source"],
                "label": row["label"],
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "matches_node": row["did"] == self.signer.did,
            }
        return {
            "ok": True,
            "provisioned": row is not None and row["did"] == self.signer.did,
            "identity": identity,
            "node_id": self.node_id,
            "nostr_pubkey": self.nostr_pubkey,
            "bindings": bindings,
            "credentials": {
                "issued": int(counts["total"] or 0) if counts else 0,
                "live": int(counts["live"] or 0) if counts else 0,
                "revoked": int(counts["revoked"] or 0) if counts else 0,
            },
            "network_enabled": self.options.network_enabled,
            "gateway_url": self.options.gateway,
            "min_governance_bond_sats": self.options.governance_min_bond,
        }

    def resolve(self, did: object) -> dict[str, Any]:
        """The DID document of a did:key (offline)."""
        return {
            "ok": True,
            "did_document": didkey.resolve(str(did) if isinstance(did, str) else ""),
        }

    # -- credentials ------------------------------------------------------------------

    def issue(
        self,
        subject: object,
        claims: object,
        types: object = None,
        valid_days: object = 365,
    ) -> dict[str, Any]:
        """Issue, store and return a VC 2.0 credential signed by the node's DID."""

        def make(status: dict[str, Any], now: int) -> dict[str, Any]:
            return issue_credential(
                self.signer,
                subject,
                claims,
                now=now,
                types=types,
                valid_days=valid_days,
                credential_status=status,
            )

        vc = self.issue_with_status(make)
        return {"ok": True, "credential_id": vc["id"], "credential": vc}

    def issue_with_status(
        self,
        make: Callable[[dict[str, Any], int], dict[str, Any]],
        also: Callable[[sqlite3.Connection, dict[str, Any], int], None] | None = None,
    ) -> dict[str, Any]:
        """Allocate the next status list index, let ``make(credential_status, now)`` build
        and sign the credential, verify it (fail closed) and store it; ``also`` adds rows
        in the same transaction. Returns the credential."""
        with self.lock:
            self._require_identity()
            now = self._now()
            status_list, new_list = self._status_list(now)
            index = int(status_list["next_index"])
            if index >= int(status_list["size_bits"]):
                raise Conflict("the status list is full; no more credentials can be issued")
            list_id = str(status_list["list_id"])
            vc = make(status_entry(list_id, index), now)
            verify_credential(vc, now=now, status_list=status_list["vc"])  # fail closed
            until = None
            if "validUntil" in vc:
                until = int(parse_datetime(vc["validUntil"], "validUntil").timestamp())
            with self.store.transaction() as conn:
                if new_list:
                    self._insert_list(conn, status_list, now)
                conn.execute(
                    "UPDATE archon_status_lists SET next_index = ?, updated_at = ? "
                    "WHERE list_id = ?",
                    (index + 1, now, list_id),
                )
                conn.execute(
                    "INSERT INTO archon_credentials (credential_id, issuer, subject, types_json, "
                    "vc_json, issued_at, valid_until, status_list_id, status_index) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        vc["id"],
                        vc["issuer"],
                        vc["credentialSubject"]["id"],
                        json.dumps(vc["type"]),
                        json.dumps(vc, sort_keys=True),
                        now,
                        until,
                        list_id,
                        index,
                    ),
                )
                if also is not None:
                    also(conn, vc, now)
        return vc

    # -- revocation (W3C Bitstring Status List) ---------------------------------------

    def _list_id(self) -> str:
        return f"urn:lnhive:status-list:{self.signer.did.removeprefix(didkey.PREFIX)}:{REVOCATION}"

    def _status_list(self, now: int) -> tuple[dict[str, Any], bool]:
        """This DID's status list (``bits`` as bytes, ``vc`` parsed) and whether it is new.

        A new list is built and signed in memory; the caller stores it with
        :meth:`_insert_list` in the transaction that uses it.
        """
        row = self.store.query_one(
            "SELECT * FROM archon_status_lists WHERE did = ?", (self.signer.did,)
        )
        if row is not None:
            out = dict(row)
            out["bits"] = bytes(row["bits"])
            out["vc"] = json.loads(row["vc_json"])
            return out, False
        list_id = self._list_id()
        bits = bytes(empty_list(MIN_BITS))
        vc = build_list_credential(self.signer, list_id, bits, now=now)
        return {
            "list_id": list_id,
            "did": self.signer.did,
            "status_purpose": REVOCATION,
            "size_bits": MIN_BITS,
            "next_index": 0,
            "bits": bits,
            "vc": vc,
            "created_at": now,
            "updated_at": now,
        }, True

    @staticmethod
    def _insert_list(conn: sqlite3.Connection, status_list: dict[str, Any], now: int) -> None:
        conn.execute(
            "INSERT INTO archon_status_lists (list_id, did, status_purpose, size_bits, "
            "next_index, bits, vc_json, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                status_list["list_id"],
                status_list["did"],
                status_list["status_purpose"],
                status_list["size_bits"],
                status_list["next_index"],
                status_list["bits"],
                json.dumps(status_list["vc"], sort_keys=True),
                now,
                now,
            ),
        )

    def status_list(self) -> dict[str, Any]:
        """The node's current signed revocation status list credential (for verifiers)."""
        with self.lock:
            self._require_identity()
            now = self._now()
            current, new = self._status_list(now)
            if new:
                with self.store.transaction() as conn:
                    self._insert_list(conn, current, now)
            revoked = self.store.query_one(
                "SELECT COUNT(*) AS n FROM archon_credentials "
                "WHERE status_list_id = ? AND revoked_at IS NOT NULL",
                (current["list_id"],),
            )
        return {
            "ok": True,
            "list_id": current["list_id"],
            "status_purpose": current["status_purpose"],
            "size": current["size_bits"],
            "allocated": current["next_index"],
            "revoked": int(revoked["n"]) if revoked else 0,
            "updated_at": current["updated_at"],
            "status_list_credential": current["vc"],
        }

    def revoke(self, credential_id: object, reason: object = "") -> dict[str, Any]:
        """Revoke an issued credential: set its bit and re-sign the status list."""
        if not isinstance(credential_id, str) or not credential_id:
            raise InvalidInput("credential_id must be a non-empty string")
        if reason is None:
            reason = ""
        if not isinstance(reason, str) or len(reason.strip()) > MAX_REASON:
            raise InvalidInput(f"reason must be a string of at most {MAX_REASON} characters")
        reason = reason.strip()
        with self.lock:
            self._require_identity()
            row = self.store.query_one(
                "SELECT * FROM archon_credentials WHERE credential_id = ?", (credential_id,)
            )
            if row is None:
                raise NotFound(f"no credential {credential_id[:64]}")
            if row["revoked_at"] is not None:
                raise Conflict(f"credential {credential_id[:64]} is already revoked")
            if row["issuer"] != self.signer.did:
                raise Conflict(
                    "the credential was issued by another DID; this node cannot revoke it"
                )
            if row["status_list_id"] is None or row["status_index"] is None:
                raise Unsupported("the credential has no status entry (issued before revocation)")
            now = self._now()
            current, new = self._status_list(now)
            if new or current["list_id"] != row["status_list_id"]:
                raise Internal("the credential's status list is missing")
            index = int(row["status_index"])
            bits = bytearray(current["bits"])
            set_bit(bits, index)
            vc = build_list_credential(self.signer, str(current["list_id"]), bytes(bits), now=now)
            try:  # fail closed: the new list must verify and revoke this credential
                check_status(json.loads(row["vc_json"]), self.signer.did, vc, now=now)
            except CredentialFailure as exc:
                if exc.kind != REVOKED:
                    raise Internal(f"the new status list does not work: {exc.reason}") from None
            else:
                raise Internal("the new status list does not revoke the credential")
            with self.store.transaction() as conn:
                conn.execute(
                    "UPDATE archon_status_lists SET bits = ?, vc_json = ?, updated_at = ? "
                    "WHERE list_id = ?",
                    (bytes(bits), json.dumps(vc, sort_keys=True), now, current["list_id"]),
                )
                conn.execute(
                    "UPDATE archon_credentials SET revoked_at = ?, revocation_reason = ? "
                    "WHERE credential_id = ?",
                    (now, reason, credential_id),
                )
                conn.execute(  # a reputation credential leaves aggregation with it
                    "UPDATE archon_reputation SET revoked_at = ?, revocation_reason = ? "
                    "WHERE credential_id = ?",
                    (now, reason, credential_id),
                )
        return {
            "ok": True,
            "credential_id": credential_id,
            "revoked_at": now,
            "reason": reason,
            "list_id": current["list_id"],
            "status_list_index": index,
            "status_list_credential": vc,
        }

    def list_credentials(self, subject: object = "", limit: object = 50) -> dict[str, Any]:
        """Issued credentials, newest first (SUBJECT's only when given)."""
        if type(limit) is not int or limit < 1:
            raise InvalidInput("limit must be a positive integer")
        limit = min(limit, MAX_LIST)
        if not isinstance(subject, str):
            raise InvalidInput("subject must be a string")
        sql = "SELECT * FROM archon_credentials"
        params: list[Any] = []
        if subject:
            sql += " WHERE subject = ?"
            params.append(subject_uri(subject))
        sql += " ORDER BY issued_at DESC, credential_id LIMIT ?"
        params.append(limit)
        now = self._now()
        rows = self.store.query(sql, params)
        items = [
            {
                "credential_id": r["credential_id"],
                "subject": r["subject"],
                "types": json.loads(r["types_json"]),
                "issued_at": r["issued_at"],
                "valid_until": r["valid_until"],
                "status": "revoked"
                if r["revoked_at"] is not None
                else "expired"
                if r["valid_until"] is not None and r["valid_until"] < now
                else "valid",
            }
            for r in rows
        ]
        return {"ok": True, "count": len(items), "credentials": items}

    def export(self, credential_id: object) -> dict[str, Any]:
        """A stored credential with what a verifier needs offline: DID document and bindings."""
        if not isinstance(credential_id, str) or not credential_id:
            raise InvalidInput("credential_id must be a non-empty string")
        row = self.store.query_one(
            "SELECT vc_json FROM archon_credentials WHERE credential_id = ?", (credential_id,)
        )
        if row is None:
            raise NotFound(f"no credential {credential_id[:64]}")
        vc = json.loads(row["vc_json"])
        rows = self.store.query(
            "SELECT binding_json FROM archon_bindings WHERE did = ? ORDER BY binding_type",
            (vc["issuer"],),
        )
        bindings = [json.loads(r["binding_json"]) for r in rows]
        return {
            "ok": True,
            "credential": vc,
            "did_document": didkey.resolve(vc["issuer"]),
            "bindings": bindings,
        }

    def _own_list_for(self, vc: dict[str, Any]) -> dict[str, Any] | None:
        """The node's stored status list when ``vc`` points at it, else None."""
        try:
            entries, _ = revocation_entries(vc)
        except InvalidInput:
            return None  # verify_credential says what is wrong
        ids = {e.list_id for e in entries}
        if not ids:
            return None
        rows = self.store.query(
            "SELECT list_id, vc_json FROM archon_status_lists WHERE list_id IN ("
            + ",".join("?" * len(ids))
            + ")",
            sorted(ids),
        )
        return json.loads(rows[0]["vc_json"]) if rows else None

    def verify(self, vc_json: object, status_list_json: object = None) -> dict[str, Any]:
        """Verify any VC 2.0 credential offline; failures are errors naming the reason.

        The revocation status is checked against ``status_list_json`` when given, else
        against the node's own list when the credential points at it; otherwise a
        credential with a status entry is reported with ``status`` ``unchecked``.
        """
        try:
            vc = parse_object(vc_json, "vc_json")
            if status_list_json is not None and status_list_json != "":
                status_list: object = parse_object(status_list_json, "status_list_json")
            else:
                with self.lock:
                    status_list = self._own_list_for(vc)
            result = verify_credential(vc, now=self.clock.now(), status_list=status_list)
        except InvalidInput as exc:
            raise InvalidInput(f"{MALFORMED}: {exc.message}") from None
        except CredentialFailure as exc:
            raise failure(exc.kind, exc.reason) from None
        return {
            "ok": True,
            "verified": True,
            "issuer": result.issuer,
            "subject": result.subject,
            "cryptosuite": result.cryptosuite,
            "verification_method": result.verification_method,
            "valid_from": result.valid_from,
            "valid_until": result.valid_until,
            "status": result.status,
            "issuer_is_us": result.issuer == self.signer.did,
        }

    # -- bindings and messages --------------------------------------------------------

    def verify_binding(
        self, binding_json: object, revocations_json: object = None
    ) -> dict[str, Any]:
        """Verify a binding document offline, and that none of the revocation documents
        given (one, a list, or their JSON text) revokes it."""
        try:
            revocations = parse_revocations(revocations_json)
            b = verify_binding(binding_json, revocations)
        except BindingFailure as exc:
            raise failure(exc.kind, exc.reason) from None
        return {
            "ok": True,
            "verified": True,
            "binding_id": b.binding_id,
            "binding_type": b.binding_type,
            "did": b.did,
            "subject": b.subject,
            "key": b.key,
            "created_at": b.created_at,
            "revocations_checked": len(revocations),
        }

    def sign_message(self, message: object) -> dict[str, Any]:
        """Sign caller text with the DID key only (§8.10); ``lnhive:`` text is refused."""
        self._require_identity()
        signature = self.signer.sign_message(message)
        return {
            "ok": True,
            "signature": signature,
            "did": self.signer.did,
            "verification_method": self.signer.verification_method,
        }

    def verify_message(self, message: object, signature: object, did: object) -> dict[str, Any]:
        """Check a ``hive-archon-sign-message`` signature offline."""
        problem = verify_message(message, signature, did)
        if problem is not None:
            raise CredentialInvalid(f"bad_proof: {problem}")
        return {"ok": True, "verified": True, "did": did}
