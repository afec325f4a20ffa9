"""The SSRF-safe gateway client (spec §1.7, §5.7, §6 test 10).

Refusals are checked against a real HTTP server on 127.0.0.1 that counts requests:
with the default policy it must never be contacted. Exchanges (redirects, sizes,
timeouts, headers) use a test-only AddressPolicy that admits loopback — a policy no
plugin option can select.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lnhive.core.errors import InvalidInput
from lnhive.identity.gateway import (
    OK,
    PERMANENT,
    PUBLIC_ONLY,
    RETRYABLE,
    AddressPolicy,
    GatewayClient,
    is_public,
)

LOOPBACK_FOR_TESTS = AddressPolicy(allow=lambda ip: ip.is_loopback, allow_http=True)


class Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body: bytes = b'{"did": "x"}'
        self.delay = 0.0
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                state.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                time.sleep(state.delay)
                self.send_response(state.status)
                for k, v in state.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(state.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.mark.parametrize(
    "addr",
    [
        "0.0.0.0",
        "10.1.2.3",
        "100.64.0.1",
        "127.0.0.1",
        "127.8.9.10",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.168.1.1",
        "198.18.0.1",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2001:db8::1",
    ],
)
def test_blocked_addresses(addr: str) -> None:
    assert not is_public(ipaddress.ip_address(addr))


@pytest.mark.parametrize("addr", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(addr: str) -> None:
    assert is_public(ipaddress.ip_address(addr))


@pytest.mark.parametrize(
    "url",
    [
        "http://archon.example",
        "ftp://archon.example",
        "https://",
        "https://user:pw@archon.example",
        "https://archon.example/?x=1",
        "https://archon.example:99999",
    ],
)
def test_bad_gateway_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        GatewayClient(url)


def test_loopback_gateway_is_refused_before_connecting(server: Server) -> None:
    for host in ("127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"):
        out = GatewayClient(f"https://{host}:{server.port}").post_json("/api/v1/x", {})
        assert out.kind == PERMANENT and "refused address" in out.error
        assert out.symbol == "policy_blocked" and not out.sent
    assert server.requests == []


def test_every_resolved_address_is_checked(server: Server) -> None:
    calls: list[str] = []

    def resolver(answers: list[str]) -> Any:
        def resolve(host: str, port: int) -> list[str]:
            calls.append(host)
            return answers

        return resolve

    for answers in (["10.0.0.5"], ["8.8.8.8", "127.0.0.1"], ["192.168.0.10"], ["::ffff:127.0.0.1"]):
        client = GatewayClient("https://gw.example", resolve=resolver(answers))
        out = client.post_json("/api/v1/did/generate", {"a": 1})
        assert out.kind == PERMANENT and "refused address" in out.error
    assert calls == ["gw.example"] * 4
    assert server.requests == []


def test_dns_failure_sends_nothing() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    out = GatewayClient("https://gw.example", resolve=fail).post_json("/x", {})
    assert out.kind == RETRYABLE and "dns" in out.error and not out.sent
    empty = GatewayClient("https://gw.example", resolve=lambda h, p: []).post_json("/x", {})
    assert empty.kind == RETRYABLE


def test_request_goes_to_the_vetted_address_with_jcs_body_and_bearer(server: Server) -> None:
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    client = GatewayClient(
        f"http://gw.test:{server.port}/base",
        "s3cret-token",
        policy=LOOPBACK_FOR_TESTS,
        resolve=resolve,
    )
    server.body = b'{"did": "did:cid:bagaaiera"}'
    out = client.post_json("/api/v1/did/generate", {"z": 1, "a": {"y": "\u00e9", "b": 1.0}})
    assert out.kind == OK and out.result == {"did": "did:cid:bagaaiera"} and out.status == 200
    (req,) = server.requests
    assert req["path"] == "/base/api/v1/did/generate"
    assert req["headers"]["Host"] == f"gw.test:{server.port}"  # name kept, address vetted
    assert req["headers"]["Authorization"] == "Bearer s3cret-token"
    assert req["body"] == '{"a":{"b":1,"y":"é"},"z":1}'.encode()
    assert resolved == ["gw.test"]  # resolved once: the connection used that answer
    assert "s3cret" not in repr(client)


def test_redirect_to_loopback_is_refused_not_followed(server: Server) -> None:
    client = GatewayClient(f"http://127.0.0.1:{server.port}", policy=LOOPBACK_FOR_TESTS)
    for status in (301, 302, 303, 307, 308):
        server.status = status
        server.headers = {"Location": "http://127.0.0.1:1/admin"}
        out = client.post_json("/api/v1/did/generate", {})
        assert out.kind == PERMANENT and out.status == status
        assert out.error.startswith(f"redirect refused: HTTP {status}")
        assert out.symbol == "policy_blocked"
    assert len(server.requests) == 5  # one per call: nothing followed


def test_status_classes_size_and_time_limits(server: Server) -> None:
    client = GatewayClient(
        f"http://127.0.0.1:{server.port}",
        policy=LOOPBACK_FOR_TESTS,
        timeout_s=0.5,
        max_bytes=1024,
    )
    for status, kind in ((500, RETRYABLE), (503, RETRYABLE), (429, RETRYABLE), (400, PERMANENT)):
        server.status = status
        assert client.post_json("/x", {}).kind == kind
    server.status = 401
    assert client.post_json("/x", {}).symbol == "unauthorized"
    server.status = 200
    server.body = b"x" * 2048
    big = client.post_json("/x", {})
    assert big.kind == PERMANENT and big.error == "reply too large"
    server.body = b"<html>"
    assert client.post_json("/x", {}).error == "gateway reply is not JSON"
    server.body = b'"did:cid:b"'
    assert client.post_json("/x", {}).result == "did:cid:b"
    server.delay = 1.5
    started = time.monotonic()
    slow = client.post_json("/x", {})
    assert slow.kind == RETRYABLE and "timed out" in slow.error
    assert time.monotonic() - started < 1.4
    assert client.post_json("/x?y", {}).kind == PERMANENT  # no query smuggled into the path


def test_connection_refused_is_retryable() -> None:
    client = GatewayClient("http://127.0.0.1:1", policy=LOOPBACK_FOR_TESTS, timeout_s=0.5)
    out = client.post_json("/x", {})
    assert out.kind == RETRYABLE and "connection failed" in out.error


def test_default_policy_is_public_only() -> None:
    assert PUBLIC_ONLY.allow_http is False
    assert PUBLIC_ONLY.allow(ipaddress.ip_address("127.0.0.1")) is False
    assert json.dumps({"policy": "not an option"})  # the policy has no option: see docs
