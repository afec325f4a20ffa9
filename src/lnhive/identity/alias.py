"""The optional Archon ``did:cid`` alias, registered through the gateway (spec §1.2, §1.7).

Off by default: without ``hive-archon-network-enabled`` there is no client and every
call says so. The native DID stays the did:key (decision 6); the alias is a label the
gateway assigns, stored beside it. Registration is POST ``/api/v1/did/generate`` with
the spec's body; the reply (a DID string or ``{"did"}``) must be a valid ``did:cid``.

A request that fails for a passing reason (timeout, DNS, 5xx, 429) is queued in the
outbox and retried with backoff (:mod:`lnhive.identity.outbox`); a permanent refusal —
a blocked address, a redirect, a 4xx, a bad reply — is an error and changes nothing.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from lnhive.core.clock import Clock
from lnhive.core.errors import InvalidInput, LnhiveError, Unsupported
from lnhive.core.store import Store
from lnhive.identity import outbox
from lnhive.identity.gateway import PERMANENT, GatewayClient, Outcome

REGISTER = "register_alias"
GENERATE_PATH = "/api/v1/did/generate"
MAX_LABEL = 120
_CID = re.compile(r"did:cid:b[a-z2-7]+")


def valid_did_cid(value: object) -> str | None:
    """The DID if it is a well-formed ``did:cid`` (spec §1.2 step 6), else None."""
    if not isinstance(value, str):
        return None
    did = value.strip()
    if not 60 <= len(did) <= 128 or _CID.fullmatch(did) is None:
        return None
    return did


def did_from_reply(result: Any) -> str | None:
    if isinstance(result, dict):
        result = result.get("did")
    return valid_did_cid(result)


def generate_body(node_id: str, label: str, now: int) -> dict[str, Any]:
    created = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "create",
        "created": created,
        "registration": {"version": 1, "type": "agent", "registry": "hyperswarm"},
        "data": {"node_pubkey": node_id, "label": label},
    }


def _raise(outcome: Outcome) -> None:
    raise LnhiveError(f"gateway: {outcome.error}", symbol=outcome.symbol)


class AliasService:
    """Register and show the did:cid alias; drain the outbox."""

    def __init__(
        self, store: Store, clock: Clock, node_id: str, client: GatewayClient | None
    ) -> None:
        self.store = store
        self.clock = clock
        self.node_id = node_id
        self.client = client
        self.lock = threading.RLock()

    def _now(self) -> int:
        return int(self.clock.now())

    def _client(self) -> GatewayClient:
        if self.client is None:
            raise Unsupported(
                "network disabled: the gateway is off (hive-archon-network-enabled=false)"
            )
        return self.client

    def alias(self) -> dict[str, Any] | None:
        row = self.store.query_one("SELECT * FROM archon_alias WHERE singleton_id = 1")
        return dict(row) if row else None

    def _store_alias(self, did: str, now: int) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO archon_alias (singleton_id, did_cid, gateway_url, registered_at) "
                "VALUES (1, ?, ?, ?) ON CONFLICT (singleton_id) DO UPDATE SET "
                "did_cid = excluded.did_cid, gateway_url = excluded.gateway_url, "
                "registered_at = excluded.registered_at",
                (did, self._client().url, now),
            )

    def register(self, label: object = "") -> dict[str, Any]:
        """Ask the gateway for a did:cid alias now; a passing failure is queued."""
        if not isinstance(label, str) or len(label.strip()) > MAX_LABEL:
            raise InvalidInput(f"label must be a string of at most {MAX_LABEL} characters")
        client = self._client()
        with self.lock:
            existing = self.alias()
            if existing is not None:
                return {"ok": True, "status": "registered", "already_registered": True, **existing}
            now = self._now()
            payload = {"node_pubkey": self.node_id, "label": label.strip()}
            outcome = client.post_json(
                GENERATE_PATH, generate_body(self.node_id, payload["label"], now)
            )
            if outcome.kind == PERMANENT:
                _raise(outcome)
            if outcome.ok:
                did = did_from_reply(outcome.result)
                if did is None:
                    raise InvalidInput("gateway reply is not a valid did:cid; nothing stored")
                self._store_alias(did, now)
                return {
                    "ok": True,
                    "status": "registered",
                    "already_registered": False,
                    **(self.alias() or {}),
                }
            entry_id = outbox.enqueue(self.store, REGISTER, payload, now, outcome.error)
            return {"ok": True, "status": "pending", "entry_id": entry_id, "error": outcome.error}

    def process_outbox(self, max_entries: object = 10) -> dict[str, Any]:
        """Retry due entries (1-100 of them); network on only."""
        if type(max_entries) is not int:
            raise InvalidInput("max_entries must be an integer")
        limit = min(100, max(1, max_entries))
        client = self._client()
        done = {"processed": 0, "succeeded": 0, "failed": 0, "exhausted": 0}
        with self.lock:
            now = self._now()
            for entry in outbox.due(self.store, now, limit):
                done["processed"] += 1
                if entry.operation != REGISTER:
                    outbox.fail(self.store, entry, "unknown operation", now, permanent=True)
                    done["failed"] += 1
                    done["exhausted"] += 1
                    continue
                if self.alias() is not None:
                    outbox.complete(self.store, entry, {"did": self.alias()}, now)
                    done["succeeded"] += 1
                    continue
                label = str(entry.payload.get("label", ""))
                outcome = client.post_json(GENERATE_PATH, generate_body(self.node_id, label, now))
                did = did_from_reply(outcome.result) if outcome.ok else None
                if did is not None:
                    self._store_alias(did, now)
                    outbox.complete(self.store, entry, {"did": did}, now)
                    done["succeeded"] += 1
                    continue
                error = outcome.error if not outcome.ok else "gateway reply is not a valid did:cid"
                status = outbox.fail(
                    self.store, entry, error, now, permanent=outcome.kind == PERMANENT or outcome.ok
                )
                done["failed"] += 1
                if status == outbox.EXHAUSTED:
                    done["exhausted"] += 1
        return {"ok": True, **done}

    def status(self) -> dict[str, Any]:
        return {
            "ok": True,
            "network_enabled": self.client is not None,
            "gateway_url": self.client.url if self.client is not None else None,
            "alias": self.alias(),
            "outbox": outbox.counts(self.store),
        }

    def prune(self, retention_days: object = 90) -> dict[str, Any]:
        if type(retention_days) is not int or retention_days < 1:
            raise InvalidInput("retention_days must be an integer of at least 1")
        removed = outbox.prune(self.store, self._now() - retention_days * 86400)
        return {"ok": True, "outbox_pruned": removed, "retention_days": retention_days}
