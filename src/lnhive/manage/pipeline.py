"""The management flow of cl-hive-comms end to end (comms spec §1, stages 1-16).

:class:`Pipeline` owns everything one node needs to answer an advisor: the comms SQLite
file (:data:`MIGRATIONS`), the node's Nostr identity (``makesecret`` label
``lnhive/nostr/v1``: the envelope's ``recipient``), the receipt key and log, the nonce
registry, the :class:`~lnhive.manage.gate.Gate` (stages 6-10), the confirmation queue
and the :class:`~lnhive.manage.executor.Executor`. :meth:`Pipeline.handle` takes one
envelope from a transport and returns the signed reply (a result object, never an
exception: ARCHITECTURE decision 13).

Receipts: every authenticated request gets one — executed, refused, failed, held — but
a replay and a rate-limited request get none (ARCHITECTURE §8.4). Before a
state-changing RPC an in-flight marker is committed; the receipt and the marker's
removal are one transaction, so a crash between them leaves the marker, and
:meth:`Pipeline.reconcile` (run at start) turns it into an ``outcome: unknown`` receipt
without re-running the action (spec §1 stage 14).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core import bip340
from lnhive.core.clock import Clock
from lnhive.core.derive import NOSTR_LABEL, RECEIPTS_LABEL
from lnhive.core.errors import (
    Conflict,
    Internal,
    InvalidInput,
    InvalidRequest,
    LnhiveError,
    NotFound,
    RuneInvalid,
    TransportDisabled,
    Unauthorized,
    Unsupported,
)
from lnhive.core.store import Migration, Store
from lnhive.manage import execution, receipts_log
from lnhive.manage import store as manage_store
from lnhive.manage.executor import ExecutionFailed, Executor, state_hash_for
from lnhive.manage.gate import Gate, GateResult
from lnhive.manage.policy_engine import Decision
from lnhive.manage.receipts import ReceiptDraft
from lnhive.manage.receipts_key import ReceiptKey
from lnhive.manage.receipts_log import ReceiptLog, stored_attestation
from lnhive.manage.schemas import CATALOGUE
from lnhive.manage.snapshot import NodeSnapshot
from lnhive.manage.snapshot_from_node import snapshot_from_node
from lnhive.transport import nonces, nostr_store
from lnhive.transport.codes import code_for
from lnhive.transport.envelope import (
    DEFAULT_MAX_SKEW_S,
    Envelope,
    parse_envelope,
    verify_envelope,
)
from lnhive.transport.nonces import NonceRegistry
from lnhive.transport.reply import error_reply, ok_reply, reply_for_error

log = logging.getLogger(__name__)

DB_NAME = manage_store.DEFAULT_FILENAME
TRANSPORTS = ("rest",)
"""Transports ``hive-comms-rpc`` (:meth:`Pipeline.handle`) accepts."""
REFUSAL_CACHE_SIZE = 256
"""Signed pre-authentication refusals kept for reuse (see ``Pipeline._unauthenticated_reply``)."""
NOSTR_TRANSPORT = "nostr_dm"
"""Envelopes from Nostr DMs, only through :meth:`Pipeline.handle_nostr`."""

INFLIGHT_MIGRATION = """
CREATE TABLE comms_inflight (
    request_hash TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    draft_json TEXT NOT NULL);
"""

COUNT_INDEX = (
    "CREATE INDEX IF NOT EXISTS comms_action_log_count "
    "ON comms_action_log (advisor_id, at, status, danger, effects)"
)
"""Covers the per-advisor counts of :class:`~lnhive.manage.counters.LogHistory` (the
rate limits read it on every request) without touching the table. Created at start
(idempotent) rather than as a migration: an index changes no data or schema version."""

MIGRATIONS: tuple[Migration, ...] = (
    manage_store.MIGRATIONS[0],
    nonces.MIGRATIONS[0],
    receipts_log.MIGRATIONS[0],
    execution.MIGRATIONS[0],
    INFLIGHT_MIGRATION,
    nostr_store.MIGRATION,
)
"""The comms SQLite file's migrations, in order. New ones are appended, never inserted."""


@dataclass(frozen=True)
class CommsOptions:
    policy_preset: str = "moderate"
    """Applied when the database holds no policy yet."""
    max_skew_s: int = DEFAULT_MAX_SKEW_S
    rest_enabled: bool = True
    rune_required: bool = False
    rune_static: str = ""
    dry_run: bool = False
    checkpoint_every: int = receipts_log.DEFAULT_CHECKPOINT_EVERY
    retention_days: int = receipts_log.DEFAULT_RETENTION_DAYS
    nostr_enabled: bool = False
    """Accept envelopes from Nostr DMs (the plugin sets it when its relay client runs)."""

    def validate(self) -> None:
        if self.policy_preset not in ("conservative", "moderate", "aggressive"):
            raise InvalidInput(
                "hive-comms-policy-preset must be conservative, moderate or aggressive"
            )
        if not 1 <= self.max_skew_s <= 3600:
            raise InvalidInput("hive-comms-transport-max-skew-seconds must be 1-3600")
        if not 1 <= self.checkpoint_every <= 100_000:
            raise InvalidInput("hive-comms-checkpoint-every must be 1-100000")
        if not 1 <= self.retention_days <= 365:
            raise InvalidInput("hive-comms-receipt-retention-days must be 1-365")


@dataclass(frozen=True)
class RestRequest:
    """One ``hive-comms-rpc`` call's arguments, for :meth:`Pipeline.handle_batch`."""

    envelope: Any
    sender: str | None = None
    transport: str = "rest"
    rune: str | None = None


NOT_RECORDED = "the request was not recorded (the database commit failed); send it again"
"""The internal error a batched request gets when the batch's commit fails."""


def advisor_key(advisor: str) -> str:
    """The 64-hex key of an advisor given as ``nostr:<hex>`` or ``<hex>``."""
    key = advisor[len("nostr:") :] if advisor.startswith("nostr:") else advisor
    key = key.lower()
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise InvalidInput("advisor must be a 64-hex Nostr public key (optionally nostr:<hex>)")
    return key


def _draft_json(draft: ReceiptDraft) -> str:
    return json.dumps(dataclasses.asdict(draft), sort_keys=True, default=list)


def _draft_from_json(text: str) -> ReceiptDraft:
    return ReceiptDraft(**json.loads(text))


class Pipeline:
    def __init__(
        self,
        node: NodeApi,
        db_path: str,
        clock: Clock,
        *,
        options: CommsOptions | None = None,
        version: str = "",
        checkrune: Callable[[str], bool] | None = None,
    ) -> None:
        self.node = node
        self.clock = clock
        self.options = options or CommsOptions()
        self.options.validate()
        self.version = version
        self._checkrune = checkrune
        self.lock = threading.RLock()
        self.store = Store(db_path, MIGRATIONS)
        self.store.execute(COUNT_INDEX)
        self.node_id = str(node.getinfo()["id"])
        nostr_secret = bytes.fromhex(str(node.makesecret(string=NOSTR_LABEL)["secret"]))
        self.nostr_pubkey = bip340.xonly_pubkey(nostr_secret).hex()
        receipt_secret = bytes.fromhex(str(node.makesecret(string=RECEIPTS_LABEL)["secret"]))
        stored = stored_attestation(self.store, bip340.xonly_pubkey(receipt_secret).hex())
        self.key = ReceiptKey.from_node(node, now=clock.now(), attestation=stored)
        self.receipts = ReceiptLog(
            self.store, self.key, clock, checkpoint_every=self.options.checkpoint_every
        )
        self.nonces = NonceRegistry(self.store)
        self.gate = Gate(self.store, CATALOGUE, clock, self.node_id)
        self.executor = Executor(node, self.store, clock, dry_run=self.options.dry_run)
        if self.store.query_one("SELECT 1 FROM comms_policy WHERE id = 1") is None:
            self.gate.policy.set_preset(self.options.policy_preset)
        self._refusals: dict[tuple[str, ...], str] = {}
        self._in_request = False
        self._commits = 0
        """Commits made inside requests (see :meth:`_committed`); a batch watches it."""
        self._lost = 0
        """Transactions SQLite abandoned inside requests (see :meth:`_resume_request`)."""
        self._batch_snapshot: NodeSnapshot | None = None
        """Inside :meth:`handle_batch`: the node's state as read by the batch's first request
        (or the first after a state-changing action), shared by the requests that follow."""
        self._in_batch = False

    def close(self) -> None:
        self.store.close()

    # -- receipts ----------------------------------------------------------------------

    def append(self, draft: ReceiptDraft) -> dict[str, Any]:
        return self.receipts.append(draft)

    def admin_receipt(
        self, schema_id: str, action: str, params: Mapping[str, Any], result: Any = None
    ) -> dict[str, Any]:
        """A receipt for a local admin event (actor ``operator``)."""
        return self.append(
            ReceiptDraft(
                actor="operator",
                schema_id=schema_id,
                action=action,
                decision="executed",
                outcome="success",
                params=params,
                result=result,
            )
        )

    def reconcile(self) -> list[dict[str, Any]]:
        """Turn in-flight markers left by a crash into ``outcome: unknown`` receipts (the
        action is never re-run); returns those receipts."""
        out = []
        for row in self.store.query("SELECT request_hash, draft_json FROM comms_inflight"):
            draft = dataclasses.replace(
                _draft_from_json(row["draft_json"]),
                decision="executed",
                outcome="unknown",
                error={
                    "code": "internal_error",
                    "message": "interrupted between the node call and its receipt; not re-run",
                },
            )
            with self.store.transaction():
                out.append(self.append(draft))
                self.store.execute(
                    "DELETE FROM comms_inflight WHERE request_hash = ?", (row["request_hash"],)
                )
        return out

    def sweep_expired(self) -> list[dict[str, Any]]:
        """Receipts for held actions that expired (each also gets a log line)."""
        out = []
        for item in self.gate.queue.expire(self.clock.now()):
            out.append(
                self.append(
                    ReceiptDraft(
                        actor=f"nostr:{item.advisor_id}",
                        schema_id=item.schema_id,
                        action=item.action,
                        decision="expired",
                        params=item.params,
                        credential_id=item.credential_id,
                        request_hash=item.request_hash,
                        danger_score=item.danger,
                        result={"action_id": item.action_id},
                    )
                )
            )
            log.info("held action %s expired", item.action_id)
        return out

    # -- ingress (stage 1 and the REST rune) ---------------------------------------------

    def _is_advisor(self, sender: str) -> bool:
        key = sender[len("nostr:") :]
        return self.gate.credentials.has_active(key)

    def _ingress(
        self, raw: Any, transport: str, sender: str | None, rune: str | None, *, dm: bool = False
    ) -> Envelope:
        """Stage 1 and the REST rune, then the envelope's structure (parsed once here and
        handed on to :func:`admit_envelope`)."""
        if dm:
            if not self.options.nostr_enabled:
                raise TransportDisabled("the nostr transport is disabled")
        elif transport not in TRANSPORTS:
            raise InvalidRequest(f"transport must be one of {list(TRANSPORTS)}")
        elif transport == "rest" and not self.options.rest_enabled:
            raise TransportDisabled("the rest transport is disabled")
        if not dm and self.options.rune_required:
            if not rune:
                raise RuneInvalid("missing rune")
            if self.options.rune_static:
                if not hmac.compare_digest(rune.encode(), self.options.rune_static.encode()):
                    raise RuneInvalid("invalid rune")
            elif self._checkrune is None or not self._checkrune(rune):
                raise RuneInvalid("invalid rune")
        if isinstance(raw, str):
            raw = raw.encode()
        env = parse_envelope(raw)
        if dm and sender != env.sender_key:
            # The DM's verified author must be the envelope's signer: nobody relays
            # another advisor's envelope (and burns its nonce) under their own key.
            raise Unauthorized("the DM's author is not the envelope's sender")
        if sender is None:
            raise InvalidRequest("missing sender")
        if sender not in (env.sender, env.sender_key):
            raise InvalidRequest("sender does not match the envelope's sender")
        return env

    # -- the flow ------------------------------------------------------------------------

    def handle(
        self,
        raw: Any,
        *,
        transport: str = "rest",
        sender: str | None = None,
        rune: str | None = None,
    ) -> dict[str, Any]:
        """One envelope in, one signed reply out (never raises)."""
        return self._handle(raw, transport, sender, rune)

    def handle_batch(self, requests: Sequence[RestRequest]) -> list[dict[str, Any]]:
        """Several REST requests answered with one commit (group commit); one reply each,
        in order (never raises).

        Each request runs exactly as :meth:`handle` would, in order, but all inside one
        transaction: the durable commit, which costs more than everything else a read
        does, is paid once per batch. No reply leaves before the data it names is
        committed (ARCHITECTURE decision 10): a request that changes the node commits the
        batch so far before its node call (:meth:`_committed`), and if the final commit
        fails, or SQLite abandons the transaction, every reply not yet durable becomes an
        ``internal_error`` without a receipt (nothing of it was kept: nonce, counts and
        receipt are all gone, so the advisor may send it again)."""
        with self.lock:
            conn = self.store.connection()
            if len(requests) <= 1 or conn.in_transaction:
                return [self._handle(r.envelope, r.transport, r.sender, r.rune) for r in requests]
            replies: list[dict[str, Any]] = []
            waiting: list[int] = []  # replies whose data is not committed yet
            conn.execute("BEGIN IMMEDIATE")
            self._in_request = self._in_batch = True
            self._batch_snapshot = None
            try:
                for req in requests:
                    commits, lost = self._commits, self._lost
                    reply = self._handle(req.envelope, req.transport, req.sender, req.rune)
                    if self._lost != lost:  # the earlier ones' data went with the transaction
                        self._not_recorded(replies, waiting, requests)
                        waiting = []
                    elif self._commits != commits:  # everything before this one is durable
                        waiting = []
                    waiting.append(len(replies))
                    replies.append(reply)
                    if not conn.in_transaction:  # SQLite gave up unnoticed: nothing since
                        self._not_recorded(replies, waiting, requests)  # the last commit
                        waiting = []  # is kept, this request's data included
                        conn.execute("BEGIN IMMEDIATE")
            except BaseException:  # only an interpreter exit: _handle answers everything else
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._in_request = self._in_batch = False
                self._batch_snapshot = None
            try:
                conn.execute("COMMIT")
            except Exception:
                log.exception("a batch's commit failed; %d replies withdrawn", len(waiting))
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._not_recorded(replies, waiting, requests)
            return replies

    def internal_reply(self, message: str, transport: str = "rest") -> dict[str, Any]:
        """A signed ``internal_error`` reply with ``message`` (a fixed text of ours, never
        an exception's), naming no request and carrying no receipt."""
        return error_reply("internal_error", message, transport=transport, key=self.key)

    def _not_recorded(
        self, replies: list[dict[str, Any]], indexes: list[int], requests: Sequence[RestRequest]
    ) -> None:
        for i in indexes:
            replies[i] = self.internal_reply(NOT_RECORDED, requests[i].transport)

    def handle_nostr(self, text: str, *, author: str) -> dict[str, Any]:
        """An envelope from a verified Nostr DM whose author (the unwrapped rumor's, or the
        kind 4 event's, 64-hex key) is ``author``; the signed reply (never raises).

        A ``replay`` reply names the request (``in_reply_to``, ``nonce``, ...): a DM
        sender has no other way to tell which of its requests it answers."""
        reply = self._handle(text, NOSTR_TRANSPORT, author, None, dm=True)
        if reply.get("code") == "replay" and reply.get("in_reply_to") is None:
            try:
                env = parse_envelope(text)
            except LnhiveError:
                return reply
            reply = error_reply(
                "replay", str(reply.get("error")), transport=NOSTR_TRANSPORT, env=env, key=self.key
            )
        return reply

    def _handle(
        self, raw: Any, transport: str, sender: str | None, rune: str | None, *, dm: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            try:
                parsed = self._ingress(raw, transport, sender, rune, dm=dm)
                env = verify_envelope(
                    parsed,
                    recipient=self.nostr_pubkey,
                    now=self.clock.now(),
                    max_skew_s=self.options.max_skew_s,
                    sender_allowed=self._is_advisor,
                )
                # a replay is refused before any transaction (consume() checks again; in
                # a batch the transaction is open already and that check is enough)
                if not self._in_request:
                    self.nonces.check(env.sender, env.nonce, request_hash=env.request_hash())
            except LnhiveError as err:  # pre-auth refusals and replays: never a receipt
                return self._unauthenticated_reply(err, transport)
            # One transaction from the nonce to the receipt (comms spec §1 step 5 onwards):
            # the reply is returned only after it commits (ARCHITECTURE decision 10), so a
            # crash before then leaves neither nonce nor receipt and nothing was answered;
            # an action that changes the node commits everything first (see execute).
            with self._request_transaction():
                try:
                    self.nonces.consume(
                        env.sender, env.nonce, now=self.clock.now(), request_hash=env.request_hash()
                    )
                except LnhiveError as err:  # replays: never a receipt
                    return self._unauthenticated_reply(err, transport)
                try:
                    return self._authenticated(env, transport)
                except Exception as exc:  # a bug must still answer, and never leak its text
                    log.exception("management flow failed")
                    self._resume_request(env)
                    return self.refuse(env, transport, Internal(f"{type(exc).__name__}: {exc}"))

    def _unauthenticated_reply(self, err: LnhiveError, transport: str) -> dict[str, Any]:
        """The signed reply to a request refused before authentication (or a replay).

        It names no request (``in_reply_to`` and the echo fields are null) and carries no
        receipt, so the same refusal always signs the same object: the signed reply is
        kept (a bounded cache) and handed out again, a copy each time. Still one signed
        reply per refusal (ARCHITECTURE §8.4), without a signature per forged request."""
        # Everything the reply is built from: the same key, the same signed reply.
        cache_key = (
            type(err).__name__,
            err.error_symbol,
            err.message,
            transport,
            json.dumps(err.details, sort_keys=True, default=str),
        )
        cached = self._refusals.get(cache_key)
        if cached is None:
            signed = reply_for_error(err, transport=transport, key=self.key)
            cached = json.dumps(signed)
            if len(self._refusals) >= REFUSAL_CACHE_SIZE:
                self._refusals.pop(next(iter(self._refusals)))
            self._refusals[cache_key] = cached
        out: dict[str, Any] = json.loads(cached)  # a fresh copy for the caller to own
        return out

    @contextmanager
    def _request_transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` around one request (``ROLLBACK`` if it raises);
        inside someone else's transaction, joins it."""
        conn = self.store.connection()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        self._in_request = True
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            self._in_request = False
        if conn.in_transaction:
            conn.execute("COMMIT")

    def _resume_request(self, env: Envelope) -> None:
        """After an unexpected error inside a request's transaction: if SQLite abandoned
        it (an I/O error rolls back), begin again and consume the nonce again, so the
        refusal's receipt never commits without the nonce."""
        conn = self.store.connection()
        if not self._in_request or conn.in_transaction:
            return
        self._lost += 1
        conn.execute("BEGIN IMMEDIATE")
        last = self.nonces.last(env.sender)
        if last is None or last.last_nonce < env.nonce:
            self.nonces.consume(
                env.sender, env.nonce, now=self.clock.now(), request_hash=env.request_hash()
            )

    @contextmanager
    def _committed(self) -> Iterator[None]:
        """Inside a request's transaction: commit everything so far (nonce, action log,
        in-flight marker) and run the block outside any transaction, as a node call that
        changes state must (ARCHITECTURE decision 10); the request's transaction resumes
        afterwards. Outside one, everything is already committed: just run the block."""
        conn = self.store.connection()
        if not self._in_request or not conn.in_transaction:
            yield
            return
        conn.execute("COMMIT")
        self._commits += 1
        try:
            yield
        finally:
            conn.execute("BEGIN IMMEDIATE")

    def snapshot(self) -> NodeSnapshot:
        """The node's channels, peers and funds now. Within a batch, the requests share one
        reading until an action changes the node (each request still checks against a
        reading taken before it, as a lone request does; three node calls fewer each)."""
        if self._batch_snapshot is not None:
            return self._batch_snapshot
        snap = snapshot_from_node(
            self.node, hive_peers=self.executor.hive_peers(), node_id=self.node_id
        )
        if self._in_batch:
            self._batch_snapshot = snap
        return snap

    def _authenticated(self, env: Envelope, transport: str) -> dict[str, Any]:
        self.sweep_expired()
        key = env.sender_key
        try:
            snapshot = self.snapshot()
            result = self.check(
                key, env.credential_id, env.schema_type, env.action, env.params, snapshot
            )
        except LnhiveError as err:
            return self.refuse(env, transport, err)
        prepared = result.prepared
        fields: dict[str, Any] = {"danger_score": prepared.danger, "params": result.params}
        if env.confirm_action_id is not None:
            try:
                item = self.gate.confirm(key, env.confirm_action_id, result)
            except (Conflict, NotFound) as err:  # not a §5.5 code: say why, as policy
                refusal = LnhiveError(
                    err.message, symbol="policy_blocked", details={"reason": "confirmation_invalid"}
                )
                return self.refuse(env, transport, refusal, **fields)
            except LnhiveError as err:
                return self.refuse(env, transport, err, **fields)
            return self.run(env, transport, result, snapshot, extra={"action_id": item.action_id})
        d = result.decision
        if d.decision is Decision.REJECT:
            refusal = LnhiveError(
                d.reason or "refused by the node's policy",
                symbol=d.symbol or "policy_blocked",
                details={"reason": d.reason, **d.details},
            )
            return self.refuse(env, transport, refusal, **fields)
        if d.decision is Decision.HOLD:
            return self._hold(env, transport, result, fields)
        return self.run(env, transport, result, snapshot)

    def check(
        self,
        key: str,
        credential_id: str,
        schema_type: str,
        action: str,
        params: Mapping[str, Any],
        snapshot: NodeSnapshot,
    ) -> GateResult:
        """Stages 6-10 against the live state."""
        self.gate.capabilities = self.executor.capabilities()
        result = self.gate.check(
            advisor_key=key,
            credential_id=credential_id,
            schema_type=schema_type,
            payload={"action": action, "params": dict(params)},
            snapshot=snapshot,
        )
        if not self.executor.mapped(result.prepared.spec.family, result.prepared.action):
            reason = f"{result.prepared.spec.key} is not mapped by this executor"
            raise Unsupported(reason, details={"reason": reason})
        return result

    def refuse(
        self, env: Envelope, transport: str, err: LnhiveError, **fields: Any
    ) -> dict[str, Any]:
        """A refusal after authentication: a receipt (unless the code has none) and the
        signed reply."""
        spec = code_for(err)
        receipt = None
        if spec.receipt:
            message = "internal error" if spec.code == "internal_error" else err.message
            draft = ReceiptDraft.for_envelope(
                env,
                transport=transport,
                decision="rejected",
                error={"code": spec.code, "message": message},
            )
            receipt = self.append(dataclasses.replace(draft, **fields))
        return reply_for_error(err, transport=transport, env=env, receipt=receipt, key=self.key)

    def _hold(
        self, env: Envelope, transport: str, result: GateResult, fields: dict[str, Any]
    ) -> dict[str, Any]:
        d, p = result.decision, result.prepared
        assert d.hold is not None
        try:
            item = self.gate.queue.hold(
                advisor_id=env.sender_key,
                credential_id=env.credential_id,
                schema_id=p.schema_id,
                action=p.action,
                params=result.params,
                envelope_json=json.dumps(env.to_json(), sort_keys=True),
                request_hash=env.request_hash(),
                danger=p.danger,
                kind=d.hold,
                now=self.clock.now(),
                required_approvals=d.required_approvals,
            )
        except LnhiveError as err:
            return self.refuse(env, transport, err, **fields)
        info = {
            "action_id": item.action_id,
            "kind": item.kind.value,
            "expires_at": int(item.expires_at),
        }
        message = f"held for the operator ({item.kind.value}): {d.reason or 'policy'}"
        draft = ReceiptDraft.for_envelope(
            env,
            transport=transport,
            decision="held",
            error={"code": "confirmation_required", "message": message},
            result=info,
        )
        receipt = self.append(dataclasses.replace(draft, **fields))
        log.info("held %s %s from %s as %s", p.schema_id, p.action, env.sender, item.action_id)
        return error_reply(
            "confirmation_required",
            message,
            transport=transport,
            env=env,
            receipt=receipt,
            key=self.key,
            fields=info,
        )

    def execute(
        self, draft: ReceiptDraft, result: GateResult, snapshot: NodeSnapshot, key: str
    ) -> tuple[dict[str, Any], LnhiveError | None, Any, str | None]:
        """Record, run and receipt one allowed action; returns ``(receipt, error, result,
        state_hash_after)``. ``draft`` carries who asked and the decision."""
        p = result.prepared
        if not self.executor.dry_run:  # a dry run changes nothing, so it counts nothing
            self.gate.record(key, result, snapshot)
        before = state_hash_for(result.effects, snapshot)
        writes = not p.spec.is_read and not self.executor.dry_run
        draft = dataclasses.replace(
            draft, params=result.params, danger_score=p.danger, state_hash_before=before
        )
        marker = draft.request_hash or f"local:{self.clock.now()}"
        if writes:
            self.store.execute(
                "INSERT OR REPLACE INTO comms_inflight (request_hash, started_at, draft_json) "
                "VALUES (?, ?, ?)",
                (marker, self.clock.now(), _draft_json(draft)),
            )
        error: LnhiveError | None = None
        out: Any = None
        calls: list[dict[str, Any]] = []
        if writes:
            self._batch_snapshot = None  # the node is about to change: read it afresh
        with self._committed() if writes else contextlib.nullcontext():
            try:
                ex = self.executor.execute(
                    p, result.params, snapshot, skip_channels=result.skip_channels
                )
                out, calls = ex.result, ex.rpc_calls
            except ExecutionFailed as err:
                error, calls = err, err.calls
            except LnhiveError as err:
                error = err
            except Exception as exc:
                log.exception("executor failed")
                error = Internal(f"{type(exc).__name__}: {exc}")
        if writes:
            self._batch_snapshot = None
        after = None
        if before is not None and writes and calls:
            try:
                after = state_hash_for(result.effects, self.snapshot())
            except Exception:
                log.exception("state after the action could not be read")
        if error is None:
            draft = dataclasses.replace(
                draft, outcome="success", result=out, rpc_calls=calls, state_hash_after=after
            )
        else:
            spec = code_for(error)
            message = "internal error" if spec.code == "internal_error" else error.message
            ran = any(c.get("ok") for c in calls) or spec.code == "execution_failed"
            draft = dataclasses.replace(
                draft,
                decision=draft.decision if ran else "rejected",
                outcome="failure" if ran else "n/a",
                error={"code": spec.code, "message": message},
                rpc_calls=calls,
                state_hash_after=after,
            )
        with self.store.transaction():
            receipt = self.append(draft)
            self.store.execute("DELETE FROM comms_inflight WHERE request_hash = ?", (marker,))
        return receipt, error, out, after

    def run(
        self,
        env: Envelope,
        transport: str,
        result: GateResult,
        snapshot: NodeSnapshot,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Stages 13-16 for an advisor's request."""
        draft = ReceiptDraft.for_envelope(env, transport=transport, decision="executed")
        receipt, error, out, after = self.execute(draft, result, snapshot, env.sender_key)
        if error is not None:
            return reply_for_error(
                error, transport=transport, env=env, receipt=receipt, key=self.key
            )
        if extra:
            out = {**out, **extra} if isinstance(out, dict) else {"result": out, **extra}
        return ok_reply(
            env, transport=transport, result=out, receipt=receipt, key=self.key, state_hash=after
        )
