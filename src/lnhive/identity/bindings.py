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

Anyone verifies a binding from the document alone (:func:`verify_binding`).
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
CLN = "cln"
NOSTR = "nostr"
FIELDS = ("type", "binding_type", "did", "subject", "created_at", "subject_sig", "did_sig")
_URN = {
    CLN: re.compile(r"urn:lnhive:node:(0[23][0-9a-f]{64})"),
    NOSTR: re.compile(r"urn:lnhive:nostr:([0-9a-f]{64})"),
}


class BindingFailure(Exception):
    """A binding that does not verify; ``kind`` is ``malformed`` or ``bad_proof``."""

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
    return SIGNING_PREFIX + sha256_hex(canonical_json(stmt))


def _did_sig(signer: DidSigner, stmt: Mapping[str, Any]) -> str:
    return didkey.multibase_encode(signer.sign(statement_text(stmt).encode("utf-8")))


def make_cln_binding(
    signer: DidSigner, node_id: str, signmessage: Callable[[str], str], created_at: int
) -> dict[str, Any]:
    """Bind ``signer``'s DID to node ``node_id``; ``signmessage(text) -> zbase`` is the node's."""
    stmt = statement(CLN, signer.did, f"urn:lnhive:node:{node_id}", created_at)
    doc = dict(stmt)
    doc["subject_sig"] = signmessage(statement_text(stmt))
    doc["did_sig"] = _did_sig(signer, stmt)
    return doc


def make_nostr_binding(signer: DidSigner, nostr_secret: bytes, created_at: int) -> dict[str, Any]:
    """Bind ``signer``'s DID to the Nostr key of ``nostr_secret``."""
    xonly = bip340.xonly_pubkey(nostr_secret).hex()
    stmt = statement(NOSTR, signer.did, f"urn:lnhive:nostr:{xonly}", created_at)
    doc = dict(stmt)
    doc["subject_sig"] = bip340.sign(nostr_secret, canonical_hash(stmt)).hex()
    doc["did_sig"] = _did_sig(signer, stmt)
    return doc


def parse_binding(value: object) -> dict[str, Any]:
    """A binding document from an object or JSON text (shape only)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BindingFailure("malformed", f"binding is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise BindingFailure("malformed", "binding is not a JSON object")
    return value


def verify_binding(value: object) -> VerifiedBinding:
    """Check a binding document offline; raises :class:`BindingFailure` naming the problem."""
    doc = parse_binding(value)
    if sorted(doc) != sorted(FIELDS):
        raise BindingFailure("malformed", "binding must have exactly: " + ", ".join(FIELDS))
    if doc["type"] != DOC_TYPE:
        raise BindingFailure("malformed", f"binding type must be {DOC_TYPE}")
    kind = doc["binding_type"]
    if kind not in _URN:
        raise BindingFailure("malformed", "binding_type must be cln or nostr")
    created = doc["created_at"]
    if type(created) is not int or not 0 <= created < 2**53:
        raise BindingFailure("malformed", "created_at must be a unix timestamp")
    try:
        did = didkey.parse(doc["did"])
    except InvalidInput as exc:
        raise BindingFailure("malformed", f"did: {exc.message}") from None
    if did.key_type != "Ed25519":
        raise BindingFailure("malformed", "did must be an Ed25519 did:key")
    subject = doc["subject"]
    m = _URN[kind].fullmatch(subject) if isinstance(subject, str) else None
    if m is None:
        raise BindingFailure("malformed", f"subject of a {kind} binding is not a {kind} key URN")
    key = m.group(1)
    stmt = statement(kind, did.did, subject, created)
    text = statement_text(stmt)
    sig = doc["subject_sig"]
    if not isinstance(sig, str):
        raise BindingFailure("malformed", "subject_sig must be a string")
    if kind == CLN:
        try:
            ok = verify_message(text, sig, bytes.fromhex(key))
        except ZbaseError as exc:
            raise BindingFailure("malformed", f"subject_sig: {exc}") from None
        if not ok:
            raise BindingFailure("bad_proof", "node signature does not verify for this statement")
    else:
        try:
            raw = bytes.fromhex(sig)
        except ValueError:
            raise BindingFailure("malformed", "subject_sig must be hex") from None
        if not bip340.verify(bytes.fromhex(key), canonical_hash(stmt), raw):
            raise BindingFailure("bad_proof", "Nostr signature does not verify for this statement")
    try:
        did_sig = didkey.multibase_decode(doc["did_sig"])
    except InvalidInput:
        raise BindingFailure("malformed", "did_sig must be multibase base58btc") from None
    if not ed25519_verify(did.public_key, did_sig, text.encode("utf-8")):
        raise BindingFailure("bad_proof", "DID signature does not verify for this statement")
    return VerifiedBinding(binding_id(did.did, kind, subject), kind, did.did, subject, key, created)
