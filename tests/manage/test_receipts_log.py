"""The receipt log: append, chain, checkpoints, listing, pruning (spec §6, §8 tests 30-31)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from lnhive.core import bip340
from lnhive.core.canonical import canonical_json
from lnhive.core.clock import VirtualClock
from lnhive.core.errors import Internal, InvalidInput
from lnhive.core.hashing import sha256_hex
from lnhive.core.store import Store
from lnhive.manage.receipts import ZERO_HASH, ReceiptDraft, merkle_root_hex
from lnhive.manage.receipts_key import ReceiptKey
from lnhive.manage.receipts_log import ReceiptLog, stored_attestation
from lnhive.manage.receipts_verify import signed_digest
from lnhive.transport.envelope import parse_envelope
from tests.transport.keys import ADVISOR, OTHER_ADVISOR, T0, comms_store, envelope, receipt_key

DAY = 86_400


class Env:
    def __init__(self, tmp_path: Path, every: int = 1000) -> None:
        self.path = tmp_path / "comms.sqlite3"
        self.clock = VirtualClock(T0)
        self.store = comms_store(self.path)
        self.key = receipt_key()
        self.log = ReceiptLog(self.store, self.key, self.clock, checkpoint_every=every)

    def add(self, n: int = 1, actor: str = ADVISOR, **kw: Any) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            out.append(
                self.log.append(
                    ReceiptDraft(
                        actor=actor,
                        schema_id="hive:monitor/v1",
                        action="health_summary",
                        decision="executed",
                        outcome="success",
                        **kw,
                    )
                )
            )
        return out


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_append_builds_a_signed_hash_chain(env: Env) -> None:
    first, second = env.add(2)
    assert first["seq"] == 1 and second["seq"] == 2
    assert first["prev_hash"] == ZERO_HASH
    assert second["prev_hash"] == first["receipt_hash"]
    body = {k: v for k, v in first.items() if k not in ("receipt_hash", "sig")}
    assert first["receipt_hash"] == sha256_hex(canonical_json(body))
    assert bip340.verify(
        bytes.fromhex(env.key.pubkey),
        bytes.fromhex(first["receipt_hash"]),
        bytes.fromhex(first["sig"]),
    )
    assert first["created_at"] == T0
    assert env.log.get(1) == first
    assert env.log.verify(full=True).ok


def test_receipt_for_an_envelope(env: Env) -> None:
    parsed = parse_envelope(envelope(nonce=77))
    receipt = env.log.append(
        ReceiptDraft.for_envelope(
            parsed,
            transport="rest",
            decision="rejected",
            danger_score=3,
            error={"code": "policy_blocked", "message": "quiet hours"},
        )
    )
    assert receipt["actor"] == ADVISOR
    assert receipt["request_nonce"] == 77
    assert receipt["request_hash"] == parsed.request_hash()
    assert receipt["credential_id"] == "cred-1"
    assert receipt["params"] == parsed.params
    assert receipt["outcome"] == "n/a" and receipt["decision"] == "rejected"


def test_large_results_are_kept_as_a_hash(env: Env) -> None:
    big = {"rows": ["x" * 1000] * 20}
    (receipt,) = env.add(result=big)
    assert receipt["result"] == {
        "result_sha256": sha256_hex(canonical_json(big)),
        "result_bytes": len(canonical_json(big)),
    }
    (small,) = env.add(result={"ok": 1})
    assert small["result"] == {"ok": 1}


@pytest.mark.parametrize(
    "bad",
    [
        {"decision": "maybe"},
        {"outcome": "great"},
        {"danger_score": "5"},
        {"request_hash": "xyz"},
        {"params": {"amount": 2**60}},
    ],
)
def test_malformed_drafts_store_nothing(env: Env, bad: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "actor": ADVISOR,
        "schema_id": "s",
        "action": "a",
        "decision": "executed",
    }
    fields.update(bad)
    with pytest.raises(InvalidInput):
        env.log.append(ReceiptDraft(**fields))
    assert env.log.count() == 0


def test_signing_failure_stores_nothing(env: Env) -> None:
    class Broken(ReceiptKey):
        def sign_digest(self, digest: bytes) -> str:
            raise Internal("receipt signing failed: hsm gone")

    broken = Broken(env.key.secret, env.key.attestation)
    log = ReceiptLog(env.store, broken, env.clock)
    with pytest.raises(Internal):
        log.append(ReceiptDraft(actor=ADVISOR, schema_id="s", action="a", decision="executed"))
    assert env.log.count() == 0 and env.log.head().seq == 0


def test_rows_are_append_only(env: Env) -> None:
    env.add(1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        env.store.execute("UPDATE management_receipts SET actor = 'x' WHERE seq = 1")


def test_listing(env: Env) -> None:
    env.add(3, actor=ADVISOR)
    env.add(2, actor=OTHER_ADVISOR)
    assert [r["seq"] for r in env.log.list_receipts()] == [5, 4, 3, 2, 1]
    assert [r["seq"] for r in env.log.list_receipts(actor=ADVISOR, limit=2)] == [3, 2]
    assert [r["seq"] for r in env.log.list_receipts(before_seq=3)] == [2, 1]
    for bad in (0, 501):
        with pytest.raises(InvalidInput):
            env.log.list_receipts(limit=bad)


def test_checkpoint_every_n_in_the_same_transaction(tmp_path: Path) -> None:
    e = Env(tmp_path, every=4)
    receipts = e.add(9)
    cps = [c["checkpoint"] for c in e.log.checkpoints()]
    assert [(c["from_seq"], c["to_seq"]) for c in cps] == [(1, 4), (5, 8)]
    hashes = [r["receipt_hash"] for r in receipts]
    assert cps[0]["merkle_root"] == merkle_root_hex(hashes[:4])
    assert cps[1]["last_receipt_hash"] == hashes[7]
    assert bip340.verify(
        bytes.fromhex(e.key.pubkey), signed_digest(cps[0]), bytes.fromhex(cps[0]["sig"])
    )
    assert e.log.verify().ok


def test_checkpoint_after_24h(env: Env) -> None:
    env.add(3)
    assert env.log.maybe_checkpoint() is None
    env.clock.advance(DAY - 1)
    assert env.log.maybe_checkpoint() is None
    env.clock.advance(1)
    cp = env.log.maybe_checkpoint()
    assert cp is not None and (cp["from_seq"], cp["to_seq"]) == (1, 3)
    env.clock.advance(2 * DAY)
    assert env.log.maybe_checkpoint() is None  # nothing new
    assert env.log.checkpoint() is None
    env.add(1)
    assert env.log.checkpoint() is not None


def test_published_ref_is_kept_beside_the_signed_checkpoint(env: Env) -> None:
    env.add(2)
    cp = env.log.checkpoint()
    assert cp is not None
    env.log.set_published_ref(2, "nostr:event:abc")
    (row,) = env.log.checkpoints()
    assert row["published_ref"] == "nostr:event:abc" and row["checkpoint"] == cp
    with pytest.raises(InvalidInput):
        env.log.set_published_ref(99, "x")


def test_prune_drops_only_whole_old_checkpointed_segments(tmp_path: Path) -> None:
    e = Env(tmp_path, every=5)
    e.add(5)  # seq 1-5, checkpointed, day 0
    e.clock.advance(10 * DAY)
    e.add(5)  # seq 6-10, checkpointed, day 10
    e.add(3)  # seq 11-13, not checkpointed
    e.clock.advance(91 * DAY)  # all old now
    result = e.log.prune(retention_days=90)
    assert result.receipts == 10
    assert [(s["from_seq"], s["to_seq"]) for s in result.segments] == [(1, 5), (6, 10)]
    assert [r["seq"] for r in e.log.list_receipts()] == [13, 12, 11]
    verdict = e.log.verify(full=True)
    assert verdict.ok and verdict.checked == 3 and verdict.to_seq == 13
    # the chain continues across the pruned range
    e.add(1)
    assert e.log.get(14) is not None
    assert e.log.verify(full=True).ok


def test_prune_respects_retention_and_settlements(tmp_path: Path) -> None:
    e = Env(tmp_path, every=2)
    e.add(2)  # 1-2 at day 0
    e.clock.advance(50 * DAY)
    e.add(2)  # 3-4 at day 50
    e.clock.advance(50 * DAY)  # day 100
    assert e.log.prune(retention_days=90).receipts == 2
    assert e.log.prune(retention_days=90).receipts == 0  # 3-4 are only 50 days old
    e.clock.advance(50 * DAY)
    assert e.log.prune(retention_days=90, keep_from_seq=4).receipts == 0
    assert e.log.prune(retention_days=90, keep_from_seq=5).receipts == 2
    for bad in (0, 366):
        with pytest.raises(InvalidInput):
            e.log.prune(retention_days=bad)


def test_no_checkpoint_no_pruning(env: Env) -> None:
    env.add(10)
    env.clock.advance(400 * DAY)
    assert env.log.prune(retention_days=1).receipts == 0
    assert env.log.count() == 10


def test_prune_everything_then_continue(tmp_path: Path) -> None:
    e = Env(tmp_path, every=3)
    last = e.add(3)[-1]
    e.clock.advance(100 * DAY)
    assert e.log.prune().receipts == 3
    assert e.log.count() == 0
    assert e.log.head().seq == 3 and e.log.head().receipt_hash == last["receipt_hash"]
    (nxt,) = e.add(1)
    assert nxt["seq"] == 4 and nxt["prev_hash"] == last["receipt_hash"]
    assert e.log.verify(full=True).ok


def test_concurrent_writers_never_fork_the_chain(tmp_path: Path) -> None:
    e = Env(tmp_path, every=7)
    writers, each = 6, 15
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            log = ReceiptLog(e.store, e.key, e.clock, checkpoint_every=7)
            for _ in range(each):
                log.append(
                    ReceiptDraft(
                        actor=f"nostr:{i:064x}", schema_id="s", action="a", decision="held"
                    )
                )
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert e.log.count() == writers * each
    verdict = e.log.verify(full=True)
    assert verdict.ok and verdict.checked == writers * each


def test_two_processes_worth_of_stores_share_one_chain(tmp_path: Path) -> None:
    e = Env(tmp_path)
    e.add(2)
    other_store = comms_store(e.path)
    other = ReceiptLog(other_store, e.key, e.clock)
    (third,) = [
        other.append(ReceiptDraft(actor=ADVISOR, schema_id="s", action="a", decision="held"))
    ]
    assert third["seq"] == 3 and e.log.verify().ok


def test_attestation_is_stored_and_reported(env: Env) -> None:
    assert stored_attestation(env.store, env.key.pubkey) == env.key.attestation
    env.add(1)
    status = env.log.status()
    assert status["count"] == 1 and status["head_seq"] == 1
    assert status["attestation"] == env.key.attestation
    assert status["receipt_key"] == env.key.pubkey


def test_store_schema(tmp_path: Path) -> None:
    store = comms_store(tmp_path / "x.sqlite3")
    tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"management_receipts", "receipt_checkpoints", "comms_replay_nonces"} <= tables
    assert isinstance(store, Store)
    assert json.loads(json.dumps(receipt_key().attestation)) == receipt_key().attestation
