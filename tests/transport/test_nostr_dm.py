"""NIP-17/59 gift wraps and kind 4 + NIP-44 v2 DMs: round trips with fixed keys and
every reason a DM is dropped (comms spec §5.6, acceptance test 26)."""

from __future__ import annotations

import json

import pytest

from lnhive.core import bip340
from lnhive.core.hashing import sha256
from lnhive.transport.nostr_dm import (
    KIND_GIFT_WRAP,
    KIND_LEGACY_DM,
    MAX_DM_TEXT,
    DmDropped,
    DmTooLarge,
    keys_from_secret,
    npub,
    public_key_hex,
    sdk,
    text_fits,
    unwrap_dm,
    wrap_dm,
)
from tests.transport.keys import ADVISOR_SECRET, NODE_NOSTR, NODE_NOSTR_SECRET, OTHER_ADVISOR_SECRET

ADVISOR_HEX = bip340.xonly_pubkey(ADVISOR_SECRET).hex()
OTHER_HEX = bip340.xonly_pubkey(OTHER_ADVISOR_SECRET).hex()
THIRD_SECRET = sha256(b"lnhive test third party")
TEXT = json.dumps({"v": 1, "schema_type": "hive:monitor/v1", "note": "héllo ⚡"})


def test_gift_wrap_round_trip_hides_the_sender_and_names_the_author() -> None:
    event_json = wrap_dm(ADVISOR_SECRET, NODE_NOSTR, TEXT)
    event = json.loads(event_json)
    assert event["kind"] == KIND_GIFT_WRAP
    assert event["pubkey"] not in (ADVISOR_HEX, NODE_NOSTR)  # a one-off key signs the wrap
    assert event["tags"] == [["p", NODE_NOSTR]]
    assert TEXT not in event_json and "hive:monitor" not in event_json
    dm = unwrap_dm(NODE_NOSTR_SECRET, event_json)
    assert (dm.author, dm.text, dm.kind, dm.event_id) == (
        ADVISOR_HEX,
        TEXT,
        KIND_GIFT_WRAP,
        event["id"],
    )
    # Each wrap is a new event (fresh one-off key and randomised time).
    assert json.loads(wrap_dm(ADVISOR_SECRET, NODE_NOSTR, TEXT))["id"] != event["id"]


def test_kind4_nip44_round_trip_needs_an_allowed_author() -> None:
    event_json = wrap_dm(ADVISOR_SECRET, npub(NODE_NOSTR), TEXT, kind=KIND_LEGACY_DM)
    event = json.loads(event_json)
    assert event["kind"] == 4 and event["pubkey"] == ADVISOR_HEX
    assert event["content"].startswith("A")  # base64 of NIP-44 version byte 2
    dm = unwrap_dm(NODE_NOSTR_SECRET, event_json, kind4_author_allowed={ADVISOR_HEX}.__contains__)
    assert (dm.author, dm.text, dm.kind) == (ADVISOR_HEX, TEXT, KIND_LEGACY_DM)
    with pytest.raises(DmDropped, match="not an advisor"):
        unwrap_dm(NODE_NOSTR_SECRET, event_json)
    with pytest.raises(DmDropped, match="not an advisor"):
        unwrap_dm(NODE_NOSTR_SECRET, event_json, kind4_author_allowed={OTHER_HEX}.__contains__)


def _kind4(secret: bytes, content: str, to: str = NODE_NOSTR) -> str:
    ns = sdk()
    keys = keys_from_secret(secret)
    ev = (
        ns.EventBuilder(ns.Kind(4), content)
        .tags([ns.Tag.public_key(ns.PublicKey.parse(to))])
        .finalize(keys)
    )
    return str(ev.as_json())


def test_kind4_prefixes_are_accepted_and_nip04_never_decrypts() -> None:
    ns = sdk()
    adv = keys_from_secret(ADVISOR_SECRET)
    node = ns.PublicKey.parse(NODE_NOSTR)
    payload = ns.nip44_encrypt(adv.secret_key(), node, TEXT, ns.Nip44Version.V2)
    allowed = {ADVISOR_HEX}.__contains__
    for prefix in ("nip44:", "nip44:v2:", "b64:"):
        dm = unwrap_dm(
            NODE_NOSTR_SECRET,
            _kind4(ADVISOR_SECRET, prefix + payload),
            kind4_author_allowed=allowed,
        )
        assert dm.text == TEXT
    nip04 = adv.nip04_encrypt(node, TEXT)
    with pytest.raises(DmDropped, match="NIP-44 v2"):
        unwrap_dm(NODE_NOSTR_SECRET, _kind4(ADVISOR_SECRET, nip04), kind4_author_allowed=allowed)
    with pytest.raises(DmDropped, match="NIP-44 v2"):  # plaintext is never accepted
        unwrap_dm(NODE_NOSTR_SECRET, _kind4(ADVISOR_SECRET, TEXT), kind4_author_allowed=allowed)


def test_a_tampered_event_is_dropped() -> None:
    event = json.loads(wrap_dm(ADVISOR_SECRET, NODE_NOSTR, TEXT))
    bad_sig = dict(event, sig="00" * 64)
    with pytest.raises(DmDropped, match="signature"):
        unwrap_dm(NODE_NOSTR_SECRET, json.dumps(bad_sig))
    edited = dict(event, content=event["content"][:-4] + "AAAA")  # id no longer matches
    with pytest.raises(DmDropped, match="signature"):
        unwrap_dm(NODE_NOSTR_SECRET, json.dumps(edited))
    with pytest.raises(DmDropped, match="not an event"):
        unwrap_dm(NODE_NOSTR_SECRET, "{not json")


def test_a_dm_for_someone_else_is_dropped() -> None:
    other = bip340.xonly_pubkey(THIRD_SECRET).hex()
    with pytest.raises(DmDropped, match="p-tagged"):
        unwrap_dm(NODE_NOSTR_SECRET, wrap_dm(ADVISOR_SECRET, other, TEXT))
    # Re-tagged to us by a relayer: it must be re-signed, and it still does not decrypt.
    ns = sdk()
    original = ns.Event.from_json(wrap_dm(ADVISOR_SECRET, other, TEXT))
    retagged = (
        ns.EventBuilder(ns.Kind(KIND_GIFT_WRAP), original.content())
        .tags([ns.Tag.public_key(ns.PublicKey.parse(NODE_NOSTR))])
        .finalize(keys_from_secret(THIRD_SECRET))
    )
    with pytest.raises(DmDropped, match="cannot unwrap"):
        unwrap_dm(NODE_NOSTR_SECRET, str(retagged.as_json()))


def test_a_rumor_by_someone_other_than_the_seal_signer_is_dropped() -> None:
    ns = sdk()
    node = ns.PublicKey.parse(NODE_NOSTR)
    rumor = (
        ns.EventBuilder(ns.Kind(14), TEXT)
        .tags([ns.Tag.public_key(node)])
        .finalize_unsigned(ns.PublicKey.parse(OTHER_HEX))  # claims to be the other advisor
    )
    wrap = ns.nip59_make_gift_wrap(keys_from_secret(ADVISOR_SECRET), node, rumor)
    with pytest.raises(DmDropped, match=r"mismatch|seal"):
        unwrap_dm(NODE_NOSTR_SECRET, str(wrap.as_json()))


def test_a_rumor_of_another_kind_is_dropped() -> None:
    ns = sdk()
    node = ns.PublicKey.parse(NODE_NOSTR)
    rumor = (
        ns.EventBuilder(ns.Kind(1), TEXT)
        .tags([ns.Tag.public_key(node)])
        .finalize_unsigned(ns.PublicKey.parse(ADVISOR_HEX))
    )
    wrap = ns.nip59_make_gift_wrap(keys_from_secret(ADVISOR_SECRET), node, rumor)
    with pytest.raises(DmDropped, match="rumor kind 1"):
        unwrap_dm(NODE_NOSTR_SECRET, str(wrap.as_json()))


def test_other_kinds_are_not_dms() -> None:
    ns = sdk()
    note = (
        ns.EventBuilder(ns.Kind(1), TEXT)
        .tags([ns.Tag.public_key(ns.PublicKey.parse(NODE_NOSTR))])
        .finalize(keys_from_secret(ADVISOR_SECRET))
    )
    with pytest.raises(DmDropped, match="kind 1 is not a DM"):
        unwrap_dm(NODE_NOSTR_SECRET, str(note.as_json()))


def test_sizes() -> None:
    # Measured on the JSON-escaped text (two quotes included), as the rumor carries it.
    assert text_fits("x" * (MAX_DM_TEXT - 2)) and not text_fits("x" * (MAX_DM_TEXT - 1))
    assert not text_fits('"' * (MAX_DM_TEXT // 2))  # escaping counts
    for big in (
        "x" * (MAX_DM_TEXT - 2),
        '"' * (MAX_DM_TEXT // 2 - 1),
        "é" * (MAX_DM_TEXT // 2 - 1),
    ):
        assert text_fits(big)  # the largest texts still survive a double encryption
        assert unwrap_dm(NODE_NOSTR_SECRET, wrap_dm(ADVISOR_SECRET, NODE_NOSTR, big)).text == big
    with pytest.raises(DmTooLarge):
        wrap_dm(ADVISOR_SECRET, NODE_NOSTR, "x" * MAX_DM_TEXT)
    with pytest.raises(ValueError, match="kind"):
        wrap_dm(ADVISOR_SECRET, NODE_NOSTR, TEXT, kind=1)


def test_key_forms() -> None:
    n = npub(NODE_NOSTR)
    assert n.startswith("npub1") and public_key_hex(n) == NODE_NOSTR
    assert public_key_hex("nostr:" + NODE_NOSTR.upper()) == NODE_NOSTR
    assert str(keys_from_secret(NODE_NOSTR_SECRET).public_key().to_hex()) == NODE_NOSTR
    for bad in ("", "npub1xyz", "ab" * 31, "zz" * 32):
        with pytest.raises(ValueError):
            public_key_hex(bad)
    with pytest.raises(ValueError):
        keys_from_secret(bytes(32))
