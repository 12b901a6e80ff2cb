"""Small-cell suppression: withhold counts small enough to point at a person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SuppressionRule:
    min_cell: int
    version: str

    def describe(self) -> str:
        return f"counts from 1 to {self.min_cell - 1} are withheld (rule {self.version})"


def rule_from_dict(data: dict[str, Any], *, source: str) -> SuppressionRule:
    """Build a rule from parsed content; ValueError names the file and field on bad data."""
    min_cell = data.get("min_cell")
    if not isinstance(min_cell, int) or isinstance(min_cell, bool) or min_cell < 2:
        raise ValueError(f"{source}: min_cell must be a whole number of at least 2")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError(f"{source}: version must be a non-empty string")
    return SuppressionRule(min_cell=min_cell, version=version)


def suppress(count: int, rule: SuppressionRule) -> int | None:
    """The count to publish, or None when it must be withheld."""
    if count < 0:
        raise ValueError("count cannot be negative")
    return None if 0 < count < rule.min_cell else count
