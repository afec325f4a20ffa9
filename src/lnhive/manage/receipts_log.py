"""The receipt log: append, checkpoint, list, prune, export and verify (comms spec §6,
ARCHITECTURE §8.4).

Receipts live in the comms plugin's SQLite file (tables from :data:`MIGRATIONS`). Each
row keeps the receipt's canonical body bytes as they were hashed, so verification
re-hashes exactly what was stored. Appending is one ``BEGIN IMMEDIATE`` transaction
(read the head, hash, sign, insert, maybe checkpoint): concurrent writers never fork the
chain, and if signing fails nothing is stored (the caller reports ``internal_error``).
Rows are never updated (a trigger refuses it); they are deleted only by :meth:`prune`,
and only as whole checkpointed segments, so verification still passes afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lnhive.core.clock import Clock
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256_hex
from lnhive.core.store import Store
from lnhive.manage.receipts import (
    ZERO_HASH,
    ReceiptDraft,
    checkpoint_body,
    dumps,
)
from lnhive.manage.receipts_key import ReceiptKey
from lnhive.manage.receipts_verify import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ChainBroken,
    ChainVerifier,
    VerifyResult,
    signed_digest,
)

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_MAX_AGE_S = 86_400
DEFAULT_RETENTION_DAYS = 90
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 365
MAX_LIST_LIMIT = 500

MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE management_receipts (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),
    created_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    schema_id TEXT NOT NULL,
    action TEXT NOT NULL,
    decision TEXT NOT NULL,
    outcome TEXT NOT NULL,
    body TEXT NOT NULL,
    receipt_hash TEXT NOT NULL,
    sig TEXT NOT NULL);
CREATE INDEX management_receipts_actor ON management_receipts (actor, seq);
CREATE INDEX management_receipts_time ON management_receipts (created_at);
CREATE TRIGGER management_receipts_append_only BEFORE UPDATE ON management_receipts
BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TABLE receipt_checkpoints (
    to_seq INTEGER PRIMARY KEY,
    from_seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    published_ref TEXT,
    pruned INTEGER NOT NULL DEFAULT 0);
CREATE TABLE receipt_key_attestations (
    receipt_key TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    attestation TEXT NOT NULL);
""",
)
"""Schema of the receipt tables, to append to the comms store's migrations."""


@dataclass(frozen=True)
class Head:
    seq: int
    """0 before the first receipt."""
    receipt_hash: str


@dataclass(frozen=True)
class PruneResult:
    receipts: int
    segments: list[dict[str, Any]]
    """The checkpoints whose receipts were deleted (emit their roots before relying on it)."""


def stored_attestation(store: Store, receipt_key: str) -> dict[str, Any] | None:
    """The attestation stored for ``receipt_key`` (to pass to :meth:`ReceiptKey.from_node`)."""
    row = store.query_one(
        "SELECT attestation FROM receipt_key_attestations WHERE receipt_key = ?", (receipt_key,)
    )
    if row is None:
        return None
    out: dict[str, Any] = json.loads(row["attestation"])
    return out


def _receipt_of(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(row["body"])
    out["receipt_hash"] = row["receipt_hash"]
    out["sig"] = row["sig"]
    return out


class ReceiptLog:
    """The node's receipt chain in ``store`` (which has :data:`MIGRATIONS`)."""

    def __init__(
        self,
        store: Store,
        key: ReceiptKey,
        clock: Clock,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        if checkpoint_every < 1:
            raise InvalidInput("checkpoint_every must be at least 1")
        self._store = store
        self._key = key
        self._clock = clock
        self._every = checkpoint_every
        store.execute(
            "INSERT OR IGNORE INTO receipt_key_attestations (receipt_key, node_id, attestation) "
            "VALUES (?, ?, ?)",
            (key.pubkey, key.node_id, dumps(key.attestation)),
        )

    @property
    def key(self) -> ReceiptKey:
        return self._key

    @property
    def attestation(self) -> dict[str, Any]:
        return dict(self._key.attestation)

    # -- append ------------------------------------------------------------------

    def head(self) -> Head:
        """The last receipt (or the last pruned checkpoint when every receipt is pruned)."""
        row = self._store.query_one(
            "SELECT seq, receipt_hash FROM management_receipts ORDER BY seq DESC LIMIT 1"
        )
        if row is not None:
            return Head(int(row["seq"]), str(row["receipt_hash"]))
        cp = self._store.query_one(
            "SELECT to_seq, body FROM receipt_checkpoints ORDER BY to_seq DESC LIMIT 1"
        )
        if cp is not None:
            return Head(int(cp["to_seq"]), str(json.loads(cp["body"])["last_receipt_hash"]))
        return Head(0, ZERO_HASH)

    def append(self, draft: ReceiptDraft) -> dict[str, Any]:
        """Append a receipt for ``draft`` and return it (``seq``, hashes and ``sig`` filled).

        Creates a checkpoint in the same transaction when :attr:`checkpoint_every`
        receipts have accumulated. Raises :class:`~lnhive.core.errors.InvalidInput` for a
        malformed draft and :class:`~lnhive.core.errors.Internal` if signing fails; then
        nothing is stored.
        """
        now = int(self._clock.now())
        with self._store.transaction() as conn:
            head = self.head()
            body, data = draft.canonical_body(
                seq=head.seq + 1, created_at=now, prev_hash=head.receipt_hash
            )
            body_text = data.decode("utf-8")  # = dumps(body)
            receipt_hash = sha256_hex(data)  # = hash_body(body)
            sig = self._key.sign_digest(bytes.fromhex(receipt_hash))
            conn.execute(
                "INSERT INTO management_receipts (seq, created_at, actor, schema_id, action, "
                "decision, outcome, body, receipt_hash, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    body["seq"],
                    now,
                    body["actor"],
                    body["schema_id"],
                    body["action"],
                    body["decision"],
                    body["outcome"],
                    body_text,
                    receipt_hash,
                    sig,
                ),
            )
            if body["seq"] - self._last_checkpoint_seq() >= self._every:
                self._checkpoint_locked(now)
        return dict(body, receipt_hash=receipt_hash, sig=sig)

    # -- checkpoints -------------------------------------------------------------

    def _last_checkpoint_seq(self) -> int:
        row = self._store.query_one("SELECT MAX(to_seq) AS s FROM receipt_checkpoints")
        return int(row["s"]) if row is not None and row["s"] is not None else 0

    def _checkpoint_locked(self, now: int) -> dict[str, Any] | None:
        start = self._last_checkpoint_seq() + 1
        rows = self._store.query(
            "SELECT seq, receipt_hash FROM management_receipts WHERE seq >= ? ORDER BY seq",
            (start,),
        )
        if not rows:
            return None
        hashes = [str(r["receipt_hash"]) for r in rows]
        cp = checkpoint_body(
            from_seq=start, to_seq=int(rows[-1]["seq"]), receipt_hashes=hashes, created_at=now
        )
        cp["sig"] = self._key.sign_digest(signed_digest(cp))
        self._store.execute(
            "INSERT INTO receipt_checkpoints (to_seq, from_seq, body, created_at) VALUES (?, ?, ?, ?)",
            (cp["to_seq"], cp["from_seq"], dumps(cp), now),
        )
        return cp

    def checkpoint(self) -> dict[str, Any] | None:
        """Checkpoint every receipt not yet in one; ``None`` if there is none."""
        with self._store.transaction():
            return self._checkpoint_locked(int(self._clock.now()))

    def maybe_checkpoint(
        self, *, max_age_s: float = DEFAULT_CHECKPOINT_MAX_AGE_S
    ) -> dict[str, Any] | None:
        """Checkpoint if the oldest receipt outside a checkpoint is ``max_age_s`` old
        (spec §6: every 1,000 receipts or 24 h; call this from a periodic loop)."""
        now = self._clock.now()
        with self._store.transaction():
            row = self._store.query_one(
                "SELECT MIN(created_at) AS t FROM management_receipts WHERE seq > ?",
                (self._last_checkpoint_seq(),),
            )
            if row is None or row["t"] is None or now - int(row["t"]) < max_age_s:
                return None
            return self._checkpoint_locked(int(now))

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every checkpoint, oldest first, each with ``published_ref`` and ``pruned`` beside
        the signed fields (``{"checkpoint": {...}, "published_ref", "pruned"}``)."""
        rows = self._store.query(
            "SELECT body, published_ref, pruned FROM receipt_checkpoints ORDER BY to_seq"
        )
        return [
            {
                "checkpoint": json.loads(r["body"]),
                "published_ref": r["published_ref"],
                "pruned": bool(r["pruned"]),
            }
            for r in rows
        ]

    def set_published_ref(self, to_seq: int, ref: str) -> None:
        """Record where a checkpoint was published (a Nostr event id, an Archon ref)."""
        cur = self._store.execute(
            "UPDATE receipt_checkpoints SET published_ref = ? WHERE to_seq = ?", (ref, to_seq)
        )
        if cur.rowcount != 1:
            raise InvalidInput(f"no checkpoint ends at {to_seq}")

    # -- reading -----------------------------------------------------------------

    def get(self, seq: int) -> dict[str, Any] | None:
        row = self._store.query_one(
            "SELECT body, receipt_hash, sig FROM management_receipts WHERE seq = ?", (seq,)
        )
        return None if row is None else _receipt_of(row)

    def list_receipts(
        self, *, actor: str | None = None, limit: int = 50, before_seq: int | None = None
    ) -> list[dict[str, Any]]:
        """Receipts newest first, optionally one actor's only; ``limit`` 1-500."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        sql = "SELECT body, receipt_hash, sig FROM management_receipts WHERE 1 = 1"
        params: list[Any] = []
        if actor is not None:
            sql += " AND actor = ?"
            params.append(actor)
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        return [_receipt_of(r) for r in self._store.query(sql, params)]

    def count(self) -> int:
        row = self._store.query_one("SELECT COUNT(*) AS n FROM management_receipts")
        return 0 if row is None else int(row["n"])

    def status(self) -> dict[str, Any]:
        """Summary for ``hive-client-status``."""
        head = self.head()
        cps = self.checkpoints()
        return {
            "count": self.count(),
            "head_seq": head.seq,
            "head_hash": head.receipt_hash,
            "last_checkpoint": cps[-1]["checkpoint"] if cps else None,
            "receipt_key": self._key.pubkey,
            "attestation": self.attestation,
        }

    # -- pruning -----------------------------------------------------------------

    def prune(
        self,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        keep_from_seq: int | None = None,
    ) -> PruneResult:
        """Delete whole checkpointed segments, oldest first, whose every receipt is older
        than ``retention_days`` (1-365) and whose seqs are all below ``keep_from_seq``
        (rows an open settlement needs). Receipts outside a checkpoint are never pruned.
        """
        if not MIN_RETENTION_DAYS <= retention_days <= MAX_RETENTION_DAYS:
            raise InvalidInput(
                f"retention_days must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}"
            )
        cutoff = self._clock.now() - retention_days * 86_400
        pruned: list[dict[str, Any]] = []
        deleted = 0
        with self._store.transaction() as conn:
            rows = conn.execute(
                "SELECT from_seq, to_seq, body FROM receipt_checkpoints WHERE pruned = 0 "
                "ORDER BY to_seq"
            ).fetchall()
            for row in rows:
                from_seq, to_seq = int(row["from_seq"]), int(row["to_seq"])
                if keep_from_seq is not None and to_seq >= keep_from_seq:
                    break
                newest = conn.execute(
                    "SELECT MAX(created_at) AS t FROM management_receipts "
                    "WHERE seq BETWEEN ? AND ?",
                    (from_seq, to_seq),
                ).fetchone()
                if newest["t"] is not None and int(newest["t"]) >= cutoff:
                    break
                cur = conn.execute(
                    "DELETE FROM management_receipts WHERE seq BETWEEN ? AND ?", (from_seq, to_seq)
                )
                deleted += int(cur.rowcount)
                conn.execute(
                    "UPDATE receipt_checkpoints SET pruned = 1 WHERE to_seq = ?", (to_seq,)
                )
                pruned.append(json.loads(row["body"]))
        return PruneResult(receipts=deleted, segments=pruned)

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """A read transaction: one consistent view that does not block writers (WAL)."""
        conn = self._store.connection()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    # -- verification --------------------------------------------------------------

    def verify(self, *, full: bool = False) -> VerifyResult:
        """Verify the stored chain: re-hash each stored body, check links, seqs and every
        checkpoint signature (and every receipt signature with ``full``). Receipts may be
        absent only inside checkpoints marked pruned."""
        with self._snapshot():
            return self._verify(full)

    def _verify(self, full: bool) -> VerifyResult:
        verifier = ChainVerifier(self._key.pubkey, full=full)
        nid = self._key.node_id
        try:
            for kind, item in self._walk():
                if kind == "checkpoint":
                    cp, pruned = item
                    verifier.checkpoint(cp, absent_ok=pruned)
                else:
                    seq, body, receipt_hash, sig = item
                    if seq != verifier.expected:
                        if seq > verifier.expected:
                            raise ChainBroken(
                                verifier.expected, f"receipt {verifier.expected} missing"
                            )
                        raise ChainBroken(seq, f"receipt {seq} out of order")
                    verifier.receipt(body, receipt_hash, sig)
            verifier.finish(self.head().seq)
        except ChainBroken as bad:
            return VerifyResult(
                False,
                verifier.checked,
                bad.seq,
                bad.reason,
                self._key.pubkey,
                nid,
                verifier.expected - 1,
            )
        return VerifyResult(
            True, verifier.checked, None, None, self._key.pubkey, nid, verifier.expected - 1
        )

    def _walk(self) -> Iterator[tuple[str, Any]]:
        """Receipts and checkpoints in chain order: each checkpoint after its receipts."""
        cps = self._store.query(
            "SELECT to_seq, body, pruned FROM receipt_checkpoints ORDER BY to_seq"
        )
        cp_index = 0
        conn = self._store.connection()
        for row in conn.execute(
            "SELECT seq, body, receipt_hash, sig FROM management_receipts ORDER BY seq"
        ):
            seq = int(row["seq"])
            while cp_index < len(cps) and int(cps[cp_index]["to_seq"]) < seq:
                yield "checkpoint", (_load(cps[cp_index]["body"]), bool(cps[cp_index]["pruned"]))
                cp_index += 1
            yield (
                "receipt",
                (seq, str(row["body"]).encode("utf-8"), row["receipt_hash"], row["sig"]),
            )
        for cp in cps[cp_index:]:
            yield "checkpoint", (_load(cp["body"]), bool(cp["pruned"]))

    # -- export ------------------------------------------------------------------

    def export_lines(
        self,
        *,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> Iterator[str]:
        """The chain as JSON Lines (each line JCS, ending in ``\\n``), for
        :func:`~lnhive.manage.receipts_verify.verify_export`.

        ``since``/``until`` (unix seconds, inclusive) select receipts by ``created_at``,
        widened to whole checkpoint segments; segments outside appear as their checkpoint
        line only. ``actor`` keeps other actors' receipts as redacted entries
        ``{seq, prev_hash, receipt_hash}``.
        """
        with self._snapshot():
            head = self.head()
            lo, hi = self._selected_range(since, until)
            cps = self._store.query(
                "SELECT from_seq, to_seq, body FROM receipt_checkpoints ORDER BY to_seq"
            )
            lines: list[str] = []
            last_cp = 0
            for cp in cps:
                from_seq, to_seq = int(cp["from_seq"]), int(cp["to_seq"])
                if to_seq >= lo and from_seq <= hi:
                    lines.extend(self._receipt_lines(from_seq, to_seq, actor))
                lines.append(dumps({"checkpoint": _load(cp["body"])}))
                last_cp = to_seq
            to_seq_covered, to_hash = last_cp, ZERO_HASH
            if cps:
                to_hash = str(_load(cps[-1]["body"])["last_receipt_hash"])
            if head.seq > last_cp and hi > last_cp:
                lines.extend(self._receipt_lines(last_cp + 1, head.seq, actor))
                to_seq_covered, to_hash = head.seq, head.receipt_hash
            header: dict[str, Any] = {
                "format": EXPORT_FORMAT,
                "v": EXPORT_VERSION,
                "attestation": self.attestation,
                "to_seq": to_seq_covered,
                "to_hash": to_hash,
                "exported_at": int(self._clock.now()),
                "filters": {"actor": actor, "since": since, "until": until},
            }
            header["sig"] = self._key.sign_digest(signed_digest(header))
            lines.insert(0, dumps({"header": header}))
        for line in lines:
            yield line + "\n"

    def export_jsonl(
        self, *, actor: str | None = None, since: int | None = None, until: int | None = None
    ) -> str:
        return "".join(self.export_lines(actor=actor, since=since, until=until))

    def _selected_range(self, since: int | None, until: int | None) -> tuple[int, int]:
        """Seq range of receipts with ``since <= created_at <= until`` (empty: ``(1, 0)``)."""
        if since is None and until is None:
            return 1, 2**62
        row = self._store.query_one(
            "SELECT MIN(seq) AS lo, MAX(seq) AS hi FROM management_receipts "
            "WHERE created_at >= ? AND created_at <= ?",
            (since if since is not None else 0, until if until is not None else 2**62),
        )
        if row is None or row["lo"] is None:
            return 1, 0
        return int(row["lo"]), int(row["hi"])

    def _receipt_lines(self, from_seq: int, to_seq: int, actor: str | None) -> list[str]:
        out = []
        for row in self._store.query(
            "SELECT seq, actor, body, receipt_hash, sig FROM management_receipts "
            "WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (from_seq, to_seq),
        ):
            if actor is None or row["actor"] == actor:
                out.append(dumps({"receipt": _receipt_of(row)}))
            else:
                body = json.loads(row["body"])
                out.append(
                    dumps(
                        {
                            "redacted": {
                                "seq": int(row["seq"]),
                                "prev_hash": body["prev_hash"],
                                "receipt_hash": row["receipt_hash"],
                            }
                        }
                    )
                )
        return out


def _load(text: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(text)
    return out
