"""The per-advisor action log behind the counting rules (spec §4.5: counts survive restarts).

Every action the policy lets through is recorded with its effects, danger, sats out
and on-chain sats; fee changes also record the channel's fee before and after, so
the 24-hour fee rule can find the fee at the start of its window. :meth:`ActionLog.
advisor` and :meth:`ActionLog.node` give :class:`~lnhive.manage.rules.History` views
over one advisor's rows or everyone's. Old rows are pruned with :meth:`prune`.
"""

from __future__ import annotations

from collections.abc import Iterable

from lnhive.core.store import Store
from lnhive.manage.catalogue import PreparedAction
from lnhive.manage.effects import ActionEffects
from lnhive.manage.snapshot import NodeSnapshot

KEEP_S = 8 * 86_400
"""Rows older than this are never counted by the built-in windows."""


class LogHistory:
    """A :class:`~lnhive.manage.rules.History` over the log, for one advisor or all."""

    def __init__(self, store: Store, advisor_id: str | None) -> None:
        self._store = store
        self._advisor = advisor_id

    def _where(self, since: float) -> tuple[str, list[object]]:
        sql = "status != 'dropped' AND at >= ?"
        args: list[object] = [since]
        if self._advisor is not None:
            sql += " AND advisor_id = ?"
            args.append(self._advisor)
        return sql, args

    def count(
        self, *, since: float, effects: Iterable[str] | None = None, min_danger: int = 0
    ) -> int:
        """Rows since ``since`` with at least ``min_danger`` and, if ``effects`` is given,
        at least one of those effect kinds (counted in SQL, over the ``(advisor_id, at)``
        and ``(at)`` indexes)."""
        where, args = self._where(since)
        sql = f"SELECT COUNT(*) AS n FROM comms_action_log WHERE {where} AND danger >= ?"
        params: list[object] = [*args, min_danger]
        if effects is not None:
            wanted = sorted({k for k in effects if "," not in k})  # a kind never has one
            if not wanted:
                return 0
            # ``effects`` is a comma-joined list of kinds: match whole items only. Most rows
            # hold exactly one kind, and the equality (tried first: OR stops at the first
            # true term) costs half of building the string for ``instr``.
            marks = ", ".join("?" * len(wanted))
            found = " OR ".join(["instr(',' || effects || ',', ?) > 0"] * len(wanted))
            sql += f" AND (effects IN ({marks}) OR {found})"
            params.extend(wanted)
            params.extend(f",{kind}," for kind in wanted)
        row = self._store.query_one(sql, params)
        return int(row["n"]) if row else 0

    def sats_out_since(self, since: float) -> int:
        where, args = self._where(since)
        row = self._store.query_one(
            f"SELECT COALESCE(SUM(sats_out), 0) AS s FROM comms_action_log WHERE {where}", args
        )
        return int(row["s"]) if row else 0

    def onchain_since(self, since: float) -> int:
        where, args = self._where(since)
        row = self._store.query_one(
            f"SELECT COALESCE(SUM(onchain_sats), 0) AS s FROM comms_action_log WHERE {where}", args
        )
        return int(row["s"]) if row else 0

    def fee_at_window_start(self, channel: str, since: float) -> int | None:
        row = self._store.query_one(
            "SELECT old_fee_ppm FROM comms_fee_changes WHERE channel = ? AND at >= ? "
            "ORDER BY at, id LIMIT 1",
            (channel, since),
        )
        return int(row["old_fee_ppm"]) if row else None


class ActionLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    def advisor(self, advisor_id: str) -> LogHistory:
        return LogHistory(self._store, advisor_id)

    def node(self) -> LogHistory:
        return LogHistory(self._store, None)

    def record(
        self,
        advisor_id: str,
        prepared: PreparedAction,
        effects: ActionEffects,
        snapshot: NodeSnapshot,
        now: float,
        *,
        status: str = "done",
    ) -> int:
        """Log an action the policy let through; returns its row id.

        ``status="pending"`` reserves its sats (an on-chain send in flight); settle it
        with :meth:`settle`.
        """
        with self._store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO comms_action_log (advisor_id, at, schema_id, action, danger, "
                "effects, sats_out, onchain_sats, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    advisor_id,
                    now,
                    prepared.schema_id,
                    prepared.action,
                    prepared.danger,
                    ",".join(sorted(k.value for k in effects.kinds)),
                    effects.sats_out,
                    effects.onchain_sats,
                    status,
                ),
            )
            for change in effects.fee_changes:
                channel = snapshot.channel(change.channel)
                if change.fee_ppm is None or channel is None:
                    continue
                conn.execute(
                    "INSERT INTO comms_fee_changes (channel, at, old_fee_ppm, new_fee_ppm, "
                    "advisor_id) VALUES (?, ?, ?, ?, ?)",
                    (channel.short_channel_id, now, channel.fee_ppm, change.fee_ppm, advisor_id),
                )
            row_id = cur.lastrowid
        assert row_id is not None
        return int(row_id)

    def settle(self, row_id: int, *, spent: bool) -> None:
        """Move a pending row to spent (``done``) or drop it (its sats are released)."""
        self._store.execute(
            "UPDATE comms_action_log SET status = ? WHERE id = ? AND status = 'pending'",
            ("done" if spent else "dropped", row_id),
        )

    def prune(self, before: float) -> int:
        with self._store.transaction() as conn:
            n = conn.execute("DELETE FROM comms_action_log WHERE at < ?", (before,)).rowcount
            conn.execute("DELETE FROM comms_fee_changes WHERE at < ?", (before,))
        return int(n)
