"""The envelope's cached canonical forms equal freshly computed ones."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.core import bip340
from lnhive.core.canonical import canonical_hash, canonical_json, slow_canonical_json
from lnhive.core.hashing import sha256_hex
from lnhive.transport.envelope import build_envelope, parse_envelope, signing_digest

SECRET = bytes([9]) * 32
RECIPIENT = bip340.xonly_pubkey(bytes([8]) * 32).hex()

_params = st.dictionaries(
    st.text(max_size=6),
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(_params, st.integers(min_value=1, max_value=2**53 - 1), st.booleans())
def test_cached_forms_match_fresh(params: dict[str, Any], nonce: int, confirm: bool) -> None:
    obj = build_envelope(
        SECRET,
        recipient=RECIPIENT,
        schema_type="hive:monitor/v1",
        action="fee_report",
        params=params,
        credential_id="c1",
        nonce=nonce,
        timestamp=1_700_000_000,
        confirm_action_id="a1" if confirm else None,
    )
    env = parse_envelope(json.dumps(obj))
    assert env.canonical() == slow_canonical_json(obj)
    assert env.request_hash() == sha256_hex(slow_canonical_json(obj))
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    assert env.signing_digest() == signing_digest(unsigned) == canonical_hash(unsigned)
    assert env.signing_digest() == canonical_hash(env.unsigned())
    # a copy with other fields never inherits the cache
    other = dataclasses.replace(env, nonce=env.nonce + 1 if env.nonce < 2**53 - 1 else 1)
    assert other.canonical() == canonical_json(other.to_json())
    assert other.request_hash() != env.request_hash()
