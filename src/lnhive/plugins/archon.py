#!/usr/bin/env python3
"""cl-hive-archon: the node's DID, key bindings and verifiable credentials (slice 1).

A thin pyln-client shell over :class:`lnhive.identity.archon.Archon`. The DID is the
did:key of an Ed25519 key derived with ``makesecret``; credentials are W3C VC 2.0 with
``eddsa-jcs-2022`` proofs, revocable through the node's W3C Bitstring Status List; bindings to the node key and the Nostr key verify offline.
Failures are JSON-RPC errors in 22000-22999 whose message begins with the symbolic
reason (``credential_invalid: expired: …``). It also holds the governance tier, fleet
polls and votes (carried by cl-hive when it is loaded) and, only with
``hive-archon-network-enabled``, a did:cid alias through the Archon gateway.

Run it with ``plugin=/path/to/archon.py`` (or the ``cl-hive-archon`` console script); see
docs/archon.md.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pyln.client import Plugin

from lnhive.cln.rpc import RpcNodeApi
from lnhive.core.clock import WallClock
from lnhive.core.errors import ARCHON_BASE, Internal, LnhiveError
from lnhive.identity.alias import AliasService
from lnhive.identity.archon import Archon, ArchonOptions
from lnhive.identity.fleetlink import HiveLink, unwrap_notification
from lnhive.identity.gateway import GatewayClient
from lnhive.identity.governance import Governance
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
    "Use the Archon gateway (1/true/yes/on) for the optional did:cid alias; off by default",
)
plugin.add_option(PREFIX + "gateway", D.gateway, "Archon gateway URL (https, or http on localhost)")
plugin.add_option(PREFIX + "gateway-auth-token", "", "Bearer token for the gateway (never logged)")
plugin.add_option(
    PREFIX + "governance-min-bond",
    str(D.governance_min_bond),
    "Smallest bond in sats for the governance tier (at least 1; a bad value means 50000)",
)

plugin.add_option(
    PREFIX + "reputation-domain-weights",
    "",
    "Weights of the domains in a subject's overall (_all) reputation, e.g. "
    "hive:advisor=2,hive:node=1 (default: equal; a bad value means equal, with a warning)",
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
        reputation_domain_weights=get("reputation-domain-weights"),
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
        _start_governance(archon, opts)
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
    """The DID, its bindings (re-verified), credential counts, options, and the
    governance tier with poll and vote counts."""
    return _call(lambda: {**_archon().status(), "governance": _governance().counts()})


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
def hive_archon_binding_verify(binding_json: Any, revocations_json: Any = None) -> dict[str, Any]:
    """Verify a DID binding document (cln or nostr) offline; REVOCATIONS_JSON (one
    revocation document or a list) must each verify against it, and one that does makes
    the binding revoked."""
    return _call(lambda: _archon().verify_binding(binding_json, revocations_json))


@plugin.method("hive-archon-bindings")
def hive_archon_bindings(limit: int = 50) -> dict[str, Any]:
    """This DID's active bindings (re-verified) and its revoked ones, newest first (LIMIT
    1-500), each with its binding and revocation documents."""
    return _call(lambda: _archon().bindings.list_bindings(limit))


@plugin.method("hive-archon-bind-cln")
def hive_archon_bind_cln(cln_pubkey: str = "", did: str = "") -> dict[str, Any]:
    """Bind this node's DID to its node key (again after a revocation); idempotent while
    the binding is active. CLN_PUBKEY and DID, when given, must be this node's."""
    return _call(lambda: _archon().bindings.bind("cln", cln_pubkey, did))


@plugin.method("hive-archon-bind-nostr")
def hive_archon_bind_nostr(nostr_pubkey: str = "", did: str = "") -> dict[str, Any]:
    """Bind this node's DID to its Nostr key (again after a revocation); idempotent while
    the binding is active. NOSTR_PUBKEY and DID, when given, must be this node's."""
    return _call(lambda: _archon().bindings.bind("nostr", nostr_pubkey, did))


@plugin.method("hive-archon-binding-revoke")
def hive_archon_binding_revoke(binding_type: str, reason: str = "") -> dict[str, Any]:
    """Revoke this node's BINDING_TYPE (cln or nostr) binding with a revocation document
    signed by both keys (REASON: at most 500 characters, published in it)."""
    return _call(lambda: _archon().bindings.revoke(binding_type, reason))


@plugin.method("hive-archon-sign-message")
def hive_archon_sign_message(message: str) -> dict[str, Any]:
    """Sign MESSAGE (at most 16384 characters) with the DID key; text beginning with
    lnhive: is refused."""
    return _call(lambda: _archon().sign_message(message))


@plugin.method("hive-archon-verify-message")
def hive_archon_verify_message(message: str, signature: str, did: str) -> dict[str, Any]:
    """Check a hive-archon-sign-message SIGNATURE of MESSAGE by DID, offline."""
    return _call(lambda: _archon().verify_message(message, signature, did))


@plugin.method("hive-reputation")
def hive_reputation(subject: str, domain: str = "") -> dict[str, Any]:
    """SUBJECT's reputation (a DID, node id, Nostr key or their URN) in DOMAIN, or over
    every domain (_all): score 0-100, tier, confidence, components and an explanation."""
    return _call(lambda: _archon().reputation.reputation(subject, domain))


@plugin.method("hive-reputation-profiles")
def hive_reputation_profiles() -> dict[str, Any]:
    """The registered reputation domains with their metrics and ranges."""
    return _call(lambda: _archon().reputation.profiles())


@plugin.method("hive-archon-reputation-issue")
def hive_archon_reputation_issue(
    subject: str,
    domain: str,
    outcome: str,
    metrics_json: Any = None,
    evidence_json: Any = None,
    period_days: int = 30,
    valid_days: int = 90,
    receipts_jsonl: Any = None,
) -> dict[str, Any]:
    """Issue a reputation credential (VC 2.0, eddsa-jcs-2022) about SUBJECT in DOMAIN
    with OUTCOME renew/revoke/neutral over the last PERIOD_DAYS. hive:advisor metrics come
    from cl-hive-comms receipts (fetched, or RECEIPTS_JSONL) verified against this node;
    other domains take METRICS_JSON (and EVIDENCE_JSON)."""
    return _call(
        lambda: _archon().reputation.issue(
            subject,
            domain,
            outcome,
            metrics_json,
            evidence_json,
            period_days,
            valid_days,
            receipts_jsonl,
        )
    )


@plugin.method("hive-reputation-import")
def hive_reputation_import(
    vc_json: Any = None, status_list_json: Any = None, bindings_json: Any = None
) -> dict[str, Any]:
    """Verify and store another issuer's reputation credential VC_JSON (its revocation
    checked against the issuer's STATUS_LIST_JSON; BINDINGS_JSON ties the issuer DID to
    its keys); a STATUS_LIST_JSON alone revokes stored credentials whose bit is set."""
    return _call(lambda: _archon().reputation.import_(vc_json, status_list_json, bindings_json))


@plugin.method("hive-reputation-list")
def hive_reputation_list(
    subject: str = "", issuer: str = "", domain: str = "", limit: int = 50
) -> dict[str, Any]:
    """Stored reputation credentials (ours and imported), newest first, LIMIT 1-500."""
    return _call(lambda: _archon().reputation.list_credentials(subject, issuer, domain, limit))


# -- governance tier, polls and votes, did:cid alias (slice 3) -------------------------
# The domain lives in lnhive.identity.governance (tier, polls, votes; fleet messages
# through cl-hive's hive-broadcast / hive-message) and lnhive.identity.alias (gateway,
# outbox). Nothing here is reachable without the service objects set up at init.

OUTBOX_INTERVAL_S = 60.0
governance: Governance | None = None
alias: AliasService | None = None
_outbox_stop = threading.Event()


def _start_governance(service: Archon, opts: ArchonOptions) -> None:
    global governance, alias
    governance = Governance(
        service.node,
        service.store,
        service.clock,
        service.node_id,
        opts.governance_min_bond,
        lambda: str(service.require_identity()["did"]),
        HiveLink(service.node, service.node_id),
    )
    client = None
    if opts.network_enabled:
        client = GatewayClient(opts.gateway, opts.gateway_auth_token)
    alias = AliasService(service.store, service.clock, service.node_id, client)
    if client is not None:
        threading.Thread(target=_drain_outbox, name="archon-outbox", daemon=True).start()


def _drain_outbox() -> None:
    while not _outbox_stop.wait(OUTBOX_INTERVAL_S):
        try:
            done = _alias().process_outbox(10)
            if done["processed"]:
                plugin.log(f"gateway outbox: {done}", level="debug")
        except Exception as exc:  # a failed round is retried at the next one
            plugin.log(f"gateway outbox round failed: {type(exc).__name__}", level="warn")


def _governance() -> Governance:
    if governance is None:
        raise Internal("cl-hive-archon is not initialised")
    return governance


def _alias() -> AliasService:
    if alias is None:
        raise Internal("cl-hive-archon is not initialised")
    return alias


@plugin.method("hive-archon-upgrade")
def hive_archon_upgrade(target_tier: str = "governance", bond_sats: int = 0) -> dict[str, Any]:
    """Move to TARGET_TIER (basic or governance); governance needs BOND_SATS of at least
    hive-archon-governance-min-bond, covered by this node's own open-channel balance."""
    return _call(lambda: _governance().upgrade(target_tier, bond_sats))


@plugin.method("hive-poll-create")
def hive_poll_create(
    poll_type: str,
    title: str,
    options_json: Any,
    deadline: int,
    metadata_json: Any = "{}",
) -> dict[str, Any]:
    """Create a poll (governance tier): its voters are the fleet's members now (this node
    alone without cl-hive); it is signed with the node key and sent to every member."""
    return _call(
        lambda: _governance().create_poll(poll_type, title, options_json, deadline, metadata_json)
    )


@plugin.method("hive-vote")
def hive_vote(poll_id: str, choice: str, reason: str = "") -> dict[str, Any]:
    """Cast this node's one vote on POLL_ID (governance tier): an option or spoil; signed
    with the node key and sent to every member."""
    return _call(lambda: _governance().vote(poll_id, choice, reason))


@plugin.method("hive-poll-status")
def hive_poll_status(poll_id: str) -> dict[str, Any]:
    """A poll, its tally and the ballots this node holds."""
    return _call(lambda: _governance().poll_status(poll_id))


@plugin.method("hive-poll-result")
def hive_poll_result(poll_id: str) -> dict[str, Any]:
    """The deterministic tally of POLL_ID for consumers (winner, tie, quorum, majority,
    tally_hash, final once no vote can arrive any more)."""
    return _call(lambda: _governance().poll_result(poll_id))


@plugin.method("hive-poll-list")
def hive_poll_list(status: str = "", limit: int = 50) -> dict[str, Any]:
    """Polls held here, newest first (STATUS active or completed)."""
    return _call(lambda: _governance().list_polls(status, limit))


@plugin.method("hive-my-votes")
def hive_my_votes(limit: int = 50) -> dict[str, Any]:
    """This node's votes, newest first."""
    return _call(lambda: _governance().my_votes(limit))


@plugin.method("hive-archon-prune")
def hive_archon_prune(retention_days: int = 90) -> dict[str, Any]:
    """Drop polls completed more than RETENTION_DAYS (at least 1) ago with their votes,
    and completed or exhausted gateway outbox entries older than that."""
    return _call(lambda: _governance().prune(retention_days))


@plugin.method("hive-archon-alias-register")
def hive_archon_alias_register(label: str = "") -> dict[str, Any]:
    """Ask the Archon gateway for a did:cid alias (network on only); a passing failure
    is queued in the outbox, a refusal (blocked address, redirect, 4xx) changes nothing."""
    return _call(lambda: _alias().register(label))


@plugin.method("hive-archon-alias-status")
def hive_archon_alias_status() -> dict[str, Any]:
    """The did:cid alias, the gateway and the outbox counts."""
    return _call(lambda: _alias().status())


@plugin.method("hive-archon-process-outbox")
def hive_archon_process_outbox(max_entries: int = 10) -> dict[str, Any]:
    """Retry due gateway requests now (1-100 of them; network on only)."""
    return _call(lambda: _alias().process_outbox(max_entries))


@plugin.subscribe("hive-message")
def on_hive_message(**kwargs: Any) -> None:
    """An archon.* envelope a member sent through cl-hive: polls and votes are re-verified
    from their own signatures and stored; anything else is left alone."""
    unwrapped = unwrap_notification(kwargs)
    if unwrapped is None or governance is None:
        return
    envelope, sender = unwrapped
    try:
        result = governance.on_message(envelope, sender)
    except LnhiveError as err:
        plugin.log(f"{envelope.get('type')} from {sender[:16]} refused: {err.rpc_message()}")
        return
    except Exception as exc:
        plugin.log(f"hive-message handling failed: {type(exc).__name__}", level="warn")
        return
    if result.get("rejected"):
        plugin.log(f"votes from {sender[:16]} refused: {result['rejected']}"[:300])


@plugin.subscribe("shutdown")
def on_shutdown(**kwargs: Any) -> None:
    _outbox_stop.set()
    if archon is not None:
        archon.close()
    plugin.log("cl-hive-archon stopped")
    sys.exit(0)


def main() -> None:
    plugin.run()


if __name__ == "__main__":
    main()
