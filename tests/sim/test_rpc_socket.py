"""The lightning-rpc socket as lightningd serves it (spec §a10, §g.3; conformance 2, 20)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyln.client import LightningRpc, RpcError

from lnhive.sim.testing import NodeFactory
from tests.sim.rawsocket import connect, exchange

ORDINARY = str(Path(__file__).parent.parent / "plugins" / "ordinary.py")


def _req(method: str, params: object, rid: object = "t:1") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1, 2]", "Expected {} for json command"),
        (b'{"jsonrpc": "2.0", "method": "getinfo", "params": {}}', "No id"),
        (
            b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "getinfo", "params": {}}',
            "Expected string/primitive for id",
        ),
        (
            b'{"id": 1, "method": "getinfo", "params": {}}',
            'jsonrpc: "2.0" must be specified in the request',
        ),
        (
            b'{"jsonrpc": "1.0", "id": 1, "method": "getinfo", "params": {}}',
            'jsonrpc: "2.0" must be specified in the request',
        ),
    ],
)
def test_malformed_requests(node_factory: NodeFactory, raw: bytes, message: str) -> None:
    node = node_factory.get_node()
    (reply,) = exchange(node.sim.rpc_path, raw)
    assert reply == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"jsonrpc": "2.0", "id": 7, "method": "getinfo"}, -32600, "No params"),
        ({"jsonrpc": "2.0", "id": 7, "params": {}}, -32600, "No method"),
        (
            {"jsonrpc": "2.0", "id": 7, "method": 5, "params": {}},
            -32600,
            "Expected string for method",
        ),
        (
            {"jsonrpc": "2.0", "id": 7, "method": "listplugins", "params": {}},
            -32601,
            "Unknown command 'listplugins'",
        ),
        (
            {"jsonrpc": "2.0", "id": 7, "method": "gettxout", "params": []},
            -32601,
            "Unknown command 'gettxout'",
        ),
        (
            {"jsonrpc": "2.0", "id": 7, "method": "getinfo", "params": "x"},
            -32602,
            "Expected array or object for params",
        ),
    ],
)
def test_request_errors_keep_the_id(
    node_factory: NodeFactory, body: dict[str, object], code: int, message: str
) -> None:
    node = node_factory.get_node()
    (reply,) = exchange(node.sim.rpc_path, json.dumps(body).encode())
    assert reply == {"jsonrpc": "2.0", "id": 7, "error": {"code": code, "message": message}}


def test_invalid_json_gets_an_error_and_the_node_keeps_serving(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    (reply,) = exchange(node.sim.rpc_path, b'{"jsonrpc": "2.0", "id": 1, "method": nope}')
    assert reply["id"] is None and reply["error"]["code"] == -32600
    assert node.rpc.getinfo()["id"] == node.id


def test_several_requests_on_one_connection_without_terminators(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    raw = (
        _req("getinfo", {}, "a:1")
        + _req("help", {"command": "getinfo"}, "a:2")
        + _req("nope", [], 3)
    )
    replies = exchange(node.sim.rpc_path, raw, replies=3)
    by_id = {r["id"]: r for r in replies}
    assert by_id["a:1"]["result"]["id"] == node.id
    assert by_id["a:2"]["result"]["help"][0]["command"].startswith("getinfo")
    assert by_id[3]["error"]["code"] == -32601


def test_replies_end_with_a_blank_line(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    sock = connect(node.sim.rpc_path)
    try:
        sock.sendall(_req("getinfo", {}))
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the terminator"
            data += chunk
        assert json.loads(data)["result"]["id"] == node.id
    finally:
        sock.close()


def test_parameter_errors_as_cln(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(developer=False)
    cases = [
        (
            "getinfo",
            {"bogus": 1},
            "unknown parameter: bogus, this may be caused by a failure to autodetect "
            "key=value-style parameters. Please try using the -k flag and explicit key=value pairs of parameters.",
        ),
        ("signmessage", {}, "missing required parameter: message"),
        ("checkmessage", ["m", "z", None, None], "too many parameters: got 4, expected 3"),
        (
            "deldatastore",
            {"key": "k", "generation": "x"},
            "generation: should be an unsigned 64 bit integer: invalid token (see logs for details)",
        ),
    ]
    for method, params, message in cases:
        with pytest.raises(RpcError) as err:
            node.rpc.call(method, params)
        assert err.value.error == {"code": -32602, "message": message}, method


def test_developer_mode_shows_the_bad_token(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(developer=True)
    with pytest.raises(RpcError) as err:
        node.rpc.call("deldatastore", {"key": "k", "generation": "x"})
    assert (
        err.value.error["message"]
        == "generation: should be an unsigned 64 bit integer: invalid token '\"x\"'"
    )


def test_positional_nulls_mean_not_given(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    signed = node.rpc.signmessage("hi")
    assert node.rpc.call("checkmessage", ["hi", signed["zbase"], None]) == {
        "pubkey": node.id,
        "verified": True,
    }


def test_filter_keeps_only_marked_fields(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    rpc = LightningRpc(str(node.sim.rpc_path))
    with rpc.reply_filter({"id": True, "our_features": {"init": True}}):
        out = rpc.getinfo()
    assert out == {"id": node.id, "our_features": {"init": out["our_features"]["init"]}}
    rpc.call("datastore", {"key": ["f", "a"], "string": "1"})
    rpc.call("datastore", {"key": ["f", "b"], "string": "2"})
    with rpc.reply_filter({"datastore": [{"string": True}]}):
        assert rpc.listdatastore(["f"]) == {"datastore": [{"string": "1"}, {"string": "2"}]}


def test_plugin_messages_reach_callers_that_enabled_notifications(
    node_factory: NodeFactory,
) -> None:
    node = node_factory.get_node(plugins=[ORDINARY])
    raw = _req("notifications", {"enable": True}, "n:1") + _req("ord-progress", {}, 42)
    replies = exchange(node.sim.rpc_path, raw, replies=4)
    assert replies[0] == {"jsonrpc": "2.0", "id": "n:1", "result": {}}
    message, progress, result = replies[1:]
    assert message == {
        "jsonrpc": "2.0",
        "method": "message",
        "params": {"id": 42, "level": "info", "message": "working on it"},
    }
    assert progress == {
        "jsonrpc": "2.0",
        "method": "progress",
        "params": {"id": 42, "num": 1, "total": 2},
    }
    assert result == {"jsonrpc": "2.0", "id": 42, "result": {"done": True}}
    # Without notifications enabled, the caller gets only the reply.
    (only,) = exchange(node.sim.rpc_path, _req("ord-progress", {}, 43), replies=1)
    assert only == {"jsonrpc": "2.0", "id": 43, "result": {"done": True}}
    # pyln's client with a notify callback sees the message.
    got: list[object] = []
    rpc = LightningRpc(str(node.sim.rpc_path))
    with rpc.notify(lambda message, progress, request, **kw: got.append(message)):
        rpc.call("ord-args", ["x"])
    assert got == []
