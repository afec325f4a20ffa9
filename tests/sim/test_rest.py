"""The clnrest-style HTTP layer, over a real socket on 127.0.0.1 with a real RuneBook.

The node behind it is a small fake (these are unit tests of the HTTP layer): ``call`` serves a
few methods and fails like lightningd, ``checkrune`` is the rune book's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from lnhive.sim.errors import RpcError
from lnhive.sim.rest import RestServer, start_rest
from lnhive.sim.runes import RuneBook

GETINFO = {"id": "02" + "11" * 32, "alias": "stand-in", "num_peers": 0}
MISSING_RUNE = {"code": 1501, "message": "Not authorized: Missing rune"}


class FakeNode:
    def __init__(self) -> None:
        self.book = RuneBook(bytes(range(32)))
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.checks: list[tuple[str, str, dict[str, Any]]] = []

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append((method, params))
        if method == "getinfo":
            return GETINFO
        if method == "echo":
            return {"params": params}
        if method == "fail":
            raise RpcError(-1, "boom", {"why": "testing"})
        if method == "faildata":
            raise RpcError(1502, "plain failure")
        if method == "crash":
            raise KeyError("oops")
        raise RpcError(-32601, f"Unknown command '{method}'")

    async def checkrune(self, rune: str, method: str, params: dict[str, Any]) -> Any:
        self.checks.append((rune, method, params))
        return self.book.checkrune(rune, method=method, params=params)

    def rune(self, restrictions: Any = None) -> str:
        result = self.book.createrune(restrictions=restrictions)["rune"]
        assert isinstance(result, str)
        return result


Scenario = Callable[[RestServer, aiohttp.ClientSession, FakeNode], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        node = FakeNode()
        server = await start_rest("127.0.0.1", 0, node.call, node.checkrune)
        try:
            async with aiohttp.ClientSession(server.url) as session:
                await scenario(server, session, node)
        finally:
            await server.close()

    asyncio.run(main())


async def post(
    session: aiohttp.ClientSession,
    path: str,
    rune: str | None = None,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if rune is not None:
        hdrs["Rune"] = rune
    async with session.post(path, data=body, headers=hdrs) as resp:
        return resp.status, await resp.json(content_type=None)


def test_conformance_19_getinfo() -> None:
    """Valid rune 201, none 403, bad 401, unknown method 404, GET 405."""

    async def scenario(server: RestServer, s: aiohttp.ClientSession, node: FakeNode) -> None:
        readonly = node.rune("readonly")
        assert await post(s, "/v1/getinfo", readonly) == (201, GETINFO)
        assert node.checks[-1] == (readonly, "getinfo", {})  # no nodeid, method and params
        assert await post(s, "/v1/getinfo") == (403, MISSING_RUNE)
        foreign = RuneBook(bytes(32)).createrune()["rune"]
        assert await post(s, "/v1/getinfo", foreign) == (
            401,
            {"code": 1501, "message": "Not authorized: Not derived from master"},
        )
        assert await post(s, "/v1/stop", readonly) == (
            401,
            {
                "code": 1502,
                "message": "Not permitted: method does not start with list AND "
                "method does not start with get AND method is not equal to summary",
            },
        )
        status, body = await post(s, "/v1/getinfo", "garbage!")
        assert (status, body["code"]) == (401, -32602)
        unrestricted = node.rune()
        assert await post(s, "/v1/nosuchmethod", unrestricted) == (
            404,
            {"code": -32601, "message": "Unknown command 'nosuchmethod'"},
        )
        for verb in ("GET", "PUT", "DELETE", "PATCH"):
            async with s.request(verb, "/v1/getinfo", headers={"Rune": readonly}) as resp:
                assert resp.status == 405
                assert await resp.json() == {
                    "code": -32601,
                    "message": "Path invalid, http_method must be POST for CLN methods",
                }
        assert [c[0] for c in node.calls] == ["getinfo", "nosuchmethod"]

    run(scenario)


def test_rpc_errors_are_500_with_the_error_object() -> None:
    async def scenario(server: RestServer, s: aiohttp.ClientSession, node: FakeNode) -> None:
        rune = node.rune()
        assert await post(s, "/v1/fail", rune) == (
            500,
            {"code": -1, "message": "boom", "data": {"why": "testing"}},
        )
        assert await post(s, "/v1/faildata", rune) == (
            500,
            {"code": 1502, "message": "plain failure"},
        )
        status, body = await post(s, "/v1/crash", rune)
        assert status == 500
        assert "KeyError" in body["message"]

    run(scenario)


def test_malformed_bodies_are_400() -> None:
    async def scenario(server: RestServer, s: aiohttp.ClientSession, node: FakeNode) -> None:
        rune = node.rune()
        for body in ("{not json", "[1, 2]", '"text"', b"\xff\xfe"):
            status, err = await post(s, "/v1/echo", rune, body)
            assert status == 400, body
            assert err["code"] == -32700
            assert err["message"].startswith("Could not parse `")
            assert "JSON request: " in err["message"]
        assert node.calls == []  # nothing reached the node
        # The body is parsed before the rune is looked at, as in clnrest.
        assert (await post(s, "/v1/echo", None, "{oops"))[0] == 400
        status, err = await post(
            s,
            "/v1/echo",
            rune,
            "a",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 400
        assert "FORM-URLENCODED request" in err["message"]

    run(scenario)


def test_params_body_empty_and_nulls() -> None:
    async def scenario(server: RestServer, s: aiohttp.ClientSession, node: FakeNode) -> None:
        rune = node.rune()
        assert await post(s, "/v1/echo", rune) == (201, {"params": {}})
        assert await post(s, "/v1/echo", rune, "") == (201, {"params": {}})
        body = '{"a": 1, "b": null, "c": {"d": null, "e": [{"f": null}]}}'
        assert await post(s, "/v1/echo", rune, body) == (
            201,
            {"params": {"a": 1, "c": {"e": [{}]}}},
        )
        # checkrune sees the members before nulls are dropped: they count for pnum.
        three = node.rune([["pnum=3"]])
        assert (await post(s, "/v1/echo", three, body))[0] == 201
        assert node.checks[-1][2] == {"a": 1, "b": None, "c": {"d": None, "e": [{"f": None}]}}
        # Restrictions on params work over REST; id restrictions cannot (no nodeid is sent).
        small = node.rune([["pnamea<2"]])
        assert (await post(s, "/v1/echo", small, '{"a": 1}'))[0] == 201
        assert await post(s, "/v1/echo", small, '{"a": 2}') == (
            401,
            {"code": 1502, "message": "Not permitted: parameter a is greater or equal to 2"},
        )
        by_peer = node.rune([["id=02" + "11" * 32]])
        assert await post(s, "/v1/getinfo", by_peer) == (
            401,
            {"code": 1502, "message": "Not permitted: id not present"},
        )

    run(scenario)


def test_form_bodies_and_formats() -> None:
    async def scenario(server: RestServer, s: aiohttp.ClientSession, node: FakeNode) -> None:
        rune = node.rune([["pnamex=5"]])
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert await post(s, "/v1/echo", rune, "x=5&y=a+b", form) == (
            201,
            {"params": {"x": "5", "y": "a b"}},
        )
        yaml = {"Content-Type": "application/yaml"}
        assert await post(s, "/v1/echo", rune, "x: 5", yaml) == (
            406,
            {"code": None, "message": "Unsupported content-type header: application/yaml"},
        )
        assert (await post(s, "/v1/echo", rune, '{"x": 5}', {"Content-Type": "text/plain"}))[
            0
        ] == 406
        html = {"Accept": "text/html"}
        assert await post(s, "/v1/echo", rune, '{"x": 5}', html) == (
            406,
            {"code": None, "message": "Unsupported accept header: text/html"},
        )
        assert (await post(s, "/v1/echo", rune, '{"x": 5}', {"Accept": "*/*"}))[0] == 201

    run(scenario)


def test_paths_outside_v1() -> None:
    async def scenario(server: RestServer, s: aiohttp.ClientSession, node: FakeNode) -> None:
        rune = node.rune()
        assert await post(s, "/getinfo", rune) == (
            404,
            {"code": -32601, "message": "Path not found"},
        )
        assert await post(s, "/v2/v1/getinfo", rune) == (
            404,
            {"code": -32601, "message": "Path invalid, version missing for CLN methods"},
        )
        assert node.calls == []

    run(scenario)


def test_server_binds_loopback_only_and_closes() -> None:
    async def main() -> None:
        node = FakeNode()
        with pytest.raises(ValueError, match="loopback"):
            await start_rest("0.0.0.0", 0, node.call, node.checkrune)
        server = await start_rest("127.0.0.1", 0, node.call, node.checkrune)
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        await server.close()
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.post(f"http://127.0.0.1:{server.port}/v1/getinfo")

    asyncio.run(main())
