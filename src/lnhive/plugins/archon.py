#!/usr/bin/env python3
"""cl-hive-archon: the node's DID, key bindings and verifiable credentials (slice 1).

A thin pyln-client shell over :class:`lnhive.identity.archon.Archon`. The DID is the
did:key of an Ed25519 key derived with ``makesecret``; credentials are W3C VC 2.0 with
``eddsa-jcs-2022`` proofs, revocable through the node's W3C Bitstring Status List; bindings to the node key and the Nostr key verify offline.
Failures are JSON-RPC errors in 22000-22999 whose message begins with the symbolic
reason (``credential_invalid: expired: …``). The plugin is offline: the Archon gateway
options are read and checked but not used yet.

Run it with ``plugin=/path/to/archon.py`` (or the ``cl-hive-archon`` console script); see
docs/archon.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pyln.client import Plugin

from lnhive.cln.rpc import RpcNodeApi
from lnhive.core.clock import WallClock
from lnhive.core.errors import ARCHON_BASE, Internal, LnhiveError
from lnhive.identity.archon import Archon, ArchonOptions
from lnhive.identity.store import DB_NAME
from lnhive.plugins.shell import rpc_call

PREFIX = "hive-archon-"
_T = TypeVar("_T")
_TRUTHY = ("1", "true", "yes", "on")

plugin = Plugin()
D = ArchonOptions()
plugin.add_option(
    PREFIX + "db-path",
    None,
    f"SQLite file of this plugin (default: {DB_NAME} in the node's network directory; "
    "a relative path is taken relative to that directory)",
)
plugin.add_option(
    PREFIX + "network-enabled",
    "false",
    "Use the Archon gateway (1/true/yes/on); not used by this version, which stays offline",
)
plugin.add_option(PREFIX + "gateway", D.gateway, "Archon gateway URL (https, or http on localhost)")
plugin.add_option(PREFIX + "gateway-auth-token", "", "Bearer token for the gateway (never logged)")
plugin.add_option(
    PREFIX + "governance-min-bond",
    str(D.governance_min_bond),
    "Smallest bond in sats for the governance tier (at least 1; a bad value means 50000)",
)

archon: Archon | None = None


def _call(fn: Callable[[], _T]) -> _T:
    """Run a service call; its errors become JSON-RPC errors in our code range."""
    return rpc_call(plugin, ARCHON_BASE, fn)


def _archon() -> Archon:
    if archon is None:
        raise Internal("cl-hive-archon is not initialised")
    return archon


def _options(options: dict[str, Any]) -> ArchonOptions:
    def get(name: str) -> str:
        return str(options.get(PREFIX + name) or "").strip()

    bond_text = get("governance-min-bond")
    try:
        bond = int(bond_text)
    except ValueError:
        bond = 0  # normalised() falls back to the default with a warning
    return ArchonOptions(
        network_enabled=get("network-enabled").lower() in _TRUTHY,
        gateway=get("gateway"),
        gateway_auth_token=get("gateway-auth-token"),
        governance_min_bond=bond,
    )


@plugin.init()
def init(
    options: dict[str, Any], configuration: dict[str, Any], plugin: Plugin, **kwargs: Any
) -> Any:
    global archon
    network_dir = configuration["lightning-dir"]
    db = options.get(PREFIX + "db-path") or DB_NAME
    try:
        opts, warnings = _options(options).normalised()
        node = RpcNodeApi.from_socket(os.path.join(network_dir, configuration["rpc-file"]))
        archon = Archon(node, os.path.join(network_dir, db), WallClock(), opts)
    except LnhiveError as err:
        return {"disable": err.rpc_message()}
    except Exception as exc:  # e.g. a database that cannot be opened: disable, never crash
        return {"disable": f"internal: {type(exc).__name__}: {exc}"}
    for warning in warnings:
        plugin.log(warning, level="warn")
    status = archon.status()
    plugin.log(
        "cl-hive-archon started: "
        + (f"DID {status['identity']['did']}" if status["provisioned"] else "not provisioned")
        + f", database {archon.store.path}"
    )
    return None


@plugin.method("hive-archon-provision")
def hive_archon_provision(force: bool = False, label: str = "") -> dict[str, Any]:
    """Store the node's did:key (derived with makesecret) and bind it to the node key and
    the Nostr key; again returns the same DID (FORCE: re-sign the bindings)."""
    return _call(lambda: _archon().provision(force, label))


@plugin.method("hive-archon-status")
def hive_archon_status() -> dict[str, Any]:
    """The DID, its bindings (re-verified), credential counts and options."""
    return _call(lambda: _archon().status())


@plugin.method("hive-archon-resolve")
def hive_archon_resolve(did: str) -> dict[str, Any]:
    """The DID document of a did:key, built offline."""
    return _call(lambda: _archon().resolve(did))


@plugin.method("hive-archon-vc-issue")
def hive_archon_vc_issue(
    subject: str, claims_json: Any, types: Any = None, valid_days: int = 365
) -> dict[str, Any]:
    """Issue a VC 2.0 credential about SUBJECT (did:key, node id or Nostr key) with the
    claims CLAIMS_JSON, extra TYPES, valid VALID_DAYS (0: no end); signed eddsa-jcs-2022."""
    return _call(lambda: _archon().issue(subject, claims_json, types, valid_days))


@plugin.method("hive-archon-vc-list")
def hive_archon_vc_list(subject: str = "", limit: int = 50) -> dict[str, Any]:
    """Credentials this node issued, newest first (SUBJECT's only), LIMIT 1-500."""
    return _call(lambda: _archon().list_credentials(subject, limit))


@plugin.method("hive-archon-vc-export")
def hive_archon_vc_export(credential_id: str) -> dict[str, Any]:
    """An issued credential with the issuer's DID document and binding attestations."""
    return _call(lambda: _archon().export(credential_id))


@plugin.method("hive-archon-vc-verify")
def hive_archon_vc_verify(vc_json: Any, status_list_json: Any = None) -> dict[str, Any]:
    """Verify a VC 2.0 credential offline (shape, eddsa-jcs-2022 proof, issuer key,
    validity period, and revocation against STATUS_LIST_JSON or this node's own status
    list); a failure is an error naming the reason."""
    return _call(lambda: _archon().verify(vc_json, status_list_json))


@plugin.method("hive-archon-vc-revoke")
def hive_archon_vc_revoke(credential_id: str, reason: str = "") -> dict[str, Any]:
    """Revoke a credential this node issued: set its bit in the node's Bitstring Status
    List and re-sign the list (REASON: at most 500 characters, kept locally)."""
    return _call(lambda: _archon().revoke(credential_id, reason))


@plugin.method("hive-archon-status-list")
def hive_archon_status_list() -> dict[str, Any]:
    """The node's current signed revocation status list credential (W3C Bitstring Status
    List), for verifiers to check this node's credentials against."""
    return _call(lambda: _archon().status_list())


@plugin.method("hive-archon-binding-verify")
def hive_archon_binding_verify(binding_json: Any) -> dict[str, Any]:
    """Verify a DID binding document (cln or nostr) offline."""
    return _call(lambda: _archon().verify_binding(binding_json))


@plugin.method("hive-archon-sign-message")
def hive_archon_sign_message(message: str) -> dict[str, Any]:
    """Sign MESSAGE (at most 16384 characters) with the DID key; text beginning with
    lnhive: is refused."""
    return _call(lambda: _archon().sign_message(message))


@plugin.method("hive-archon-verify-message")
def hive_archon_verify_message(message: str, signature: str, did: str) -> dict[str, Any]:
    """Check a hive-archon-sign-message SIGNATURE of MESSAGE by DID, offline."""
    return _call(lambda: _archon().verify_message(message, signature, did))


@plugin.subscribe("shutdown")
def on_shutdown(**kwargs: Any) -> None:
    if archon is not None:
        archon.close()
    plugin.log("cl-hive-archon stopped")
    sys.exit(0)


def main() -> None:
    plugin.run()


if __name__ == "__main__":
    main()
