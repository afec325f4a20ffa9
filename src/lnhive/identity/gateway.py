"""An SSRF-safe JSON client for the Archon gateway (spec §1.7, §5.7).

Every request:

1. takes the host from the configured URL (``https`` only; plain ``http`` only when the
   address policy allows it, which no plugin option can do);
2. resolves it (an IP literal is used as is) and checks **every** resolved address
   against the address policy — one blocked address refuses the request; a resolution
   failure sends nothing;
3. connects to a checked address itself (TLS with the default context, certificate and
   SNI checked against the host name), so a second DNS answer cannot move the request
   elsewhere (DNS rebinding);
4. follows **no** redirect: a 3xx is a permanent refusal;
5. bounds time (one deadline over connect, send and read, checked before every
   receive) and reply size.

The default policy (:data:`PUBLIC_ONLY`) refuses unspecified, private, shared (CGNAT),
loopback, link-local, multicast, benchmarking, documentation, reserved and broadcast
addresses, IPv6 unique-local/site-local, and IPv4 addresses embedded in IPv4-mapped,
NAT64, 6to4 and Teredo forms. Tests pass another :class:`AddressPolicy` in code; it is
deliberately not reachable from plugin options.

Results are typed (:class:`Outcome`): ``ok``, ``retryable`` (timeouts, connection
failures, DNS failures, 429 and 5xx) or ``permanent`` (refused addresses, redirects,
other 4xx, oversized or non-JSON replies). The bearer token only ever goes into the
``Authorization`` header, never into an error text.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

OK = "ok"
RETRYABLE = "retryable"
PERMANENT = "permanent"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 65_536

_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated)
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo)."""
    out: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if any(ip in net for net in _NAT64):
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    return out


def is_public(ip: Address) -> bool:
    """Whether ``ip`` is a global unicast address a gateway may live at."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.is_global and not any(ip in net for net in _BLOCKED_V4)
    if any(ip in net for net in _BLOCKED_V6):
        return False
    inner = embedded_v4(ip)
    if inner:
        return all(is_public(v4) for v4 in inner)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be contacted, and whether plain http is allowed."""

    allow: Callable[[Address], bool] = is_public
    allow_http: bool = False


PUBLIC_ONLY = AddressPolicy()


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen


@dataclass(frozen=True)
class Outcome:
    """What a request came to. ``symbol`` is the error symbol to raise a refusal with."""

    kind: str
    status: int | None = None
    result: Any = None
    error: str = ""
    symbol: str = "internal"
    sent: bool = field(default=False)
    """Whether any byte of the request left this node."""

    @property
    def ok(self) -> bool:
        return self.kind == OK


def _refuse(error: str, symbol: str = "policy_blocked") -> Outcome:
    return Outcome(PERMANENT, error=error, symbol=symbol)


def parse_address(text: str) -> Address:
    return ipaddress.ip_address(text.split("%", 1)[0])


class GatewayClient:
    """POST JSON to one gateway under an :class:`AddressPolicy`."""

    def __init__(
        self,
        base_url: str,
        token: str = "",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
        policy: AddressPolicy = PUBLIC_ONLY,
        resolve: Resolver = system_resolve,
    ) -> None:
        self.policy = policy
        self.resolve = resolve
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._token = token
        parts = urlsplit(base_url)
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput("gateway URL has a bad port") from None
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise InvalidInput("gateway URL must be https://host[:port][/path]")
        if parts.scheme == "http" and not policy.allow_http:
            raise InvalidInput("gateway URL must use https")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise InvalidInput("gateway URL must not carry credentials, a query or a fragment")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.url = f"{parts.scheme}://{parts.netloc}{self.base_path}"

    def __repr__(self) -> str:  # never print the token
        return f"GatewayClient(url={self.url!r})"

    def vetted_addresses(self) -> Outcome | list[Address]:
        """The checked addresses of the host, or the refusal (nothing is sent)."""
        try:
            literal: Address | None = parse_address(self.host)
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [literal]
        else:
            try:
                texts = self.resolve(self.host, self.port)
                candidates = [parse_address(t) for t in texts]
            except (OSError, ValueError, UnicodeError):
                return Outcome(RETRYABLE, error="dns resolution failed; nothing sent")
            if not candidates:
                return Outcome(RETRYABLE, error="dns resolution gave no address; nothing sent")
        for ip in candidates:
            if not self.policy.allow(ip):
                return _refuse(f"refused address {ip}: not a public unicast address")
        return candidates

    def post_json(self, path: str, body: dict[str, Any]) -> Outcome:
        """POST JCS(``body``) to ``path`` under the gateway URL; never raises."""
        if not path.startswith("/") or "\\" in path or any(c in path for c in "?#\r\n "):
            return _refuse("bad request path", "invalid_input")
        addresses = self.vetted_addresses()
        if isinstance(addresses, Outcome):
            return addresses
        payload = canonical_json(body)
        deadline = time.monotonic() + self.timeout_s
        last = Outcome(RETRYABLE, error="no address could be reached")
        for ip in addresses:
            try:
                sock = socket.create_connection((str(ip), self.port), timeout=self.timeout_s)
            except OSError as exc:
                last = Outcome(RETRYABLE, error=f"connection failed: {type(exc).__name__}")
                continue
            return self._exchange(sock, self.base_path + path, payload, deadline)
        return last

    def _exchange(self, sock: socket.socket, path: str, payload: bytes, deadline: float) -> Outcome:
        conn: http.client.HTTPConnection | None = None
        try:
            if self.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            conn.sock = sock  # connected to the vetted address; http.client won't reconnect
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Content-Length": str(len(payload)),
                "Connection": "close",
            }
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            conn.request("POST", path, body=payload, headers=headers)
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            response = conn.getresponse()
            status = response.status
            if 300 <= status < 400:
                target = urlsplit(response.getheader("Location") or "").hostname or "?"
                return Outcome(
                    PERMANENT,
                    status,
                    error=f"redirect refused: HTTP {status} to {target[:60]}",
                    symbol="policy_blocked",
                    sent=True,
                )
            data = self._read(response, deadline)
            if data is None:
                return Outcome(
                    PERMANENT, status, error="reply too large", symbol="invalid_input", sent=True
                )
            if status == 429 or status >= 500:
                return Outcome(RETRYABLE, status, error=f"gateway HTTP {status}", sent=True)
            if status >= 400:
                symbol = "unauthorized" if status in (401, 403) else "conflict"
                return Outcome(
                    PERMANENT, status, error=f"gateway HTTP {status}", symbol=symbol, sent=True
                )
            try:
                result = json.loads(data.decode("utf-8")) if data.strip() else None
            except (UnicodeDecodeError, ValueError):
                return Outcome(
                    PERMANENT,
                    status,
                    error="gateway reply is not JSON",
                    symbol="invalid_input",
                    sent=True,
                )
            return Outcome(OK, status, result=result, sent=True)
        except TimeoutError:
            return Outcome(RETRYABLE, error="gateway timed out", sent=True)
        except ssl.SSLCertVerificationError:
            return Outcome(PERMANENT, error="tls verification failed", symbol="unauthorized")
        except (OSError, http.client.HTTPException) as exc:
            return Outcome(RETRYABLE, error=f"gateway exchange failed: {type(exc).__name__}")
        finally:
            if conn is not None:
                conn.close()
            else:
                sock.close()

    def _read(self, response: http.client.HTTPResponse, deadline: float) -> bytes | None:
        """The body, or None past ``max_bytes``.

        The deadline is checked before every receive, and each receive waits at most
        what was left of it when the reply began (the socket's timeout), so a server
        that drips bytes cannot hold the request open much past the deadline.
        """
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError("deadline")
            chunk = response.read1(min(8192, self.max_bytes + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_bytes:
                return None
