"""The DID key: derivation through makesecret and caller message signing (§8.10)."""

from __future__ import annotations

import pytest

from lnhive.core.derive import DID_ED25519_LABEL
from lnhive.core.errors import InvalidInput, Unauthorized
from lnhive.identity import didkey
from lnhive.identity.keys import MESSAGE_PREFIX, DidSigner, ed25519_verify, verify_message
from tests.identity.conftest import make_node


def test_the_did_comes_from_makesecret_and_survives_a_restore() -> None:
    _, node = make_node(seed=7)
    signer = DidSigner.from_node(node)
    seed = bytes.fromhex(node.makesecret(string=DID_ED25519_LABEL)["secret"])
    assert signer.did == DidSigner(seed).did
    assert signer.did.startswith("did:key:z6Mk")
    _, restored = make_node(seed=7)  # same node secret, a fresh process
    assert DidSigner.from_node(restored).did == signer.did
    _, other = make_node(seed=8)
    assert DidSigner.from_node(other).did != signer.did
    assert "secret" not in repr(signer) and signer.did in repr(signer)


def test_sign_message_signs_prefixed_text_with_the_did_key() -> None:
    signer = DidSigner(bytes([9]) * 32)
    sig = signer.sign_message("hello hive")
    raw = didkey.multibase_decode(sig)
    assert ed25519_verify(signer.public_key, raw, MESSAGE_PREFIX + b"hello hive")
    assert not ed25519_verify(signer.public_key, raw, b"hello hive")
    assert verify_message("hello hive", sig, signer.did) is None
    assert "does not verify" in str(verify_message("hello hivE", sig, signer.did))
    other = DidSigner(bytes([8]) * 32).did
    assert "does not verify" in str(verify_message("hello hive", sig, other))
    assert "multibase" in str(verify_message("hello hive", "xyz", signer.did))


@pytest.mark.parametrize("text", ["lnhive:binding:v1:00", "lnhive:", "lnhive:fleet:v1:ab"])
def test_sign_message_refuses_the_hives_own_domains(text: str) -> None:
    with pytest.raises(Unauthorized, match="reserved"):
        DidSigner(bytes([9]) * 32).sign_message(text)


def test_sign_message_limits() -> None:
    signer = DidSigner(bytes([9]) * 32)
    assert signer.sign_message("x" * 16384)
    with pytest.raises(InvalidInput, match="16384"):
        signer.sign_message("x" * 16385)
    with pytest.raises(InvalidInput, match="string"):
        signer.sign_message(5)
    assert signer.sign_message(" lnhive: is fine when not at the start")
