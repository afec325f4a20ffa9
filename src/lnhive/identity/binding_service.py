"""The node's own key bindings: make, re-make, revoke and list them (spec §1.3).

The documents and their offline checks are in :mod:`lnhive.identity.bindings`; this
service keeps this node's bindings in the archon store:

- ``archon_bindings`` holds the active binding of each kind (``cln``, ``nostr``);
- revoking one moves it, in one transaction, to ``archon_binding_revocations`` with its
  signed revocation document;
- a binding made again after a revocation is dated after it (``created_at`` >
  ``revoked_at``), so the old revocation does not cover it; a revocation is dated no
  earlier than the binding it revokes.

Only this node's own keys are bound: a key the node does not hold cannot sign its half.
Provisioning never undoes a revocation; ``hive-archon-bind-cln`` / ``-bind-nostr`` do.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from lnhive.core.errors import (
    Conflict,
    Internal,
    InvalidInput,
    NodeRpcError,
    NotFound,
    Unauthorized,
    Unsupported,
)
from lnhive.identity import didkey
from lnhive.identity.bindings import (
    CLN,
    KINDS,
    MAX_REASON,
    NOSTR,
    BindingFailure,
    binding_id,
    make_cln_binding,
    make_cln_revocation,
    make_nostr_binding,
    make_nostr_revocation,
    verify_binding,
    verify_revocation,
)

if TYPE_CHECKING:
    from lnhive.identity.archon import Archon

MAX_LIST = 500
_KEY_LEN = {CLN: 66, NOSTR: 64}
_URN_PREFIX = {CLN: "urn:lnhive:node:", NOSTR: "urn:lnhive:nostr:"}


def check_kind(value: object) -> str:
    if value not in KINDS:
        raise InvalidInput("binding_type must be cln or nostr")
    return str(value)


class KeyBindings:
    """This node's DID bindings to its node key and its Nostr key."""

    def __init__(self, archon: Archon, nostr_secret: bytes) -> None:
        self.a = archon
        self._nostr_secret = nostr_secret

    def _now(self) -> int:
        return int(self.a.clock.now())

    def _signmessage(self, text: str) -> str:
        try:
            return str(self.a.node.signmessage(message=text)["zbase"])
        except Exception as exc:
            raise NodeRpcError(f"signing failed: signmessage {type(exc).__name__}") from exc

    def own_key(self, kind: str) -> str:
        return self.a.node_id if kind == CLN else self.a.nostr_pubkey

    def own_subject(self, kind: str) -> str:
        return _URN_PREFIX[kind] + self.own_key(kind)

    def own_id(self, kind: str) -> str:
        return binding_id(self.a.signer.did, kind, self.own_subject(kind))

    # -- store ------------------------------------------------------------------------

    def active(self) -> dict[str, dict[str, Any]]:
        """This DID's active binding documents by kind."""
        rows = self.a.store.query(
            "SELECT binding_type, binding_json FROM archon_bindings WHERE did = ?",
            (self.a.signer.did,),
        )
        return {str(r["binding_type"]): json.loads(r["binding_json"]) for r in rows}

    def last_revoked_at(self, kind: str) -> int | None:
        """When this node's binding of ``kind`` was last revoked, or None."""
        row = self.a.store.query_one(
            "SELECT MAX(revoked_at) AS t FROM archon_binding_revocations WHERE binding_id = ?",
            (self.own_id(kind),),
        )
        return None if row is None or row["t"] is None else int(row["t"])

    def revoked_kinds(self) -> set[str]:
        """Kinds whose binding is revoked and not made again."""
        active = self.active()
        return {k for k in KINDS if k not in active and self.last_revoked_at(k) is not None}

    def make(self, kind: str, now: int) -> dict[str, Any]:
        """A new, verified binding of this node's ``kind`` key, dated after any revocation."""
        last = self.last_revoked_at(kind)
        created = now if last is None else max(now, last + 1)
        if kind == CLN:
            doc = make_cln_binding(self.a.signer, self.a.node_id, self._signmessage, created)
        else:
            doc = make_nostr_binding(self.a.signer, self._nostr_secret, created)
        try:  # fail closed: never store what does not verify
            verify_binding(doc)
        except BindingFailure as exc:
            raise Internal(f"a new binding does not verify: {exc.reason}") from None
        return doc

    @staticmethod
    def save(conn: sqlite3.Connection, doc: dict[str, Any], now: int) -> None:
        """Store ``doc`` as the active binding of its kind and subject (in ``conn``'s
        transaction)."""
        conn.execute(
            "INSERT INTO archon_bindings (binding_id, did, binding_type, subject, "
            "binding_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (binding_type, subject) DO UPDATE SET "
            "binding_id = excluded.binding_id, did = excluded.did, "
            "binding_json = excluded.binding_json, updated_at = excluded.updated_at",
            (
                binding_id(doc["did"], doc["binding_type"], doc["subject"]),
                doc["did"],
                doc["binding_type"],
                doc["subject"],
                json.dumps(doc, sort_keys=True),
                now,
                now,
            ),
        )

    # -- RPCs -------------------------------------------------------------------------

    def _check_key(self, kind: str, key: object) -> str:
        if key is None or key == "":
            return self.own_key(kind)
        if not isinstance(key, str):
            raise InvalidInput(f"{kind}_pubkey must be a string")
        text = key.strip().lower().removeprefix(_URN_PREFIX[kind])
        size = _KEY_LEN[kind]
        hexdigits = all(c in "0123456789abcdef" for c in text)
        if len(text) != size or not hexdigits or (kind == CLN and text[:2] not in ("02", "03")):
            what = "66 hex starting 02 or 03" if kind == CLN else "64 hex (x-only)"
            raise InvalidInput(f"{kind}_pubkey must be {what}")
        return text

    def bind(self, kind: object, key: object = "", did: object = "") -> dict[str, Any]:
        """Bind this node's DID to its ``kind`` key; idempotent while that binding is
        active, and the way to bind again after a revocation."""
        kind = check_kind(kind)
        key = self._check_key(kind, key)  # spec §1.3 order: subject, DID, identity, owner
        if did is not None and did != "":
            try:
                didkey.parse(did)
            except InvalidInput as exc:
                raise InvalidInput(f"did: {exc.message}") from None
        with self.a.lock:
            self.a.require_identity()
            if did not in (None, "", self.a.signer.did):
                raise Unauthorized("cannot bind to a DID not owned by this node")
            if key != self.own_key(kind):
                raise Unsupported(
                    f"cannot bind a {kind} key this node does not hold: a binding needs "
                    "that key's own signature"
                )
            doc = self.active().get(kind)
            already = False
            if doc is not None:
                try:
                    verify_binding(doc)
                    already = True
                except BindingFailure:
                    doc = None  # a stored binding that no longer verifies is made again
            if doc is None:
                now = self._now()
                doc = self.make(kind, now)
                with self.a.store.transaction() as conn:
                    self.save(conn, doc, now)
        return {
            "ok": True,
            "binding_id": binding_id(doc["did"], kind, doc["subject"]),
            "binding_type": kind,
            "did": doc["did"],
            "subject": doc["subject"],
            "created_at": doc["created_at"],
            "already_bound": already,
            "binding": doc,
        }

    def revoke(self, kind: object, reason: object = "") -> dict[str, Any]:
        """Revoke this node's active ``kind`` binding with a revocation signed by both
        keys; a second revocation of the same binding is a ``conflict``."""
        kind = check_kind(kind)
        if reason is None:
            reason = ""
        if not isinstance(reason, str) or len(reason.strip()) > MAX_REASON:
            raise InvalidInput(f"reason must be a string of at most {MAX_REASON} characters")
        reason = reason.strip()
        with self.a.lock:
            self.a.require_identity()
            doc = self.active().get(kind)
            if doc is None:
                last = self.last_revoked_at(kind)
                if last is not None:
                    raise Conflict(
                        f"the {kind} binding is already revoked (at {last}); "
                        f"hive-archon-bind-{kind} makes a new one"
                    )
                raise NotFound(f"no {kind} binding; hive-archon-bind-{kind} makes one")
            revoked_at = max(self._now(), int(doc["created_at"]))
            try:
                if kind == CLN:
                    rev = make_cln_revocation(
                        self.a.signer, doc, self._signmessage, revoked_at, reason
                    )
                else:
                    rev = make_nostr_revocation(
                        self.a.signer, doc, self._nostr_secret, revoked_at, reason
                    )
                verify_revocation(rev, doc)  # fail closed
            except BindingFailure as exc:
                raise Internal(f"cannot revoke the stored {kind} binding: {exc.reason}") from None
            bid = str(rev["binding_id"])
            with self.a.store.transaction() as conn:
                conn.execute(
                    "INSERT INTO archon_binding_revocations (binding_id, did, binding_type, "
                    "subject, binding_created_at, revoked_at, reason, binding_json, "
                    "revocation_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        bid,
                        doc["did"],
                        kind,
                        doc["subject"],
                        doc["created_at"],
                        revoked_at,
                        reason,
                        json.dumps(doc, sort_keys=True),
                        json.dumps(rev, sort_keys=True),
                    ),
                )
                conn.execute(
                    "DELETE FROM archon_bindings WHERE binding_type = ? AND subject = ?",
                    (kind, doc["subject"]),
                )
        return {
            "ok": True,
            "binding_id": bid,
            "binding_type": kind,
            "did": doc["did"],
            "subject": doc["subject"],
            "revoked_at": revoked_at,
            "reason": reason,
            "binding": doc,
            "revocation": rev,
        }

    def list_bindings(self, limit: object = 50) -> dict[str, Any]:
        """Active bindings (re-verified against the stored revocations) and revoked ones
        (newest first, at most ``limit``) with their revocation documents."""
        if type(limit) is not int or limit < 1:
            raise InvalidInput("limit must be a positive integer")
        did = self.a.signer.did
        with self.a.lock:
            docs = self.active()
            revoked_rows = self.a.store.query(
                "SELECT * FROM archon_binding_revocations WHERE did = ? "
                "ORDER BY revoked_at DESC, binding_type LIMIT ?",
                (did, min(limit, MAX_LIST)),
            )
            total = self.a.store.query_one(
                "SELECT COUNT(*) AS n FROM archon_binding_revocations WHERE did = ?", (did,)
            )
            held = {
                kind: [
                    json.loads(r["revocation_json"])
                    for r in self.a.store.query(
                        "SELECT revocation_json FROM archon_binding_revocations "
                        "WHERE binding_id = ? AND revoked_at >= ?",
                        (binding_id(did, kind, doc["subject"]), doc["created_at"]),
                    )
                ]
                for kind, doc in docs.items()
            }
        active = []
        for kind in sorted(docs):
            doc = docs[kind]
            problem = None
            try:
                verify_binding(doc, held[kind])
            except BindingFailure as exc:
                problem = f"{exc.kind}: {exc.reason}"
            active.append(
                {
                    "binding_id": binding_id(doc["did"], kind, doc["subject"]),
                    "binding_type": kind,
                    "subject": doc["subject"],
                    "created_at": doc["created_at"],
                    "verified": problem is None,
                    "problem": problem,
                    "binding": doc,
                }
            )
        revoked = []
        for r in revoked_rows:
            doc, rev = json.loads(r["binding_json"]), json.loads(r["revocation_json"])
            problem = None
            try:
                verify_revocation(rev, doc)
            except BindingFailure as exc:
                problem = f"{exc.kind}: {exc.reason}"
            revoked.append(
                {
                    "binding_id": r["binding_id"],
                    "binding_type": r["binding_type"],
                    "subject": r["subject"],
                    "created_at": r["binding_created_at"],
                    "revoked_at": r["revoked_at"],
                    "reason": r["reason"],
                    "verified": problem is None,
                    "problem": problem,
                    "binding": doc,
                    "revocation": rev,
                }
            )
        return {
            "ok": True,
            "did": did,
            "active": active,
            "revoked": revoked,
            "revoked_total": int(total["n"]) if total else 0,
        }
