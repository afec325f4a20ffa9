#!/usr/bin/env python3
"""cl-hive-comms: remote management of Core Lightning by authorized advisors (REST and Nostr).

A thin pyln-client shell over :class:`lnhive.manage.pipeline.Pipeline` (the advisor
flow: admission, credential, validation, danger score, scope, policy, confirmation
queue, executor, receipts, signed replies) and :class:`lnhive.manage.comms_admin.CommsAdmin`
(the operator's local-only methods). Advisors reach ``hive-comms-rpc`` through CLN's
REST endpoint (or commando) with a rune, or send envelopes as NIP-17 gift-wrapped DMs to
the node's Nostr key through the relays of ``hive-comms-nostr-relays``
(:class:`lnhive.transport.nostr_client.NostrService`, a background thread); the answer is
always a result object
``{ok, status, ...}`` (ARCHITECTURE decision 13). Operator failures are JSON-RPC errors
in 21000-21999 whose message begins with the symbolic reason. Wrong option values
disable the plugin at init with the reason; the node carries on.

Run it with ``plugin=/path/to/comms.py`` (or the ``cl-hive-comms`` console script); see
docs/comms.md.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pyln.client import Plugin

from lnhive.cln.rpc import RpcNodeApi
from lnhive.core.clock import WallClock
from lnhive.core.derive import NOSTR_LABEL
from lnhive.core.errors import COMMS_BASE, Internal, InvalidInput, LnhiveError
from lnhive.manage.batcher import Batcher
from lnhive.manage.comms_admin import CommsAdmin
from lnhive.manage.pipeline import (
    DB_NAME,
    NOSTR_TRANSPORT,
    CommsOptions,
    Pipeline,
    RestRequest,
)
from lnhive.plugins.shell import rpc_call
from lnhive.transport.nostr_client import NostrService, dm_reply_text, parse_relays
from lnhive.transport.nostr_dm import InboundDm
from lnhive.transport.reply import sign_reply

PREFIX = "hive-comms-"
VERSION = "0.1.0"
LOOP_INTERVAL_S = 60.0
_T = TypeVar("_T")

plugin = Plugin()
D = CommsOptions()
plugin.add_option(
    PREFIX + "db-path",
    None,
    f"SQLite file of this plugin (default: {DB_NAME} in the node's network directory; "
    "a relative path is taken relative to that directory)",
)
plugin.add_option(
    PREFIX + "policy-preset",
    D.policy_preset,
    "Policy preset applied when the database holds no policy yet: conservative, moderate "
    "or aggressive",
)
plugin.add_option(
    PREFIX + "transport-max-skew-seconds",
    D.max_skew_s,
    "Largest difference between an envelope's timestamp and the node's clock (1-3600)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "rest-enabled", D.rest_enabled, "Accept envelopes over REST", opt_type="bool"
)
plugin.add_option(
    PREFIX + "rest-rune-required",
    D.rune_required,
    "Also require a rune inside the hive-comms-rpc call (checked with checkrune)",
    opt_type="bool",
)
plugin.add_option(
    PREFIX + "rest-rune-static",
    D.rune_static,
    "With rest-rune-required: the one rune accepted (compared in constant time)",
)
plugin.add_option(
    PREFIX + "dry-run",
    D.dry_run,
    "Check and record advisor actions but never send a state-changing RPC",
    opt_type="bool",
)
plugin.add_option(
    PREFIX + "checkpoint-every",
    D.checkpoint_every,
    "Receipts per checkpoint (also made when the oldest unchecked receipt is 24 h old)",
    opt_type="int",
)
plugin.add_option(
    PREFIX + "receipt-retention-days",
    D.retention_days,
    "Days checkpointed receipts are kept by hive-client-prune (1-365)",
    opt_type="int",
)

plugin.add_option(
    PREFIX + "nostr-relays",
    "",
    "Comma-separated ws:// or wss:// relay URLs (at most 8) where advisors' NIP-17 DMs "
    "arrive and replies go; empty: no Nostr",
)
plugin.add_option(
    PREFIX + "nostr-enabled",
    True,
    "Accept envelopes as Nostr DMs on the relays of hive-comms-nostr-relays",
    opt_type="bool",
)

pipeline: Pipeline | None = None
admin: CommsAdmin | None = None
nostr: NostrService | None = None
batcher: Batcher[RestRequest, dict[str, Any]] | None = None
_stop = threading.Event()


def _call(fn: Callable[[], _T]) -> _T:
    """Run an operator call; its errors become JSON-RPC errors in our code range."""
    return rpc_call(plugin, COMMS_BASE, fn)


def _admin() -> CommsAdmin:
    if admin is None:
        raise Internal("cl-hive-comms is not initialised")
    return admin


def _options(options: dict[str, Any]) -> CommsOptions:
    def get(name: str) -> Any:
        return options.get(PREFIX + name)

    try:
        return CommsOptions(
            policy_preset=str(get("policy-preset")),
            max_skew_s=int(get("transport-max-skew-seconds")),
            rest_enabled=bool(get("rest-enabled")),
            rune_required=bool(get("rest-rune-required")),
            rune_static=str(get("rest-rune-static") or ""),
            dry_run=bool(get("dry-run")),
            checkpoint_every=int(get("checkpoint-every")),
            retention_days=int(get("receipt-retention-days")),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"bad option value: {exc}") from None


def _checkrune(node: RpcNodeApi) -> Callable[[str], bool]:
    def check(rune: str) -> bool:
        try:
            out = node.call("checkrune", {"rune": rune, "method": "hive-comms-rpc"})
        except Exception:
            return False
        return out.get("valid") is True

    return check


def _nostr_relays(options: dict[str, Any]) -> tuple[str, ...]:
    """The relays to use; none when Nostr is off. Bad URLs disable the plugin."""
    try:
        relays = parse_relays(str(options.get(PREFIX + "nostr-relays") or ""))
    except ValueError as exc:
        raise InvalidInput(f"hive-comms-nostr-relays: {exc}") from None
    return relays if bool(options.get(PREFIX + "nostr-enabled")) else ()


def _start_nostr(p: Pipeline, node: RpcNodeApi, relays: tuple[str, ...]) -> NostrService:
    """The node's Nostr key (``makesecret`` ``lnhive/nostr/v1``) and the relay client."""
    secret = bytes.fromhex(str(node.makesecret(string=NOSTR_LABEL)["secret"]))

    def on_dm(dm: InboundDm) -> str | None:
        reply = p.handle_nostr(dm.text, author=dm.author)
        text = dm_reply_text(reply, lambda r: sign_reply(r, p.key))
        plugin.log(
            f"nostr DM {dm.event_id[:16]} from {dm.author[:16]}: "
            + ("ok" if reply.get("ok") else str(reply.get("code")))
            + ("" if text is not None else " (no reply)")
        )
        return text

    def is_advisor(key: str) -> bool:
        return p.gate.credentials.active_for(key) is not None

    service = NostrService(secret, relays, p.store, on_dm, kind4_author_allowed=is_advisor)
    if service.pubkey != p.nostr_pubkey:
        raise Internal("the Nostr key does not match the pipeline's")
    service.start()
    return service


def _loop(p: Pipeline) -> None:
    """Expire held actions (with receipts) and make time-based checkpoints."""
    while not _stop.wait(LOOP_INTERVAL_S):
        try:
            with p.lock:
                p.sweep_expired()
                p.receipts.maybe_checkpoint()
        except Exception as exc:  # the loop must outlive any one failure
            plugin.log(f"housekeeping failed: {exc!r}", level="warn")


@plugin.init()
def init(
    options: dict[str, Any], configuration: dict[str, Any], plugin: Plugin, **kwargs: Any
) -> Any:
    global pipeline, admin, nostr, batcher
    network_dir = configuration["lightning-dir"]
    db = options.get(PREFIX + "db-path") or DB_NAME
    try:
        relays = _nostr_relays(options)
        opts = dataclasses.replace(_options(options), nostr_enabled=bool(relays))
        opts.validate()
        node = RpcNodeApi.from_socket(os.path.join(network_dir, configuration["rpc-file"]))
        pipeline = Pipeline(
            node,
            os.path.join(network_dir, db),
            WallClock(),
            options=opts,
            version=VERSION,
            checkrune=_checkrune(node),
        )
        admin = CommsAdmin(pipeline)
        unknown = pipeline.reconcile()
        p = pipeline
        batcher = Batcher(
            p.handle_batch,
            lambda req, exc: p.internal_reply("internal error", req.transport),
            name="comms-rest",
        )
        if relays:
            nostr = _start_nostr(pipeline, node, relays)
    except LnhiveError as err:
        return {"disable": err.rpc_message()}
    except Exception as exc:  # e.g. a database that cannot be opened: disable, never crash
        return {"disable": f"internal: {type(exc).__name__}: {exc}"}
    for r in unknown:
        plugin.log(f"receipt {r['seq']}: an interrupted action has outcome unknown", level="warn")
    threading.Thread(target=_loop, args=(pipeline,), name="comms-housekeeping", daemon=True).start()
    plugin.log(
        f"cl-hive-comms started: nostr key {pipeline.nostr_pubkey}, receipt key "
        f"{pipeline.key.pubkey}, database {pipeline.store.path}"
        + (" (dry run)" if opts.dry_run else "")
        + (f", nostr relays {', '.join(relays)}" if relays else ", nostr off")
    )
    return None


# -- the advisor ingress ---------------------------------------------------------------


@plugin.async_method("hive-comms-rpc")
def hive_comms_rpc(
    request: Any,
    envelope: Any,
    sender: str | None = None,
    transport: str = "rest",
    rune: str | None = None,
) -> None:
    """An advisor's signed ENVELOPE (object or JSON text) from SENDER over TRANSPORT (rest);
    the answer is a signed result object {ok, status, ...}, never an RPC error.

    Calls that arrive while others are being handled share one database commit (group
    commit, :mod:`lnhive.manage.batcher`); each is still answered only after its
    receipt is durable."""
    if batcher is None:
        request.set_result(
            {"ok": False, "status": 2, "code": "internal_error", "error": "not initialised"}
        )
        return
    batcher.submit(RestRequest(envelope, sender, transport, rune), request.set_result)


# -- operator methods (local only) -------------------------------------------------------


@plugin.method("hive-client-authorize")
def hive_client_authorize(
    advisor: str,
    access: str = "monitor_only",
    valid_days: int = 30,
    trial_days: int | None = None,
    constraints: Any = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Issue ADVISOR (Nostr key) a signed credential from template ACCESS (monitor_only,
    fee_optimization, full_routing, complete_management) for VALID_DAYS; CONSTRAINTS (JSON)
    add limits. Supersedes the advisor's previous credential."""
    return _call(
        lambda: _admin().authorize(advisor, access, valid_days, trial_days, constraints, note)
    )


@plugin.method("hive-client-revoke")
def hive_client_revoke(
    advisor: str | None = None, reason: str = "revoked by the operator", all: bool = False
) -> dict[str, Any]:
    """Revoke ADVISOR's credential and cancel its pending actions (ALL: every advisor)."""
    return _call(lambda: _admin().revoke(advisor, reason, all))


@plugin.method("hive-client-credential")
def hive_client_credential(advisor: str, raw: bool = False) -> dict[str, Any]:
    """What ADVISOR's credential allows, in a few lines (RAW: the signed credential too)."""
    return _call(lambda: _admin().credential(advisor, raw))


@plugin.method("hive-client-status")
def hive_client_status() -> dict[str, Any]:
    """Identity (the envelope recipient key), policy, advisors, queue, receipts and the
    receipt-key attestation."""
    out = _call(lambda: _admin().status())
    identity = out.setdefault("identity", {})
    if nostr is not None:
        state = nostr.status()
        identity["npub"] = state["npub"]
        identity["relays"] = [r["url"] for r in state["relays"]]
        out["transports"] = [*out.get("transports", []), NOSTR_TRANSPORT]
        out["nostr"] = {"enabled": True, **state}
    else:
        out["nostr"] = {"enabled": False}
    if batcher is not None:  # REST calls that arrived together shared a commit
        out["rest"] = {"batches": batcher.batches, "largest_batch": batcher.largest}
    return out


@plugin.method("hive-client-policy")
def hive_client_policy(
    action: str = "get",
    preset: str | None = None,
    overrides_json: Any = None,
    duration_hours: float | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """ACTION get|set-preset|set-overrides|clear-override|reset the policy (local: may loosen)."""
    return _call(lambda: _admin().policy(action, preset, overrides_json, duration_hours, key))


@plugin.method("hive-client-pending")
def hive_client_pending(status: str = "pending") -> dict[str, Any]:
    """Held actions with STATUS (pending, approved, ..., all)."""
    return _call(lambda: _admin().pending(status))


@plugin.method("hive-client-approve")
def hive_client_approve(
    action_id: str,
    reject: bool = False,
    reason: str = "",
    params_json: Any = None,
    approver: str = "operator",
) -> dict[str, Any]:
    """Approve (re-checked, then run) or REJECT a held action; PARAMS_JSON edits a queued one."""
    return _call(lambda: _admin().approve(action_id, reject, reason, params_json, approver))


@plugin.method("hive-client-receipts")
def hive_client_receipts(advisor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Receipts newest first (ADVISOR's only, or operator), LIMIT 1-500."""
    return _call(lambda: _admin().receipts(advisor, limit))


@plugin.method("hive-client-receipts-verify")
def hive_client_receipts_verify(full: bool = False) -> dict[str, Any]:
    """Re-hash the receipt chain and check checkpoints (FULL: every signature)."""
    return _call(lambda: _admin().verify(full))


@plugin.method("hive-client-receipts-export")
def hive_client_receipts_export(
    advisor: str | None = None, since: int | None = None, until: int | None = None
) -> dict[str, Any]:
    """The receipt chain as JSON Lines (other advisors redacted when ADVISOR is given)."""
    return _call(lambda: _admin().export(advisor, since, until))


@plugin.method("hive-client-checkpoint")
def hive_client_checkpoint() -> dict[str, Any]:
    """Checkpoint every receipt not yet in one."""
    return _call(lambda: _admin().checkpoint())


@plugin.method("hive-client-prune")
def hive_client_prune(days: int | None = None) -> dict[str, Any]:
    """Delete checkpointed receipts older than DAYS (default the retention option)."""
    return _call(lambda: _admin().prune(days))


@plugin.method("hive-client-capabilities")
def hive_client_capabilities() -> dict[str, Any]:
    """Supported schemas and the actions this node cannot perform, with reasons."""
    return _call(lambda: _admin().capabilities())


@plugin.subscribe("shutdown")
def on_shutdown(**kwargs: Any) -> None:
    _stop.set()
    if nostr is not None:
        nostr.stop()
    if batcher is not None:  # answer what is queued before the database closes
        batcher.close(timeout=10.0)
    if pipeline is not None:
        pipeline.close()
    plugin.log("cl-hive-comms stopped")
    sys.exit(0)


def main() -> None:
    plugin.run()


if __name__ == "__main__":
    main()
