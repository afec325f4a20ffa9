from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnhive.core import bip340
from lnhive.core.canonical import canonical_json
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256

# Official BIP-340 test vectors: bitcoin/bips, bip-0340/test-vectors.csv.
# (index, secret key, public key, aux_rand, message, signature)
SIGNING_VECTORS = [
    (
        0,
        "0000000000000000000000000000000000000000000000000000000000000003",
        "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
        "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0",
    ),
    (
        1,
        "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF",
        "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
        "0000000000000000000000000000000000000000000000000000000000000001",
        "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
        "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
        "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A",
    ),
    (
        2,
        "C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9",
        "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8",
        "C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906",
        "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C",
        "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1B"
        "AB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7",
    ),
    (
        3,
        "0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710",
        "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC"
        "97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3",
    ),
]

# Vectors 15-18 sign messages of 0, 1, 17 and 100 bytes, which the 32-byte API does
# not take; their secret key -> public key pair still checks key derivation.
VECTOR_15_SECRET = "0340034003400340034003400340034003400340034003400340034003400340"
VECTOR_15_PUBKEY = "778CAA53B4393AC467774D09497A87224BF9FAB6F6E68B23086497324D6FD117"

# Vector 4: verification only (no secret key), result TRUE.
VECTOR_4 = (
    "D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9",
    "4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703",
    "00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C63"
    "76AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4",
)

KEY_DFF1 = "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659"
MSG_243F = "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89"

# Vectors 5-14: verification must fail. (index, public key, message, signature, comment)
FAILING_VECTORS = [
    (
        5,
        "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34",
        MSG_243F,
        "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
        "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
        "public key not on the curve",
    ),
    (
        6,
        KEY_DFF1,
        MSG_243F,
        "FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A1460297556"
        "3CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2",
        "has_even_y(R) is false",
    ),
    (
        7,
        KEY_DFF1,
        MSG_243F,
        "1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F"
        "28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD",
        "negated message",
    ),
    (
        8,
        KEY_DFF1,
        MSG_243F,
        "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
        "961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6",
        "negated s value",
    ),
    (
        9,
        KEY_DFF1,
        MSG_243F,
        "0000000000000000000000000000000000000000000000000000000000000000"
        "123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051",
        "sG - eP is infinite (x(inf) as 0)",
    ),
    (
        10,
        KEY_DFF1,
        MSG_243F,
        "0000000000000000000000000000000000000000000000000000000000000001"
        "7615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197",
        "sG - eP is infinite (x(inf) as 1)",
    ),
    (
        11,
        KEY_DFF1,
        MSG_243F,
        "4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D"
        "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
        "sig[0:32] is not an X coordinate on the curve",
    ),
    (
        12,
        KEY_DFF1,
        MSG_243F,
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F"
        "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
        "sig[0:32] is equal to field size",
    ),
    (
        13,
        KEY_DFF1,
        MSG_243F,
        "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        "sig[32:64] is equal to curve order",
    ),
    (
        14,
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30",
        MSG_243F,
        "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C"
        "5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
        "public key exceeds the field size",
    ),
]

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
valid_secrets = st.integers(min_value=1, max_value=ORDER - 1).map(lambda k: k.to_bytes(32, "big"))


@pytest.mark.parametrize(("index", "sk", "pk", "aux", "msg", "sig"), SIGNING_VECTORS)
def test_official_signing_vectors(
    index: int, sk: str, pk: str, aux: str, msg: str, sig: str
) -> None:
    secret = bytes.fromhex(sk)
    assert bip340.xonly_pubkey(secret) == bytes.fromhex(pk)
    got = bip340.sign(secret, bytes.fromhex(msg), bytes.fromhex(aux))
    assert got == bytes.fromhex(sig), f"vector {index}"
    assert bip340.verify(bytes.fromhex(pk), bytes.fromhex(msg), got)


def test_official_pubkey_of_vectors_15_to_18() -> None:
    assert bip340.xonly_pubkey(bytes.fromhex(VECTOR_15_SECRET)) == bytes.fromhex(VECTOR_15_PUBKEY)


def test_official_verify_only_vector_4() -> None:
    pk, msg, sig = (bytes.fromhex(x) for x in VECTOR_4)
    assert bip340.verify(pk, msg, sig) is True
    tampered = sig[:-1] + bytes([sig[-1] ^ 1])
    assert bip340.verify(pk, msg, tampered) is False


@pytest.mark.parametrize(("index", "pk", "msg", "sig", "comment"), FAILING_VECTORS)
def test_official_failing_vectors(index: int, pk: str, msg: str, sig: str, comment: str) -> None:
    assert bip340.verify(bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig)) is False, (
        f"vector {index}: {comment}"
    )


@pytest.mark.parametrize(
    ("xonly", "msg", "sig"),
    [
        (b"", b"\x00" * 32, b"\x00" * 64),
        (b"\x01" * 31, b"\x00" * 32, b"\x00" * 64),
        (bytes.fromhex(KEY_DFF1), b"\x00" * 31, b"\x00" * 64),
        (bytes.fromhex(KEY_DFF1), b"\x00" * 32, b"\x00" * 63),
        (bytes.fromhex(KEY_DFF1), b"\x00" * 32, b"\x00" * 65),
        ("not bytes", b"\x00" * 32, b"\x00" * 64),
        (None, None, None),
    ],
)
def test_verify_never_raises_on_malformed_input(xonly: object, msg: object, sig: object) -> None:
    assert bip340.verify(xonly, msg, sig) is False  # type: ignore[arg-type]


def test_sign_rejects_bad_input() -> None:
    good = bytes.fromhex(SIGNING_VECTORS[1][1])
    with pytest.raises(InvalidInput):
        bip340.sign(good, b"\x00" * 31)
    with pytest.raises(InvalidInput):
        bip340.sign(good, b"\x00" * 32, b"\x00" * 31)
    with pytest.raises(InvalidInput):
        bip340.sign(b"\x00" * 32, b"\x00" * 32)
    with pytest.raises(InvalidInput):
        bip340.sign(ORDER.to_bytes(32, "big"), b"\x00" * 32)
    with pytest.raises(InvalidInput):
        bip340.xonly_pubkey(b"\x01" * 31)


def test_default_aux_is_fresh_randomness() -> None:
    secret = bytes.fromhex(SIGNING_VECTORS[1][1])
    msg = sha256(b"hello")
    a, b = bip340.sign(secret, msg), bip340.sign(secret, msg)
    assert a != b  # fresh aux bytes each time
    pk = bip340.xonly_pubkey(secret)
    assert bip340.verify(pk, msg, a) and bip340.verify(pk, msg, b)


@settings(max_examples=50)
@given(valid_secrets, st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_sign_verify_round_trip(secret: bytes, msg: bytes, aux: bytes) -> None:
    pk = bip340.xonly_pubkey(secret)
    sig = bip340.sign(secret, msg, aux)
    assert len(sig) == 64
    assert bip340.verify(pk, msg, sig)
    other = bytes([msg[0] ^ 0x80]) + msg[1:]
    assert not bip340.verify(pk, other, sig)


def test_sign_object_signs_jcs_digest_without_sig() -> None:
    secret = bytes.fromhex(SIGNING_VECTORS[2][1])
    pk_hex = bip340.xonly_pubkey(secret).hex()
    obj = {"type": "receipt", "n": 1, "body": {"b": 2, "a": 1}}
    sig_hex = bip340.sign_object(secret, obj)
    assert len(sig_hex) == 128
    digest = sha256(canonical_json(obj))
    assert bip340.object_digest(obj) == digest
    assert bip340.verify(bytes.fromhex(pk_hex), digest, bytes.fromhex(sig_hex))
    signed = {**obj, "sig": sig_hex}
    assert bip340.verify_object(pk_hex, signed)
    # Key order of the object does not matter.
    reordered = {"sig": sig_hex, "body": {"a": 1, "b": 2}, "n": 1, "type": "receipt"}
    assert bip340.verify_object(pk_hex, reordered)


def test_verify_object_rejects_tampering_and_garbage() -> None:
    secret = bytes.fromhex(SIGNING_VECTORS[2][1])
    pk_hex = bip340.xonly_pubkey(secret).hex()
    signed = {"n": 1, "sig": bip340.sign_object(secret, {"n": 1})}
    assert bip340.verify_object(pk_hex, signed)
    assert not bip340.verify_object(pk_hex, {**signed, "n": 2})
    assert not bip340.verify_object(pk_hex, {**signed, "extra": True})
    assert not bip340.verify_object(KEY_DFF1.lower(), signed)
    assert not bip340.verify_object(pk_hex, {"n": 1})
    assert not bip340.verify_object(pk_hex, {**signed, "sig": "zz" * 64})
    assert not bip340.verify_object(pk_hex, {**signed, "sig": 5})
    assert not bip340.verify_object("nothex", signed)
    assert not bip340.verify_object(pk_hex, {**signed, "f": float("nan")})


def test_custom_sig_field() -> None:
    secret = bytes.fromhex(SIGNING_VECTORS[3][1])
    pk_hex = bip340.xonly_pubkey(secret).hex()
    obj = {"x": 1, "sig": "kept"}
    proof = bip340.sign_object(secret, obj, sig_field="proof")
    signed = {**obj, "proof": proof}
    assert bip340.verify_object(pk_hex, signed, sig_field="proof")
    assert not bip340.verify_object(pk_hex, {**signed, "sig": "changed"}, sig_field="proof")
