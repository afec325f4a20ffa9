from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnhive.core.errors import InvalidInput
from lnhive.manage.danger import DangerVector, HoldKind, Tier, V, approval_level, hold_kind

dims = st.integers(min_value=1, max_value=10)


@given(dims, dims, dims, dims, dims)
def test_score_is_the_maximum_never_an_average(a: int, b: int, c: int, d: int, e: int) -> None:
    vec = DangerVector(a, b, c, d, e)
    assert vec.score == max(a, b, c, d, e)


@pytest.mark.parametrize("bad", [0, 11, -1])
def test_dimensions_are_one_to_ten(bad: int) -> None:
    with pytest.raises(InvalidInput):
        V(1, 1, bad, 1, 1)


def test_bool_is_not_a_dimension() -> None:
    with pytest.raises(InvalidInput):
        DangerVector(True, 1, 1, 1, 1)


@pytest.mark.parametrize(
    ("score", "kind"),
    [
        (1, HoldKind.QUEUE),
        (6, HoldKind.QUEUE),
        (7, HoldKind.CONFIRM),
        (8, HoldKind.CONFIRM),
        (9, HoldKind.MULTISIG),
        (10, HoldKind.MULTISIG),
    ],
)
def test_hold_kind_by_score(score: int, kind: HoldKind) -> None:
    assert hold_kind(score) is kind


def test_approval_level_doc02_and_multisig_floor() -> None:
    assert approval_level(6, "new") == 10  # 6 / 0.5 = 12, capped
    assert approval_level(4, "new") == 8
    assert approval_level(6, "established") == 6
    assert approval_level(6, "proven") == 3  # max(6/2, 6*0.5)
    assert approval_level(5, "proven") == 3  # rounded up
    assert approval_level(9, "proven") == 9  # 9-10 keep the multi-sig floor
    with pytest.raises(InvalidInput):
        approval_level(3, "famous")


def test_tier_parse_and_order() -> None:
    assert Tier.parse("advanced") is Tier.ADVANCED
    assert Tier.MONITOR < Tier.STANDARD < Tier.ADVANCED < Tier.ADMIN
    with pytest.raises(InvalidInput):
        Tier.parse("root")
    with pytest.raises(InvalidInput):
        Tier.parse(2)
