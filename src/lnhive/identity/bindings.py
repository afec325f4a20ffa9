"""Bindings of the node's did:key to its CLN node key and its Nostr key, checkable offline.

A binding document is

    {"type": "LnhiveKeyBinding", "binding_type": "cln" | "nostr", "did": <did:key>,
     "subject": "urn:lnhive:node:<66 hex>" | "urn:lnhive:nostr:<64 hex>",
     "created_at": <unix s>, "subject_sig": …, "did_sig": <multibase>}

Both keys sign the same statement (the document without the two signatures), so each
proves possession and names the other:

- the subject key: a CLN node key signs with ``signmessage`` the text
  ``lnhive:binding:v1:`` + hex SHA-256(JCS(statement)) (decision 5; zbase32); a Nostr key
  signs SHA-256(JCS(statement)) with BIP-340 (hex);
- the DID key signs that same ``lnhive:binding:v1:…`` text with Ed25519 (multibase). A
  caller of ``hive-archon-sign-message`` cannot obtain such a signature: that method
  refuses ``lnhive:`` text and prefixes what it signs.

A revocation document withdraws a binding, signed by the same two keys in the same way:

    {"type": "LnhiveKeyBindingRevocation", "binding_id": <32 hex>, "binding_type": …,
     "did": …, "subject": …, "revoked_at": <unix s>, "reason": <≤ 500 chars>,
     "subject_sig": …, "did_sig": …}

with the text prefix ``lnhive:binding-revocation:v1:`` (the Nostr key signs
SHA-256(JCS(statement)); the statement's ``type`` keeps it apart from a binding's). It
revokes every binding with that ``binding_id`` created at or before ``revoked_at``; a
binding of the same keys made later is not touched. Both keys are needed, so nobody
holding only one of them can withdraw — or forge the withdrawal of — a binding.

Anyone verifies a binding, with the revocations they hold, from the documents alone
(:func:`verify_binding`, :func:`verify_revocation`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core import bip340
from lnhive.core.canonical import canonical_hash, canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256_hex
from lnhive.core.signmessage import ZbaseError, verify_message
from lnhive.identity import didkey
from lnhive.identity.keys import DidSigner, ed25519_verify

DOC_TYPE = "LnhiveKeyBinding"
SIGNING_PREFIX = "lnhive:binding:v1:"
REVOCATION_TYPE = "LnhiveKeyBindingRevocation"
REVOCATION_PREFIX = "lnhive:binding-revocation:v1:"
CLN = "cln"
NOSTR = "nostr"
KINDS = (CLN, NOSTR)
FIELDS = ("type", "binding_type", "did", "subject", "created_at", "subject_sig", "did_sig")
REVOCATION_FIELDS = (
    "type",
    "binding_id",
    "binding_type",
    "did",
    "subject",
    "revoked_at",
    "reason",
    "subject_sig",
    "did_sig",
)
MAX_REASON = 500
MALFORMED = "malformed"
BAD_PROOF = "bad_proof"
REVOKED = "revoked"
WRONG_BINDING = "wrong_binding"
_URN = {
    CLN: re.compile(r"urn:lnhive:node:(0[23][0-9a-f]{64})"),
    NOSTR: re.compile(r"urn:lnhive:nostr:([0-9a-f]{64})"),
}
_BINDING_ID = re.compile(r"[0-9a-f]{32}")


class BindingFailure(Exception):
    """A binding or revocation that does not verify, or a revoked binding.

    ``kind`` is ``malformed``, ``bad_proof`` (a signature fails), ``wrong_binding`` (a
    revocation of another binding) or ``revoked``.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class VerifiedBinding:
    binding_id: str
    binding_type: str
    did: str
    subject: str
    key: str
    """The subject key in hex (node id or x-only Nostr key)."""
    created_at: int


@dataclass(frozen=True)
class VerifiedRevocation:
    binding_id: str
    binding_type: str
    did: str
    subject: str
    key: str
    revoked_at: int
    reason: str


def binding_id(did: str, binding_type: str, subject: str) -> str:
    """First 32 hex of SHA-256(``"<did>:<type>:<subject>"``) (spec §1.3)."""
    return sha256_hex(f"{did}:{binding_type}:{subject}".encode())[:32]


def statement(binding_type: str, did: str, subject: str, created_at: int) -> dict[str, Any]:
    return {
        "type": DOC_TYPE,
        "binding_type": binding_type,
        "did": did,
        "subject": subject,
        "created_at": created_at,
    }


def statement_text(stmt: Mapping[str, Any]) -> str:
    """The text the node key and the DID key sign."""
    return _text(stmt)


def _text(stmt: Mapping[str, Any]) -> str:
    prefix = REVOCATION_PREFIX if stmt.get("type") == REVOCATION_TYPE else SIGNING_PREFIX
    return prefix + sha256_hex(canonical_json(stmt))


def _did_sig(signer: DidSigner, stmt: Mapping[str, Any]) -> str:
    return didkey.multibase_encode(signer.sign(_text(stmt).encode("utf-8")))


def _signed_by_node(
    signer: DidSigner, stmt: dict[str, Any], signmessage: Callable[[str], str]
) -> dict[str, Any]:
    doc = dict(stmt)
    doc["subject_sig"] = signmessage(_text(stmt))
    doc["did_sig"] = _did_sig(signer, stmt)
    return doc


def _signed_by_nostr(
    signer: DidSigner, stmt: dict[str, Any], nostr_secret: bytes
) -> dict[str, Any]:
    doc = dict(stmt)
    doc["subject_sig"] = bip340.sign(nostr_secret, canonical_hash(stmt)).hex()
    doc["did_sig"] = _did_sig(signer, stmt)
    return doc


def make_cln_binding(
    signer: DidSigner, node_id: str, signmessage: Callable[[str], str], created_at: int
) -> dict[str, Any]:
    """Bind ``signer``'s DID to node ``node_id``; ``signmessage(text) -> zbase`` is the node's."""
    stmt = statement(CLN, signer.did, f"urn:lnhive:node:{node_id}", created_at)
    return _signed_by_node(signer, stmt, signmessage)


def make_nostr_binding(signer: DidSigner, nostr_secret: bytes, created_at: int) -> dict[str, Any]:
    """Bind ``signer``'s DID to the Nostr key of ``nostr_secret``."""
    xonly = bip340.xonly_pubkey(nostr_secret).hex()
    stmt = statement(NOSTR, signer.did, f"urn:lnhive:nostr:{xonly}", created_at)
    return _signed_by_nostr(signer, stmt, nostr_secret)


def revocation_statement(binding: VerifiedBinding, revoked_at: int, reason: str) -> dict[str, Any]:
    return {
        "type": REVOCATION_TYPE,
        "binding_id": binding.binding_id,
        "binding_type": binding.binding_type,
        "did": binding.did,
        "subject": binding.subject,
        "revoked_at": revoked_at,
        "reason": reason,
    }


def make_cln_revocation(
    signer: DidSigner,
    binding: object,
    signmessage: Callable[[str], str],
    revoked_at: int,
    reason: str = "",
) -> dict[str, Any]:
    """Revoke a cln binding of ``signer``'s DID; ``signmessage`` is the bound node's."""
    b = _own_binding(signer, binding, CLN)
    return _signed_by_node(signer, revocation_statement(b, revoked_at, reason), signmessage)


def make_nostr_revocation(
    signer: DidSigner, binding: object, nostr_secret: bytes, revoked_at: int, reason: str = ""
) -> dict[str, Any]:
    """Revoke a nostr binding of ``signer``'s DID with the bound Nostr key's secret."""
    b = _own_binding(signer, binding, NOSTR)
    return _signed_by_nostr(signer, revocation_statement(b, revoked_at, reason), nostr_secret)


def _own_binding(signer: DidSigner, binding: object, kind: str) -> VerifiedBinding:
    b = verify_binding(binding)
    if b.binding_type != kind or b.did != signer.did:
        raise BindingFailure(WRONG_BINDING, f"not a {kind} binding of this DID")
    return b


def _parse(value: object, what: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BindingFailure(MALFORMED, f"{what} is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise BindingFailure(MALFORMED, f"{what} is not a JSON object")
    return value


def parse_binding(value: object) -> dict[str, Any]:
    """A binding document from an object or JSON text (shape only)."""
    return _parse(value, "binding")


def parse_revocations(value: object) -> list[dict[str, Any]]:
    """Revocation documents from nothing (None, ``""``), one document, a list, or their
    JSON text (shape only)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BindingFailure(MALFORMED, f"revocations are not valid JSON: {exc.msg}") from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list | tuple):
        return [_parse(v, "revocation") for v in value]
    raise BindingFailure(MALFORMED, "revocations must be a revocation document or a list of them")


def _did(value: object) -> didkey.DidKey:
    try:
        did = didkey.parse(value)
    except InvalidInput as exc:
        raise BindingFailure(MALFORMED, f"did: {exc.message}") from None
    if did.key_type != "Ed25519":
        raise BindingFailure(MALFORMED, "did must be an Ed25519 did:key")
    return did


def _subject_key(kind: object, subject: object) -> str:
    if kind not in _URN:
        raise BindingFailure(MALFORMED, "binding_type must be cln or nostr")
    m = _URN[str(kind)].fullmatch(subject) if isinstance(subject, str) else None
    if m is None:
        raise BindingFailure(MALFORMED, f"subject of a {kind} binding is not a {kind} key URN")
    return m.group(1)


def _timestamp(value: object, name: str) -> int:
    if type(value) is not int or not 0 <= value < 2**53:
        raise BindingFailure(MALFORMED, f"{name} must be a unix timestamp")
    return value


def _check_sigs(
    kind: str, key: str, did: didkey.DidKey, stmt: Mapping[str, Any], doc: Mapping[str, Any]
) -> None:
    """Both halves: the subject key's signature, then the DID key's, over ``stmt``."""
    what = "revocation" if stmt["type"] == REVOCATION_TYPE else "statement"
    text = _text(stmt)
    sig = doc["subject_sig"]
    if not isinstance(sig, str):
        raise BindingFailure(MALFORMED, "subject_sig must be a string")
    if kind == CLN:
        try:
            ok = verify_message(text, sig, bytes.fromhex(key))
        except ZbaseError as exc:
            raise BindingFailure(MALFORMED, f"subject_sig: {exc}") from None
        if not ok:
            raise BindingFailure(BAD_PROOF, f"node signature does not verify for this {what}")
    else:
        try:
            raw = bytes.fromhex(sig)
        except ValueError:
            raise BindingFailure(MALFORMED, "subject_sig must be hex") from None
        if not bip340.verify(bytes.fromhex(key), canonical_hash(stmt), raw):
            raise BindingFailure(BAD_PROOF, f"Nostr signature does not verify for this {what}")
    try:
        did_sig = didkey.multibase_decode(doc["did_sig"])
    except InvalidInput:
        raise BindingFailure(MALFORMED, "did_sig must be multibase base58btc") from None
    if not ed25519_verify(did.public_key, did_sig, text.encode("utf-8")):
        raise BindingFailure(BAD_PROOF, f"DID signature does not verify for this {what}")


def _verify_document(value: object) -> VerifiedBinding:
    doc = parse_binding(value)
    if sorted(doc) != sorted(FIELDS):
        raise BindingFailure(MALFORMED, "binding must have exactly: " + ", ".join(FIELDS))
    if doc["type"] != DOC_TYPE:
        raise BindingFailure(MALFORMED, f"binding type must be {DOC_TYPE}")
    kind = doc["binding_type"]
    if kind not in _URN:
        raise BindingFailure(MALFORMED, "binding_type must be cln or nostr")
    created = _timestamp(doc["created_at"], "created_at")
    did = _did(doc["did"])
    subject = doc["subject"]
    key = _subject_key(kind, subject)
    _check_sigs(kind, key, did, statement(kind, did.did, subject, created), doc)
    return VerifiedBinding(binding_id(did.did, kind, subject), kind, did.did, subject, key, created)


def check_revocation(value: object) -> VerifiedRevocation:
    """Check a revocation document's shape and both signatures, without its binding."""
    doc = _parse(value, "revocation")
    if sorted(doc) != sorted(REVOCATION_FIELDS):
        raise BindingFailure(
            MALFORMED, "revocation must have exactly: " + ", ".join(REVOCATION_FIELDS)
        )
    if doc["type"] != REVOCATION_TYPE:
        raise BindingFailure(MALFORMED, f"revocation type must be {REVOCATION_TYPE}")
    kind = doc["binding_type"]
    key = _subject_key(kind, doc["subject"])
    did = _did(doc["did"])
    revoked_at = _timestamp(doc["revoked_at"], "revoked_at")
    reason = doc["reason"]
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise BindingFailure(MALFORMED, f"reason must be a string of at most {MAX_REASON} chars")
    bid = doc["binding_id"]
    if not isinstance(bid, str) or not _BINDING_ID.fullmatch(bid):
        raise BindingFailure(MALFORMED, "binding_id must be 32 lowercase hex")
    if bid != binding_id(did.did, kind, doc["subject"]):
        raise BindingFailure(MALFORMED, "binding_id is not the id of the did, type and subject")
    stmt = {k: doc[k] for k in REVOCATION_FIELDS if not k.endswith("_sig")}
    _check_sigs(kind, key, did, stmt, doc)
    return VerifiedRevocation(bid, kind, did.did, doc["subject"], key, revoked_at, reason)


def verify_revocation(value: object, binding: object) -> VerifiedRevocation:
    """Check that revocation ``value`` is signed by both keys of ``binding`` and revokes it.

    The binding is verified first; a revocation naming another binding (other id, or
    dated before the binding was made) is ``wrong_binding``.
    """
    b = _verify_document(binding)
    r = check_revocation(value)
    if r.binding_id != b.binding_id:
        raise BindingFailure(
            WRONG_BINDING,
            f"the revocation names binding {r.binding_id}, not {b.binding_id}",
        )
    if r.revoked_at < b.created_at:
        raise BindingFailure(
            WRONG_BINDING,
            f"the revocation (revoked_at {r.revoked_at}) predates this binding (created_at "
            f"{b.created_at}): it revokes only bindings of these keys made up to then",
        )
    return r


def verify_binding(value: object, revocations: object = ()) -> VerifiedBinding:
    """Check a binding document offline, and that none of ``revocations`` revokes it.

    ``revocations`` is one revocation document, a list of them or their JSON text: the
    ones the caller holds for this binding. Each must verify against the binding (a
    forged one, or one of another binding, is refused naming the problem); a valid one
    makes the binding ``revoked``. Raises :class:`BindingFailure`.
    """
    b = _verify_document(value)
    valid = [verify_revocation(doc, value) for doc in parse_revocations(revocations)]
    if valid:
        r = min(valid, key=lambda v: v.revoked_at)
        raise BindingFailure(
            REVOKED,
            f"binding {b.binding_id} was revoked at {r.revoked_at}"
            + (f": {r.reason}" if r.reason else ""),
        )
    return b
