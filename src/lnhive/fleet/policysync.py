"""Marking fleet members in cl-revenue-ops (ARCHITECTURE §8.1).

Every member, neophytes included, gets ``revenue-policy action=set peer_id=…
strategy=hive`` (fees toward fleet members follow cl-revenue-ops' ``hive-fee-ppm``), and
``action=delete`` once it is no longer in the roster. That is the whole interface.

The plugin is found by feature detection (``help command=revenue-policy``), never by
file name. The set of peers we marked is kept in ``hive_meta`` (``policy_marked``), and
each :meth:`PolicySync.sync` moves the node toward the roster: a call that fails is
simply retried at the next tick, and a restart re-marks nothing that is already marked.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lnhive.fleet.hive import Hive

META_KEY = "policy_marked"
RECHECK_S = 300.0
"""How often to look for cl-revenue-ops again when it is absent."""


class PolicySync:
    def __init__(self, hive: Hive) -> None:
        self.h = hive
        self._absent_until = float("-inf")

    def marked(self) -> set[str]:
        raw = self.h.roster.meta(META_KEY)
        return set(json.loads(raw)) if raw else set()

    def _save(self, marked: set[str]) -> None:
        with self.h.store.transaction() as conn:
            self.h.roster.set_meta(conn, META_KEY, json.dumps(sorted(marked)))

    def available(self, now: float) -> bool:
        if now < self._absent_until:
            return False
        try:
            self.h.node.call("help", {"command": "revenue-policy"})
        except Exception:  # not loaded (or the node refused): look again later
            self._absent_until = now + RECHECK_S
            return False
        return True

    def sync(self, now: float) -> dict[str, int]:
        """Mark new members and unmark former ones; return what was done."""
        wanted = self.h.member_ids() - {self.h.me}
        marked = self.marked()
        add, drop = sorted(wanted - marked), sorted(marked - wanted)
        if not (add or drop) or not self.available(now):
            return {"marked": 0, "unmarked": 0}
        done = {"marked": 0, "unmarked": 0}
        for peer in add:
            try:
                self.h.node.call(
                    "revenue-policy", {"action": "set", "peer_id": peer, "strategy": "hive"}
                )
            except Exception as exc:  # retried at the next tick
                self.h.log("warn", f"policy: could not mark {peer} as hive: {exc}")
                continue
            marked.add(peer)
            done["marked"] += 1
        for peer in drop:
            try:
                self.h.node.call("revenue-policy", {"action": "delete", "peer_id": peer})
            except Exception as exc:
                self.h.log("warn", f"policy: could not unmark {peer}: {exc}")
                continue
            marked.discard(peer)
            done["unmarked"] += 1
        self._save(marked)
        if done["marked"] or done["unmarked"]:
            self.h.log("info", f"policy: cl-revenue-ops {done}")
        return done

    def release_all(self, now: float) -> int:
        """Unmark every peer we marked (we are leaving the hive); return how many."""
        marked = self.marked()
        if not marked or not self.available(now):
            return 0
        released = 0
        for peer in sorted(marked):
            try:
                self.h.node.call("revenue-policy", {"action": "delete", "peer_id": peer})
                released += 1
            except Exception as exc:
                self.h.log("warn", f"policy: could not unmark {peer}: {exc}")
        return released
