"""The did:cid alias through the gateway and its outbox (spec §1.2, §1.7, §6 tests 2-3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.core.errors import InvalidInput, LnhiveError, Unsupported
from lnhive.core.store import Store
from lnhive.identity.alias import AliasService, did_from_reply, generate_body, valid_did_cid
from lnhive.identity.gateway import GatewayClient
from lnhive.identity.outbox import backoff_s
from lnhive.identity.store import open_archon_store
from tests.identity.test_gateway import LOOPBACK_FOR_TESTS, Server

T0 = 1_767_225_600.0
NODE = "02" + "11" * 32
CID = "did:cid:bagaaiera" + "a" * 52


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_archon_store(tmp_path / "archon.sqlite3")
    yield s
    s.close()


def _service(store: Store, server: Server, clock: VirtualClock) -> AliasService:
    client = GatewayClient(
        f"http://127.0.0.1:{server.port}", "tok", policy=LOOPBACK_FOR_TESTS, timeout_s=2
    )
    return AliasService(store, clock, NODE, client)


def _rows(store: Store) -> tuple[int, int]:
    a = store.query_one("SELECT COUNT(*) AS n FROM archon_alias")
    o = store.query_one("SELECT COUNT(*) AS n FROM archon_outbox")
    assert a is not None and o is not None
    return int(a["n"]), int(o["n"])


def test_did_cid_validation_and_replies() -> None:
    assert len(CID) == 69 and valid_did_cid(CID) == CID and valid_did_cid(f" {CID} ") == CID
    for bad in ("did:cid:b" + "A" * 60, "did:cid:b" + "a" * 20, "did:key:z6Mk", 5, None):
        assert valid_did_cid(bad) is None
    assert did_from_reply({"did": CID}) == CID and did_from_reply(CID) == CID
    assert did_from_reply({"id": CID}) is None
    assert backoff_s(1) == 60 and backoff_s(2) == 120 and backoff_s(7) == 3600


def test_network_off_means_no_client(store: Store) -> None:
    service = AliasService(store, VirtualClock(T0), NODE, None)
    with pytest.raises(Unsupported, match="network disabled"):
        service.register()
    with pytest.raises(Unsupported):
        service.process_outbox()
    assert service.status()["network_enabled"] is False and _rows(store) == (0, 0)


def test_register_sends_the_spec_body_and_stores_the_alias(store: Store, server: Server) -> None:
    clock = VirtualClock(T0)
    service = _service(store, server, clock)
    server.body = json.dumps({"did": CID}).encode()
    out = service.register("alpha")
    assert out["status"] == "registered" and out["did_cid"] == CID
    (req,) = server.requests
    assert json.loads(req["body"]) == generate_body(NODE, "alpha", int(T0))
    assert json.loads(req["body"])["created"] == "2026-01-01T00:00:00Z"
    assert service.register()["already_registered"] is True and len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "headers", "body", "match"),
    [
        (302, {"Location": "http://127.0.0.1:9/"}, b"", "redirect refused"),
        (307, {"Location": "http://10.0.0.1/"}, b"", "redirect refused"),
        (200, {}, b'{"did": "did:cid:nope"}', "not a valid did:cid"),
        (403, {}, b"{}", "HTTP 403"),
    ],
)
def test_permanent_failures_are_errors_and_change_nothing(
    store: Store, server: Server, status: int, headers: dict[str, str], body: bytes, match: str
) -> None:
    server.status, server.headers, server.body = status, headers, body
    service = _service(store, server, VirtualClock(T0))
    with pytest.raises(LnhiveError, match=match):
        service.register()
    assert _rows(store) == (0, 0)
    assert len(server.requests) == 1  # the redirect was not followed


def test_loopback_gateway_with_the_default_policy_is_refused(store: Store, server: Server) -> None:
    service = AliasService(
        store, VirtualClock(T0), NODE, GatewayClient(f"https://127.0.0.1:{server.port}")
    )
    with pytest.raises(LnhiveError, match="refused address") as err:
        service.register()
    assert err.value.error_symbol == "policy_blocked"
    assert server.requests == [] and _rows(store) == (0, 0)


def test_retryable_failures_go_to_the_outbox_with_backoff(store: Store, server: Server) -> None:
    clock = VirtualClock(T0)
    service = _service(store, server, clock)
    server.status = 503
    out = service.register("alpha")
    assert out["status"] == "pending" and "503" in out["error"]
    row = store.query_one("SELECT * FROM archon_outbox")
    assert row is not None and row["retry_count"] == 1 and row["next_retry_at"] == T0 + 60
    assert json.loads(row["payload_json"]) == {"label": "alpha", "node_pubkey": NODE}
    assert service.process_outbox()["processed"] == 0  # not due yet
    clock.advance(60)
    assert service.process_outbox() == {
        "ok": True,
        "processed": 1,
        "succeeded": 0,
        "failed": 1,
        "exhausted": 0,
    }
    row = store.query_one("SELECT * FROM archon_outbox")
    assert row is not None and row["next_retry_at"] == T0 + 60 + 120
    for _ in range(3):
        clock.advance(3600)
        service.process_outbox()
    row = store.query_one("SELECT * FROM archon_outbox")
    assert row is not None and row["status"] == "exhausted" and row["retry_count"] == 5
    assert service.alias() is None
    clock.advance(91 * 86400)
    assert service.prune(90)["outbox_pruned"] == 1
    with pytest.raises(InvalidInput):
        service.prune(0)


def test_outbox_success_stores_the_alias(store: Store, server: Server) -> None:
    clock = VirtualClock(T0)
    service = _service(store, server, clock)
    server.status = 500
    service.register()
    server.status, server.body = 200, json.dumps(CID).encode()
    clock.advance(60)
    assert service.process_outbox(500)["succeeded"] == 1  # clamped to 100, no error
    assert service.status()["alias"]["did_cid"] == CID
    assert service.status()["outbox"]["completed"] == 1
    with pytest.raises(InvalidInput):
        service.process_outbox("10")
    assert "tok" not in repr(service.client)
