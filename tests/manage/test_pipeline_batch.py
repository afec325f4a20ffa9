"""Group commit: several REST requests answered with one commit (Pipeline.handle_batch),
and the worker that forms the batches (lnhive.manage.batcher)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lnhive.cli.advisor import check_reply
from lnhive.manage import pipeline as pipeline_module
from lnhive.manage.batcher import Batcher
from lnhive.manage.pipeline import NOT_RECORDED, RestRequest
from tests.manage.test_pipeline import ADVISOR, Node
from tests.manage.test_pipeline_commits import (
    LOG_SQL,
    NONCE_SQL,
    RECEIPTS_SQL,
    SENDER,
    _committed,
    _envelope,
)
from tests.sim.network.conftest import make_line


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(make_line(), tmp_path / "lnhive-cl-hive-comms.sqlite3")
    n.cred = n.admin.authorize(ADVISOR, "fee_optimization")["credential_id"]
    yield n
    n.p.close()


def _reads(n: Node, nonces: Sequence[int]) -> list[RestRequest]:
    return [
        RestRequest(_envelope(n, "hive:monitor/v1", "fee_report", {}, k), SENDER) for k in nonces
    ]


class CountingConnection:
    """A connection whose COMMITs are counted (and can be made to fail)."""

    def __init__(self, conn: sqlite3.Connection, fail_commits: int = 0) -> None:
        self.conn = conn
        self.commits = 0
        self.fail_commits = fail_commits

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.strip().upper() == "COMMIT":
            if self.fail_commits:
                self.fail_commits -= 1
                raise sqlite3.OperationalError("disk I/O error")
            self.commits += 1
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def _count_commits(n: Node, monkeypatch: Any, fail_commits: int = 0) -> CountingConnection:
    wrapped = CountingConnection(n.p.store.connection(), fail_commits)
    monkeypatch.setattr(n.p.store, "connection", lambda: wrapped)
    return wrapped


def test_a_batch_of_reads_commits_once_and_answers_each(node: Node, monkeypatch: Any) -> None:
    receipts = _committed(node, RECEIPTS_SQL)[0][0]
    conn = _count_commits(node, monkeypatch)
    replies = node.p.handle_batch(_reads(node, range(1, 6)))
    assert conn.commits == 1
    assert [r["ok"] for r in replies] == [True] * 5
    assert [r["receipt"]["seq"] for r in replies] == list(range(receipts + 1, receipts + 6))
    assert all(check_reply(r, node.p.node_id) is None for r in replies)
    assert _committed(node, NONCE_SQL) == [(5,)]
    assert _committed(node, LOG_SQL)[0][0] == 5
    assert node.p.receipts.verify(full=True).ok


def test_a_batch_answers_as_one_by_one_would(node: Node) -> None:
    """A replay inside the batch, a forgery and a stale nonce: the same codes as alone."""
    reqs = _reads(node, [1, 2])
    forged_env = json.loads(_reads(node, [3])[0].envelope)
    forged_env["signature"] = "bip340:" + "00" * 64
    forged = RestRequest(json.dumps(forged_env), SENDER)
    replies = node.p.handle_batch([*reqs, reqs[0], forged, *_reads(node, [2, 3])])
    codes = [r.get("code") for r in replies]
    assert codes == [None, None, "replay", "unauthorized", "replay", None]
    assert _committed(node, NONCE_SQL) == [(3,)]
    assert _committed(node, LOG_SQL)[0][0] == 3


def test_a_write_in_a_batch_commits_the_batch_before_its_node_call(
    node: Node, monkeypatch: Any
) -> None:
    scid = node.line.chans["bc"].scid
    reads = _reads(node, [1, 2])
    write = RestRequest(
        _envelope(node, "hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 9}, 3),
        SENDER,
    )
    seen: dict[str, Any] = {}
    execute = node.p.executor.execute

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen["nonce"] = _committed(node, NONCE_SQL)
        seen["receipts"] = _committed(node, RECEIPTS_SQL)[0][0]
        return execute(*args, **kwargs)

    receipts = _committed(node, RECEIPTS_SQL)[0][0]
    monkeypatch.setattr(node.p.executor, "execute", spy)
    replies = node.p.handle_batch([*reads, write, *_reads(node, [4])])
    assert [r["ok"] for r in replies] == [True] * 4
    # the two reads' receipts and the write's nonce were durable before the node call
    assert seen == {"nonce": [(3,)], "receipts": receipts + 2}
    assert node.fee(scid) == 9
    assert _committed(node, RECEIPTS_SQL)[0][0] == receipts + 4
    assert not node.p.store.connection().in_transaction


def test_a_failed_batch_commit_withdraws_every_reply_and_keeps_nothing(
    node: Node, monkeypatch: Any
) -> None:
    receipts = _committed(node, RECEIPTS_SQL)[0][0]
    reqs = _reads(node, [1, 2, 3])
    _count_commits(node, monkeypatch, fail_commits=1)
    replies = node.p.handle_batch(reqs)
    assert [r["code"] for r in replies] == ["internal_error"] * 3
    assert all(r["error"] == NOT_RECORDED and r.get("receipt") is None for r in replies)
    assert all(check_reply(r, node.p.node_id) is None for r in replies)
    assert _committed(node, NONCE_SQL) == []
    assert _committed(node, RECEIPTS_SQL)[0][0] == receipts
    assert _committed(node, LOG_SQL)[0][0] == 0
    assert not node.p.store.connection().in_transaction
    # nothing was kept, so the same envelopes go through when sent again
    assert [r["ok"] for r in node.p.handle_batch(reqs)] == [True] * 3
    assert node.p.receipts.verify(full=True).ok


def test_a_batch_of_one_is_a_plain_request(node: Node, monkeypatch: Any) -> None:
    conn = _count_commits(node, monkeypatch)
    (reply,) = node.p.handle_batch(_reads(node, [1]))
    assert reply["ok"] is True and conn.commits == 1
    assert node.p.handle_batch([]) == []


# -- the batcher -----------------------------------------------------------------------


def test_the_batcher_batches_what_queued_while_it_was_busy() -> None:
    gate = threading.Event()
    seen: list[list[int]] = []

    def handle_many(items: Sequence[int]) -> list[int]:
        seen.append(list(items))
        gate.wait(5)
        return [i * 10 for i in items]

    b: Batcher[int, int] = Batcher(handle_many, lambda i, exc: -1, max_batch=3)
    results: dict[int, int] = {}
    done = threading.Event()

    def answer(i: int) -> Any:
        def record(r: int) -> None:
            results[i] = r
            if len(results) == 6:
                done.set()

        return record

    b.submit(0, answer(0))
    while not seen:  # the worker is busy with item 0
        threading.Event().wait(0.001)
    for i in range(1, 6):
        b.submit(i, answer(i))
    gate.set()
    assert done.wait(5)
    b.close()
    assert seen == [[0], [1, 2, 3], [4, 5]]
    assert results == {i: i * 10 for i in range(6)}
    assert b.batches == 3 and b.largest == 3


def test_the_batcher_answers_every_item_when_a_batch_fails() -> None:
    def handle_many(items: Sequence[int]) -> list[int]:
        raise RuntimeError("bug")

    b: Batcher[int, str] = Batcher(handle_many, lambda i, exc: f"{i}:{exc}")
    out: list[str] = []
    event = threading.Event()
    b.submit(7, lambda r: (out.append(r), event.set()))
    assert event.wait(5)
    b.close()
    assert out == ["7:bug"]
    with pytest.raises(RuntimeError, match="closed"):
        b.submit(8, out.append)


def test_closing_the_batcher_answers_what_is_queued() -> None:
    b: Batcher[int, int] = Batcher(lambda items: list(items), lambda i, exc: -1)
    out: list[int] = []
    for i in range(50):
        b.submit(i, out.append)
    b.close()
    assert out == list(range(50))


def test_a_transaction_lost_unnoticed_withdraws_the_replies_it_held(
    node: Node, monkeypatch: Any
) -> None:
    """If SQLite ends the batch's transaction without an error reaching the pipeline,
    every reply whose data went with it is withdrawn; the batch carries on."""
    receipts = _committed(node, RECEIPTS_SQL)[0][0]
    ok_reply = pipeline_module.ok_reply
    calls = {"n": 0}

    def reply_after_losing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second request's receipt is written; then it is gone
            node.p.store.connection().execute("ROLLBACK")
        return ok_reply(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "ok_reply", reply_after_losing)
    replies = node.p.handle_batch(_reads(node, [1, 2, 3]))
    assert [r.get("code") for r in replies] == ["internal_error", "internal_error", None]
    assert replies[0]["error"] == NOT_RECORDED and replies[2]["ok"] is True
    assert _committed(node, RECEIPTS_SQL)[0][0] == receipts + 1
    assert _committed(node, NONCE_SQL) == [(3,)]
    assert node.p.receipts.verify(full=True).ok


def test_a_batch_reads_the_node_once_until_an_action_changes_it(
    node: Node, monkeypatch: Any
) -> None:
    """Reads in a batch share one snapshot; a fee change makes the next request read the
    node again, and its report shows the new fee."""
    scid = node.line.chans["bc"].scid
    asked: list[str] = []
    call = node.api.call

    def spy(method: str, params: Any = None) -> Any:
        asked.append(method)
        return call(method, params)

    monkeypatch.setattr(node.api, "call", spy)
    write = RestRequest(
        _envelope(node, "hive:fee-policy/v1", "set_single", {"channel_id": scid, "fee_ppm": 9}, 3),
        SENDER,
    )
    replies = node.p.handle_batch([*_reads(node, [1, 2]), write, *_reads(node, [4, 5])])
    assert [r["ok"] for r in replies] == [True] * 5
    # one reading before the write, one for its state hash after (shared by the rest)
    assert asked.count("listfunds") == 2
    fees = [
        {c["short_channel_id"]: c["fee_ppm"] for c in r["result"]["channels"]}[scid]
        for r in (replies[0], replies[1], replies[3], replies[4])
    ]
    assert fees[0] == fees[1] != 9 and fees[2] == fees[3] == 9
    # a lone request reads the node itself
    asked.clear()
    node.p.handle_batch(_reads(node, [6]))
    assert asked.count("listfunds") == 1
