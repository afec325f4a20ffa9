"""The pipeline's Nostr entry (``Pipeline.handle_nostr``) over the in-process model: the
DM's verified author must be the envelope's sender, the transport must be on, and
``hive-comms-rpc`` cannot claim to be Nostr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.cli.advisor import check_reply
from lnhive.core import bip340
from lnhive.manage.comms_admin import CommsAdmin
from lnhive.manage.pipeline import MIGRATIONS, NOSTR_TRANSPORT, CommsOptions, Pipeline
from lnhive.transport.envelope import build_envelope
from tests.sim.network.conftest import make_line

ADVISOR_SECRET = bytes([5]) * 32
ADVISOR = bip340.xonly_pubkey(ADVISOR_SECRET).hex()
OTHER = bip340.xonly_pubkey(bytes([6]) * 32).hex()


class Node:
    def __init__(self, db: Path, options: CommsOptions) -> None:
        self.line = make_line()
        self.p = Pipeline(self.line.api("b"), str(db), self.line.clock, options=options)
        self.cred = CommsAdmin(self.p).authorize(ADVISOR, "fee_optimization")["credential_id"]

    def envelope(self, nonce: int) -> str:
        env = build_envelope(
            ADVISOR_SECRET,
            recipient=self.p.nostr_pubkey,
            schema_type="hive:monitor/v1",
            action="fee_report",
            params={},
            credential_id=self.cred,
            nonce=nonce,
            timestamp=int(self.line.clock.now()),
        )
        return json.dumps(env)

    def receipts(self) -> int:
        return len(self.p.receipts.list_receipts(limit=500))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path / "c.sqlite3", CommsOptions(nostr_enabled=True, rune_required=True))
    yield n
    n.p.close()


def test_a_dm_from_the_signer_runs_without_a_rune(node: Node) -> None:
    reply = node.p.handle_nostr(node.envelope(1), author=ADVISOR)
    assert reply["ok"] is True and reply["transport"] == NOSTR_TRANSPORT
    assert check_reply(reply, node.p.node_id) is None
    (last,) = node.p.receipts.list_receipts(limit=1)
    assert last["transport"] == NOSTR_TRANSPORT


def test_a_dm_whose_author_is_not_the_signer_is_unauthorized_and_burns_no_nonce(
    node: Node,
) -> None:
    before = node.receipts()
    for author in (OTHER, "nostr:" + ADVISOR, ADVISOR.upper()):
        reply = node.p.handle_nostr(node.envelope(1), author=author)
        assert reply["code"] == "unauthorized" and reply["receipt"] is None, reply
    assert node.receipts() == before
    assert node.p.handle_nostr(node.envelope(1), author=ADVISOR)["ok"] is True


def test_a_replay_over_nostr_names_the_request(node: Node) -> None:
    text = node.envelope(1)
    first = node.p.handle_nostr(text, author=ADVISOR)
    again = node.p.handle_nostr(text, author=ADVISOR)
    assert again["code"] == "replay" and again["in_reply_to"] == first["in_reply_to"]
    assert again["nonce"] == 1 and check_reply(again, node.p.node_id) is None


def test_nostr_must_be_on_and_rest_cannot_claim_it(tmp_path: Path) -> None:
    off = Node(tmp_path / "off.sqlite3", CommsOptions())
    try:
        reply = off.p.handle_nostr(off.envelope(1), author=ADVISOR)
        assert reply["code"] == "transport_disabled"
        rpc: dict[str, Any] = off.p.handle(
            off.envelope(1), transport=NOSTR_TRANSPORT, sender=ADVISOR
        )
        assert rpc["code"] == "invalid_request" and off.receipts() == 1  # the authorize
    finally:
        off.p.close()


def test_the_nostr_tables_are_the_last_migration() -> None:
    sql = MIGRATIONS[-1]
    assert isinstance(sql, str) and "comms_seen_events" in sql and "comms_nostr_outbox" in sql
