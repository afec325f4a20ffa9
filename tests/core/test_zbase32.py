from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnhive.core import zbase32


def test_alphabet() -> None:
    assert zbase32.ALPHABET == "ybndrfg8ejkmcpqxot1uwisza345h769"
    assert len(set(zbase32.ALPHABET)) == 32


def test_known_encodings() -> None:
    assert zbase32.encode(b"") == ""
    assert zbase32.encode(b"\x00") == "yy"
    # 0xff = 11111 111(00): the last group is padded with zero bits.
    assert zbase32.encode(b"\xff") == "9h"
    assert zbase32.encode(b"\x00" * 5) == "yyyyyyyy"
    assert zbase32.encode(b"\xff" * 5) == "99999999"
    # 0x01 0x02 -> 00000 00100 00001 0(0000)
    assert zbase32.encode(b"\x01\x02") == "yrby"
    assert zbase32.decode("yrby") == b"\x01\x02"


@given(st.binary(max_size=80))
def test_round_trip(data: bytes) -> None:
    text = zbase32.encode(data)
    assert len(text) == (len(data) * 8 + 4) // 5
    assert set(text) <= set(zbase32.ALPHABET)
    assert zbase32.decode(text) == data


@pytest.mark.parametrize("bad", ["yl", "yv", "Yy", "y2", "y0", "y y", "y=", "yé"])
def test_decode_rejects_bad_characters(bad: str) -> None:
    with pytest.raises(ValueError):
        zbase32.decode(bad)
