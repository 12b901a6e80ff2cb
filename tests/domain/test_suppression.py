from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepwell.domain.metrics.suppression import SuppressionRule, rule_from_dict, suppress

RULE = SuppressionRule(min_cell=5, version="t")


@pytest.mark.parametrize(("count", "shown"), [(0, 0), (1, None), (4, None), (5, 5), (80, 80)])
def test_small_counts_are_withheld(count: int, shown: int | None) -> None:
    assert suppress(count, RULE) == shown


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=2, max_value=50))
def test_shown_counts_are_never_small(count: int, min_cell: int) -> None:
    shown = suppress(count, SuppressionRule(min_cell=min_cell, version="t"))
    assert shown is None or shown == 0 or shown >= min_cell


def test_bad_rule_files_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"rules\.yaml: min_cell"):
        rule_from_dict({"min_cell": 1, "version": "x"}, source="rules.yaml")
    with pytest.raises(ValueError, match="version"):
        rule_from_dict({"min_cell": 5}, source="rules.yaml")
