"""Encrypted Nostr DMs carrying envelopes and replies (comms spec §5.6; ARCHITECTURE decision 7).

Two shapes, both NIP-44 v2, never NIP-04:

- **NIP-17/59** (the default): the text is the content of a kind 14 *rumor* (unsigned,
  authored by the sender), sealed in a kind 13 event signed by the sender and encrypted
  to the receiver, wrapped in a kind 1059 *gift wrap* signed by a one-off key and
  p-tagged to the receiver. Only the receiver learns who wrote it.
- **kind 4 + NIP-44 v2** (compatibility): a kind 4 event by the sender, p-tagged to the
  receiver, whose content is the NIP-44 v2 payload (optionally prefixed ``nip44:``,
  ``nip44:v2:`` or ``b64:``). NIP-04 content (``…?iv=…``) never decrypts: NIP-44 refuses
  its version byte.

:func:`unwrap_dm` checks, in order: the outer event's id and signature, a ``p`` tag
naming us, the kind; then for a gift wrap the seal's signature, that the rumor's author
is the seal's signer and that the rumor is kind 14 (p-tagged to us when it carries
``p`` tags); for kind 4 that the author is allowed *before* decrypting. Anything else
raises :class:`DmDropped` — a DM is dropped silently, never answered.

Sizes (ARCHITECTURE §8.9): NIP-44 caps a plaintext at 65,535 bytes and a gift wrap
encrypts twice, so :func:`wrap_dm` refuses texts over :data:`MAX_DM_TEXT` bytes; an
incoming plaintext may be up to :data:`MAX_INBOUND_PLAINTEXT` bytes.

``nostr_sdk`` is imported where first used (ARCHITECTURE §6: heavy libraries lazily).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lnhive.core.derive import secp256k1_secret_valid

KIND_LEGACY_DM = 4
KIND_SEAL = 13
KIND_PRIVATE_DM = 14
KIND_GIFT_WRAP = 1059
DM_KINDS: tuple[int, ...] = (KIND_GIFT_WRAP, KIND_LEGACY_DM)

MAX_INBOUND_PLAINTEXT = 65_536
"""Largest DM plaintext accepted (spec §1 stage 0); larger ones are dropped."""
MAX_DM_TEXT = 32_768
"""Largest text :func:`wrap_dm` sends (UTF-8 bytes of its JSON-escaped form), so a gift
wrap's double encryption stays under NIP-44's 65,535-byte plaintext limit."""
KIND4_PREFIXES: tuple[str, ...] = ("nip44:v2:", "nip44:", "b64:")

_HEX64 = re.compile(r"[0-9a-f]{64}")


class DmDropped(Exception):
    """An event that is not a DM for us that we accept (the reason is for logs only)."""


class DmTooLarge(ValueError):
    """A text too large for one DM."""


@dataclass(frozen=True)
class InboundDm:
    """A verified, decrypted DM."""

    event_id: str
    """The outer event's id (gift wrap or kind 4): what de-duplication keys on."""
    author: str
    """64-hex x-only key of the verified author (the seal's signer for a gift wrap)."""
    text: str
    kind: int
    """The outer kind, 1059 or 4: a reply goes back in the same shape."""
    created_at: int


def sdk() -> Any:
    """The ``nostr_sdk`` module (imported on first use)."""
    return importlib.import_module("nostr_sdk")


def keys_from_secret(secret: bytes) -> Any:
    """nostr_sdk ``Keys`` of a 32-byte secp256k1 secret."""
    if not secp256k1_secret_valid(secret):
        raise ValueError("not a valid secp256k1 secret")
    ns = sdk()
    return ns.Keys(ns.SecretKey.from_bytes(secret))


def public_key_hex(key: str) -> str:
    """64-hex x-only key from ``npub1…``, ``nostr:<hex>`` or 64 hex; ``ValueError`` else."""
    text = key.strip()
    if text.startswith("nostr:"):
        text = text[len("nostr:") :]
    if _HEX64.fullmatch(text.lower()):
        return text.lower()
    if text.startswith("npub1"):
        try:
            return str(sdk().PublicKey.parse(text).to_hex())
        except Exception as exc:
            raise ValueError(f"invalid npub: {exc}") from None
    raise ValueError("a Nostr public key is npub1… or 64 hex")


def npub(pubkey_hex: str) -> str:
    """The NIP-19 ``npub1…`` form of a 64-hex x-only key."""
    return str(sdk().PublicKey.parse(public_key_hex(pubkey_hex)).to_bech32())


def text_fits(text: str) -> bool:
    """Whether :func:`wrap_dm` can carry ``text`` in one DM."""
    return len(json.dumps(text, ensure_ascii=False).encode()) <= MAX_DM_TEXT


def wrap_dm(secret: bytes, receiver: str, text: str, *, kind: int = KIND_GIFT_WRAP) -> str:
    """The JSON of a signed event carrying ``text`` from ``secret``'s key to ``receiver``
    (64 hex or npub): a NIP-17 gift wrap (``kind`` 1059) or kind 4 + NIP-44 v2."""
    if not text_fits(text):
        raise DmTooLarge(f"a DM carries at most {MAX_DM_TEXT} bytes")
    ns = sdk()
    keys = keys_from_secret(secret)
    to = ns.PublicKey.parse(public_key_hex(receiver))
    if kind == KIND_GIFT_WRAP:
        event = ns.nip17_make_private_msg(keys, to, text)
    elif kind == KIND_LEGACY_DM:
        content = ns.nip44_encrypt(keys.secret_key(), to, text, ns.Nip44Version.V2)
        event = (
            ns.EventBuilder(ns.Kind(KIND_LEGACY_DM), content)
            .tags([ns.Tag.public_key(to)])
            .finalize(keys)
        )
    else:
        raise ValueError(f"DM kind must be {KIND_GIFT_WRAP} or {KIND_LEGACY_DM}")
    return str(event.as_json())


def _p_tags(tags: Any) -> list[str]:
    out = []
    for tag in tags:
        parts = tag.to_vec()
        if len(parts) >= 2 and parts[0] == "p":
            out.append(str(parts[1]))
    return out


def _check_size(text: str) -> str:
    if len(text.encode()) > MAX_INBOUND_PLAINTEXT:
        raise DmDropped(f"plaintext over {MAX_INBOUND_PLAINTEXT} bytes")
    return text


def unwrap_dm(
    secret: bytes,
    event: str | Any,
    *,
    kind4_author_allowed: Callable[[str], bool] | None = None,
) -> InboundDm:
    """Verify and decrypt a DM to ``secret``'s key (``event``: JSON text or a nostr_sdk
    ``Event``). Kind 4 is accepted only when ``kind4_author_allowed(author)`` is true (no
    callback: never). Raises :class:`DmDropped`."""
    ns = sdk()
    keys = keys_from_secret(secret)
    me = str(keys.public_key().to_hex())
    try:
        ev = ns.Event.from_json(event) if isinstance(event, str) else event
        valid = bool(ev.verify())
    except Exception as exc:
        raise DmDropped(f"not an event: {exc}") from None
    if not valid:
        raise DmDropped("bad event id or signature")
    if me not in _p_tags(ev.tags()):
        raise DmDropped("not p-tagged to us")
    kind = int(ev.kind().as_u16())
    event_id = str(ev.id().to_hex())
    created_at = int(ev.created_at().as_secs())
    if kind == KIND_GIFT_WRAP:
        try:
            gift = ns.UnwrappedGift.from_gift_wrap(keys, ev)
        except Exception as exc:  # bad seal signature, sender mismatch, wrong key
            raise DmDropped(f"cannot unwrap: {exc}") from None
        rumor = gift.rumor()
        author = str(rumor.author().to_hex())
        if author != str(gift.sender().to_hex()):
            raise DmDropped("rumor author is not the seal's signer")
        if int(rumor.kind().as_u16()) != KIND_PRIVATE_DM:
            raise DmDropped(f"rumor kind {rumor.kind().as_u16()} is not {KIND_PRIVATE_DM}")
        receivers = _p_tags(rumor.tags())
        if receivers and me not in receivers:
            raise DmDropped("rumor not addressed to us")
        text = _check_size(str(rumor.content()))
        return InboundDm(event_id, author, text, kind, created_at)
    if kind == KIND_LEGACY_DM:
        author = str(ev.author().to_hex())
        if kind4_author_allowed is None or not kind4_author_allowed(author):
            raise DmDropped("kind 4 from a key that is not an advisor")
        content = str(ev.content())
        for prefix in KIND4_PREFIXES:
            if content.startswith(prefix):
                content = content[len(prefix) :]
                break
        if len(content) > 2 * MAX_INBOUND_PLAINTEXT:
            raise DmDropped("kind 4 content too large")
        try:
            text = str(ns.nip44_decrypt(keys.secret_key(), ev.author(), content))
        except Exception as exc:  # NIP-04, another NIP-44 version, wrong key, bad MAC
            raise DmDropped(f"not NIP-44 v2 for us: {exc}") from None
        return InboundDm(event_id, author, _check_size(text), kind, created_at)
    raise DmDropped(f"kind {kind} is not a DM")
