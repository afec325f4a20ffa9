"""The stand-in's rune book against Core Lightning's behaviour (lightningd/runes.c, ccan/rune).

Vectors are the ``examples`` of CLN's own schemas (createrune, checkrune, showrunes,
blacklistrune), read from ``../shared/cln-schemas``; error texts are lightningd's.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
import runes as runelib

from lnhive.sim.errors import RpcError
from lnhive.sim.runes import READONLY_RESTRICTIONS, RuneBook
from tests.schemas import load_schema, requires_schemas, schemas_available, validate_response

# The rune secret of node l2 in the test run that produced CLN's schema examples: pyln-testing
# writes the hsm_secret of ``lightning-2`` deterministically (see test_example_secret), and
# makesecret("commando") is HKDF-SHA256 over the HSM's derived secret.
EXAMPLE_SECRET = bytes.fromhex("a3db7b6e84d8f0fa902bcac694a394ab49be4814673cef02afb77f10e0d737e2")
MASTER_RUNE = "7cKJyALVY0_LLVV-AB9oetXjipOdyt0EhOuYrSS42fM9MA=="  # id 0, createrune.json #1
READONLY_RUNE = (  # MASTER_RUNE + readonly, createrune.json #2 and the interface spec
    "0VIVf0M4jMlGNIwNM3sTpBextINe4_VBGZnBMM82kR49MCZtZXRob2RebGlzdHxtZXRob2ReZ2V0fG1ldGhvZD1zdW1t"
    "YXJ5Jm1ldGhvZC9saXN0ZGF0YXN0b3Jl"
)
EXAMPLE_TIME = 1738000000.0  # the fixed clock of CLN's example generation (showrunes.json)
L1_ID = "038194b5f32bdf0aa59812c86c4ef7ad2f294104fa027d1ace9b469bb6f88cf37b"
L2_ID = "033845802d25b4e074ccfd7cd8b339a41dc75bf9978a034800444b51d42b07799a"


class Clock:
    def __init__(self, now: float = EXAMPLE_TIME) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def checked(method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Validate a response against CLN's schema where the schemas are present."""
    if schemas_available():
        validate_response(method, result)
    return result


def book(clock: Clock | None = None) -> RuneBook:
    return RuneBook(EXAMPLE_SECRET, clock=clock or Clock())


def create(b: RuneBook, restrictions: Any = None, rune: str | None = None) -> dict[str, Any]:
    return checked("createrune", b.createrune(rune=rune, restrictions=restrictions))


def refused(code: int, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(RpcError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value.message
    return info.value.message


def not_permitted(b: RuneBook, rune: str, **kwargs: Any) -> str:
    return refused(1502, b.checkrune, rune, **kwargs)


# -- the spec's vector ------------------------------------------------------------------------


def test_example_secret() -> None:
    """EXAMPLE_SECRET is what CLN's test harness gives node l2 (pyln-testing + hsmd's HKDFs)."""
    mnemonic = pytest.importorskip("mnemonic")

    def hkdf(ikm: bytes, info: bytes) -> bytes:
        prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
        return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()

    entropy = (b"lightning-2" + bytes(32))[:16]
    phrase = mnemonic.Mnemonic("english").to_mnemonic(entropy)
    bip32_seed = hashlib.pbkdf2_hmac("sha512", phrase.encode(), b"mnemonic", 2048)
    derived = hkdf(bip32_seed, b"derived secrets")
    assert hkdf(derived, b"commando") == EXAMPLE_SECRET


def test_master_rune_and_readonly_vector() -> None:
    b = book()
    first = create(b)
    assert first["rune"] == MASTER_RUNE
    assert first["unique_id"] == "0"
    assert "warning_unrestricted_rune" in first
    restricted = create(b, "readonly", rune=MASTER_RUNE)
    assert restricted == {"rune": READONLY_RUNE, "unique_id": "0"}
    assert create(b, READONLY_RESTRICTIONS, rune=MASTER_RUNE)["rune"] == READONLY_RUNE


def test_readonly_step_with_the_runes_library_alone() -> None:
    """Independent of the secret: restricting the master rune itself gives the spec's string."""
    rune = runelib.Rune.from_base64(MASTER_RUNE)
    for restr in READONLY_RESTRICTIONS:
        rune.add_restriction(runelib.Restriction([runelib.Alternative.from_str(a) for a in restr]))
    assert rune.to_base64() == READONLY_RUNE
    assert book().createrune(rune=MASTER_RUNE, restrictions="readonly")["rune"] == READONLY_RUNE


# -- the schemas' examples, replayed ----------------------------------------------------------


def call(b: RuneBook, method: str, params: Any) -> dict[str, Any]:
    fn = getattr(b, method)
    result = fn(*params) if isinstance(params, list) else fn(**params)
    assert isinstance(result, dict)
    return checked(method, result)


@requires_schemas
def test_schema_examples_replayed() -> None:
    """createrune #1-#9, checkrune #1-#2, showrunes #1-#2 and blacklistrune #1-#4, in order."""
    clock = Clock()
    b = book(clock)
    for example in load_schema("createrune")["examples"]:
        req = example["request"]
        assert call(b, "createrune", req["params"]) == example["response"], req["id"]
    for example in load_schema("checkrune")["examples"]:
        req = example["request"]
        assert call(b, "checkrune", req["params"]) == example["response"], req["id"]
    # The examples' run also used rune 1 (by its peer) before listing.
    b.checkrune(rune=b.showrunes()["runes"][1]["rune"], nodeid=L1_ID, method="listpeers")
    for example in load_schema("showrunes")["examples"]:
        req = example["request"]
        assert call(b, "showrunes", req["params"]) == example["response"], req["id"]
    for example in load_schema("blacklistrune")["examples"]:
        req = example["request"]
        assert call(b, "blacklistrune", req["params"]) == example["response"], req["id"]


# -- ids and storage --------------------------------------------------------------------------


def test_sequential_ids_and_restricting_keeps_the_id() -> None:
    b = book()
    ids = [create(b, [["method=getinfo"]])["unique_id"] for _ in range(3)]
    assert ids == ["0", "1", "2"]
    first = b.showrunes()["runes"][0]["rune"]
    narrowed = create(b, [["pnum=0"]], rune=first)
    assert narrowed["unique_id"] == "0"
    assert "warning_unrestricted_rune" not in narrowed
    assert create(b)["unique_id"] == "3"  # restricting did not use up an id
    listed = checked("showrunes", b.showrunes())["runes"]
    assert [r["unique_id"] for r in listed] == ["0", "1", "2", "3"]
    assert narrowed["rune"] not in [r["rune"] for r in listed]  # only fresh runes are stored
    shown = checked("showrunes", b.showrunes(narrowed["rune"]))["runes"][0]
    assert shown["stored"] is False
    assert shown["restrictions_as_english"] == "method equal to getinfo AND pnum equal to 0"


def test_restricting_after_long_restrictions_stays_valid() -> None:
    """runes 0.6 mis-counts padding for restrictions of 56-64 bytes; appending must not break."""
    b = book()
    for length in range(50, 70):
        base = create(b, [["pnamex=" + "a" * (length - 7)]])["rune"]
        narrowed = create(b, [["method=getinfo"]], rune=base)["rune"]
        params = {"x": "a" * (length - 7)}
        assert b.checkrune(narrowed, method="getinfo", params=params) == {"valid": True}
        not_permitted(b, narrowed, method="stop", params=params)


def test_restriction_forms_accepted_by_createrune() -> None:
    b = book()
    bad = "restrictions: not a valid restriction (should be array): invalid token (see logs for details)"
    forms: tuple[Any, ...] = (
        "method=getinfo",  # a bare string: only "readonly" is accepted
        ["method=getinfo"],  # lightningd no longer accepts singleton alternatives
        [["method"]],  # no operator
        [["=0"]],  # empty field names are reserved for the unique id
        [["method@x"]],  # not an operator
        [[5]],
        [[]],
        {"method": "getinfo"},
    )
    for restrictions in forms:
        assert refused(-32602, b.createrune, restrictions=restrictions) == bad
    # Field names stop at the first punctuation other than "_"; the value is taken verbatim.
    rune = create(b, [["pnameamount_msat<5", "method=a|b&c\\d"]])["rune"]
    alts = checked("showrunes", b.showrunes(rune))["runes"][0]["restrictions"][0]["alternatives"]
    assert [(a["fieldname"], a["condition"], a["value"]) for a in alts] == [
        ("pnameamount_msat", "<", "5"),
        ("method", "=", "a|b&c\\d"),
    ]
    assert b.checkrune(rune, method="a|b&c\\d") == {"valid": True}


def test_unrestricted_warning_only_without_restrictions() -> None:
    b = book()
    assert "warning_unrestricted_rune" in create(b, [])
    assert "warning_unrestricted_rune" not in create(b, [["method=getinfo"]])
    assert "warning_unrestricted_rune" in create(b, None, rune=MASTER_RUNE)


# -- checkrune: refusals ----------------------------------------------------------------------


def test_not_ours_is_1501() -> None:
    b = book()
    create(b)
    other = RuneBook(bytes(32)).createrune()["rune"]
    assert refused(1501, b.checkrune, other) == "Not authorized: Not derived from master"
    versioned = runelib.MasterRune(EXAMPLE_SECRET, unique_id=0, version=1).to_base64()
    assert refused(1501, b.checkrune, versioned) == "Not authorized: Version mismatch"
    # Dropping a restriction (keeping the authcode) is detected.
    forged = runelib.Rune.from_base64(READONLY_RUNE)
    forged.restrictions.pop()
    assert refused(1501, b.checkrune, forged.to_base64()) == (
        "Not authorized: Not derived from master"
    )
    shown = checked("showrunes", b.showrunes(other))["runes"][0]
    assert shown["our_rune"] is False
    assert shown["stored"] is False


def test_undecodable_runes_are_invalid_params() -> None:
    b = book()
    bad = "rune: should be base64 string: invalid token (see logs for details)"
    for text in ("", "not a rune!", "AAAA", MASTER_RUNE[:-4] + "+/==", READONLY_RUNE[:-3]):
        assert refused(-32602, b.checkrune, text) == bad
        assert refused(-32602, b.showrunes, text) == bad
    no_id = runelib.MasterRune(EXAMPLE_SECRET, restrictions=[]).to_base64()
    no_id_msg = "rune: should have valid numeric unique_id: invalid token (see logs for details)"
    assert refused(-32602, b.checkrune, no_id) == no_id_msg
    assert refused(-32602, b.createrune, no_id, [["method=x"]]) == no_id_msg
    assert refused(-32602, b.createrune, "garbage!", "bad") == bad  # "rune" is checked first
    # Padding is optional, as in ccan's base64 decoder.
    create(b)
    assert b.checkrune(MASTER_RUNE.rstrip("=")) == {"valid": True}
    assert refused(-32602, b.checkrune, MASTER_RUNE, nodeid="02" + "00" * 32) == (
        "nodeid: should be a node id: invalid token (see logs for details)"
    )
    assert refused(-32602, b.checkrune, MASTER_RUNE, params="x") == (
        "params: must be object or array: invalid token (see logs for details)"
    )


def test_blacklisted_is_1503_before_anything_else() -> None:
    b = book()
    rune = create(b, [["method=getinfo"]])["rune"]
    derived = create(b, [["pnum=0"]], rune=rune)["rune"]
    checked("blacklistrune", b.blacklistrune(start=0))
    for r in (rune, derived):
        assert refused(1503, b.checkrune, r, method="stop") == "Not authorized: Blacklisted rune"
    # lightningd checks the blacklist before the authcode: a foreign rune with id 0 too.
    other = RuneBook(bytes(32)).createrune()["rune"]
    assert refused(1503, b.checkrune, other) == "Not authorized: Blacklisted rune"
    assert checked("showrunes", b.showrunes())["runes"][0]["blacklisted"] is True
    checked("blacklistrune", b.blacklistrune(start=0, relist=True))
    assert b.checkrune(rune, method="getinfo") == {"valid": True}
    assert "blacklisted" not in b.showrunes()["runes"][0]


# -- checkrune: every operator ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("alt", "method", "why"),
    [
        ("method=listpeers", "listpeers", None),
        ("method=listpeers", "getinfo", "method is not equal to listpeers"),
        ("method/listdatastore", "listpeers", None),
        ("method/listdatastore", "listdatastore", "method is equal to listdatastore"),
        ("method^list", "listpeers", None),
        ("method^list", "getinfo", "method does not start with list"),
        ("method$peers", "listpeers", None),
        ("method$peers", "listfunds", "method does not end with peers"),
        ("method~peer", "listpeerchannels", None),
        ("method~peer", "getinfo", "method does not contain peer"),
        ("method{m", "listpeers", None),
        ("method{list", "lis", None),  # a shorter prefix sorts before
        ("method{list", "list", "method is equal to or ordered after list"),
        ("method{m", "pay", "method is equal to or ordered after m"),
        ("method}m", "pay", None),
        ("method}list", "listx", None),  # a longer string sorts after
        ("method}m", "m", "method is equal to or ordered before m"),
        ("method}m", "getinfo", "method is equal to or ordered before m"),
        ("method#anything at all", "getinfo", None),
        ("method!", "getinfo", "method is present"),
        ("method<5", "getinfo", "method is not an integer field"),
        ("method>5", "getinfo", "method is not an integer field"),
    ],
)
def test_string_operators(alt: str, method: str, why: str | None) -> None:
    b = book()
    rune = create(b, [[alt]])["rune"]
    if why is None:
        assert checked("checkrune", b.checkrune(rune, method=method)) == {"valid": True}
    else:
        assert not_permitted(b, rune, method=method) == f"Not permitted: {why}"


@pytest.mark.parametrize(
    ("alt", "value", "why"),
    [
        ("pnamen<10", 9, None),
        ("pnamen<10", 10, "parameter n is greater or equal to 10"),
        ("pnamen<10", -20, None),
        ("pnamen>10", 11, None),
        ("pnamen>10", 10, "parameter n is less or equal to 10"),
        ("pnamen<10", "9", "parameter n is not an integer field"),  # a JSON string
        ("pnamen<10", 9.5, "parameter n is not an integer field"),
        ("pnamen<10", True, "parameter n is not an integer field"),
        ("pnamen<ten", 9, "ten is not a valid integer"),
        ("pnamen=10", 10, None),  # integers compare as their decimal text too
        ("pnamen=10", "10", None),
        ("pnamen=true", True, None),
        ("pnamen=null", None, None),
        ('pnamen={"a": 1}', {"a": 1}, None),
        ('pnamen=a\\"b', 'a"b', None),  # strings compare by their JSON text
        ("pnamen=é", "é", "parameter n is not equal to é"),  # pyln sends \\u00e9
        ("pnamen#", 1, None),
        ("pnamen!", 1, "parameter n is present"),
        ("pnamem!", 1, None),
        ("pnamem=1", 1, "parameter m not present"),
        ("pnamem#", 1, None),
    ],
)
def test_parameter_values(alt: str, value: Any, why: str | None) -> None:
    b = book()
    rune = create(b, [[alt]])["rune"]
    params = {"n": value}
    if why is None:
        assert b.checkrune(rune, method="x", params=params) == {"valid": True}
    else:
        assert not_permitted(b, rune, method="x", params=params) == f"Not permitted: {why}"


def test_alternatives_or_restrictions_and() -> None:
    b = book()
    rune = create(b, [["method=a", "method=b"], ["pnum<2"]])["rune"]
    assert b.checkrune(rune, method="b", params=[1]) == {"valid": True}
    assert not_permitted(b, rune, method="c") == (
        "Not permitted: method is not equal to a AND method is not equal to b"
    )
    assert not_permitted(b, rune, method="a", params=[1, 2]) == (
        "Not permitted: number of parameters is greater or equal to 2"
    )
    # The hive docs' trap: two restrictions are an AND and can never both pass.
    trap = create(b, [["method^hive-"], ["method^getinfo"]])["rune"]
    assert not_permitted(b, trap, method="getinfo") == (
        "Not permitted: method does not start with hive-"
    )


def test_fields_id_method_time_pnum() -> None:
    clock = Clock(1_700_000_000.5)
    b = book(clock)
    by_peer = create(b, [[f"id={L1_ID}"]])["rune"]
    assert b.checkrune(by_peer, nodeid=L1_ID.upper()) == {"valid": True}
    assert not_permitted(b, by_peer, nodeid=L2_ID) == f"Not permitted: id is not equal to {L1_ID}"
    assert not_permitted(b, by_peer) == "Not permitted: id not present"  # as clnrest calls it
    assert (
        not_permitted(b, create(b, [["method=x"]])["rune"]) == "Not permitted: method not present"
    )
    expiring = create(b, [["time<1700000001"]])["rune"]
    assert b.checkrune(expiring) == {"valid": True}
    clock.now = 1_700_000_001.0
    assert not_permitted(b, expiring) == "Not permitted: time is greater or equal to 1700000001"
    one = create(b, [["pnum=1"]])["rune"]
    assert b.checkrune(one, params={"a": 1}) == {"valid": True}
    assert b.checkrune(one, params=[None]) == {"valid": True}
    assert not_permitted(b, one) == "Not permitted: number of parameters is not equal to 1"
    assert (
        not_permitted(b, one, params={}) == "Not permitted: number of parameters is not equal to 1"
    )


def test_pname_parr_and_punctuation_stripped_names() -> None:
    b = book()
    stripped = create(b, [["pnameamountmsat<10000"]])["rune"]
    exact = create(b, [["pnameamount_msat<10000"]])["rune"]
    for rune in (stripped, exact):
        assert b.checkrune(rune, params={"amount_msat": 9999}) == {"valid": True}
        assert not_permitted(b, rune, params={"amount_msat": 10000}).endswith(
            "is greater or equal to 10000"
        )
    assert not_permitted(b, exact, params={"amount_msat": 10000}) == (
        "Not permitted: parameter amount_msat is greater or equal to 10000"
    )
    assert not_permitted(b, exact, params=[9999]) == (
        "Not permitted: parameter amount_msat not present"
    )
    second = create(b, [["parr1=17"]])["rune"]
    assert b.checkrune(second, params=["x", 17]) == {"valid": True}
    assert (
        not_permitted(b, second, params=["x", 18])
        == "Not permitted: parameter #1 is not equal to 17"
    )
    assert not_permitted(b, second, params=["x"]) == "Not permitted: parameter #1 not present"
    assert not_permitted(b, second, params={"1": 17}) == "Not permitted: parameter #1 not present"
    # When two names strip to the same text, the first member wins (strmap_add keeps it).
    clash = create(b, [["pnameab=1"]])["rune"]
    assert b.checkrune(clash, params={"a_b": 1, "ab": 2}) == {"valid": True}
    assert not_permitted(b, clash, params={"ab": 2, "a_b": 1}) == (
        "Not permitted: parameter ab is not equal to 1"
    )


# -- rate and per -----------------------------------------------------------------------------


def test_rate_is_a_minimum_interval_shared_by_the_unique_id() -> None:
    clock = Clock(1_000.0)
    b = book(clock)
    parent = create(b)["rune"]
    limited = create(b, [["rate=2"]], rune=parent)["rune"]  # one use per 30 s
    assert b.checkrune(limited) == {"valid": True}
    clock.now += 29.9
    assert not_permitted(b, limited) == "Not permitted: too soon"
    clock.now += 0.1
    assert b.checkrune(limited) == {"valid": True}
    assert b.showrunes()["runes"][0]["last_used"] == pytest.approx(1_030.0)
    # Any successful use of the same id (the unrestricted parent) counts.
    clock.now += 31
    assert b.checkrune(parent) == {"valid": True}
    clock.now += 1
    assert not_permitted(b, limited) == "Not permitted: too soon"
    # A refused check does not count as a use.
    assert b.showrunes()["runes"][0]["last_used"] == pytest.approx(1_061.0)


@pytest.mark.parametrize(
    ("per", "seconds"),
    [
        ("per=5", 5),
        ("per=5sec", 5),
        ("per=2min", 120),
        ("per=1hour", 3600),
        ("per=1day", 86400),
        ("per=250msec", 0.25),
        ("per=250000usec", 0.25),
        ("per=250000000nsec", 0.25),
    ],
)
def test_per_units(per: str, seconds: float) -> None:
    clock = Clock(1_700_000_000.0)
    b = book(clock)
    rune = create(b, [[per]])["rune"]
    assert b.checkrune(rune) == {"valid": True}
    clock.now += seconds * 0.99
    assert not_permitted(b, rune) == "Not permitted: too soon"
    clock.now += seconds * 0.02
    assert b.checkrune(rune) == {"valid": True}


@pytest.mark.parametrize(
    ("alt", "why"),
    [
        ("per=1fortnight", "malformed suffix"),
        ("per=0", "malformed per"),
        ("per=sec", "malformed per"),
        ("per>1", "per operator must be ="),
        ("rate=0", "malformed rate"),
        ("rate=2x", "malformed rate"),
        ("rate<2", "rate operator must be ="),
    ],
)
def test_malformed_rate_and_per(alt: str, why: str) -> None:
    b = book()
    assert not_permitted(b, create(b, [[alt]])["rune"]) == f"Not permitted: {why}"


# -- pinv ---------------------------------------------------------------------------------------


def make_invoice(amount_msat: int | None, description: str | None) -> tuple[str, str]:
    bolt11 = pytest.importorskip("bolt11")
    from coincurve import PrivateKey

    key = PrivateKey(bytes([7]) * 32)
    tags = bolt11.Tags()
    tags.add(bolt11.TagChar.payment_hash, "11" * 32)
    tags.add(bolt11.TagChar.payment_secret, "22" * 32)
    if description is None:
        tags.add(bolt11.TagChar.description_hash, "33" * 32)
    else:
        tags.add(bolt11.TagChar.description, description)
    amount = None if amount_msat is None else bolt11.MilliSatoshi(amount_msat)
    inv = bolt11.Bolt11(currency="bcrt", date=1_700_000_000, tags=tags, amount_msat=amount)
    return bolt11.encode(inv, private_key=key.secret.hex()), key.public_key.format().hex()


def test_invoice_fields() -> None:
    b = book()
    invoice, payee = make_invoice(1500, "coffee")
    bare, _ = make_invoice(None, None)
    amount = create(b, [["pinvbolt11_amount<2000"]])["rune"]
    assert b.checkrune(amount, params={"bolt11": invoice}) == {"valid": True}
    assert b.checkrune(amount, params={"bolt11": "lightning:" + invoice}) == {"valid": True}
    cheap = create(b, [["pinvbolt11_amount<1500"]])["rune"]
    assert not_permitted(b, cheap, params={"bolt11": invoice}) == (
        "Not permitted: invoice parameter bolt11_amount is greater or equal to 1500"
    )
    assert not_permitted(b, cheap, params={"bolt11": bare}) == (
        "Not permitted: invoice parameter bolt11_amount not present"
    )
    desc = create(b, [["pinvbolt11_description=coffee"]])["rune"]
    assert b.checkrune(desc, params={"bolt11": invoice}) == {"valid": True}
    assert not_permitted(b, desc, params={"bolt11": bare}) == (
        "Not permitted: invoice parameter bolt11_description not present"
    )
    node = create(b, [[f"pinvbolt11_node={L1_ID}"]])["rune"]
    assert not_permitted(b, node, params={"bolt11": invoice}) == (
        f"Not permitted: invoice parameter bolt11_node is not equal to {L1_ID}"
    )
    mine = create(b, [[f"pinvbolt11_node={payee}"]])["rune"]
    assert b.checkrune(mine, params={"bolt11": invoice}) == {"valid": True}
    assert not_permitted(b, amount, params={"bolt11": "lnbcrt1xyz"}).startswith(
        "Not permitted: Invalid invoice: "
    )
    assert not_permitted(b, amount, params={"invstring": invoice}) == (
        "Not permitted: Unknown invoice parameter bolt11"
    )
    assert not_permitted(b, amount, params=[invoice]) == (
        "Not permitted: Unknown invoice parameter bolt11"
    )
    unknown = create(b, [["pinvbolt11_payee=x"]])["rune"]
    assert not_permitted(b, unknown, params={"bolt11": invoice}) == (
        "Not permitted: Unknown invoice field bolt11_payee"
    )


# -- blacklistrune -------------------------------------------------------------------------------


def test_blacklist_ranges() -> None:
    b = book()

    def bl(**kwargs: Any) -> list[tuple[int, int]]:
        result = checked("blacklistrune", b.blacklistrune(**kwargs))
        return [(r["start"], r["end"]) for r in result["blacklist"]]

    assert bl() == []
    assert bl(start=5) == [(5, 5)]
    assert bl(start=7, end=9) == [(5, 5), (7, 9)]
    assert bl(start=6) == [(5, 9)]  # adjacent ranges merge
    assert bl(start=20, end=30) == [(5, 9), (20, 30)]
    assert bl(start=8, end=22, relist=True) == [(5, 7), (23, 30)]
    assert bl(start=0, end=99, relist=True) == []
    assert bl(start=3, end=1) == []  # an empty range changes nothing
    assert bl(start=99_999_999) == [(99_999_999, 99_999_999)]
    assert bl(relist=True) == [(99_999_999, 99_999_999)]
    assert refused(-32602, b.blacklistrune, end=3) == "Can not specify end without start"
    assert (
        refused(-32602, b.blacklistrune, start=100_000_000) == "Cannot blacklist beyond 100000000"
    )
    assert refused(-32602, b.blacklistrune, start=1, end=100_000_000) == (
        "Cannot blacklist beyond 100000000"
    )
    assert refused(-32602, b.blacklistrune, start=-1).startswith(
        "start: should be an unsigned 64 bit integer"
    )
