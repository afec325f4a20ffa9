"""Metrics of an advisor derived from observed outcomes: cl-hive-comms receipts and the
node's forwarding fees (spec §2.2 ``hive:advisor``). Pure functions.

The receipt chain comes as a cl-hive-comms JSON Lines export (``hive-client-receipts-
export advisor=<key>``, docs/receipts.md §5) and is verified first — header and
attestation by *this* node, every link, checkpoint and receipt signature — so nothing is
derived from receipts the node did not sign. From the advisor's receipts inside the
period:

- ``actions_taken``: receipts ``executed``/``approved`` with outcome ``success``,
  read-only ``hive:monitor/v1`` requests excluded;
- ``channels_managed``: distinct channels named in those actions' parameters
  (``channel_id``, ``short_channel_id``, ``channels``/``channel_ids``);
- ``sla_violations``: requests refused for exceeding the advisor's grant
  (``constraint_violation``, ``policy_blocked``, ``forbidden``, ``budget_exhausted``);
- ``uptime_pct``: share of the period's UTC days on which the advisor was seen (any
  authenticated request), 0-100, one decimal;
- ``revenue_delta_pct``: forwarding fees earned in the period against the same length
  of time just before it, in percent (-100 … 1000; 0 → 0 is 0, 0 → any is 1000).

The evidence list names the chain head (``AuditLog``), the fee snapshot
(``MetricSnapshot``) and the newest receipts (``SignedReceipt``), within the spec's
32 entries and 8 192 bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lnhive.core.amounts import AmountError, parse_msat
from lnhive.core.canonical import canonical_json
from lnhive.core.errors import CredentialInvalid, InvalidInput, NotFound
from lnhive.identity.credentials import iso
from lnhive.identity.reputation_credential import MAX_EVIDENCE, MAX_EVIDENCE_BYTES
from lnhive.manage.receipts_verify import verify_export

DAY = 86_400
MONITOR_SCHEMA = "hive:monitor/v1"
ACTION_DECISIONS = ("executed", "approved")
BOUNDS_CODES = frozenset(
    {"constraint_violation", "policy_blocked", "forbidden", "budget_exhausted"}
)
MAX_EXPORT_BYTES = 64 * 1024 * 1024
MAX_RECEIPT_EVIDENCE = 24
DERIVED_METRICS = (
    "revenue_delta_pct",
    "actions_taken",
    "uptime_pct",
    "channels_managed",
    "sla_violations",
)
_CHANNEL_KEYS = ("channel_id", "short_channel_id")
_CHANNEL_LIST_KEYS = ("channels", "channel_ids")


@dataclass(frozen=True)
class ReceiptChain:
    """A verified receipt export: the node and key that signed it and its receipts."""

    node_id: str
    receipt_key: str
    to_seq: int
    to_hash: str
    receipts: list[dict[str, Any]]


@dataclass(frozen=True)
class Derived:
    metrics: dict[str, int | float]
    evidence: list[dict[str, str]]
    summary: dict[str, Any] = field(default_factory=dict)


def export_text(value: object) -> str:
    """The JSON Lines text of an export given as text or as the RPC answer ``{jsonl}``."""
    if isinstance(value, Mapping):
        value = value.get("jsonl")
    elif isinstance(value, str) and value.lstrip().startswith('{"jsonl"'):
        try:
            value = json.loads(value).get("jsonl")
        except (json.JSONDecodeError, AttributeError):
            raise InvalidInput("receipts export is not valid JSON") from None
    if not isinstance(value, str) or not value:
        raise InvalidInput("receipts must be a cl-hive-comms receipts export (JSON Lines)")
    if len(value) > MAX_EXPORT_BYTES:
        raise InvalidInput(f"receipts export larger than {MAX_EXPORT_BYTES} bytes")
    return value


def verified_chain(export: object, node_id: str) -> ReceiptChain:
    """Verify a receipts export fully against ``node_id`` (CredentialInvalid if it fails)."""
    text = export_text(export)
    result = verify_export(text, node_id=node_id, full=True)
    if not result.ok:
        where = f" at seq {result.first_bad_seq}" if result.first_bad_seq is not None else ""
        raise CredentialInvalid(f"receipt chain does not verify{where}: {result.reason}")
    receipts: list[dict[str, Any]] = []
    header: dict[str, Any] = {}
    for line in text.splitlines():
        obj = json.loads(line)
        if "header" in obj:
            header = obj["header"]
        elif "receipt" in obj:
            receipts.append(obj["receipt"])
    return ReceiptChain(
        node_id=str(result.node_id),
        receipt_key=str(result.receipt_key),
        to_seq=int(header["to_seq"]),
        to_hash=str(header["to_hash"]),
        receipts=receipts,
    )


def fees_between(forwards: Iterable[Mapping[str, Any]], start: int, end: int) -> int:
    """Fees in msat of settled forwards resolved in ``[start, end)``."""
    total = 0
    for fwd in forwards:
        if fwd.get("status") != "settled":
            continue
        when = fwd.get("resolved_time", fwd.get("received_time"))
        if not isinstance(when, int | float) or not start <= when < end:
            continue
        try:
            total += parse_msat(fwd.get("fee_msat", 0))
        except (AmountError, TypeError):
            continue
    return total


def revenue_delta_pct(before_msat: int, during_msat: int) -> float:
    """Percentage change of fees, clamped to the profile's -100 … 1000."""
    if before_msat <= 0:
        return 0.0 if during_msat <= 0 else 1000.0
    pct = 100.0 * (during_msat - before_msat) / before_msat
    return round(min(1000.0, max(-100.0, pct)), 2)


def _channels(params: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for key in _CHANNEL_KEYS:
        if isinstance(params.get(key), str):
            out.add(params[key])
    for key in _CHANNEL_LIST_KEYS:
        items = params.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, str):
                    out.add(item)
                elif isinstance(item, Mapping):
                    out |= _channels(item)
    return out


def _is_action(r: Mapping[str, Any]) -> bool:
    return (
        r.get("decision") in ACTION_DECISIONS
        and r.get("outcome") == "success"
        and r.get("schema_id") != MONITOR_SCHEMA
    )


def _receipt_entry(node_id: str, r: Mapping[str, Any]) -> dict[str, str]:
    text = (
        f"{r.get('schema_id')}#{r.get('action')} {r.get('decision')}/{r.get('outcome')} "
        f"at {iso(int(r.get('created_at', 0)))}"
    )
    return {
        "type": "SignedReceipt",
        "id": f"urn:lnhive:receipt:{node_id}:{r['seq']}:{r['receipt_hash']}",
        "description": text[:256],
    }


def advisor_metrics(
    chain: ReceiptChain,
    advisor_key: str,
    *,
    period_start: int,
    period_end: int,
    fees_before_msat: int,
    fees_during_msat: int,
) -> Derived:
    """The ``hive:advisor`` metrics of ``advisor_key`` (64 hex) over the period."""
    actor = f"nostr:{advisor_key}"
    mine = [
        r
        for r in chain.receipts
        if r.get("actor") == actor and period_start <= int(r.get("created_at", 0)) <= period_end
    ]
    if not mine:
        raise NotFound(
            f"no receipts of advisor {advisor_key[:16]}… between {iso(period_start)} and "
            f"{iso(period_end)}"
        )
    actions = [r for r in mine if _is_action(r)]
    channels: set[str] = set()
    for r in actions:
        if isinstance(r.get("params"), Mapping):
            channels |= _channels(r["params"])
    violations = [
        r
        for r in mine
        if r.get("decision") == "rejected"
        and isinstance(r.get("error"), Mapping)
        and r["error"].get("code") in BOUNDS_CODES
    ]
    failed = sum(1 for r in mine if r.get("outcome") in ("failure", "unknown"))
    days_total = max(1, math.ceil((period_end - period_start) / DAY))
    days_seen = len({(int(r["created_at"]) - period_start) // DAY for r in mine})
    uptime = round(min(100.0, 100.0 * days_seen / days_total), 1)
    metrics: dict[str, int | float] = {
        "revenue_delta_pct": revenue_delta_pct(fees_before_msat, fees_during_msat),
        "actions_taken": len(actions),
        "uptime_pct": uptime,
        "channels_managed": len(channels),
        "sla_violations": len(violations),
    }
    evidence = [
        {
            "type": "AuditLog",
            "id": f"urn:lnhive:receipts:{chain.node_id}:{chain.to_seq}:{chain.to_hash}",
            "description": (
                f"receipt chain verified to seq {chain.to_seq} (receipt key "
                f"{chain.receipt_key[:16]}…); {len(mine)} receipts of this advisor in the period"
            ),
        },
        {
            "type": "MetricSnapshot",
            "id": f"urn:lnhive:forwards:{chain.node_id}:{period_start}:{period_end}",
            "description": (
                f"forwarding fees {fees_during_msat} msat in the period, {fees_before_msat} msat "
                "in as long before it"
            ),
        },
    ]
    newest = sorted(mine, key=lambda r: (_is_action(r), int(r["seq"])), reverse=True)
    for r in newest[:MAX_RECEIPT_EVIDENCE]:
        entry = _receipt_entry(chain.node_id, r)
        if len(evidence) >= MAX_EVIDENCE or (
            len(canonical_json([*evidence, entry])) > MAX_EVIDENCE_BYTES
        ):
            break
        evidence.append(entry)
    summary = {
        "receipts": len(mine),
        "actions": len(actions),
        "refused_out_of_bounds": len(violations),
        "failed": failed,
        "days_seen": days_seen,
        "days_in_period": days_total,
        "fees_before_msat": fees_before_msat,
        "fees_during_msat": fees_during_msat,
        "chain_to_seq": chain.to_seq,
    }
    return Derived(metrics, evidence, summary)


def merge_extra(
    derived: Mapping[str, int | float], extra: Mapping[str, Any], allowed: Sequence[str]
) -> dict[str, Any]:
    """Derived metrics plus operator-given ones; a derived metric cannot be overridden."""
    out: dict[str, Any] = dict(derived)
    for key, value in extra.items():
        if key in derived:
            raise InvalidInput(f"metric {key} is derived from receipts and cannot be given")
        if key not in allowed:
            raise InvalidInput(f"metrics invalid: unknown metric: {str(key)[:64]}")
        out[key] = value
    return out
