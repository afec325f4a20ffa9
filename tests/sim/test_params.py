"""Parameter tables against Core Lightning's schemas, and lightningd's binding behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from lnhive.sim.errors import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError
from lnhive.sim.params import (
    ALL_TYPES,
    EXTRA_PARAMS_ALLOWED,
    TABLES,
    Param,
    bind_params,
    convert_value,
)
from tests.schemas import (
    load_hook_schema,
    load_notification_schema,
    load_schema,
    requires_schemas,
    validate_hook_request,
    validate_notification,
    validate_request,
    validate_response,
)

METHODS = [
    "getinfo",
    "listpeers",
    "listpeerchannels",
    "listchannels",
    "listnodes",
    "listfunds",
    "listforwards",
    "setchannel",
    "fundchannel",
    "close",
    "connect",
    "disconnect",
    "invoice",
    "listinvoices",
    "pay",
    "xpay",
    "keysend",
    "xkeysend",
    "sendpay",
    "waitsendpay",
    "getroute",
    "getroutes",
    "askrene-create-layer",
    "askrene-remove-layer",
    "askrene-update-channel",
    "askrene-listlayers",
    "decode",
    "listpays",
    "listsendpays",
    "listhtlcs",
    "listclosedchannels",
    "waitinvoice",
    "waitanyinvoice",
    "delinvoice",
    "delpay",
    "sendcustommsg",
    "signmessage",
    "checkmessage",
    "makesecret",
    "createrune",
    "checkrune",
    "showrunes",
    "blacklistrune",
    "datastore",
    "listdatastore",
    "deldatastore",
    "datastoreusage",
    "feerates",
    "newaddr",
    "withdraw",
    "listconfigs",
    "setconfig",
    "help",
    "plugin",
    "stop",
    "waitblockheight",
    "notifications",
    "ping",
]

# Enums lightningd does not check while binding (it takes any string and fails later).
UNCHECKED_ENUMS = {("delinvoice", "status"), ("listpays", "status"), ("listpays", "index")}

# Upstream examples that do not satisfy their own schema (cln-schemas/SOURCE.md).
INVALID_EXAMPLES = {"example:listconfigs#1"}

NODE_A = "02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"[0:64]
"""The secp256k1 generator G, compressed: a valid node id."""
TXID = "ab" * 32
PAY_HASH = "cd" * 32


def _err(method: str, params: object, **kw: Any) -> RpcError:
    with pytest.raises(RpcError) as info:
        bind_params(method, params, **kw)
    return info.value


def _schema_type(prop: dict[str, Any]) -> str:
    if prop.get("untyped") or "type" not in prop:
        return "any"
    t = prop["type"]
    assert isinstance(t, str), f"unexpected schema type {t!r}"
    return t


# -- tables against the schemas ----------------------------------------------


def test_tables_cover_exactly_the_methods() -> None:
    assert sorted(TABLES) == sorted(METHODS)
    assert "plugin" in EXTRA_PARAMS_ALLOWED


def test_every_table_type_is_in_the_vocabulary() -> None:
    for method, table in TABLES.items():
        for p in table:
            assert p.type in ALL_TYPES, (method, p)
            assert p.items is None or p.items in ALL_TYPES, (method, p)


@requires_schemas
@pytest.mark.parametrize("method", METHODS)
def test_table_matches_schema(method: str) -> None:
    request = load_schema(method)["request"]
    props: dict[str, dict[str, Any]] = request.get("properties", {})
    table = TABLES[method]
    assert [p.name for p in table] == list(props), "names or order differ"
    assert [p.name for p in table if p.required] == [
        n for n in props if n in request.get("required", [])
    ], "required flags differ"
    for p in table:
        prop = props[p.name]
        assert p.type == _schema_type(prop), f"{p.name}: type {p.type} vs schema {prop}"
        if (method, p.name) in UNCHECKED_ENUMS:
            assert p.enum is None
        else:
            expected = tuple(prop["enum"]) if "enum" in prop else None
            assert p.enum == expected, f"{p.name}: enum differs"
        schema_items = prop.get("items", {})
        if p.type == "array" and isinstance(schema_items, dict):
            assert p.items == _schema_type(schema_items), f"{p.name}: item type differs"
        if "oneOf" in prop:
            assert p.one_of == tuple(alt["type"] for alt in prop["oneOf"]), p.name


def _examples() -> list[tuple[str, str, object]]:
    out: list[tuple[str, str, object]] = []
    for method in METHODS:
        try:
            schema = load_schema(method)
        except FileNotFoundError:
            continue
        for i, ex in enumerate(schema.get("examples", [])):
            req = ex.get("request", {})
            ex_id = req.get("id", f"{method}#{i}")
            out.append((method, ex_id, req.get("params")))
    return out


EXAMPLES = _examples()


@requires_schemas
def test_schema_examples_exist() -> None:
    assert len(EXAMPLES) > 100
    assert {m for m, _, _ in EXAMPLES} >= {"pay", "invoice", "listpeerchannels", "datastore"}


@requires_schemas
@pytest.mark.parametrize(("method", "ex_id", "params"), EXAMPLES, ids=[e[1] for e in EXAMPLES])
def test_schema_example_binds(method: str, ex_id: str, params: object) -> None:
    if not isinstance(params, dict | list):
        pytest.skip(f"{ex_id}: params are neither object nor array")
    if ex_id in INVALID_EXAMPLES:
        with pytest.raises(RpcError, match="unknown parameter: scb"):
            bind_params(method, params)
        return
    validate_request(method, params)
    bound = bind_params(method, params)
    given = params if isinstance(params, dict) else dict(zip(TABLES[method], params, strict=False))
    assert len(bound) == sum(v is not None for v in given.values())


# -- the test harness itself -------------------------------------------------


@requires_schemas
def test_harness_validates_examples_and_catches_bad_ones() -> None:
    ex = load_schema("getinfo")["examples"][0]
    validate_response("getinfo", ex["response"])
    bad = dict(ex["response"])
    bad["id"] = "not-a-pubkey"
    with pytest.raises(AssertionError, match="getinfo"):
        validate_response("getinfo", bad)
    validate_request("listpeers", [NODE_A, None])
    with pytest.raises(AssertionError):
        validate_request("listpeers", {"id": NODE_A, "bogus": 1})


@requires_schemas
def test_harness_loads_hooks_and_notifications() -> None:
    assert "request" in load_hook_schema("htlc_accepted")
    # xpay's topic lives in xpay_pay_part_start.json
    assert load_notification_schema("pay_part_start") is load_notification_schema(
        "xpay_pay_part_start"
    )
    validate_notification("block_added", {"hash": PAY_HASH, "height": 101})
    with pytest.raises(AssertionError):
        validate_notification("block_added", {"hash": PAY_HASH})
    with pytest.raises(AssertionError):
        validate_hook_request("peer_connected", {"peer": {"id": "xx"}})


# -- request shape errors ----------------------------------------------------


def test_params_neither_object_nor_array() -> None:
    for params in ("x", 5, None, True):
        e = _err("getinfo", params)
        assert (e.code, e.message) == (INVALID_PARAMS, "Expected array or object for params")


def test_unknown_parameter() -> None:
    e = _err("listpeers", {"id": NODE_A, "peer": NODE_A})
    assert e.code == INVALID_PARAMS
    assert e.message == (
        "unknown parameter: peer, this may be caused by a failure to autodetect key=value-style"
        " parameters. Please try using the -k flag and explicit key=value pairs of parameters."
    )


def test_missing_required() -> None:
    e = _err("connect", {"host": "127.0.0.1"})
    assert (e.code, e.message) == (INVALID_PARAMS, "missing required parameter: id")
    # the first missing one, in table order
    assert _err("getroutes", []).message == "missing required parameter: source"
    assert _err("invoice", [1000, None, "d"]).message == "missing required parameter: label"


def test_too_many_positional_counts_nulls() -> None:
    e = _err("listpeers", [None, None, None])
    assert (e.code, e.message) == (INVALID_PARAMS, "too many parameters: got 3, expected 2")
    assert _err("getinfo", [None]).message == "too many parameters: got 1, expected 0"


def test_positional_nulls_are_not_given() -> None:
    assert bind_params("listpeers", [None, "info"]) == {"level": "info"}
    assert bind_params("listpeers", [NODE_A]) == {"id": NODE_A}
    assert bind_params("listpeers", {"id": None, "level": "debug"}) == {"level": "debug"}


def test_earlier_bad_value_wins_over_later_problems() -> None:
    e = _err("listpeers", ["nope", None, None])
    assert e.message.startswith("id: should be a node id")


def test_unknown_method() -> None:
    e = _err("frobnicate", {})
    assert (e.code, e.message) == (METHOD_NOT_FOUND, "Unknown command 'frobnicate'")


def test_plugin_takes_extra_named_params() -> None:
    got = bind_params("plugin", {"subcommand": "start", "plugin": "/p.py", "my-opt": "1"})
    assert got == {"subcommand": "start", "plugin": "/p.py", "my-opt": "1"}
    assert bind_params("plugin", ["list", None, None, None, "extra"]) == {"subcommand": "list"}
    assert _err("plugin", {"subcommand": "frob"}).message == "Unknown subcommand 'frob'"


# -- type errors -------------------------------------------------------------


def test_type_error_message_without_and_with_developer() -> None:
    e = _err("waitblockheight", {"blockheight": "abc"})
    assert e.code == INVALID_PARAMS
    assert e.message == "blockheight: should be an integer: invalid token (see logs for details)"
    e = _err("waitblockheight", {"blockheight": "abc"}, developer=True)
    assert e.message == "blockheight: should be an integer: invalid token '\"abc\"'"
    e = _err("waitblockheight", {"blockheight": -1}, developer=True)
    assert e.message == "blockheight: should be an integer: invalid token '-1'"


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("listforwards", {"start": 1.5}, "start: should be an unsigned 64 bit integer"),
        ("listforwards", {"limit": 2**32}, "limit: should be an unsigned 32 bit integer"),
        ("listforwards", {"limit": True}, "limit: should be an unsigned 32 bit integer"),
        ("connect", {"id": "x", "port": 70000}, "port: should be a 16-bit integer"),
        ("listnodes", {"id": "03" + "00" * 32}, "id: should be a node id"),
        ("listnodes", {"id": NODE_A[:-2]}, "id: should be a node id"),
        ("listnodes", {"id": "04" + NODE_A[2:]}, "id: should be a node id"),
        ("checkmessage", ["m", "z", "zz"], "pubkey: should be a compressed pubkey"),
        ("getroute", [NODE_A, "1x", 1], "amount_msat: should be a millisatoshi amount"),
        ("getroute", [NODE_A, 1.5, 1], "amount_msat: should be a millisatoshi amount"),
        ("getroute", [NODE_A, "1.5sat", 1], "amount_msat: should be a millisatoshi amount"),
        ("withdraw", ["addr", "1500msat"], "satoshi: should be a satoshi amount"),
        ("invoice", [0, "l", "d"], "amount_msat: should be positive msat or 'any'"),
        ("listchannels", ["1x2"], "short_channel_id: should be a short_channel_id of form NxNxN"),
        ("listchannels", ["16777216x0x0"], "short_channel_id: should be a short_channel_id"),
        ("listchannels", ["1x2x65536"], "short_channel_id: should be a short_channel_id"),
        ("listfunds", {"spent": "true"}, "spent: should be 'true' or 'false'"),
        ("listfunds", {"spent": 1}, "spent: should be 'true' or 'false'"),
        ("sendcustommsg", [NODE_A, "abc"], "msg: should be a hex value"),
        ("sendcustommsg", [NODE_A, "zz"], "msg: should be a hex value"),
        ("waitsendpay", ["ab" * 31], "payment_hash: should be a 32 byte hex value"),
        (
            "fundchannel",
            [NODE_A, 1000, None, None, None, None, None, None, None, None, None, "x"],
            "reserve: should be a satoshi amount",
        ),
        ("close", {"id": "x", "wrong_funding": TXID}, "wrong_funding: should be a txid:outnum"),
        ("listforwards", {"status": "done"}, "status: Unrecognized status"),
        ("listforwards", {"index": "deleted"}, "index: unknown index"),
        (
            "pay",
            {"bolt11": "lnbc", "riskfactor": "1.2.3"},
            "riskfactor: should be a non-negative floating-point number",
        ),
        ("invoice", [1, {"a": 1}, "d"], "label: should be a string or number"),
        ("datastore", {"key": {"a": 1}}, "key: should be string or array"),
        ("datastore", {"key": "k", "mode": "append"}, "mode: should be 'must-create'"),
        ("getroutes", [NODE_A, NODE_A, 1, "layer", 1, 9], "layers: should be an array"),
        (
            "keysend",
            {"destination": NODE_A, "amount_msat": 1, "extratlvs": []},
            "extratlvs: should be an object",
        ),
    ],
)
def test_wrong_types(method: str, params: object, message: str) -> None:
    e = _err(method, params)
    assert e.code == INVALID_PARAMS
    assert e.message.startswith(message), e.message
    assert e.message.endswith(": invalid token (see logs for details)")


def test_whole_message_errors() -> None:
    e = _err("feerates", ["perkx"])
    assert e.message == "'style' should be 'perkw' or 'perkb', not '\"perkx\"'"
    e = _err("newaddr", {"addresstype": "p2pkh"})
    assert e.message == "'addresstype' should be 'p2tr', 'bech32', or 'all', not '\"p2pkh\"'"
    e = _err("withdraw", ["addr", "all", "fast"])
    assert e.message == "'feerate' should be an integer with optional perkw/perkb, not 'fast'"
    e = _err("withdraw", ["addr", "all", "12xperkw"])
    assert e.message == "'feerate' should be an integer with optional perkw/perkb, not '12x'"
    e = _err("withdraw", ["addr", "all", "soonblocks"])
    assert e.message == "'feerate' should be an integer not 'soon'"
    assert all(x.code == INVALID_PARAMS for x in (e,))


# -- conversions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "msat"),
    [
        (1000, 1000),
        ("1000", 1000),
        ("1000msat", 1000),
        ("5sat", 5000),
        ("1btc", 100_000_000_000),
        ("0.00000000001btc", 1),
        ("0.5btc", 50_000_000_000),
    ],
)
def test_msat_forms(given: object, msat: int) -> None:
    assert bind_params("getroute", [NODE_A, given, 1]) == {
        "id": NODE_A,
        "amount_msat": msat,
        "riskfactor": 1,
    }


@pytest.mark.parametrize(
    ("given", "sat"),
    [
        (5, 5),
        ("5", 5),
        ("5sat", 5),
        ("5000msat", 5),
        ("0msat", 0),
        ("0.001btc", 100_000),
        ("all", "all"),
    ],
)
def test_sat_or_all_forms(given: object, sat: object) -> None:
    assert bind_params("withdraw", {"destination": "bcrt1q", "satoshi": given})["satoshi"] == sat


def test_sat_forms_and_any() -> None:
    assert (
        bind_params("fundchannel", {"id": NODE_A, "amount": 1, "reserve": "2sat"})["reserve"] == 2
    )
    assert bind_params("invoice", ["any", "l", "d"])["amount_msat"] == "any"
    assert bind_params("invoice", ["1sat", 7, "d"]) == {
        "amount_msat": 1000,
        "label": 7,
        "description": "d",
    }


def test_integers_accept_digit_strings_and_other_conversions() -> None:
    got = bind_params("listforwards", {"start": "42", "limit": 7, "in_channel": "001x02x3"})
    assert got == {"start": 42, "limit": 7, "in_channel": "1x2x3"}
    assert bind_params("listnodes", [NODE_A.upper()]) == {"id": NODE_A.lower()}
    assert bind_params("pay", {"bolt11": "x", "maxfeepercent": "0.5"})["maxfeepercent"] == 0.5
    # string parameters take any scalar as its JSON text, as param_string does
    assert bind_params("help", [5]) == {"command": "5"}
    assert bind_params("close", {"id": "x", "wrong_funding": TXID + ":1"})["wrong_funding"] == (
        TXID + ":1"
    )
    for rate in (253, "253perkw", "1000perkb", "normal", "6blocks"):
        assert bind_params("withdraw", ["a", "all", rate])["feerate"] == rate
    assert bind_params("datastore", {"key": ["a", "b"], "hex": "00FF"}) == {
        "key": ["a", "b"],
        "hex": "00ff",
    }
    assert (
        bind_params("invoice", ["any", "l", "d", None, None, None, "1x1x1"])[
            "exposeprivatechannels"
        ]
        == "1x1x1"
    )
    assert (
        bind_params("invoice", ["any", "l", "d", None, None, None, False])["exposeprivatechannels"]
        is False
    )


def test_convert_value_standalone() -> None:
    p = Param("x", "short_channel_id_dir")
    assert convert_value(p, "1x2x3/1") == "1x2x3/1"
    with pytest.raises(RpcError, match="x: should be a short_channel_id_dir of form NxNxN/N"):
        convert_value(p, "1x2x3/2")
    with pytest.raises(RpcError, match="invalid token '\"1x2x3\"'"):
        convert_value(p, "1x2x3", developer=True)


def test_developer_only_parameter() -> None:
    route: list[object] = []
    e = _err("sendpay", {"route": route, "payment_hash": PAY_HASH, "dev_legacy_hop": True})
    assert (e.code, e.message) == (INVALID_PARAMS, "Parameter 'dev_legacy_hop' is developer-only")
    by_position = [route, PAY_HASH, None, None, None, None, None, None, None, None, None, True]
    assert _err("sendpay", by_position).message == "Parameter 11 is developer-only"
    got = bind_params("sendpay", by_position, developer=True)
    assert got == {"route": [], "payment_hash": PAY_HASH, "dev_legacy_hop": True}
    e = _err("sendpay", [*by_position[:-1], "yes"], developer=True)
    assert e.message.startswith("dev_legacy_hop: should be 'true' or 'false': invalid token")
