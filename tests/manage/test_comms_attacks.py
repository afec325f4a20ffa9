"""The cl-hive-comms attack suite: hostile requests against the whole pipeline, in process.

Each test sends what an attacker (or a broken advisor) would send through
:meth:`Pipeline.handle` (the REST path) on the stand-in's in-process node and asserts
the exact §5.5 code and that nothing changed: channel fees, the policy, the
confirmation queue, the action log, the nonces (unless the code is decided after
authentication, which consumes the nonce) and the receipt chain (one ``rejected``
receipt exactly when the §5.5 table says the code gets one, never for a pre-auth
refusal, a replay or a rate-limited request).

The issue's list, and the tests that cover each item:

- replayed nonce — :func:`test_replayed_nonce` (same envelope, lower nonce, same nonce
  with other params, after a restart); also ``tests/transport/test_nonces.py``
  (concurrent same-nonce requests: exactly one wins), ``tests/manage/test_pipeline.py::
  test_replay_gets_no_receipt_and_revocation_locks_out``, over Nostr
  ``tests/e2e/test_comms_nostr.py::test_fee_change_over_nostr_dm`` (step 2) and over REST
  ``tests/e2e/test_comms_plugin.py::test_replay_gets_no_receipt_and_a_revoked_advisor_is_refused``;
- expired or revoked credential — :func:`test_expired_credential`,
  :func:`test_revoked_or_superseded_credential`; also ``tests/manage/test_credential.py::
  test_credential_invalid_reasons`` and ``tests/manage/test_gate.py::test_credential_lifecycle``;
- forged signature — :func:`test_forged_signature` (zeros, another key under the
  advisor's name, a signed field altered after signing); also
  ``tests/transport/test_envelope.py`` (``test_zero_signature``,
  ``test_signed_by_another_key_under_our_sender``, ``test_any_signed_field_altered``);
- envelope addressed to another node — :func:`test_envelope_for_another_node`; also
  ``tests/transport/test_envelope.py::test_recipient_binding``;
- fee change over the credential's limit — :func:`test_fee_change_over_the_limits`
  (the credential's ``max_fee_change_pct`` and the policy's 24 h limit); also
  ``tests/manage/test_gate.py::test_credential_fee_limit_per_action`` and
  ``test_policy_fee_window_across_two_changes``;
- schema injection (unknown fields, wrong types, huge numbers, NaN) —
  :func:`test_schema_injection_after_authentication`,
  :func:`test_schema_injection_before_authentication`; also
  ``tests/transport/test_envelope.py`` (``test_unknown_top_level_key``,
  ``test_mistyped_fields``, ``test_non_finite_numbers_refused``,
  ``test_big_integer_in_params_refused``, ``test_duplicate_keys_refused``);
- oversize payload — :func:`test_oversize_payload`; also
  ``tests/transport/test_envelope.py`` (``test_size_limit_is_65535_jcs_bytes``,
  ``test_raw_text_guard``, ``test_depth_8_accepted_9_refused``) and, over Nostr,
  ``tests/transport/test_nostr_dm.py::test_sizes``;
- clock skew — :func:`test_clock_skew`; also ``tests/transport/test_envelope.py``
  (``test_clock_within_skew``, ``test_clock_skew``, ``test_clock_skew_is_configurable``);
- a flood — :func:`test_flood_is_rate_limited_without_receipt_spam` and
  :func:`test_spoofed_senders_cannot_use_up_an_advisor_s_budget`; also
  ``tests/manage/test_gate.py`` (``test_eleventh_fee_change_in_an_hour``,
  ``test_sixth_high_danger_request_in_a_minute``);
- corrupt policy file (the policy lives in the comms database, ``comms_policy``; there
  is no policy file in v1) — :func:`test_corrupt_policy_fails_closed`; also
  ``tests/manage/test_policy_engine.py::test_corrupt_policy_fails_closed_until_reset``;
- relay down while replying (the outbox delivers after reconnect) —
  ``tests/e2e/test_comms_attacks.py::test_relay_down_while_replying_delivers_after_reconnect``
  (a real relay stopped and restarted); also ``tests/transport/test_nostr_client.py::
  test_a_relay_that_comes_up_late_gets_the_subscription_and_the_queued_reply``;
- plugin restart in the middle of a queued confirmation (nothing lost, nothing
  executed twice) — :func:`test_restart_with_a_queued_action`,
  :func:`test_restart_with_an_approved_confirmation`,
  :func:`test_crash_while_running_an_approved_action`, and on the stand-in with the
  plugin process stopped and started ``tests/e2e/test_comms_attacks.py::
  test_plugin_restart_mid_confirmation``; also ``tests/manage/test_pipeline.py::
  test_crash_between_rpc_and_receipt_reconciles_to_unknown``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lnhive.core import bip340
from lnhive.core.canonical import canonical_json
from lnhive.core.errors import Conflict
from lnhive.manage.comms_admin import CommsAdmin
from lnhive.manage.pipeline import CommsOptions, Pipeline
from lnhive.transport.codes import CODES
from lnhive.transport.envelope import build_envelope
from tests.sim.network.conftest import Line, make_line

ADVISOR_SECRET = bytes([5]) * 32
ADVISOR = bip340.xonly_pubkey(ADVISOR_SECRET).hex()
SPOOFER_SECRET = bytes([6]) * 32
SPOOFER = bip340.xonly_pubkey(SPOOFER_SECRET).hex()
OTHER_NODE = bip340.xonly_pubkey(bytes([7]) * 32).hex()
FEES = "hive:fee-policy/v1"
MONITOR = "hive:monitor/v1"


class Node:
    """Node ``b`` of an a-b-c-d line (two channels) with the comms pipeline."""

    def __init__(self, line: Line, db: Path, options: CommsOptions | None = None) -> None:
        self.line = line
        self.api = line.api("b")
        self.db = db
        self.options = options
        self.p = Pipeline(self.api, str(db), line.clock, options=options, version="test")
        self.admin = CommsAdmin(self.p)
        self.cred = self.admin.authorize(ADVISOR, "fee_optimization")["credential_id"]
        self.nonce = 0
        self.bc = line.chans["bc"].scid
        assert self.bc is not None

    def restart(self) -> None:
        """Close the pipeline and open the database again, as a plugin restart does."""
        self.p.close()
        self.p = Pipeline(self.api, str(self.db), self.line.clock, options=self.options)
        self.admin = CommsAdmin(self.p)
        self.p.reconcile()

    def envelope(
        self,
        schema: str,
        action: str,
        params: dict[str, Any],
        *,
        nonce: int | None = None,
        secret: bytes = ADVISOR_SECRET,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        kwargs.setdefault("timestamp", int(self.line.clock.now()))
        kwargs.setdefault("recipient", self.p.nostr_pubkey)
        kwargs.setdefault("credential_id", self.cred)
        return build_envelope(
            secret, schema_type=schema, action=action, params=params, nonce=nonce, **kwargs
        )

    def handle(self, env: dict[str, Any] | str, sender: str | None = None) -> dict[str, Any]:
        text = env if isinstance(env, str) else json.dumps(env)
        return self.p.handle(text, sender=sender or f"nostr:{ADVISOR}")

    def send(self, schema: str, action: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return self.handle(self.envelope(schema, action, params, **kw))

    def set_fee(self, ppm: int, **kw: Any) -> dict[str, Any]:
        return self.send(FEES, "set_single", {"channel_id": self.bc, "fee_ppm": ppm}, **kw)

    def fee(self) -> int:
        (ch,) = self.api.listpeerchannels(short_channel_id=self.bc)["channels"]
        return int(ch["updates"]["local"]["fee_proportional_millionths"])

    def state(self) -> dict[str, Any]:
        """Everything an attack must not change (receipts and nonces listed apart)."""

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in self.p.store.query(sql)]

        return {
            "fees": {
                ch["short_channel_id"]: ch["updates"]["local"]
                for ch in self.api.listpeerchannels()["channels"]
            },
            "policy": rows("SELECT policy_json FROM comms_policy"),
            "queue": rows("SELECT action_id, status, params_json FROM comms_pending_actions"),
            "actions": rows("SELECT id FROM comms_action_log"),
            "credentials": rows("SELECT credential_id, status FROM comms_credentials"),
            "inflight": rows("SELECT request_hash FROM comms_inflight"),
        }

    def nonces(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.p.store.query("SELECT * FROM comms_replay_nonces")]

    def receipts(self) -> int:
        return self.p.receipts.count()


class Watch:
    """The node's state before an attack, to compare with after it."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.state = node.state()
        self.nonces = node.nonces()
        self.receipts = node.receipts()

    def refused(self, reply: dict[str, Any], code: str, **fields: Any) -> None:
        """``reply`` refuses with ``code`` (and ``fields``), and nothing changed but what
        the §5.5 table allows: one ``rejected`` receipt for a code that gets one, and the
        nonce for a code decided after authentication."""
        n = self.node
        assert reply["ok"] is False and reply["code"] == code, reply
        assert reply["status"] == CODES[code].status
        for name, value in fields.items():
            assert reply[name] == value, (name, reply)
        for name in CODES[code].extra_fields:
            assert name in reply, (name, reply)
        assert n.state() == self.state
        if CODES[code].receipt:
            assert n.receipts() == self.receipts + 1
            (last,) = n.p.receipts.list_receipts(limit=1)
            assert last["decision"] == "rejected" and last["outcome"] == "n/a"
            assert last["error"]["code"] == code
            assert reply["receipt"]["receipt_hash"] == last["receipt_hash"]
            self.receipts += 1
        else:
            assert reply["receipt"] is None and n.receipts() == self.receipts
        if code in ("invalid_request", "payload_too_large", "clock_skew", "unauthorized", "replay"):
            assert n.nonces() == self.nonces
        self.nonces = n.nonces()
        assert n.p.receipts.verify(full=True).ok


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(make_line(), tmp_path / "lnhive-cl-hive-comms.sqlite3")
    yield n
    n.p.close()


# -- replay -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["same envelope", "lower nonce", "same nonce", "after restart"])
def test_replayed_nonce(node: Node, how: str) -> None:
    first = node.envelope(FEES, "set_single", {"channel_id": node.bc, "fee_ppm": 11}, nonce=5)
    assert node.handle(first)["ok"] is True and node.fee() == 11
    node.nonce = 5
    if how == "after restart":
        node.restart()
    w = Watch(node)
    if how in ("same envelope", "after restart"):
        again = first
    else:
        nonce = 4 if how == "lower nonce" else 5
        again = node.envelope(
            FEES, "set_single", {"channel_id": node.bc, "fee_ppm": 12}, nonce=nonce
        )
    w.refused(node.handle(again), "replay")
    assert node.fee() == 11
    # The next nonce still works: a replay burns nothing.
    assert node.set_fee(12)["ok"] is True and node.fee() == 12


# -- credentials ---------------------------------------------------------------------------


def test_expired_credential(node: Node) -> None:
    node.line.clock.advance(31 * 86_400)  # fee_optimization is issued for 30 days
    w = Watch(node)
    w.refused(node.set_fee(12), "credential_invalid", reason="expired")
    assert node.fee() != 12


def test_revoked_or_superseded_credential(node: Node) -> None:
    old = node.cred
    node.cred = node.admin.authorize(ADVISOR, "fee_optimization")["credential_id"]
    w = Watch(node)
    # The superseded credential names a credential that no longer authorizes anything.
    reply = node.send(FEES, "set_single", {"channel_id": node.bc, "fee_ppm": 12}, credential_id=old)
    w.refused(reply, "credential_invalid", reason="revoked")
    node.admin.revoke(ADVISOR, "contract ended")
    w = Watch(node)
    # A revoked advisor is no advisor: refused before authentication, no receipt.
    w.refused(node.set_fee(12), "unauthorized")
    assert node.fee() != 12


# -- signatures and recipients ---------------------------------------------------------------


@pytest.mark.parametrize("forgery", ["zeros", "another key", "params altered", "nonce altered"])
def test_forged_signature(node: Node, forgery: str) -> None:
    env = node.envelope(FEES, "set_single", {"channel_id": node.bc, "fee_ppm": 12}, nonce=1)
    if forgery == "zeros":
        env["signature"] = "bip340:" + "00" * 64
    elif forgery == "another key":
        other = node.envelope(
            FEES,
            "set_single",
            {"channel_id": node.bc, "fee_ppm": 12},
            nonce=1,
            secret=SPOOFER_SECRET,
        )
        env["signature"] = other["signature"]
    elif forgery == "params altered":
        env["schema_payload"]["params"]["fee_ppm"] = 15
    else:
        env["nonce"] = 2
    w = Watch(node)
    w.refused(node.handle(env), "unauthorized")
    # The forgery consumed no nonce: the advisor's own nonce 1 still runs.
    assert node.set_fee(12, nonce=1)["ok"] is True


def test_envelope_for_another_node(node: Node) -> None:
    w = Watch(node)
    env = node.envelope(
        FEES, "set_single", {"channel_id": node.bc, "fee_ppm": 12}, recipient=OTHER_NODE
    )
    w.refused(node.handle(env), "unauthorized")
    assert node.fee() != 12


# -- limits -------------------------------------------------------------------------------


def test_fee_change_over_the_limits(node: Node) -> None:
    before = node.fee()
    assert before == 10
    # The moderate policy allows 30 % a day on a channel: 14 ppm is refused by policy.
    w = Watch(node)
    w.refused(node.set_fee(14), "policy_blocked")
    # With the policy loosened locally, the credential's max_fee_change_pct (50) binds.
    node.admin.policy("set-overrides", overrides_json={"max_fee_change_per_24h_pct": 100})
    w = Watch(node)
    w.refused(
        node.set_fee(16), "constraint_violation", key="max_fee_change_pct", limit=50, requested=60
    )
    assert node.fee() == before
    assert node.set_fee(15)["ok"] is True and node.fee() == 15


# -- schema injection -------------------------------------------------------------------------


INJECTIONS: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown schema", "hive:shell/v1", {}, "unknown_schema"),
    ("unknown action", FEES, {}, "unknown_action"),
    ("unknown param", FEES, {"fee_ppm": 12, "method": "stop"}, "invalid_params"),
    ("pass-through", FEES, {"fee_ppm": 12, "rpc": {"method": "withdraw"}}, "invalid_params"),
    ("string for int", FEES, {"fee_ppm": "12"}, "invalid_params"),
    ("bool for int", FEES, {"fee_ppm": True}, "invalid_params"),
    ("float for int", FEES, {"fee_ppm": 12.5}, "invalid_params"),
    ("negative", FEES, {"fee_ppm": -1}, "invalid_params"),
    ("huge", FEES, {"fee_ppm": 2**53 - 1}, "invalid_params"),
    ("missing param", FEES, {}, "invalid_params"),
]


@pytest.mark.parametrize(
    ("schema", "params", "code"), [i[1:] for i in INJECTIONS], ids=[i[0] for i in INJECTIONS]
)
def test_schema_injection_after_authentication(
    node: Node, schema: str, params: dict[str, Any], code: str
) -> None:
    action = "set_everything" if code == "unknown_action" else "set_single"
    if params:
        params = {"channel_id": node.bc, **params}
    w = Watch(node)
    w.refused(node.send(schema, action, params), code)


RAW = [
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("float overflow", "1e400"),
    ("integer over 2^53", str(2**53)),
    ("integer over 2^64", str(2**64 + 1)),
]


@pytest.mark.parametrize("text", [r[1] for r in RAW], ids=[r[0] for r in RAW])
def test_schema_injection_before_authentication(node: Node, text: str) -> None:
    """Numbers JCS cannot carry are refused while parsing, before any signature check."""
    env = node.envelope(FEES, "set_single", {"channel_id": node.bc, "fee_ppm": 123456}, nonce=1)
    raw = json.dumps(env).replace("123456", text)
    w = Watch(node)
    w.refused(node.handle(raw), "invalid_request")


@pytest.mark.parametrize("what", ["unknown top-level key", "duplicate key", "bool nonce"])
def test_malformed_envelopes(node: Node, what: str) -> None:
    env = node.envelope(MONITOR, "fee_report", {}, nonce=1)
    if what == "unknown top-level key":
        raw = json.dumps({**env, "admin": True})
    elif what == "duplicate key":
        raw = json.dumps(env)[:-1] + ', "nonce": 2}'
    else:
        raw = json.dumps({**env, "nonce": True})
    w = Watch(node)
    w.refused(node.handle(raw), "invalid_request")


# -- size ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "code"),
    [("65,536 JCS bytes", "payload_too_large"), ("raw text guard", "payload_too_large"),
     ("depth 9", "invalid_request"), ("long string", "invalid_request")],
)  # fmt: skip
def test_oversize_payload(node: Node, what: str, code: str) -> None:
    base = node.envelope(MONITOR, "fee_report", {"pad": ""}, nonce=1)
    if what == "65,536 JCS bytes":
        env: Any = json.loads(json.dumps(base))
        pad = ["x" * 8000] * 9
        env["schema_payload"]["params"]["pad"] = pad
        pad[-1] = "x" * (8000 + 65_536 - len(canonical_json(env)))
        assert len(canonical_json(env)) == 65_536
        raw = json.dumps(env)
    elif what == "raw text guard":
        raw = json.dumps(base).replace('"pad": ""', '"pad": ""' + " " * 140_000)
    elif what == "depth 9":
        deep: Any = 1
        for _ in range(7):  # params is depth 3: seven more objects make depth 10
            deep = {"a": deep}
        raw = json.dumps(base).replace('"pad": ""', '"pad": ' + json.dumps(deep))
    else:
        raw = json.dumps(base).replace('"pad": ""', '"pad": "' + "x" * 9000 + '"')
    w = Watch(node)
    w.refused(node.handle(raw), code)


# -- clock ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_clock_skew(node: Node, skew: int) -> None:
    now = int(node.line.clock.now())
    w = Watch(node)
    reply = node.send(
        FEES, "set_single", {"channel_id": node.bc, "fee_ppm": 12}, timestamp=now + skew
    )
    w.refused(reply, "clock_skew", max_clock_skew_seconds=300)
    assert node.set_fee(12, timestamp=now + (300 if skew > 0 else -300))["ok"] is True


# -- floods ---------------------------------------------------------------------------------


def test_flood_is_rate_limited_without_receipt_spam(node: Node) -> None:
    node.admin.policy("set-overrides", overrides_json={"rate_limits": {"reads_per_hour": 3}})
    for _ in range(3):
        assert node.send(MONITOR, "fee_report", {})["ok"] is True
    w = Watch(node)
    for _ in range(50):
        w.refused(node.send(MONITOR, "fee_report", {}), "rate_limited", retry_after=3600)
    # The window passes; the advisor may read again.
    node.line.clock.advance(3601)
    assert node.send(MONITOR, "fee_report", {})["ok"] is True


def test_spoofed_senders_cannot_use_up_an_advisor_s_budget(node: Node) -> None:
    node.admin.policy("set-overrides", overrides_json={"rate_limits": {"reads_per_hour": 3}})
    w = Watch(node)
    for i in range(100):
        # Claims the advisor (its key in `sender`), signed by the spoofer, fresh nonces.
        forged = node.envelope(MONITOR, "fee_report", {}, nonce=1000 + i, secret=SPOOFER_SECRET)
        forged["sender"] = f"nostr:{ADVISOR}"
        w.refused(node.handle(forged), "unauthorized")
        # A spoofer using its own key is no advisor.
        own = node.envelope(MONITOR, "fee_report", {}, nonce=1000 + i, secret=SPOOFER_SECRET)
        w.refused(node.handle(own, sender=f"nostr:{SPOOFER}"), "unauthorized")
    # The advisor's whole budget, from nonce 1, is still there.
    for _ in range(3):
        assert node.send(MONITOR, "fee_report", {})["ok"] is True
    w = Watch(node)
    w.refused(node.send(MONITOR, "fee_report", {}), "rate_limited")


# -- corrupt policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage", ["{not json", '{"preset": "reckless"}', "[]", '{"overrides": 5}']
)
def test_corrupt_policy_fails_closed(node: Node, garbage: str) -> None:
    node.p.store.execute("UPDATE comms_policy SET policy_json = ? WHERE id = 1", (garbage,))
    w = Watch(node)
    w.refused(node.set_fee(11), "policy_blocked", reason="policy_unreadable")
    assert node.fee() == 10
    # Reads (D 1) still answer; the stored document is left for the operator to fix.
    assert node.send(MONITOR, "fee_report", {})["ok"] is True
    node.admin.policy("reset")
    assert node.set_fee(11)["ok"] is True and node.fee() == 11


# -- restarts around the confirmation queue ---------------------------------------------------


def test_restart_with_a_queued_action(node: Node) -> None:
    node.admin.policy("set-preset", preset="conservative")
    params = {"channels": [node.bc], "policy": {"fee_ppm": 11}}
    env = node.envelope(FEES, "set_bulk", params)
    held = node.handle(env)
    assert held["code"] == "confirmation_required" and held["kind"] == "queue"
    node.restart()
    (item,) = node.admin.pending()["pending"]
    assert item["action_id"] == held["action_id"] and node.fee() == 10
    # Re-sending the held envelope after the restart queues nothing new.
    w = Watch(node)
    w.refused(node.handle(env), "replay")
    done = node.admin.approve(held["action_id"])
    assert done["executed"] and done["ok"] and node.fee() == 11
    node.restart()
    assert node.admin.pending()["pending"] == []
    with pytest.raises(Conflict):
        node.admin.approve(held["action_id"])
    executed = [
        r
        for r in node.p.receipts.list_receipts(limit=50)
        if r["decision"] in ("approved", "executed") and r["action"] == "set_bulk"
    ]
    assert len(executed) == 1 and node.fee() == 11


def test_restart_with_an_approved_confirmation(node: Node) -> None:
    node.admin.policy(
        "set-overrides", overrides_json={"approval_overrides": {"fee-policy_*": "always_confirm"}}
    )
    params = {"channel_id": node.bc, "fee_ppm": 12}
    held = node.set_fee(12)
    assert held["code"] == "confirmation_required" and held["kind"] == "confirm"
    node.admin.approve(held["action_id"])
    node.restart()
    assert node.fee() == 10
    (item,) = node.admin.pending("approved")["pending"]
    assert item["action_id"] == held["action_id"]
    done = node.send(FEES, "set_single", params, confirm_action_id=held["action_id"])
    assert done["ok"] is True and node.fee() == 12
    node.restart()
    w = Watch(node)
    again = node.send(FEES, "set_single", params, confirm_action_id=held["action_id"])
    w.refused(again, "policy_blocked", reason="confirmation_invalid")


def test_crash_while_running_an_approved_action(node: Node, monkeypatch: Any) -> None:
    """The node dies after the RPC, before the receipt: after the restart the action has
    an ``unknown`` receipt, is not pending, and cannot be approved again."""
    node.admin.policy("set-preset", preset="conservative")
    held = node.send(FEES, "set_bulk", {"channels": [node.bc], "policy": {"fee_ppm": 11}})

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("killed")

    monkeypatch.setattr(node.p.receipts, "append", crash)
    with pytest.raises(SystemExit):
        node.admin.approve(held["action_id"])
    monkeypatch.undo()
    assert node.fee() == 11
    node.restart()
    (last,) = node.p.receipts.list_receipts(limit=1)
    assert last["outcome"] == "unknown" and last["action"] == "set_bulk"
    assert node.admin.pending("all")["pending"][0]["status"] == "executed"
    with pytest.raises(Conflict):
        node.admin.approve(held["action_id"])
    assert node.p.receipts.verify(full=True).ok
