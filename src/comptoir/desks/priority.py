"""Impact × urgency → priority. Pure functions; the ITIL 3×3 matrix is the default."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class Priority(models.IntegerChoices):
    CRITICAL = 1, _("P1 — Critical")
    HIGH = 2, _("P2 — High")
    MEDIUM = 3, _("P3 — Medium")
    LOW = 4, _("P4 — Low")
    PLANNING = 5, _("P5 — Planning")


LEVELS = [Level.HIGH.value, Level.MEDIUM.value, Level.LOW.value]

#: matrix[impact][urgency] → priority (1 is the most urgent).
DEFAULT_MATRIX: dict[str, dict[str, int]] = {
    "high": {"high": 1, "medium": 2, "low": 3},
    "medium": {"high": 2, "medium": 3, "low": 4},
    "low": {"high": 3, "medium": 4, "low": 5},
}


def default_matrix() -> dict[str, dict[str, int]]:
    return {impact: dict(row) for impact, row in DEFAULT_MATRIX.items()}


def validate_matrix(matrix: object) -> list[str]:
    """Problems with a matrix, empty when it is complete and well formed."""
    problems: list[str] = []
    if not isinstance(matrix, dict):
        return ["The matrix must map each impact to a row of urgencies."]
    for impact in LEVELS:
        row = matrix.get(impact)
        if not isinstance(row, dict):
            problems.append(f"Missing row for impact {impact!r}.")
            continue
        for urgency in LEVELS:
            value = row.get(urgency)
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value not in Priority.values
            ):
                problems.append(f"{impact}×{urgency} must be a priority from 1 to 5.")
        extra_urgencies = set(row) - set(LEVELS)
        if extra_urgencies:
            problems.append(
                f"Unknown urgency levels for impact {impact!r}: {', '.join(sorted(map(str, extra_urgencies)))}."
            )
    extra = set(matrix) - set(LEVELS)
    if extra:
        problems.append(f"Unknown impact levels: {', '.join(sorted(extra))}.")
    return problems


def priority_for(matrix: dict[str, dict[str, int]] | None, impact: str, urgency: str) -> int:
    table = matrix if matrix and not validate_matrix(matrix) else DEFAULT_MATRIX
    return table[impact][urgency]
