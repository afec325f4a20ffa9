"""Tamper evidence: verifying the stored chain and offline exports (spec §6, §8 tests 30-31)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lnhive.core.errors import InvalidInput
from lnhive.manage.receipts import merkle_root, merkle_root_hex
from lnhive.manage.receipts_verify import verify_export
from tests.manage.test_receipts_log import DAY, Env
from tests.transport.keys import ADVISOR, NODE_ID, OTHER_ADVISOR, OTHER_NODE_ID


def unlock(e: Env) -> None:
    """What an attacker with the file does first: drop the append-only trigger."""
    e.store.execute("DROP TRIGGER IF EXISTS management_receipts_append_only")


def flip_char(text: str, index: int) -> str:
    c = text[index]
    repl = "0" if c != "0" else "1"
    return text[:index] + repl + text[index + 1 :]


# -- merkle -----------------------------------------------------------------------------


def test_merkle_root_shapes() -> None:
    import hashlib

    a, b, c = (hashlib.sha256(bytes([i])).digest() for i in range(3))

    def h(x: bytes, y: bytes) -> bytes:
        return hashlib.sha256(x + y).digest()

    assert merkle_root([a]) == a
    assert merkle_root([a, b]) == h(a, b)
    assert merkle_root([a, b, c]) == h(h(a, b), h(c, c))
    assert merkle_root_hex([a.hex(), b.hex(), c.hex()]) == h(h(a, b), h(c, c)).hex()
    with pytest.raises(InvalidInput):
        merkle_root([])


# -- the stored chain ---------------------------------------------------------------------


@pytest.fixture
def chain(tmp_path: Path) -> Env:
    e = Env(tmp_path, every=4)
    for i in range(10):
        e.add(1, actor=ADVISOR if i % 3 else OTHER_ADVISOR)
        e.clock.advance(60)
    return e


def test_clean_chain_verifies(chain: Env) -> None:
    v = chain.log.verify(full=True)
    assert v.to_json() == {"ok": True, "checked": 10, "first_bad_seq": None, "reason": None}


@pytest.mark.parametrize("seq", [1, 5, 10])
def test_edited_body_names_its_seq(chain: Env, seq: int) -> None:
    unlock(chain)
    row = chain.store.query_one("SELECT body FROM management_receipts WHERE seq = ?", (seq,))
    assert row is not None
    edited = row["body"].replace('"decision":"executed"', '"decision":"rejected"')
    chain.store.execute("UPDATE management_receipts SET body = ? WHERE seq = ?", (edited, seq))
    v = chain.log.verify()
    assert not v.ok and v.first_bad_seq == seq
    assert "receipt_hash does not match" in str(v.reason)


def test_rehashed_forgery_breaks_the_next_link_or_signature(chain: Env) -> None:
    """An attacker who re-hashes an edited receipt still cannot sign it."""
    import hashlib

    unlock(chain)
    row = chain.store.query_one("SELECT body FROM management_receipts WHERE seq = 10")
    assert row is not None
    edited = row["body"].replace('"decision":"executed"', '"decision":"rejected"')
    new_hash = hashlib.sha256(edited.encode()).hexdigest()
    chain.store.execute(
        "UPDATE management_receipts SET body = ?, receipt_hash = ? WHERE seq = 10",
        (edited, new_hash),
    )
    assert chain.log.verify().ok  # the last receipt, hash-consistent: only the signature shows it
    v = chain.log.verify(full=True)
    assert not v.ok and v.first_bad_seq == 10 and v.reason == "receipt 10: bad signature"


def test_rehashed_forgery_in_the_middle_breaks_the_next_link(chain: Env) -> None:
    import hashlib

    unlock(chain)
    row = chain.store.query_one("SELECT body FROM management_receipts WHERE seq = 9")
    assert row is not None
    edited = row["body"].replace('"outcome":"success"', '"outcome":"failure"')
    chain.store.execute(
        "UPDATE management_receipts SET body = ?, receipt_hash = ? WHERE seq = 9",
        (edited, hashlib.sha256(edited.encode()).hexdigest()),
    )
    v = chain.log.verify()
    assert not v.ok and v.first_bad_seq == 10 and "prev_hash" in str(v.reason)


def test_edited_hash_and_signature_columns(chain: Env) -> None:
    unlock(chain)
    chain.store.execute("UPDATE management_receipts SET sig = ? WHERE seq = 3", ("ab" * 64,))
    assert chain.log.verify().ok
    assert chain.log.verify(full=True).first_bad_seq == 3
    chain.store.execute(
        "UPDATE management_receipts SET receipt_hash = ? WHERE seq = 2", ("cd" * 32,)
    )
    assert chain.log.verify().first_bad_seq == 2


def test_deleted_rows(chain: Env) -> None:
    chain.store.execute("DELETE FROM management_receipts WHERE seq = 6")
    v = chain.log.verify()
    assert not v.ok and v.first_bad_seq == 6 and "missing" in str(v.reason)


def test_dropping_newest_rows_shows_only_against_a_checkpoint(chain: Env) -> None:
    # 9-10 are outside any checkpoint: dropping them is invisible locally (spec §6)
    chain.store.execute("DELETE FROM management_receipts WHERE seq >= 9")
    assert chain.log.verify().ok
    # 7-8 are inside checkpoint 5..8 (not pruned): dropping them shows
    chain.store.execute("DELETE FROM management_receipts WHERE seq >= 7")
    v = chain.log.verify()
    assert not v.ok and v.first_bad_seq == 7


def test_edited_checkpoint(chain: Env) -> None:
    row = chain.store.query_one("SELECT body FROM receipt_checkpoints WHERE to_seq = 8")
    assert row is not None
    cp = json.loads(row["body"])
    cp["created_at"] += 1
    chain.store.execute(
        "UPDATE receipt_checkpoints SET body = ? WHERE to_seq = 8", (json.dumps(cp),)
    )
    v = chain.log.verify()
    assert not v.ok and v.first_bad_seq == 5 and v.reason == "checkpoint 5..8: bad signature"


def test_prune_then_verify_and_export(chain: Env) -> None:
    chain.clock.advance(91 * DAY)
    assert chain.log.prune().receipts == 8
    assert chain.log.verify(full=True).ok
    v = verify_export(chain.log.export_jsonl(), node_id=NODE_ID, full=True)
    assert v.ok and v.checked == 2 and v.to_seq == 10


# -- offline exports ----------------------------------------------------------------------


def test_export_verifies_offline(chain: Env) -> None:
    text = chain.log.export_jsonl()
    lines = text.splitlines()
    assert list(json.loads(lines[0])) == ["header"]
    kinds = [next(iter(json.loads(line))) for line in lines[1:]]
    assert (
        kinds
        == ["receipt"] * 4 + ["checkpoint"] + ["receipt"] * 4 + ["checkpoint"] + ["receipt"] * 2
    )
    for anchor in ({"node_id": NODE_ID}, {"receipt_key": chain.key.pubkey}):
        v = verify_export(text, full=True, **anchor)
        assert v.to_json() == {"ok": True, "checked": 10, "first_bad_seq": None, "reason": None}
    assert verify_export(text.encode(), node_id=NODE_ID).ok
    assert verify_export(text.splitlines(keepends=True), node_id=NODE_ID).ok


def test_export_needs_a_trust_anchor_and_the_right_one(chain: Env) -> None:
    text = chain.log.export_jsonl()
    with pytest.raises(InvalidInput):
        verify_export(text)
    assert not verify_export(text, node_id=OTHER_NODE_ID).ok
    assert not verify_export(text, receipt_key="ab" * 32).ok


def test_filtered_export_by_actor_redacts_others(chain: Env) -> None:
    text = chain.log.export_jsonl(actor=ADVISOR)
    lines = [json.loads(line) for line in text.splitlines()[1:]]
    receipts = [line["receipt"] for line in lines if "receipt" in line]
    assert receipts and all(r["actor"] == ADVISOR for r in receipts)
    redacted = [line["redacted"] for line in lines if "redacted" in line]
    assert redacted and all(set(r) == {"seq", "prev_hash", "receipt_hash"} for r in redacted)
    assert OTHER_ADVISOR not in text
    v = verify_export(text, node_id=NODE_ID, full=True)
    assert v.ok and v.checked == len(receipts)


def test_filtered_export_by_time_keeps_whole_segments(chain: Env) -> None:
    # receipt k was created at T0 + 60 * (k - 1); seq 6 is in segment 5..8
    t6 = chain.log.get(6)
    assert t6 is not None
    text = chain.log.export_jsonl(since=t6["created_at"], until=t6["created_at"])
    lines = [json.loads(line) for line in text.splitlines()[1:]]
    seqs = [line["receipt"]["seq"] for line in lines if "receipt" in line]
    assert seqs == [5, 6, 7, 8]
    assert json.loads(text.splitlines()[0])["header"]["to_seq"] == 8
    assert verify_export(text, node_id=NODE_ID, full=True).ok
    tail = chain.log.export_jsonl(since=chain.clock.now() - 1)
    assert verify_export(tail, node_id=NODE_ID, full=True).ok


def test_truncated_export_is_caught(chain: Env) -> None:
    lines = chain.log.export_jsonl().splitlines(keepends=True)
    v = verify_export("".join(lines[:-1]), node_id=NODE_ID)
    assert not v.ok and v.first_bad_seq == 10 and "missing" in str(v.reason)


def test_redacted_entry_with_wrong_hash_is_blamed(chain: Env) -> None:
    lines = chain.log.export_jsonl(actor=ADVISOR).splitlines()
    # seq 10 is OTHER_ADVISOR's (i = 9, 9 % 3 == 0) and comes after checkpoint 5..8
    idx = next(i for i, line in enumerate(lines) if '"redacted"' in line and '"seq":10}' in line)
    entry = json.loads(lines[idx])
    entry["redacted"]["receipt_hash"] = "ab" * 32
    lines[idx] = json.dumps(entry, separators=(",", ":"), sort_keys=True)
    v = verify_export("\n".join(lines) + "\n", node_id=NODE_ID)
    # the last entry: nothing links to it but the signed header's to_hash
    assert not v.ok and v.first_bad_seq == 10 and "to_hash" in str(v.reason)
    lines = chain.log.export_jsonl(actor=ADVISOR).splitlines()
    idx = next(i for i, line in enumerate(lines) if '"seq":1}' in line)
    entry = json.loads(lines[idx])
    entry["redacted"]["receipt_hash"] = "ab" * 32
    lines[idx] = json.dumps(entry, separators=(",", ":"), sort_keys=True)
    v = verify_export("\n".join(lines) + "\n", node_id=NODE_ID)
    assert not v.ok and v.first_bad_seq == 1


def _line_owner(text: str, pos: int) -> tuple[str, int | None]:
    """Which line a byte belongs to: ("header", None), ("receipt", seq) or ("checkpoint", from_seq)."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    if pos == end:  # the newline belongs to the line it ends
        pass
    line = json.loads(text[start:end])
    kind = next(iter(line))
    if kind == "header":
        return "header", None
    if kind == "receipt":
        return "receipt", int(line["receipt"]["seq"])
    return "checkpoint", int(line["checkpoint"]["from_seq"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_flipping_any_byte_is_caught_and_located(chain: Env, data: st.DataObject) -> None:
    text = chain.log.export_jsonl()
    raw = bytearray(text.encode())
    pos = data.draw(st.integers(0, len(raw) - 1), label="pos")
    mask = data.draw(st.integers(1, 255), label="mask")
    owner, seq = _line_owner(text, pos)  # the export is ASCII: byte == char positions
    raw[pos] ^= mask
    v = verify_export(bytes(raw), node_id=NODE_ID, full=True)
    assert not v.ok, (pos, mask, owner)
    if owner == "header":
        assert v.first_bad_seq is None
    elif pos == len(raw) - 1:  # the final newline: the last receipt's line is damaged
        assert v.first_bad_seq in (None, 10)
    else:
        assert v.first_bad_seq == seq, (pos, mask, owner, v)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_flipping_a_stored_byte_is_caught(chain: Env, data: st.DataObject) -> None:
    unlock(chain)
    seq = data.draw(st.integers(1, 10), label="seq")
    column = data.draw(st.sampled_from(["body", "receipt_hash", "sig"]), label="column")
    row = chain.store.query_one(
        f"SELECT {column} AS v FROM management_receipts WHERE seq = ?", (seq,)
    )
    assert row is not None
    value: str = row["v"]
    index = data.draw(st.integers(0, len(value) - 1), label="index")
    chain.store.execute(
        f"UPDATE management_receipts SET {column} = ? WHERE seq = ?", (flip_char(value, index), seq)
    )
    try:
        v = chain.log.verify(full=True)
        assert not v.ok and v.first_bad_seq == seq, (column, index, v)
    finally:
        chain.store.execute(
            f"UPDATE management_receipts SET {column} = ? WHERE seq = ?", (value, seq)
        )


def test_command_line_verifier(
    chain: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lnhive.manage.receipts_verify import main

    path = tmp_path / "export.jsonl"
    path.write_text(chain.log.export_jsonl())
    assert main([str(path), "--node-id", NODE_ID, "--full"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["checked"] == 10 and out["to_seq"] == 10
    assert main([str(path), "--node-id", OTHER_NODE_ID]) == 1
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([str(path)])
