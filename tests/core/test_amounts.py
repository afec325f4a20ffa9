from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnhive.core.amounts import (
    MAX_MSAT,
    MAX_SAT,
    MSAT_REASON,
    SAT_REASON,
    AmountError,
    format_msat,
    msat_to_sat_floor,
    parse_msat,
    parse_msat_or_all,
    parse_msat_or_any,
    parse_sat,
    parse_sat_or_all,
    sat_to_msat,
)


def test_max_is_21_million_btc() -> None:
    assert MAX_MSAT == 2_100_000_000_000_000_000
    assert MAX_SAT == 2_100_000_000_000_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1, 1),
        (123456, 123456),
        ("123456", 123456),
        ("0msat", 0),
        ("1msat", 1),
        ("1000msat", 1000),
        ("5sat", 5000),
        ("0sat", 0),
        ("1btc", 100_000_000_000),
        ("0btc", 0),
        ("1.5btc", 150_000_000_000),
        ("0.00000000001btc", 1),
        ("0.12345678901btc", 12_345_678_901),
        ("21000000btc", MAX_MSAT),
        (MAX_MSAT, MAX_MSAT),
        ("007msat", 7),
    ],
)
def test_parse_msat_accepts(value: int | str, expected: int) -> None:
    assert parse_msat(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        -1,
        "-1msat",
        "-1",
        True,
        False,
        1.0,
        1.5,
        None,
        "",
        "msat",
        "sat",
        "btc",
        "1.5sat",
        "1.0msat",
        "1.5",
        "0.000000000001btc",  # 12 decimals
        "1.btc",
        ".5btc",
        "1 sat",
        " 1sat",
        "1sat ",
        "1SAT",
        "+1sat",
        "1e3",
        "0x10",
        "1bit",
        "1 000sat",
        "\u0661\u0662msat",  # Arabic-Indic digits, not ASCII
        MAX_MSAT + 1,
        "21000000.00000000001btc",
        "2100000000000000001msat",
        [1],
    ],
)
def test_parse_msat_rejects(value: Any) -> None:
    with pytest.raises(AmountError) as info:
        parse_msat(value)
    assert str(info.value) == MSAT_REASON == "should be a millisatoshi amount"
    assert isinstance(info.value, ValueError)
    assert info.value.detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (7, 7),
        ("7", 7),
        ("7sat", 7),
        ("0msat", 0),
        ("1000msat", 1),
        ("5000msat", 5),
        ("1btc", 100_000_000),
        ("0.5btc", 50_000_000),
        ("0.00000001btc", 1),
        ("21000000btc", MAX_SAT),
        (MAX_SAT, MAX_SAT),
    ],
)
def test_parse_sat_accepts(value: int | str, expected: int) -> None:
    assert parse_sat(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        -5,
        True,
        2.0,
        "1500msat",
        "1msat",
        "999msat",
        "1.5sat",
        "0.5sat",
        "0.000000001btc",  # 9 decimals
        "0.00000000001btc",
        "all",
        "any",
        "",
        MAX_SAT + 1,
        "2100000000000001sat",
    ],
)
def test_parse_sat_rejects(value: Any) -> None:
    with pytest.raises(AmountError) as info:
        parse_sat(value)
    assert str(info.value) == SAT_REASON == "should be a satoshi amount"


def test_detail_names_the_problem() -> None:
    with pytest.raises(AmountError) as info:
        parse_msat("1.5sat")
    assert "decimals" in info.value.detail
    with pytest.raises(AmountError) as info:
        parse_msat(-3)
    assert "negative" in info.value.detail
    with pytest.raises(AmountError) as info:
        parse_sat("1500msat")
    assert "whole number of satoshis" in info.value.detail


def test_or_all_and_or_any() -> None:
    assert parse_msat_or_all("all") == "all"
    assert parse_msat_or_all("2sat") == 2000
    assert parse_sat_or_all("all") == "all"
    assert parse_sat_or_all(3) == 3
    assert parse_msat_or_any("any") == "any"
    assert parse_msat_or_any(4) == 4
    with pytest.raises(AmountError):
        parse_msat_or_any("all")
    with pytest.raises(AmountError):
        parse_msat_or_all("any")
    with pytest.raises(AmountError):
        parse_sat_or_all("ALL")


def test_format_and_conversions() -> None:
    assert format_msat(0) == "0msat"
    assert format_msat(1234) == "1234msat"
    with pytest.raises(AmountError):
        format_msat(-1)
    with pytest.raises(AmountError):
        format_msat(True)
    assert sat_to_msat(5) == 5000
    assert msat_to_sat_floor(5999) == 5
    assert msat_to_sat_floor(6000) == 6
    assert msat_to_sat_floor(999) == 0


msats = st.integers(min_value=0, max_value=MAX_MSAT)
sats = st.integers(min_value=0, max_value=MAX_SAT)


@given(msats)
def test_msat_round_trips(n: int) -> None:
    assert parse_msat(n) == n
    assert parse_msat(format_msat(n)) == n
    assert parse_msat(str(n)) == n
    whole, frac = divmod(n, 100_000_000_000)
    assert parse_msat(f"{whole}.{frac:011d}btc") == n


@given(sats)
def test_sat_round_trips(n: int) -> None:
    assert parse_sat(n) == n
    assert parse_sat(f"{n}sat") == n
    assert parse_sat(format_msat(sat_to_msat(n))) == n
    assert parse_msat(f"{n}sat") == sat_to_msat(n)
    whole, frac = divmod(n, 100_000_000)
    assert parse_sat(f"{whole}.{frac:08d}btc") == n
    assert msat_to_sat_floor(sat_to_msat(n)) == n


@given(msats)
def test_floor_rounding(n: int) -> None:
    s = msat_to_sat_floor(n)
    assert sat_to_msat(s) <= n < sat_to_msat(s + 1)


@given(st.integers(min_value=1, max_value=999), sats.filter(lambda n: n < MAX_SAT))
def test_sat_refuses_fractional_msat(extra: int, n: int) -> None:
    with pytest.raises(AmountError):
        parse_sat(format_msat(sat_to_msat(n) + extra))
