"""The clnrest-style endpoint of a running node, with runes from its own rune book
(conformance 18-19, end to end)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

from lnhive.sim.testing import NodeFactory
from tests.schemas import requires_schemas, validate_response

ORDINARY = str(Path(__file__).parent.parent / "plugins" / "ordinary.py")


def post(
    url: str, rune: str | None, body: dict[str, Any] | None = None, method: str = "POST"
) -> tuple[int, Any]:
    data = json.dumps(body or {}).encode() if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if rune is not None:
        req.add_header("Rune", rune)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        payload = err.read()
        return err.code, json.loads(payload) if payload else None


def test_rest_calls_with_runes(node_factory: NodeFactory) -> None:
    node = node_factory.get_node(plugins=[ORDINARY], rest=True)
    base = node.rest_url
    rune = node.rpc.createrune(restrictions=[["method^ord-", "method=getinfo"]])["rune"]
    status, out = post(f"{base}/v1/getinfo", rune)
    assert status == 201 and out["id"] == node.id
    # A plugin's method is reachable the same way, params from the JSON body.
    status, out = post(f"{base}/v1/ord-args", rune, {"first": "via-rest"})
    assert (status, out) == (201, {"first": "via-rest", "second": None})
    # No rune: 403; a rune that does not allow the method: 401 with checkrune's error.
    assert post(f"{base}/v1/getinfo", None) == (
        403,
        {"code": 1501, "message": "Not authorized: Missing rune"},
    )
    status, out = post(f"{base}/v1/signmessage", rune, {"message": "x"})
    assert status == 401 and out["code"] == 1502
    # A rune from another node's secret: 401, 1501.
    foreign = node_factory.get_node().rpc.createrune()["rune"]
    status, out = post(f"{base}/v1/getinfo", foreign)
    assert status == 401 and out["code"] == 1501
    # Unknown method: 404; plugin error: 500 with its code; GET: 405.
    master = node.rpc.createrune()["rune"]
    assert post(f"{base}/v1/no-such-method", master)[0] == 404
    status, out = post(f"{base}/v1/ord-fail", master, {"code": 21001})
    assert status == 500 and out["code"] == 21001
    assert post(f"{base}/v1/getinfo", master, method="GET")[0] == 405
    # Blacklisting the rune shuts it out.
    node.rpc.blacklistrune(start=0)
    status, out = post(f"{base}/v1/getinfo", rune)
    assert status == 401 and out["code"] == 1503


@requires_schemas
def test_rune_commands_through_the_socket(node_factory: NodeFactory) -> None:
    node = node_factory.get_node()
    made = node.rpc.createrune()
    validate_response("createrune", made)
    assert made["unique_id"] == "0" and "warning_unrestricted_rune" in made
    ro = node.rpc.createrune(rune=made["rune"], restrictions="readonly")
    validate_response("createrune", ro)
    assert ro["unique_id"] == "0"
    assert node.rpc.checkrune(rune=ro["rune"], method="listpeers") == {"valid": True}
    with pytest.raises(RpcError) as err:
        node.rpc.checkrune(rune=ro["rune"], method="withdraw")
    assert err.value.error["code"] == 1502
    shown = node.rpc.showrunes()
    validate_response("showrunes", shown)
    assert [r["unique_id"] for r in shown["runes"]] == ["0"]
    black = node.rpc.blacklistrune(start=0)
    validate_response("blacklistrune", black)
    assert black["blacklist"] == [{"start": 0, "end": 0}]
