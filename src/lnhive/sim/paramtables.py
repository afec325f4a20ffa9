"""Request parameter tables of the built-in commands the stand-in serves.

Each table lists a command's parameters in the order of the command's
``request.properties`` in Core Lightning's schema (that order is the positional
order), with the schema's type names and required flags. Where lightningd's own
parser words a type error differently from the type's usual wording, the entry
carries that reason (``reason``) or the whole message (``message``). The tables
are checked against the schemas in ``tests/sim/test_params.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- type vocabulary (Core Lightning's schema type names) ---------------------
STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
NUMBER = "number"
HEX = "hex"
HASH = "hash"
SECRET = "secret"
TXID = "txid"
PUBKEY = "pubkey"
U8 = "u8"
U16 = "u16"
U32 = "u32"
U64 = "u64"
MSAT = "msat"
SAT = "sat"
SAT_OR_ALL = "sat_or_all"
MSAT_OR_ALL = "msat_or_all"
MSAT_OR_ANY = "msat_or_any"
SHORT_CHANNEL_ID = "short_channel_id"
SHORT_CHANNEL_ID_DIR = "short_channel_id_dir"
OUTPOINT = "outpoint"
FEERATE = "feerate"
SIGNATURE = "signature"
BIP340SIG = "bip340sig"
ARRAY = "array"
OBJECT = "object"
ANY = "any"
"""Untyped or mixed-type parameters (the schema's ``oneOf`` or no ``type``)."""

ALL_TYPES = frozenset(
    {
        STRING,
        INTEGER,
        BOOLEAN,
        NUMBER,
        HEX,
        HASH,
        SECRET,
        TXID,
        PUBKEY,
        U8,
        U16,
        U32,
        U64,
        MSAT,
        SAT,
        SAT_OR_ALL,
        MSAT_OR_ALL,
        MSAT_OR_ANY,
        SHORT_CHANNEL_ID,
        SHORT_CHANNEL_ID_DIR,
        OUTPOINT,
        FEERATE,
        SIGNATURE,
        BIP340SIG,
        ARRAY,
        OBJECT,
        ANY,
    }
)


@dataclass(frozen=True)
class Param:
    """One request parameter.

    ``enum``: the accepted strings, checked when binding. ``items``: element type
    of an array (documentation; arrays are passed on as given). ``one_of``: the
    alternatives of an ``any`` parameter, checked when binding. ``reason``:
    lightningd's wording after ``"<name>: "`` when this parameter's value is
    refused, if it differs from the type's usual one. ``message``: a complete
    error message instead, with ``{name}``, ``{full}`` (the JSON token as sent)
    and ``{raw}`` (the token without string quotes) filled in. ``dev_only``: refused
    unless developer APIs are on (lightningd's ``p_opt_dev``).
    """

    name: str
    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    items: str | None = None
    one_of: tuple[str, ...] | None = None
    reason: str | None = None
    message: str | None = None
    dev_only: bool = False


def _r(
    name: str,
    type_: str,
    *,
    enum: tuple[str, ...] | None = None,
    items: str | None = None,
    one_of: tuple[str, ...] | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> Param:
    return Param(name, type_, True, enum, items, one_of, reason, message)


def _o(
    name: str,
    type_: str,
    *,
    enum: tuple[str, ...] | None = None,
    items: str | None = None,
    one_of: tuple[str, ...] | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> Param:
    return Param(name, type_, False, enum, items, one_of, reason, message)


# Reasons lightningd uses for parameters parsed by its generic 32-bit parser
# (param_number) or its fractional parser (param_millionths), where the schema
# gives a u16/u32/u64 type.
_AS_NUMBER = "should be an integer"
_AS_MILLIONTHS = "should be a non-negative floating-point number"
_AS_SHA256 = "should be a 32 byte hex value"
_AS_COMPRESSED = "should be a compressed pubkey"
_LABEL = ("string", "integer")
_LABEL_REASON = "should be a string or number"
_KEY = ("array", "string")
_KEY_REASON = "should be string or array"
_INDEX = ("created", "updated")
_INDEX_REASON = "unknown index"
_PAY_STATUS = ("pending", "complete", "failed")
_PAY_STATUS_REASON = "should be an invoice status"


def _paging(index_checked: bool = True) -> tuple[Param, ...]:
    index = (
        _o("index", STRING, enum=_INDEX, reason=_INDEX_REASON)
        if index_checked
        else _o("index", STRING)
    )
    return (index, _o("start", U64), _o("limit", U32))


TABLES: dict[str, tuple[Param, ...]] = {
    "getinfo": (),
    "listpeers": (
        _o("id", PUBKEY),
        _o(
            "level",
            STRING,
            enum=("io", "trace", "debug", "info", "unusual"),
            reason="should be 'io', 'debug', 'info', or 'unusual'",
        ),
    ),
    "listpeerchannels": (
        _o("id", PUBKEY),
        _o("short_channel_id", SHORT_CHANNEL_ID),
        _o("channel_id", HASH, reason="should be a channel id"),
    ),
    "listchannels": (
        _o("short_channel_id", SHORT_CHANNEL_ID),
        _o("source", PUBKEY),
        _o("destination", PUBKEY),
    ),
    "listnodes": (_o("id", PUBKEY),),
    "listfunds": (_o("spent", BOOLEAN),),
    "listforwards": (
        _o(
            "status",
            STRING,
            enum=("offered", "settled", "local_failed", "failed"),
            reason="Unrecognized status",
        ),
        _o("in_channel", SHORT_CHANNEL_ID),
        _o("out_channel", SHORT_CHANNEL_ID),
        *_paging(),
    ),
    "setchannel": (
        _r("id", STRING),
        _o("feebase", MSAT),
        _o("feeppm", U32, reason=_AS_NUMBER),
        _o("htlcmin", MSAT),
        _o("htlcmax", MSAT),
        _o("enforcedelay", U32, reason=_AS_NUMBER),
        _o("ignorefeelimits", BOOLEAN),
    ),
    "fundchannel": (
        _r("id", PUBKEY),
        _r("amount", SAT_OR_ALL),
        _o("feerate", FEERATE),
        _o("announce", BOOLEAN),
        _o("minconf", U32, reason=_AS_NUMBER),
        _o("push_msat", MSAT),
        _o("close_to", STRING),
        _o("request_amt", SAT),
        _o("compact_lease", STRING),
        _o("utxos", ARRAY, items=OUTPOINT),
        _o("mindepth", U32),
        _o("reserve", SAT),
        _o("channel_type", ARRAY, items=U32),
    ),
    "close": (
        _r("id", STRING),
        _o("unilateraltimeout", U32, reason=_AS_NUMBER),
        _o("destination", STRING),
        _o("fee_negotiation_step", STRING),
        _o("wrong_funding", OUTPOINT),
        _o("force_lease_closed", BOOLEAN),
        _o("feerange", ARRAY, items=FEERATE),
    ),
    "connect": (
        _r("id", STRING),
        _o("host", STRING),
        _o("port", U16, reason="should be a 16-bit integer"),
    ),
    "disconnect": (_r("id", PUBKEY), _o("force", BOOLEAN)),
    "invoice": (
        _r("amount_msat", MSAT_OR_ANY),
        _r("label", ANY, one_of=_LABEL, reason=_LABEL_REASON),
        _r("description", STRING),
        _o("expiry", U64),
        _o("fallbacks", ARRAY, items=STRING),
        _o("preimage", HEX),
        _o(
            "exposeprivatechannels",
            ANY,
            one_of=("boolean", "array", "short_channel_id"),
            reason="should be a short_channel_id of form NxNxN",
        ),
        _o("cltv", U32, reason=_AS_NUMBER),
        _o("deschashonly", BOOLEAN),
    ),
    "listinvoices": (
        _o("label", ANY, one_of=_LABEL, reason=_LABEL_REASON),
        _o("invstring", STRING),
        _o("payment_hash", HEX, reason=_AS_SHA256),
        _o("offer_id", STRING),
        *_paging(),
    ),
    "pay": (
        _r("bolt11", STRING),
        _o("amount_msat", MSAT),
        _o("label", STRING),
        _o("riskfactor", NUMBER),
        _o("maxfeepercent", NUMBER),
        _o("retry_for", U16, reason=_AS_NUMBER),
        _o("maxdelay", U16, reason=_AS_NUMBER),
        _o("exemptfee", MSAT),
        _o("localinvreqid", HEX, reason=_AS_SHA256),
        _o("exclude", ARRAY, items=ANY),
        _o("maxfee", MSAT),
        _o("description", STRING),
        _o("partial_msat", MSAT),
    ),
    "xpay": (
        _r("invstring", STRING),
        _o("amount_msat", MSAT),
        _o("maxfee", MSAT),
        _o("layers", ARRAY, items=STRING),
        _o("retry_for", U32, reason=_AS_NUMBER),
        _o("partial_msat", MSAT),
        _o("maxdelay", U32),
        _o("payer_note", STRING),
        _o("label", STRING),
        _o("localinvreqid", HEX, reason=_AS_SHA256),
        _o("dev_use_shadow", BOOLEAN),
    ),
    "keysend": (
        _r("destination", PUBKEY),
        _r("amount_msat", MSAT),
        _o("label", STRING),
        _o("maxfeepercent", NUMBER),
        _o("retry_for", U32, reason=_AS_NUMBER),
        _o("maxdelay", U32, reason=_AS_NUMBER),
        _o("exemptfee", MSAT),
        _o("routehints", ARRAY, items=ARRAY),
        _o("extratlvs", OBJECT),
        _o("maxfee", MSAT),
    ),
    "xkeysend": (
        _r("destination", PUBKEY, reason=_AS_COMPRESSED),
        _r("amount_msat", MSAT),
        _o("label", STRING),
        _o("maxfee", MSAT),
        _o("layers", ARRAY, items=STRING),
        _o("retry_for", U32, reason=_AS_NUMBER),
        _o("maxdelay", U32),
        _o("extratlvs", OBJECT),
    ),
    "sendpay": (
        _r("route", ARRAY, items=OBJECT),
        _r("payment_hash", HASH),
        _o("label", STRING),
        _o("amount_msat", MSAT),
        _o("bolt11", STRING),
        _o("payment_secret", SECRET),
        _o("partid", U64),
        _o("localinvreqid", HEX, reason=_AS_SHA256),
        _o("groupid", U64),
        _o("payment_metadata", HEX),
        _o("description", STRING),
        Param(
            "dev_legacy_hop",
            ANY,
            one_of=("boolean",),
            reason="should be 'true' or 'false'",
            dev_only=True,
        ),
    ),
    "waitsendpay": (
        _r("payment_hash", HASH),
        _o("timeout", U32, reason=_AS_NUMBER),
        _o("partid", U64),
        _o("groupid", U64),
    ),
    "getroute": (
        _r("id", PUBKEY),
        _r("amount_msat", MSAT),
        _r("riskfactor", U64, reason=_AS_MILLIONTHS),
        _o("cltv", U32, reason=_AS_NUMBER),
        _o("fromid", PUBKEY),
        _o("fuzzpercent", U32, reason=_AS_MILLIONTHS),
        _o("exclude", ARRAY, items=STRING),
        _o("maxhops", U32, reason=_AS_NUMBER),
    ),
    "getroutes": (
        _r("source", PUBKEY),
        _r("destination", PUBKEY),
        _r("amount_msat", MSAT),
        _r("layers", ARRAY, items=STRING),
        _r("maxfee_msat", MSAT),
        _r("final_cltv", U32),
        _o("maxdelay", U32),
        _o("maxparts", U32),
    ),
    "askrene-create-layer": (_r("layer", STRING), _o("persistent", BOOLEAN)),
    "askrene-remove-layer": (_r("layer", STRING),),
    "askrene-update-channel": (
        _r("layer", STRING),
        _r("short_channel_id_dir", SHORT_CHANNEL_ID_DIR),
        _o("enabled", BOOLEAN),
        _o("htlc_minimum_msat", MSAT),
        _o("htlc_maximum_msat", MSAT),
        _o("fee_base_msat", MSAT),
        _o("fee_proportional_millionths", U32),
        _o("cltv_expiry_delta", U16),
    ),
    "askrene-listlayers": (_o("layer", STRING),),
    "decode": (_r("string", STRING),),
    # listpays (xpay plugin) takes status and index as plain strings and checks later.
    "listpays": (
        _o("bolt11", STRING),
        _o("payment_hash", HASH, reason=_AS_SHA256),
        _o("status", STRING),
        *_paging(index_checked=False),
    ),
    "listsendpays": (
        _o("bolt11", STRING),
        _o("payment_hash", HASH, reason=_AS_SHA256),
        _o("status", STRING, enum=_PAY_STATUS, reason=_PAY_STATUS_REASON),
        *_paging(),
    ),
    "listhtlcs": (_o("id", STRING), *_paging()),
    "listclosedchannels": (_o("id", PUBKEY),),
    "waitinvoice": (_r("label", ANY, one_of=_LABEL, reason=_LABEL_REASON),),
    "waitanyinvoice": (_o("lastpay_index", U64), _o("timeout", U64)),
    # delinvoice takes any status string; a mismatch fails later (code 905).
    "delinvoice": (
        _r("label", ANY, one_of=("string", "u64"), reason=_LABEL_REASON),
        _r("status", STRING),
        _o("desconly", BOOLEAN),
    ),
    "delpay": (
        _r("payment_hash", HASH, reason=_AS_SHA256),
        _r("status", STRING, enum=("complete", "failed"), reason=_PAY_STATUS_REASON),
        _o("partid", U64),
        _o("groupid", U64),
    ),
    "sendcustommsg": (_r("node_id", PUBKEY), _r("msg", HEX)),
    "signmessage": (_r("message", STRING),),
    "checkmessage": (
        _r("message", STRING),
        _r("zbase", STRING),
        _o("pubkey", PUBKEY, reason=_AS_COMPRESSED),
    ),
    "makesecret": (_o("hex", HEX), _o("string", STRING)),
    "createrune": (
        _o("rune", STRING),
        _o(
            "restrictions",
            ANY,
            one_of=("array", "string"),
            reason="not a valid restriction (should be array)",
        ),
    ),
    "checkrune": (
        _r("rune", STRING),
        _o("nodeid", STRING),
        _o("method", STRING),
        _o("params", ANY, one_of=("array", "object"), reason="should be an array or object"),
    ),
    "showrunes": (_o("rune", STRING),),
    "blacklistrune": (_o("start", U64), _o("end", U64), _o("relist", BOOLEAN)),
    "datastore": (
        _r("key", ANY, one_of=_KEY, reason=_KEY_REASON),
        _o("string", STRING),
        _o("hex", HEX),
        _o(
            "mode",
            STRING,
            enum=(
                "must-create",
                "must-replace",
                "create-or-replace",
                "must-append",
                "create-or-append",
            ),
            reason="should be 'must-create', 'must-replace', 'create-or-replace',"
            " 'must-append', or 'create-or-append'",
        ),
        _o("generation", U64),
    ),
    "listdatastore": (_o("key", ANY, one_of=_KEY, reason=_KEY_REASON),),
    "deldatastore": (_r("key", ANY, one_of=_KEY, reason=_KEY_REASON), _o("generation", U64)),
    "datastoreusage": (_o("key", ANY, one_of=_KEY, reason=_KEY_REASON),),
    "feerates": (
        _r(
            "style",
            STRING,
            enum=("perkb", "perkw"),
            message="'{name}' should be 'perkw' or 'perkb', not '{full}'",
        ),
    ),
    "newaddr": (
        _o(
            "addresstype",
            STRING,
            enum=("bech32", "p2tr", "all"),
            message="'{name}' should be 'p2tr', 'bech32', or 'all', not '{full}'",
        ),
    ),
    "withdraw": (
        _r("destination", STRING),
        _r("satoshi", SAT_OR_ALL),
        _o("feerate", FEERATE),
        _o("minconf", U16, reason=_AS_NUMBER),
        _o("utxos", ARRAY, items=OUTPOINT),
    ),
    "listconfigs": (_o("config", STRING),),
    "setconfig": (
        _r("config", STRING),
        _o("val", ANY, one_of=("string", "integer", "boolean", "array")),
        _o("transient", BOOLEAN),
    ),
    "help": (_o("command", STRING),),
    "plugin": (
        _r(
            "subcommand",
            STRING,
            enum=("start", "stop", "rescan", "startdir", "list"),
            message="Unknown subcommand '{raw}'",
        ),
        _o("plugin", STRING),
        _o("directory", STRING),
        _o("options", ARRAY, items=STRING),
    ),
    "stop": (),
    "waitblockheight": (
        _r("blockheight", U32, reason=_AS_NUMBER),
        _o("timeout", U32, reason=_AS_NUMBER),
    ),
    "notifications": (_r("enable", BOOLEAN),),
    "ping": (
        _r("id", PUBKEY),
        _o("len", U16, reason=_AS_NUMBER),
        _o("pongbytes", U16, reason=_AS_NUMBER),
    ),
}

EXTRA_PARAMS_ALLOWED = frozenset({"plugin"})
"""Commands that take named parameters beyond their table (``plugin``: plugin options)."""
