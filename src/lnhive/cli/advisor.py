"""``lnhive advisor``: the advisor's side of cl-hive-comms.

Generate a Nostr key (a file with the 64-hex secret, mode 0600), show its public key,
sign an intent (envelope v1, docs/transport.md) and send it to a node, print the signed
reply with its receipt reference, and verify an exported receipt chain offline.

Sending goes through a :class:`Transport`; :class:`RestTransport` posts to the node's
CLN REST endpoint (``POST <url>/v1/hive-comms-rpc`` with a ``Rune`` header). The
envelope travels as JSON *text*: clnrest drops ``null`` members from a JSON body at any
depth, which would remove the envelope's ``payment_proof``/``confirm_action_id``.
:class:`NostrTransport` sends the envelope as a NIP-17 gift-wrapped DM (NIP-44 v2) to the
node's Nostr key through relays and waits for the gift-wrapped reply whose
``in_reply_to`` names the envelope.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from lnhive.core import bip340
from lnhive.core.derive import secp256k1_secret_valid
from lnhive.manage.receipts_verify import verify_export
from lnhive.transport.envelope import MAX_NONCE, build_envelope, parse_envelope
from lnhive.transport.nostr_dm import (
    KIND_GIFT_WRAP,
    KIND_LEGACY_DM,
    DmDropped,
    DmTooLarge,
    public_key_hex,
    sdk,
    unwrap_dm,
    wrap_dm,
)
from lnhive.transport.reply import reply_problem

app = typer.Typer(
    name="advisor",
    help="The advisor client: keys, signed intents to a node, offline receipt checks.",
    no_args_is_help=True,
    add_completion=False,
)

KEY_MODE = 0o600


class AdvisorError(Exception):
    """A problem the advisor must fix (bad key file, unreachable node, HTTP error)."""


# -- keys ---------------------------------------------------------------------------


def generate_key(path: str | os.PathLike[str], *, force: bool = False) -> str:
    """Write a fresh secret (64 hex + newline) to ``path`` with mode 0600; returns the
    x-only public key. Refuses to overwrite unless ``force``."""
    while True:
        secret = secrets.token_bytes(32)
        if secp256k1_secret_valid(secret):
            break
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(os.fspath(path), flags, KEY_MODE)
    except FileExistsError:
        raise AdvisorError(f"{path} exists (use --force to replace it)") from None
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), KEY_MODE)
        f.write(secret.hex() + "\n")
    return bip340.xonly_pubkey(secret).hex()


def load_key(path: str | os.PathLike[str]) -> bytes:
    try:
        text = Path(path).read_text().strip()
        secret = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise AdvisorError(f"cannot read a 64-hex secret from {path}: {exc}") from None
    if not secp256k1_secret_valid(secret):
        raise AdvisorError(f"{path} does not hold a valid secp256k1 secret")
    return secret


def pubkey_of(secret: bytes) -> str:
    return bip340.xonly_pubkey(secret).hex()


def next_nonce(key_path: str | os.PathLike[str], now_ms: int | None = None) -> int:
    """A nonce above every nonce this key file sent before: max(last + 1, now in ms),
    remembered in ``<key>.nonce``."""
    state = Path(f"{os.fspath(key_path)}.nonce")
    last = 0
    if state.exists():
        try:
            last = int(state.read_text().strip() or "0")
        except ValueError:
            last = 0
    nonce = max(last + 1, now_ms if now_ms is not None else time.time_ns() // 1_000_000)
    if nonce > MAX_NONCE:
        raise AdvisorError("nonce space exhausted")
    state.write_text(f"{nonce}\n")
    return nonce


# -- transports ----------------------------------------------------------------------


class Transport(Protocol):
    """Carries one signed envelope to the node and returns its reply object."""

    def send(self, envelope: Mapping[str, Any]) -> dict[str, Any]: ...


class RestTransport:
    """CLN REST (clnrest or the stand-in's endpoint): ``POST <url>/v1/hive-comms-rpc``."""

    def __init__(self, url: str, rune: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.rune = rune
        self.timeout = timeout

    def send(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        body = {
            "envelope": json.dumps(dict(envelope), separators=(",", ":")),
            "sender": envelope["sender"],
            "transport": "rest",
        }
        req = urllib.request.Request(
            f"{self.url}/v1/hive-comms-rpc", data=json.dumps(body).encode(), method="POST"
        )
        req.add_header("Content-Type", "application/json")
        req.add_header("Rune", self.rune)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                out = json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", "replace")
            raise AdvisorError(f"HTTP {err.code} from {self.url}: {text}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise AdvisorError(f"cannot reach {self.url}: {exc}") from None
        if not isinstance(out, dict):
            raise AdvisorError(f"the node answered {type(out).__name__}, not an object")
        return out


class NostrTransport:
    """NIP-17 DMs through ``relays`` to the node whose Nostr key is ``node`` (npub or hex).

    Sends the envelope gift-wrapped (``kind=4``: kind 4 + NIP-44 v2, for compatibility)
    and waits up to ``timeout`` seconds for the node's DM whose ``in_reply_to`` is the
    envelope's request hash. Refusals before authentication (unknown key, bad signature,
    clock skew, ...) get no DM, so they end in a timeout.
    """

    def __init__(
        self,
        secret: bytes,
        node: str,
        relays: Sequence[str],
        *,
        timeout: float = 30.0,
        kind: int = KIND_GIFT_WRAP,
    ) -> None:
        if not relays:
            raise AdvisorError("give at least one relay")
        for url in relays:
            if not url.startswith(("ws://", "wss://")):
                raise AdvisorError(f"relay {url!r} is not a ws:// or wss:// URL")
        try:
            self.node = public_key_hex(node)
        except ValueError as exc:
            raise AdvisorError(f"node key: {exc}") from None
        if kind not in (KIND_GIFT_WRAP, KIND_LEGACY_DM):
            raise AdvisorError("kind must be 1059 (NIP-17) or 4 (compatibility)")
        self.secret = secret
        self.relays = list(relays)
        self.timeout = timeout
        self.kind = kind

    def send(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        return asyncio.run(self._send(envelope))

    async def _send(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        ns = sdk()
        want = parse_envelope(dict(envelope)).request_hash()
        try:
            event = wrap_dm(
                self.secret,
                self.node,
                json.dumps(dict(envelope), separators=(",", ":")),
                kind=self.kind,
            )
        except DmTooLarge as exc:
            raise AdvisorError(str(exc)) from None
        client = ns.ClientBuilder().build()
        try:
            for url in self.relays:
                await client.add_relay(ns.RelayUrl.parse(url))
            stream = client.notifications()
            await client.connect(timedelta(seconds=min(10.0, self.timeout)))
            me = ns.PublicKey.parse(pubkey_of(self.secret))
            since = ns.Timestamp.from_secs(int(time.time()) - 172_800)
            filters = [
                ns.Filter().kinds([ns.Kind(KIND_GIFT_WRAP)]).pubkey(me).since(since),
                ns.Filter()
                .kinds([ns.Kind(KIND_LEGACY_DM)])
                .pubkey(me)
                .author(ns.PublicKey.parse(self.node))
                .since(since),
            ]
            # DMs already stored (earlier replies, maybe to this very envelope when it is
            # re-sent) are not the answer: note them before sending.
            old = await client.fetch_events(ns.ReqTarget.auto(filters), timedelta(seconds=5))
            events = old.to_vec() if hasattr(old, "to_vec") else old
            known = {str(ev.id().to_hex()) for ev in events}
            await client.subscribe(ns.ReqTarget.auto(filters))
            out = await client.send_event(ns.Event.from_json(event))
            if not out.success:
                failed = "; ".join(f"{u}: {m}" for u, m in out.failed.items())
                raise AdvisorError(f"no relay accepted the DM ({failed or 'none connected'})")
            return await asyncio.wait_for(self._reply(stream, want, known), self.timeout)
        except TimeoutError:
            raise AdvisorError(
                f"no reply over Nostr within {self.timeout:g} s (refusals before "
                "authentication get no DM)"
            ) from None
        finally:
            await client.shutdown()

    async def _reply(self, stream: Any, want: str, known: set[str]) -> dict[str, Any]:
        allowed = {self.node}.__contains__
        while True:
            note = await stream.next()
            if note is None:
                raise AdvisorError("the relay connection closed")
            if not note.is_new_event() or str(note.event.id().to_hex()) in known:
                continue
            try:
                dm = unwrap_dm(self.secret, note.event, kind4_author_allowed=allowed)
            except DmDropped:
                continue
            if dm.author != self.node:
                continue
            try:
                reply = json.loads(dm.text)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("in_reply_to") == want:
                return reply


def send_intent(
    secret: bytes,
    transport: Transport,
    *,
    node: str,
    credential_id: str,
    schema: str,
    action: str,
    params: Mapping[str, Any],
    nonce: int,
    confirm_action_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """Sign an intent for the node whose Nostr key is ``node`` and send it; the reply."""
    envelope = build_envelope(
        secret,
        recipient=node,
        schema_type=schema,
        action=action,
        params=params,
        credential_id=credential_id,
        nonce=nonce,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        confirm_action_id=confirm_action_id,
    )
    return transport.send(envelope)


def check_reply(reply: Mapping[str, Any], node_id: str | None) -> str | None:
    """Why the reply is not signed by the node's attested receipt key (``None``: it is).
    Without ``node_id`` only the reply's own attestation is checked."""
    att = reply.get("attestation")
    anchor = node_id if node_id is not None else (att or {}).get("node_id")
    if not isinstance(anchor, str):
        return "the reply is not signed"
    return reply_problem(reply, node_id=anchor)


def verify_chain(
    text: str,
    *,
    node_id: str | None = None,
    receipt_key: str | None = None,
    full: bool = False,
    receipt_hash: str | None = None,
) -> dict[str, Any]:
    """Verify an exported chain offline; with ``receipt_hash``, also that it holds that receipt."""
    res = verify_export(text, node_id=node_id, receipt_key=receipt_key, full=full)
    out = res.to_json() | {"to_seq": res.to_seq, "node_id": res.node_id}
    if receipt_hash is not None:
        found = False
        for line in text.splitlines():
            entry = json.loads(line)
            body = entry.get("receipt") or entry.get("redacted")
            if isinstance(body, dict) and body.get("receipt_hash") == receipt_hash:
                found = True
        out["contains_receipt"] = found
        out["ok"] = out["ok"] and found
    return out


# -- commands ------------------------------------------------------------------------


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option("--out", help="File to write the secret to (mode 0600)")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file")] = False,
) -> None:
    """Generate an advisor key; prints the public key to give the node operator."""
    try:
        typer.echo(generate_key(out, force=force))
    except AdvisorError as exc:
        raise _fail(str(exc)) from None


@app.command("pubkey")
def pubkey(key: Annotated[Path, typer.Option("--key", help="The advisor's key file")]) -> None:
    """Print the x-only public key (64 hex) of a key file."""
    try:
        typer.echo(pubkey_of(load_key(key)))
    except AdvisorError as exc:
        raise _fail(str(exc)) from None


@app.command("send")
def send(
    key: Annotated[Path, typer.Option("--key", help="The advisor's key file")],
    credential: Annotated[str, typer.Option("--credential", help="Your credential id")],
    schema: Annotated[str, typer.Option("--schema", help="e.g. hive:fee-policy/v1")],
    action: Annotated[str, typer.Option("--action", help="e.g. set_single")],
    params: Annotated[str, typer.Option("--params", help="The action's params as JSON")] = "{}",
    confirm: Annotated[
        str | None, typer.Option("--confirm", help="action_id being confirmed")
    ] = None,
    node_id: Annotated[
        str | None, typer.Option("--node-id", help="Check the reply's signer")
    ] = None,
    node: Annotated[
        str | None, typer.Option("--node", help="The node's Nostr key, hex (hive-client-status)")
    ] = None,
    node_npub: Annotated[
        str | None, typer.Option("--node-npub", help="Or the node's Nostr key as npub")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="REST: the node's base URL")] = None,
    rune: Annotated[
        str | None, typer.Option("--rune", help="REST: a rune allowing method=hive-comms-rpc")
    ] = None,
    nostr: Annotated[
        bool, typer.Option("--nostr", help="Send as a NIP-17 DM through --relay")
    ] = False,
    relay: Annotated[
        list[str] | None, typer.Option("--relay", help="Nostr: a relay URL (repeatable)")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Nostr: seconds to wait for the reply")
    ] = 30.0,
    kind4: Annotated[
        bool, typer.Option("--kind4", help="Nostr: kind 4 + NIP-44 instead of NIP-17")
    ] = False,
) -> None:
    """Sign an intent, send it over REST (--url, --rune) or Nostr (--nostr, --relay) and
    print the node's reply (exit 1 if refused)."""
    try:
        secret = load_key(key)
        if (node is None) == (node_npub is None):
            raise AdvisorError("give the node's key with --node or --node-npub")
        try:
            recipient = public_key_hex(node if node is not None else str(node_npub))
        except ValueError as exc:
            raise AdvisorError(f"node key: {exc}") from None
        transport: Transport
        if nostr:
            if not relay:
                raise AdvisorError("--nostr needs at least one --relay")
            kind = KIND_LEGACY_DM if kind4 else KIND_GIFT_WRAP
            transport = NostrTransport(secret, recipient, relay, timeout=timeout, kind=kind)
        else:
            if url is None or rune is None:
                raise AdvisorError("REST needs --url and --rune (or use --nostr --relay)")
            transport = RestTransport(url, rune)
        try:
            parsed = json.loads(params)
        except ValueError as exc:
            raise AdvisorError(f"--params is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise AdvisorError("--params must be a JSON object")
        reply = send_intent(
            secret,
            transport,
            node=recipient,
            credential_id=credential,
            schema=schema,
            action=action,
            params=parsed,
            nonce=next_nonce(key),
            confirm_action_id=confirm,
        )
    except AdvisorError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # bad arguments caught by build_envelope
        raise _fail(getattr(exc, "message", str(exc))) from None
    typer.echo(json.dumps(reply, indent=2, sort_keys=True))
    problem = check_reply(reply, node_id)
    if problem is not None:
        raise _fail(f"reply signature: {problem}")
    receipt = reply.get("receipt")
    typer.echo(
        f"{'ok' if reply.get('ok') else reply.get('code')}; receipt "
        + (f"seq {receipt['seq']} {receipt['receipt_hash']}" if receipt else "none"),
        err=True,
    )
    if not reply.get("ok"):
        raise typer.Exit(1)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="An export (hive-client-receipts-export's jsonl)")],
    node_id: Annotated[str | None, typer.Option("--node-id", help="The node id you trust")] = None,
    receipt_key: Annotated[
        str | None, typer.Option("--receipt-key", help="Or the receipt key")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Check every receipt signature")] = False,
    receipt: Annotated[
        str | None, typer.Option("--receipt", help="A receipt_hash it must hold")
    ] = None,
) -> None:
    """Verify an exported receipt chain offline (exit 1 if it does not verify)."""
    if node_id is None and receipt_key is None:
        raise _fail("give --node-id or --receipt-key")
    text = file.read_text()
    try:  # the RPC's whole answer saved to a file, rather than its jsonl member
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict) and isinstance(whole.get("jsonl"), str):
        text = whole["jsonl"]
    out = verify_chain(
        text, node_id=node_id, receipt_key=receipt_key, full=full, receipt_hash=receipt
    )
    typer.echo(json.dumps(out, indent=2, sort_keys=True))
    if not out["ok"]:
        raise typer.Exit(1)
