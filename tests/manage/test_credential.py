"""Credentials: format, node signature, issuance limits, verification (spec §3, §8 tests 11-12, 24)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from lnhive.core.canonical import canonical_json
from lnhive.core.errors import CredentialInvalid, InvalidInput, Unsupported
from lnhive.core.hashing import sha256_hex
from lnhive.core.signmessage import verify_message
from lnhive.manage.credential import (
    SIGNING_DOMAIN,
    Credential,
    Signer,
    check_credential,
    local_signer,
    parse_credential,
    sign_credential,
)
from lnhive.manage.credential_summary import TEMPLATES, allowed_actions, describe, template
from lnhive.manage.schemas import CATALOGUE
from tests.manage.conftest import ADVISOR, NODE_ID, T0

DAY = 86_400
IDS = CATALOGUE.schema_ids
OTHER_NODE = "03" + "11" * 32


def draft(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "credential_id": "c-1",
        "issuer_id": NODE_ID,
        "agent_id": f"nostr:{ADVISOR}",
        "node_id": NODE_ID,
        "tier": "standard",
        "permissions": {"monitor": True, "fee_policy": True},
        "allowed_schemas": ["hive:monitor/*", "hive:fee-policy/*"],
        "allowed_actions": None,
        "constraints": {"max_fee_change_pct": 50, "max_daily_actions": 100},
        "compensation": None,
        "trial": None,
        "valid_from": int(T0),
        "valid_until": int(T0) + 30 * DAY,
    }
    base.update(changes)
    return base


def signed(signer: Signer, **changes: Any) -> Credential:
    return sign_credential(parse_credential(draft(**changes), IDS), signer)


def test_signature_is_signmessage_over_the_domain_text(signer: Signer) -> None:
    cred = signed(signer)
    body = cred.to_json()
    body.pop("signature")
    text = SIGNING_DOMAIN + sha256_hex(canonical_json(body))
    assert cred.signing_text() == text
    assert verify_message(text, cred.signature, bytes.fromhex(NODE_ID))
    check_credential(cred, node_id=NODE_ID, now=T0, revoked=False)


def test_round_trip_and_reordered_keys_still_verify(signer: Signer) -> None:
    cred = signed(signer)
    text = json.dumps(dict(reversed(list(cred.to_json().items()))))
    again = parse_credential(json.loads(text), IDS)
    assert again == cred
    check_credential(again, node_id=NODE_ID, now=T0 + 1, revoked=False)
    # revoked_at is outside the signature
    with_revoked = parse_credential({**cred.to_json(), "revoked_at": 5}, IDS)
    check_credential(with_revoked, node_id=NODE_ID, now=T0 + 1, revoked=False)


@pytest.mark.parametrize(
    "field",
    ["tier", "permissions", "allowed_schemas", "constraints", "valid_until", "allowed_actions"],
)
def test_any_signed_field_altered_fails(signer: Signer, field: str) -> None:
    cred = signed(signer)
    altered = {
        "tier": "advanced",
        "permissions": {"monitor": True, "fee_policy": True, "rebalance": True},
        "allowed_schemas": ["*"],
        "constraints": {"max_fee_change_pct": 51, "max_daily_actions": 100},
        "valid_until": cred.valid_until + 1,
        "allowed_actions": ["hive:fee-policy/v1#set_single"],
    }[field]
    forged = parse_credential({**cred.to_json(), field: altered}, IDS)
    with pytest.raises(CredentialInvalid) as info:
        check_credential(forged, node_id=NODE_ID, now=T0, revoked=False)
    assert info.value.details["reason"] == "bad_signature"


def test_signed_by_another_key_fails() -> None:
    cred = signed(local_signer(bytes([9]) * 32))
    with pytest.raises(CredentialInvalid) as info:
        check_credential(cred, node_id=NODE_ID, now=T0, revoked=False)
    assert info.value.details["reason"] == "bad_signature"
    unsigned = parse_credential(draft(), IDS)
    with pytest.raises(CredentialInvalid):
        check_credential(unsigned, node_id=NODE_ID, now=T0, revoked=False)
    garbage = replace(unsigned, signature="not zbase!")
    with pytest.raises(CredentialInvalid):
        check_credential(garbage, node_id=NODE_ID, now=T0, revoked=False)


@pytest.mark.parametrize(
    ("now", "node", "revoked", "reason"),
    [
        (T0 + 30 * DAY, NODE_ID, False, "expired"),
        (T0 - 1, NODE_ID, False, "not_yet_valid"),
        (T0, OTHER_NODE, False, "wrong_node"),
        (T0, NODE_ID, True, "revoked"),
    ],
)
def test_credential_invalid_reasons(
    signer: Signer, now: float, node: str, revoked: bool, reason: str
) -> None:
    cred = signed(signer)
    with pytest.raises(CredentialInvalid) as info:
        check_credential(cred, node_id=node, now=now, revoked=revoked)
    assert info.value.details["reason"] == reason
    assert info.value.error_symbol == "credential_invalid"


def test_validity_limits() -> None:
    parse_credential(draft(valid_until=int(T0) + 730 * DAY), IDS)
    with pytest.raises(InvalidInput, match="730"):
        parse_credential(draft(valid_until=int(T0) + 731 * DAY), IDS)
    with pytest.raises(InvalidInput):
        parse_credential(draft(valid_until=int(T0)), IDS)


def test_issuer_must_differ_from_agent() -> None:
    with pytest.raises(InvalidInput, match="differ"):
        parse_credential(draft(agent_id=f"nostr:{NODE_ID[2:]}"), IDS)


def test_pattern_limits() -> None:
    families = [f"hive:{f}/*" for f in CATALOGUE.families]
    hundred = (families * 7)[:100]
    # duplicates are fine and collapse; what counts is the list given
    parse_credential(draft(allowed_schemas=hundred), IDS)
    with pytest.raises(InvalidInput, match="100"):
        parse_credential(draft(allowed_schemas=[*hundred, "*"]), IDS)
    with pytest.raises(InvalidInput, match="no known schema"):
        parse_credential(draft(allowed_schemas=["hive:fee-policy-extended/v1"]), IDS)
    with pytest.raises(InvalidInput, match="no known schema"):
        parse_credential(draft(allowed_schemas=["hive:config/fee_*"]), IDS)


def test_constraint_limits_and_bounds() -> None:
    with pytest.raises(InvalidInput, match="50 keys"):
        parse_credential(draft(constraints={f"k{i}": 1 for i in range(51)}), IDS)
    with pytest.raises(InvalidInput, match="unknown constraints"):
        parse_credential(draft(constraints={"max_fees": 1}), IDS)
    with pytest.raises(InvalidInput):
        parse_credential(draft(constraints={"max_fee_change_pct": -1}), IDS)
    with pytest.raises(InvalidInput):
        parse_credential(
            draft(constraints={"fee_bounds": {"min_fee_ppm": 10, "max_fee_ppm": 5}}), IDS
        )
    with pytest.raises(InvalidInput):
        parse_credential(
            draft(constraints={"history_limit": {"start_time": 1, "duration_s": 60}}), IDS
        )
    with pytest.raises(InvalidInput):
        parse_credential(
            draft(constraints={"time_window": {"start": "25:00", "end": "01:00"}}), IDS
        )


def test_agent_ids_are_nostr_keys_in_v1() -> None:
    with pytest.raises(Unsupported):
        parse_credential(draft(agent_id="did:cid:bagaaiera"), IDS)
    with pytest.raises(Unsupported):
        parse_credential(draft(agent_id="node:" + NODE_ID), IDS)
    with pytest.raises(InvalidInput):
        parse_credential(draft(agent_id=ADVISOR), IDS)


def test_unknown_fields_and_permissions_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_credential({**draft(), "payment_proof": {}}, IDS)
    with pytest.raises(InvalidInput):
        parse_credential(draft(permissions={"root": True}), IDS)


@pytest.mark.parametrize(("days", "ok"), [(0, False), (1, True), (90, True), (91, False)])
def test_trial_days(days: int, ok: bool) -> None:
    d = draft(trial={"ends_at": int(T0) + days * DAY})
    if ok:
        assert parse_credential(d, IDS).is_trial
    else:
        with pytest.raises(InvalidInput):
            parse_credential(d, IDS)


def test_trial_clamps_tier_permissions_and_expiry(signer: Signer) -> None:
    with pytest.raises(InvalidInput):
        parse_credential(draft(tier="advanced", trial={"ends_at": int(T0) + DAY}), IDS)
    cred = signed(
        signer,
        permissions={"monitor": True, "fee_policy": True, "rebalance": True},
        trial={"ends_at": int(T0) + 7 * DAY},
    )
    assert not cred.has_permission("rebalance")
    assert cred.has_permission("fee_policy")
    check_credential(cred, node_id=NODE_ID, now=T0 + 7 * DAY - 1, revoked=False)
    with pytest.raises(CredentialInvalid, match="trial ended"):
        check_credential(cred, node_id=NODE_ID, now=T0 + 7 * DAY, revoked=False)


def test_summary_says_what_is_allowed(signer: Signer) -> None:
    cred = signed(signer)
    text = describe(cred, CATALOGUE)
    assert f"nostr:{ADVISOR}" in text
    assert "tier standard" in text
    assert "fee_policy, monitor" in text
    assert "max_fee_change_pct = 50" in text
    keys = allowed_actions(cred, CATALOGUE)
    assert "hive:fee-policy/v1#set_single" in keys
    assert "hive:rebalance/v1#circular_rebalance" not in keys
    assert all(k.startswith(("hive:monitor/", "hive:fee-policy/")) for k in keys)
    assert f"{len(keys)} actions in 2 families" in text


def test_templates_parse_and_complete_management_never_closes(signer: Signer) -> None:
    for t in TEMPLATES.values():
        cred = signed(
            signer,
            tier=t.tier.label,
            permissions=dict.fromkeys(t.permissions, True),
            allowed_schemas=list(t.allowed_schemas),
            constraints=t.constraints,
        )
        assert cred.tier is t.tier
    cm = template("complete_management")
    cred = signed(
        signer, tier="admin", permissions=dict.fromkeys(cm.permissions, True), allowed_schemas=["*"]
    )
    keys = allowed_actions(cred, CATALOGUE)
    assert not any("close" in k for k in keys)
    with pytest.raises(InvalidInput):
        template("everything")
