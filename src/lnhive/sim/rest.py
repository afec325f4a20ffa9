"""A clnrest-style HTTP endpoint for a stand-in node: ``POST /v1/<method>`` with a ``Rune`` header.

This plays Core Lightning's bundled REST plugin (clnrest, ``plugins/rest-plugin``) for one node:

* ``POST /v1/<method>``, header ``Rune: <rune>``, body = the method's params as a JSON object
  (an empty body is ``{}``; ``null`` members are dropped before the call, at any depth) or as
  ``application/x-www-form-urlencoded`` (every value a string);
* the rune is checked with ``checkrune {rune, method, params}`` and no ``nodeid``, so runes
  restricted by ``id`` never pass over REST;
* replies: ``201`` + the bare result; no ``Rune`` header -> ``403``
  ``{"code":1501,"message":"Not authorized: Missing rune"}``; a refused rune -> ``401`` with
  checkrune's error object; an unknown method (-32601) -> ``404``; any other RPC error -> ``500``
  with ``{code, message, data?}``; any verb but POST on ``/v1/`` -> ``405``; an unparsable body
  -> ``400``; an unsupported ``Content-Type`` or ``Accept`` -> ``406``.

Differences from clnrest: it speaks **plain HTTP and only on a loopback address** (clnrest
defaults to HTTPS with its own certificates; the stand-in never leaves the machine, so a
loopback bind is enforced instead); a body that does not parse is answered ``400`` where clnrest
answers ``500``; YAML and XML bodies and replies, Socket.IO notifications, ``/v1/list-methods``,
Swagger and plugin-registered paths (``clnrest-register-path``) are not served.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from lnhive.sim.errors import METHOD_NOT_FOUND, RUNE_NOT_AUTHORIZED, RpcError

__all__ = ["CallFn", "CheckRuneFn", "RestServer", "start_rest"]

log = logging.getLogger(__name__)

CallFn = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``call(method, params)``: runs a node RPC, raises :class:`RpcError` on failure."""
CheckRuneFn = Callable[[str, str, dict[str, Any]], Awaitable[Any]]
"""``checkrune(rune, method, params)``: returns when allowed, raises :class:`RpcError` if not."""

_PARSE_ERROR = -32700  # JSON-RPC "parse error": the body is not a params object


def _error(status: int, code: int | None, message: str, data: Any = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return web.json_response(body, status=status)


def _rpc_error(status: int, err: RpcError) -> web.Response:
    return web.json_response(err.to_json(), status=status)


def _drop_nulls(value: Any) -> Any:
    """clnrest's filter_json: remove members whose value is null, in objects at any depth."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _format(header: str | None) -> str | None:
    """The body format a Content-Type / Accept header names, as clnrest matches it."""
    text = header or "application/json"
    for needle, fmt in (
        ("*/*", "json"),
        ("application/json", "json"),
        ("application/yaml", "yaml"),
        ("application/xml", "xml"),
        ("application/x-www-form-urlencoded", "form"),
    ):
        if needle in text:
            return fmt
    return None


def _parse_body(raw: bytes, fmt: str) -> dict[str, Any]:
    """The params object of a request body; ValueError if it is not one."""
    if not raw:
        return {}
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if fmt == "form":
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    params = json.loads(text)
    if not isinstance(params, dict):
        raise ValueError(f"expected a JSON object of parameters, got {type(params).__name__}")
    return params


class RestServer:
    """A running endpoint; ``port`` is the bound port, ``close()`` stops it."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        await self._runner.cleanup()


class _Handler:
    def __init__(self, call: CallFn, checkrune: CheckRuneFn) -> None:
        self._call = call
        self._checkrune = checkrune

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except Exception as exc:  # a bug in a callback must not kill the connection silently
            log.exception("REST %s %s failed", request.method, request.path)
            return _error(500, None, f"Internal error: {type(exc).__name__}: {exc}")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("path", "")
        prefix, sep, method = path.partition("v1/")
        if not sep:
            return _error(404, METHOD_NOT_FOUND, "Path not found")
        if prefix:
            return _error(404, METHOD_NOT_FOUND, "Path invalid, version missing for CLN methods")
        if request.method != "POST":
            return _error(
                405, METHOD_NOT_FOUND, "Path invalid, http_method must be POST for CLN methods"
            )

        content_type = request.headers.get("Content-Type")
        fmt = _format(content_type)
        if fmt not in ("json", "form"):
            return _error(406, None, f"Unsupported content-type header: {content_type}")
        accept = request.headers.get("Accept")
        if _format(accept) != "json":
            return _error(406, None, f"Unsupported accept header: {accept}")
        raw = await request.read()
        try:
            params = _parse_body(raw, fmt)
        except ValueError as exc:
            kind = "JSON" if fmt == "json" else "FORM-URLENCODED"
            shown = raw[:200].decode("utf-8", "replace")
            return _error(400, _PARSE_ERROR, f"Could not parse `{shown}` {kind} request: {exc}")

        rune = request.headers.get("Rune")
        if rune is None:
            return _error(403, RUNE_NOT_AUTHORIZED, "Not authorized: Missing rune")
        try:
            # clnrest hands checkrune the params before dropping nulls (they count for pnum).
            await self._checkrune(rune, method, params)
        except RpcError as err:
            return _rpc_error(401, err)

        try:
            result = await self._call(method, _drop_nulls(params))
        except RpcError as err:
            return _rpc_error(404 if err.code == METHOD_NOT_FOUND else 500, err)
        return web.json_response(result, status=201)


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"the stand-in's REST endpoint is plain HTTP and binds loopback only: {host}"
        )


async def start_rest(host: str, port: int, call: CallFn, checkrune: CheckRuneFn) -> RestServer:
    """Serve ``POST /v1/<method>`` on ``host:port`` (a loopback address; port 0 picks a free one).

    Plain HTTP: the stand-in's endpoint is for processes on the same machine only.
    """
    _check_loopback(host)
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", _Handler(call, checkrune).dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
        site = web.SockSite(runner, sock)
        await site.start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    bound_host, bound_port = sock.getsockname()[:2]
    return RestServer(runner, str(bound_host), int(bound_port))
