"""The impact × urgency matrix, as pure functions."""

from __future__ import annotations

import pytest

from comptoir.desks.priority import (
    DEFAULT_MATRIX,
    LEVELS,
    Priority,
    default_matrix,
    priority_for,
    validate_matrix,
)

ITIL = {
    ("high", "high"): 1,
    ("high", "medium"): 2,
    ("high", "low"): 3,
    ("medium", "high"): 2,
    ("medium", "medium"): 3,
    ("medium", "low"): 4,
    ("low", "high"): 3,
    ("low", "medium"): 4,
    ("low", "low"): 5,
}


def custom() -> dict[str, dict[str, int]]:
    return {
        "high": {"high": 1, "medium": 1, "low": 2},
        "medium": {"high": 2, "medium": 2, "low": 3},
        "low": {"high": 4, "medium": 5, "low": 5},
    }


@pytest.mark.parametrize(("impact", "urgency"), list(ITIL))
def test_default_matrix_is_the_itil_three_by_three(impact, urgency):
    assert priority_for(None, impact, urgency) == ITIL[impact, urgency]
    assert priority_for(default_matrix(), impact, urgency) == ITIL[impact, urgency]


def test_default_matrix_is_complete_and_valid():
    assert validate_matrix(DEFAULT_MATRIX) == []
    assert {(i, u) for i in DEFAULT_MATRIX for u in DEFAULT_MATRIX[i]} == set(ITIL)
    assert set(LEVELS) == {"high", "medium", "low"}
    assert Priority.CRITICAL == 1 and Priority.PLANNING == 5


def test_editing_a_desk_default_matrix_leaves_the_default_alone():
    matrix = default_matrix()
    matrix["high"]["high"] = 5
    assert DEFAULT_MATRIX["high"]["high"] == 1
    assert default_matrix()["high"]["high"] == 1


def test_custom_matrix_decides_priority():
    assert priority_for(custom(), "high", "medium") == 1
    assert priority_for(custom(), "low", "medium") == 5
    assert priority_for(custom(), "low", "high") == 4


@pytest.mark.parametrize("broken", [{}, {"high": {"high": 1}}, {"high": "x"}, [], "matrix"])
def test_broken_matrix_falls_back_to_the_default(broken):
    assert priority_for(broken, "medium", "medium") == 3
    assert priority_for(broken, "high", "high") == 1


def test_non_dict_matrix_is_one_problem():
    assert validate_matrix([1, 2, 3]) == ["The matrix must map each impact to a row of urgencies."]
    assert validate_matrix(None) == ["The matrix must map each impact to a row of urgencies."]


def test_missing_row_is_reported():
    matrix = custom()
    del matrix["medium"]
    assert validate_matrix(matrix) == ["Missing row for impact 'medium'."]


def test_row_that_is_not_a_mapping_is_reported():
    matrix = custom()
    matrix["low"] = [4, 5, 5]
    assert validate_matrix(matrix) == ["Missing row for impact 'low'."]


@pytest.mark.parametrize("value", [0, 6, -1, "1", 1.0, None, True, False])
def test_cell_outside_one_to_five_is_reported(value):
    matrix = custom()
    matrix["high"]["low"] = value
    assert validate_matrix(matrix) == ["high×low must be a priority from 1 to 5."]


def test_missing_cell_is_reported():
    matrix = custom()
    del matrix["low"]["medium"]
    assert validate_matrix(matrix) == ["low×medium must be a priority from 1 to 5."]


def test_unknown_impact_level_is_reported():
    matrix = custom() | {"critical": {"high": 1, "medium": 1, "low": 1}}
    assert validate_matrix(matrix) == ["Unknown impact levels: critical."]


def test_unknown_urgency_level_is_reported():
    matrix = custom()
    matrix["medium"]["critical"] = 1
    assert validate_matrix(matrix) == ["Unknown urgency levels for impact 'medium': critical."]


def test_every_problem_is_reported_at_once():
    matrix = {"high": {"high": 9, "medium": 2, "low": 3}, "bogus": {}}
    problems = validate_matrix(matrix)
    assert problems == [
        "high×high must be a priority from 1 to 5.",
        "Missing row for impact 'medium'.",
        "Missing row for impact 'low'.",
        "Unknown impact levels: bogus.",
    ]
