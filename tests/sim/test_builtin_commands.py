"""Built-in commands of slice A, each response held against CLN's schemas (conformance 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

from lnhive.sim.testing import NodeFactory
from tests.schemas import load_schema, requires_schemas, validate_response

ORDINARY = str(Path(__file__).parent.parent / "plugins" / "ordinary.py")
SPEC_KEY = bytes([1]) * 32  # spec §e: pubkey 031b84c5…078f

pytestmark = requires_schemas


def test_getinfo(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(name="alice")
    info = node.rpc.getinfo()
    validate_response("getinfo", info)
    assert info["id"] == node.id
    assert info["alias"] == "alice"
    assert info["version"] == "v26.06.6"
    assert info["network"] == "regtest"
    assert info["lightning-dir"] == str(node.sim.network_dir)


def test_help_lists_builtins_and_plugin_methods(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    out = node.rpc.help()
    validate_response("help", out)
    commands = {h["command"].split()[0] for h in out["help"]}
    assert {"getinfo", "signmessage", "datastore", "plugin", "ord-args"} <= commands
    one = node.rpc.help("signmessage")
    validate_response("help", one)
    assert one == {"help": [{"command": "signmessage message"}], "format-hint": "simple"}
    with pytest.raises(RpcError) as err:
        node.rpc.help("nope")
    assert err.value.error["code"] == -32601


def test_listconfigs_shows_node_and_plugin_options(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[(ORDINARY, {"ord-int": "3", "ord-multi": ["a"]})])
    out = node.rpc.listconfigs()
    validate_response("listconfigs", out)
    configs = out["configs"]
    assert configs["ord-int"] == {"value_int": 3, "source": "cmdline", "plugin": ORDINARY}
    assert configs["ord-multi"]["values_str"] == ["a"]
    assert configs["ord-flag"] == {"set": False, "source": "default", "plugin": ORDINARY}
    assert configs["ord-dyn"]["dynamic"] is True
    assert configs["plugin"]["values_str"] == [ORDINARY]
    assert "ord-nodefault" not in configs
    single = node.rpc.listconfigs("alias")
    validate_response("listconfigs", single)
    assert list(single["configs"]) == ["alias"]
    with pytest.raises(RpcError) as err:
        node.rpc.listconfigs("no-such-config")
    assert err.value.error["code"] == -32602


def test_signmessage_matches_cln_vector_byte_for_byte(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(secret=SPEC_KEY)
    assert node.id == "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f"
    out = node.rpc.signmessage("this is a test!")
    validate_response("signmessage", out)
    assert out["recid"] == "00"
    assert out["zbase"] == (
        "d9jjhb9nw7ebyzyquro43cwfr9hcszcesu7i7xszwfzkt7m7cqugyygi8h7heqp3hq19nutkdajqgbuwyd9eqf5rwx44hxj9zzrw1ktf"
    )
    assert len(out["signature"]) == 128


@pytest.mark.parametrize(
    ("message", "zbase", "recid"),
    [
        (
            "this is a test!",
            "d63t8j9xmusnx6f6j3tauwoewi1g3a94t9xrastmou8i5rzn3gm9nuahkx6zfnm9ry145w4j88ctteim4mtxc7qreyity55zq63sj6n5",
            None,
        ),
        (
            "message for you",
            "rnu3qotbr47u7uzgodtq51fraszhp47xfen4yxbzhsisrekqwzshysu7sq4f74g5jobnh35fsh1a3ysoa7who6cqbti47qkxp6w1qwan",
            "01",
        ),
    ],
)
def test_checkmessage_recovers_cln_examples(
    node_factory: NodeFactory, message: str, zbase: str, recid: str | None
) -> None:
    node = node_factory.get_node()
    key = "033845802d25b4e074ccfd7cd8b339a41dc75bf9978a034800444b51d42b07799a"
    out = node.rpc.checkmessage(message, zbase, key)
    validate_response("checkmessage", out)
    assert out == {"pubkey": key, "verified": True}
    # Without the pubkey, an unknown signer is error 1301 with the recovered key.
    with pytest.raises(RpcError) as err:
        node.rpc.checkmessage(message, zbase)
    assert err.value.error == {
        "code": 1301,
        "message": "pubkey not found in the graph",
        "data": {"claimed_key": key},
    }


def test_checkmessage_wrong_key_and_own_key(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    signed = node.rpc.signmessage("hello")
    other = "033845802d25b4e074ccfd7cd8b339a41dc75bf9978a034800444b51d42b07799a"
    assert node.rpc.checkmessage("hello", signed["zbase"], other)["verified"] is False
    assert node.rpc.checkmessage("hello", signed["zbase"]) == {"pubkey": node.id, "verified": True}
    assert node.rpc.checkmessage("hellO", signed["zbase"], node.id)["verified"] is False


@pytest.mark.parametrize(
    ("zbase", "message"),
    [
        ("0" * 104, "zbase is not valid zbase32"),
        ("y" * 96, "zbase is too short"),
        ("y" * 112, "zbase is too long"),
        ("y" * 104, "cannot parse zbase signature"),
    ],
)
def test_checkmessage_bad_zbase(node_factory: NodeFactory, zbase: str, message: str) -> None:
    node = node_factory.get_node()
    with pytest.raises(RpcError) as err:
        node.rpc.checkmessage("m", zbase, node.id)
    assert err.value.error == {"code": -32602, "message": message}


def test_signmessage_refuses_64k(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    with pytest.raises(RpcError) as err:
        node.rpc.signmessage("x" * 65536)
    assert err.value.error == {"code": -32602, "message": "Message must be < 64k"}


def test_makesecret_is_deterministic_per_node_and_label(node_factory: NodeFactory) -> None:
    a, b = node_factory.get_nodes(2)
    s1 = a.rpc.makesecret(string="lnhive/nostr/v1")
    validate_response("makesecret", s1)
    assert s1 == a.rpc.makesecret(string="lnhive/nostr/v1")
    assert s1 == a.rpc.makesecret(hex=b"lnhive/nostr/v1".hex())
    assert s1 != a.rpc.makesecret(string="lnhive/receipts/v1")
    assert s1 != b.rpc.makesecret(string="lnhive/nostr/v1")
    for params in ({}, {"hex": "00", "string": "x"}):
        with pytest.raises(RpcError) as err:
            a.rpc.call("makesecret", params)
        assert err.value.error == {"code": -32602, "message": "Must have either hex or string"}


def test_makesecret_survives_a_restart_of_the_same_scenario(tmp_path: Path) -> None:
    first = NodeFactory(tmp_path / "one", seed=7)
    try:
        s1 = first.get_node("n").rpc.makesecret(string="label")
    finally:
        first.close()
    second = NodeFactory(tmp_path / "two", seed=7)
    try:
        assert second.get_node("n").rpc.makesecret(string="label") == s1
    finally:
        second.close()


def test_datastore_semantics(node_factory: NodeFactory) -> None:
    rpc = node_factory.get_node().rpc

    def call(method: str, **params: Any) -> Any:
        out = rpc.call(method, params)
        validate_response(method, out)
        return out

    def code_of(method: str, **params: Any) -> int:
        with pytest.raises(RpcError) as err:
            rpc.call(method, params)
        return int(err.value.error["code"])

    assert call("datastore", key=["a", "b"], string="one") == {
        "key": ["a", "b"],
        "generation": 0,
        "hex": "6f6e65",
        "string": "one",
    }
    assert code_of("datastore", key=["a", "b"], string="x") == 1202  # must-create
    assert call("datastore", key=["a", "b"], string="two", mode="must-replace")["generation"] == 1
    assert (
        call("datastore", key=["a", "b"], string="+", mode="must-append", generation=1)["string"]
        == "two+"
    )
    assert (
        code_of("datastore", key=["a", "b"], string="x", mode="must-replace", generation=0) == 1204
    )
    assert code_of("datastore", key=["a", "c"], string="x", mode="must-replace") == 1203
    assert code_of("datastore", key=["a"], string="x") == 1205  # has children
    assert code_of("datastore", key=["a", "b", "c"], string="x") == 1206  # parent holds data
    assert call("datastore", key="bin", hex="ff00")["hex"] == "ff00"
    assert "string" not in call("listdatastore", key="bin")["datastore"][0]
    assert call("listdatastore") == {
        "datastore": [{"key": ["a"]}, {"key": ["bin"], "generation": 0, "hex": "ff00"}]
    }
    assert call("listdatastore", key=["a"])["datastore"][0]["string"] == "two+"
    assert code_of("deldatastore", key=["a", "b"], generation=0) == 1201
    assert call("deldatastore", key=["a", "b"])["string"] == "two+"
    assert code_of("deldatastore", key=["a", "b"]) == 1200
    assert call("listdatastore", key=["a"]) == {"datastore": []}
    usage = call("datastoreusage")
    assert usage["datastoreusage"]["key"] == "[]"
    with pytest.raises(RpcError) as err:
        rpc.call("datastore", {"key": "k"})
    assert err.value.error == {"code": -32602, "message": "Must have either hex or string"}
    with pytest.raises(RpcError) as err:
        rpc.call("datastore", {"key": "k", "string": "x", "generation": 1})
    assert "generation only valid" in err.value.error["message"]


@pytest.mark.parametrize(
    "method", ["getinfo", "makesecret", "signmessage", "datastore", "listdatastore", "deldatastore"]
)
def test_schema_example_requests_are_accepted(node_factory: NodeFactory, method: str) -> None:
    """Replay each schema example's request; the answer (or CLN-shaped error) must fit the schema."""
    node = node_factory.get_node()
    node.rpc.call("datastore", {"key": ["employee", "index"], "string": "saved"})
    for example in load_schema(method).get("examples", []):
        params = example["request"]["params"]
        try:
            out = node.rpc.call(method, params)
        except RpcError as exc:
            # State the example assumed may be missing here (a key it created earlier):
            # the refusal must still be a well-formed CLN error from the datastore range.
            assert method.endswith("datastore") and 1200 <= exc.error["code"] <= 1206, json.dumps(
                exc.error
            )
            continue
        validate_response(method, out)
