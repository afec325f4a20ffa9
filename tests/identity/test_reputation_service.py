"""The reputation service on a stand-in node model: issue from verified receipts, import
from another issuer, query; every bad input is a clear error and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lnhive.core import bip340
from lnhive.core.clock import VirtualClock
from lnhive.core.errors import (
    Conflict,
    CredentialInvalid,
    InvalidInput,
    LnhiveError,
    NotFound,
    Unsupported,
)
from lnhive.core.hashing import sha256
from lnhive.core.store import Store
from lnhive.identity.archon import Archon
from lnhive.identity.credentials import verify_credential
from lnhive.identity.reputation_credential import REPUTATION_TYPE
from lnhive.manage import receipts_log
from lnhive.manage.receipts import ReceiptDraft
from lnhive.manage.receipts_key import ReceiptKey
from lnhive.manage.receipts_log import ReceiptLog
from lnhive.sim.network import InProcessNode
from tests.identity.conftest import make_node

DAY = 86_400
ADVISOR_KEY = bip340.xonly_pubkey(sha256(b"reputation test advisor")).hex()
OTHER_KEY = bip340.xonly_pubkey(sha256(b"reputation test advisor 2")).hex()
NODE_METRICS = {"routing_reliability": 0.93, "uptime": 0.985, "htlc_success_rate": 0.96,
                "avg_fee_ppm": 320}  # fmt: skip
TABLES = (
    "archon_reputation",
    "archon_credentials",
    "archon_status_lists",
    "archon_reputation_status_lists",
    "archon_principals",
)


class Rig:
    """An archon service and a cl-hive-comms receipt log on the same node."""

    def __init__(self, tmp: Path, seed: int = 7, name: str = "a") -> None:
        self.clock, self.node = make_node(seed, name)
        self.archon = Archon(self.node, str(tmp / f"archon-{name}.sqlite3"), self.clock)
        self.archon.provision()
        store = Store(tmp / f"comms-{name}.sqlite3", list(receipts_log.MIGRATIONS))
        key = ReceiptKey.from_node(self.node, now=self.clock.now())
        self.log = ReceiptLog(store, key, self.clock, checkpoint_every=5)

    def receipt(self, actor: str = ADVISOR_KEY, **kw: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "schema_id": "hive:fee-policy/v1",
            "action": "set_single",
            "decision": "executed",
            "outcome": "success",
            "params": {"channel_id": "1x1x0", "fee_ppm": 100},
        }
        fields.update(kw)
        return self.log.append(ReceiptDraft(actor=f"nostr:{actor}", **fields))

    def work(self, days: int = 10) -> None:
        """An advisor active every day: a fee change each day on one of three channels,
        a read, and one out-of-bounds refusal."""
        for d in range(days):
            self.receipt(params={"channel_id": f"{d % 3 + 1}x1x0", "fee_ppm": 100 + d})
            self.receipt(schema_id="hive:monitor/v1", action="health_summary", params={})
            self.clock.advance(DAY)
        self.receipt(
            decision="rejected",
            outcome="n/a",
            error={"code": "policy_blocked", "message": "protected channel"},
        )

    def export(self, actor: str = ADVISOR_KEY) -> str:
        return self.log.export_jsonl(actor=f"nostr:{actor}")

    def snapshot(self) -> list[Any]:
        return [[tuple(r) for r in self.archon.store.query(f"SELECT * FROM {t}")] for t in TABLES]

    def issue(self, **kw: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "subject": ADVISOR_KEY,
            "domain": "hive:advisor",
            "outcome": "renew",
            "receipts": self.export(),
        }
        args.update(kw)
        return self.archon.reputation.issue(**args)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_issue_from_verified_receipts_and_query(rig: Rig) -> None:
    rig.work(10)
    out = rig.issue()
    vc = out["credential"]
    assert vc["type"] == ["VerifiableCredential", REPUTATION_TYPE]
    assert vc["issuer"] == rig.archon.signer.did
    assert vc["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert verify_credential(vc, now=rig.clock.now()).issuer == rig.archon.signer.did
    subject = vc["credentialSubject"]
    assert subject["id"] == f"urn:lnhive:nostr:{ADVISOR_KEY}"
    assert subject["metrics"] == {
        "actions_taken": 10,
        "channels_managed": 3,
        "revenue_delta_pct": 0.0,  # no forwards on this node
        "sla_violations": 1,
        "uptime_pct": round(100 * 11 / 30, 1),  # seen on 11 of the period's 30 days
    }
    kinds = [e["type"] for e in subject["evidence"]]
    assert kinds[:2] == ["AuditLog", "MetricSnapshot"] and "SignedReceipt" in kinds
    assert out["evidence_strength"] == 1.0
    assert out["derived_from"]["receipts"] == 21

    rep = rig.archon.reputation.reputation(ADVISOR_KEY, "hive:advisor")
    score = min(100.0, 1.1 * 100 * ((0 + 100) / 1100 + (100 * 11 / 30) / 100) / 2)
    assert rep["score"] == round(score) and rep["credential_count"] == 1
    assert rep["confidence"] == "low" and rep["tier"] == "newcomer"
    (line,) = rep["explanation"]["credentials"]
    assert line["credential_id"] == vc["id"] and line["share"] == 1.0
    assert "issuer_weight" in rep["explanation"]["formula"]
    assert rig.archon.reputation.reputation(f"nostr:{ADVISOR_KEY}")["score"] == rep["score"]

    listed = rig.archon.reputation.list_credentials(subject=ADVISOR_KEY)
    assert [c["credential_id"] for c in listed["credentials"]] == [vc["id"]]
    assert listed["credentials"][0]["status"] == "live"
    assert rig.archon.status()["credentials"]["issued"] == 1


def test_revoking_takes_the_credential_out(rig: Rig) -> None:
    rig.work(3)
    vc = rig.issue()["credential"]
    rig.archon.revoke(vc["id"], "mistake")
    rep = rig.archon.reputation.reputation(ADVISOR_KEY)
    assert rep["score"] == 50 and rep["confidence"] == "none"
    assert rig.archon.reputation.list_credentials()["credentials"][0]["status"] == "revoked"
    rig.clock.advance(60)
    again = rig.issue()  # the revoked one no longer blocks the period
    assert again["credential_id"] != vc["id"]


def test_one_credential_per_issuer_subject_and_period(rig: Rig) -> None:
    rig.work(3)
    rig.issue()
    before = rig.snapshot()
    rig.clock.advance(DAY)
    with pytest.raises(Conflict, match="one credential per issuer, subject and domain"):
        rig.issue()
    assert rig.snapshot() == before
    rig.clock.advance(30 * DAY)  # the next period is free
    rig.receipt()
    assert rig.issue()["ok"]


def test_other_domains_take_operator_metrics(rig: Rig) -> None:
    peer = "02" + "cd" * 32
    out = rig.archon.reputation.issue(peer, "hive:node", "renew", {**NODE_METRICS})
    assert out["credential_score"] == 100.0 and out["evidence_strength"] == 0.3
    rep = rig.archon.reputation.reputation(peer, "hive:node")
    assert rep["score"] == 100 and rep["tier"] == "senior"
    assert rep["explanation"]["credentials"][0]["evidence_strength"] == 0.3


def _err(fn: Any, cls: type[LnhiveError], text: str) -> None:
    with pytest.raises(cls) as err:
        fn()
    assert text in err.value.rpc_message(), err.value.rpc_message()


def test_bad_issue_input_is_refused_and_changes_nothing(rig: Rig) -> None:
    rig.work(2)
    before = rig.snapshot()
    rep = rig.archon.reputation
    own = rig.archon.signer.did
    good = rig.export()
    cases: list[tuple[Any, type[LnhiveError], str]] = [
        (lambda: rig.issue(subject="did:key:z6Mkbad"), InvalidInput, "invalid subject_id"),
        (lambda: rig.issue(subject="zz" * 32), InvalidInput, "invalid_input: invalid subject_id"),
        (lambda: rig.issue(subject=own), InvalidInput, "self-issuance rejected"),
        (lambda: rig.issue(subject=rig.archon.node_id, domain="hive:node",
                           metrics_json=NODE_METRICS, receipts=None),
         InvalidInput, "self-issuance rejected"),
        (lambda: rig.issue(domain="hive:referrer"), InvalidInput, "invalid domain: hive:referrer"),
        (lambda: rig.issue(outcome="great"), InvalidInput, "invalid outcome: great"),
        (lambda: rig.issue(outcome=None), InvalidInput, "invalid outcome"),
        (lambda: rig.issue(metrics_json={"uptime_pct": 5}), InvalidInput,
         "uptime_pct is derived from receipts"),
        (lambda: rig.issue(metrics_json={"karma": 5}), InvalidInput, "unknown metric: karma"),
        (lambda: rig.issue(metrics_json={"response_time_ms": 10**9}), InvalidInput,
         "out of range"),
        (lambda: rig.issue(period_days=0), InvalidInput, "period_days"),
        (lambda: rig.issue(valid_days=True), InvalidInput, "valid_days"),
        (lambda: rig.issue(receipts=good.replace('"fee_ppm":100', '"fee_ppm":999')),
         CredentialInvalid, "receipt chain does not verify"),
        (lambda: rig.issue(receipts=good[: len(good) // 2]), CredentialInvalid,
         "receipt chain does not verify"),
        (lambda: rig.issue(receipts="nonsense\n"), CredentialInvalid, "does not verify"),
        (lambda: rig.issue(subject=OTHER_KEY), NotFound, "no receipts of advisor"),
        (lambda: rig.issue(receipts=None), Unsupported, "cl-hive-comms is not loaded"),
        (lambda: rig.archon.reputation.issue("02" + "cd" * 32, "hive:node", "renew",
                                             {**NODE_METRICS, "uptime": float("nan")}),
         InvalidInput, "metric uptime must be finite"),
        (lambda: rig.archon.reputation.issue("02" + "cd" * 32, "hive:node", "renew",
                                             NODE_METRICS, [{"type": "x", "id": "y"}] * 40),
         InvalidInput, "more than 32"),
        (lambda: rig.archon.reputation.issue(
            "02" + "cd" * 32, "hive:node", "renew", NODE_METRICS,
            [{"type": "Attestation", "id": "urn:x", "description": "d" * 256}] * 31),
         InvalidInput, "more than 8192"),
        (lambda: rep.reputation("did:key:zNope"), InvalidInput, "invalid subject_id"),
        (lambda: rep.reputation(ADVISOR_KEY, "hive:nope"), InvalidInput, "invalid domain"),
        (lambda: rep.list_credentials(limit=0), InvalidInput, "limit"),
    ]  # fmt: skip
    for fn, cls, text in cases:
        _err(fn, cls, text)
    assert rig.snapshot() == before


def test_another_node_imports_and_aggregates(tmp_path: Path, rig: Rig) -> None:
    rig.work(5)
    issued = rig.issue()
    vc = issued["credential"]
    exported = rig.archon.export(vc["id"])
    status_list = rig.archon.status_list()["status_list_credential"]
    other = Rig(tmp_path, seed=8, name="b")
    other.clock.advance_to(rig.clock.now())
    imp = other.archon.reputation.import_(vc, status_list, exported["bindings"])
    assert imp["stored"] is True and imp["status"] == "valid"
    assert other.archon.reputation.import_(vc, status_list)["stored"] is False  # idempotent
    rep = other.archon.reputation.reputation(ADVISOR_KEY)
    assert rep["credential_count"] == 1 and rep["domain"] == "_all"
    listed = other.archon.reputation.list_credentials(issuer=rig.archon.signer.did)
    assert listed["credentials"][0]["received_from"] == "import"

    # the issuer revokes; the newer status list revokes the stored copy
    rig.clock.advance(60)
    other.clock.advance(60)
    rig.archon.revoke(vc["id"], "changed my mind")
    newer = rig.archon.status_list()["status_list_credential"]
    applied = other.archon.reputation.import_(status_list_json=newer)
    assert applied["revoked"] == [vc["id"]]
    assert other.archon.reputation.reputation(ADVISOR_KEY)["score"] == 50
    before = other.snapshot()
    with pytest.raises(Conflict, match="newer"):
        other.archon.reputation.import_(status_list_json=status_list)  # an older copy
    assert other.snapshot() == before


def test_bad_imports_are_refused_and_change_nothing(tmp_path: Path, rig: Rig) -> None:
    rig.work(3)
    vc = rig.issue()["credential"]
    status_list = rig.archon.status_list()["status_list_credential"]
    bindings = rig.archon.export(vc["id"])["bindings"]
    other = Rig(tmp_path, seed=8, name="b")
    other.clock.advance_to(rig.clock.now())
    imp = other.archon.reputation.import_
    before = other.snapshot()

    def edit(path: list[str], value: Any) -> dict[str, Any]:
        out = json.loads(json.dumps(vc))
        target = out
        for key in path[:-1]:
            target = target[key]
        if value is _DROP:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return out

    metrics = dict(vc["credentialSubject"]["metrics"])
    cases: list[tuple[Any, type[LnhiveError], str]] = [
        (lambda: imp("{not json"), InvalidInput, "vc_json is not valid JSON"),
        (lambda: imp(), InvalidInput, "give vc_json"),
        (lambda: imp(edit(["proof"], _DROP), status_list), InvalidInput, "missing field: proof"),
        (lambda: imp(edit(["credentialSubject", "metrics"], _DROP), status_list), InvalidInput,
         "missing field: credentialSubject.metrics"),
        (lambda: imp(edit(["issuer"], "did:key:z6MkNotAKey"), status_list), InvalidInput,
         "invalid issuer_id"),
        (lambda: imp(edit(["credentialSubject", "id"], "did:key:zQ3bad"), status_list),
         InvalidInput, "invalid subject_id"),
        (lambda: imp(edit(["credentialSubject", "id"], vc["issuer"]), status_list),
         CredentialInvalid, "self-issuance rejected"),
        (lambda: imp(edit(["credentialSubject", "domain"], "peer:x"), status_list),
         InvalidInput, "invalid domain: peer:x"),
        (lambda: imp(edit(["credentialSubject", "outcome"], "meh"), status_list),
         InvalidInput, "invalid outcome: meh"),
        (lambda: imp(edit(["credentialSubject", "metrics"], {**metrics, "karma": 1}),
                     status_list), InvalidInput, "metrics invalid: unknown metric: karma"),
        (lambda: imp(edit(["credentialSubject", "metrics"], {**metrics, "uptime_pct": 101}),
                     status_list), InvalidInput, "out of range [0, 100]"),
        (lambda: imp(edit(["credentialSubject", "evidence"], [{"type": "AuditLog",
                     "id": "urn:x", "description": "x" * 250}] * 32), status_list),
         InvalidInput, "more than 8192"),
        (lambda: imp(edit(["credentialSubject", "blob"], "x" * 70_000), status_list),
         InvalidInput, "more than 65536"),
        (lambda: imp(edit(["credentialSubject", "period"], {"start": "2026-02-01T00:00:00Z",
                     "end": "2026-01-01T00:00:00Z"}), status_list), InvalidInput,
         "period_end must be after period_start"),
        (lambda: imp(edit(["credentialSubject", "metrics", "actions_taken"], 11), status_list),
         CredentialInvalid, "bad_proof"),
        (lambda: imp(edit(["proof", "proofValue"], "z" + "1" * 80), status_list),
         CredentialInvalid, "bad_proof"),
        (lambda: imp(edit(["proof", "cryptosuite"], "ecdsa-jcs-2019"), status_list),
         Unsupported, "unknown cryptosuite"),
        (lambda: imp(edit(["proof", "proofPurpose"], "authentication"), status_list),
         CredentialInvalid, "proofPurpose"),
        (lambda: imp(vc), CredentialInvalid, "unchecked: the revocation status is unknown"),
        (lambda: imp(vc, dict(status_list, validFrom="2020-01-01T00:00:00Z")),
         CredentialInvalid, "bad_status_list"),
        (lambda: imp(vc, status_list, [dict(bindings[0], created_at=1)]), CredentialInvalid,
         "binding"),
        (lambda: imp(vc, status_list, "[1, 2"), InvalidInput, "bindings_json"),
    ]  # fmt: skip
    for fn, cls, text in cases:
        _err(fn, cls, text)
    assert other.snapshot() == before

    # revoked at the issuer
    rig.clock.advance(60)
    rig.archon.revoke(vc["id"])
    revoked_list = rig.archon.status_list()["status_list_credential"]
    other.clock.advance_to(rig.clock.now())
    _err(lambda: imp(vc, revoked_list), CredentialInvalid, "credential_invalid: revoked:")
    # expired: the same credential seen after its validUntil
    other.clock.advance(91 * DAY)
    _err(lambda: imp(vc, status_list), CredentialInvalid, "credential_invalid: expired:")
    assert other.snapshot() == before


def test_a_subject_bound_to_the_issuer_is_refused(tmp_path: Path, rig: Rig) -> None:
    """An issuer rating its own node (known from its bindings) is self-issuance."""
    out = rig.archon.reputation.issue("02" + "cd" * 32, "hive:node", "renew", NODE_METRICS)
    vc, bindings = out["credential"], rig.archon.export(out["credential_id"])["bindings"]
    other = Rig(tmp_path, seed=8, name="b")
    sock = json.loads(json.dumps(vc))
    sock["credentialSubject"]["id"] = f"urn:lnhive:node:{rig.archon.node_id}"
    status_list = rig.archon.status_list()["status_list_credential"]
    _err(
        lambda: other.archon.reputation.import_(sock, status_list, bindings),
        CredentialInvalid,
        "one principal",
    )


def test_caps_per_issuer_and_subject(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    import lnhive.identity.reputation as reputation

    monkeypatch.setattr(reputation, "CAP_SUBJECT", 2)
    peer = "02" + "cd" * 32
    rig.archon.reputation.issue(peer, "hive:node", "renew", NODE_METRICS)
    rig.archon.reputation.issue(peer, "hive:client", "neutral", {
        "payment_timeliness": 1, "sla_reasonableness": 1, "communication_quality": 1})  # fmt: skip
    before = rig.snapshot()
    _err(
        lambda: rig.archon.reputation.issue(
            peer,
            "agent:general",
            "neutral",
            {"task_completion_rate": 1, "accuracy": 1, "response_time_ms": 5, "tasks_evaluated": 3},
        ),
        Conflict,
        "capacity: this subject already has 2",
    )
    assert rig.snapshot() == before


def test_profiles_lists_four_domains(rig: Rig) -> None:
    out = rig.archon.reputation.profiles()
    assert out["count"] == 4 and "hive:advisor" in out["profiles"]


_DROP = object()


def test_no_identity_means_no_issue(tmp_path: Path) -> None:
    clock, node = make_node(9, "c")
    service = Archon(node, str(tmp_path / "x.sqlite3"), clock)
    assert isinstance(node, InProcessNode) and isinstance(clock, VirtualClock)
    with pytest.raises(NotFound, match="not provisioned"):
        service.reputation.issue("02" + "cd" * 32, "hive:node", "renew", NODE_METRICS)
    assert service.reputation.reputation("02" + "cd" * 32)["confidence"] == "none"


def test_forwards_in_the_issuing_second_count(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The period ends at the issuing second, and it counts (as receipts at that second
    do): a forward resolved at end + 0.6 is in the period; the window before the period is
    as long and does not overlap it."""
    start, end = 1_000, 1_999
    fwd = [
        {"status": "settled", "resolved_time": end + 0.6, "fee_msat": 7_000},
        {"status": "settled", "resolved_time": start - 0.5, "fee_msat": 3_000},
        {"status": "settled", "resolved_time": start - 1_000.5, "fee_msat": 99},  # too early
        {"status": "settled", "resolved_time": end + 1.0, "fee_msat": 5},  # after the period
    ]
    monkeypatch.setattr(rig.archon.node, "listforwards", lambda **kw: {"forwards": fwd})
    assert rig.archon.reputation._fees(start, end) == (3_000, 7_000)
