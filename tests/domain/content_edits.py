"""Breaking a parsed content file in one place, for tests of its validation errors."""

from __future__ import annotations

import copy
from typing import Any

DELETE = object()  # as a value: remove the key instead of replacing it


def edited(raw: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    """A deep copy of ``raw`` with the item at ``path`` replaced by ``value`` (or removed)."""
    data = copy.deepcopy(raw)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data
