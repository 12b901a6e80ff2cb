"""Geometry of a goal chart: one goal's 0 to 10 ratings over time.

Pure arithmetic, as ``domain/instruments/chart.py`` (whose approach it follows); the page
turns it into inline SVG (no script), so it works without JavaScript and on paper.

Coordinates are SVG user units in a ``width`` by ``height`` view box. Ratings run up the y
axis from 0 to 10, drawn from half a point below 0 to half a point above 10 so that no point
sits on the plot's edge. Time runs along the x axis from the first rating to the last, with a
little room at each end; one rating (or several on one day) gets a fortnight around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

LOWEST, HIGHEST = 0, 10  # the goal rating scale: 0 (not at all) to 10 (fully)
WIDTH, HEIGHT = 320, 120
_LEFT, _RIGHT_MARGIN, _TOP, _BOTTOM_MARGIN = 24.0, 8.0, 14.0, 22.0
_Y_TICKS = (0, 5, 10)


@dataclass(frozen=True, slots=True)
class GoalPoint:
    x: float
    y: float
    rating: int
    rated_at: datetime


@dataclass(frozen=True, slots=True)
class GoalChart:
    width: int
    height: int
    left: float
    right: float  # x of the plot's right edge
    top: float
    bottom: float  # y of the plot's bottom edge
    points: tuple[GoalPoint, ...]  # oldest first
    polyline: str  # "x,y x,y …" joining the points in time order
    y_ticks: tuple[tuple[float, int], ...]  # (y, rating)
    x_ticks: tuple[tuple[float, datetime], ...]  # (x, when): the first and the last day


def _r(value: float) -> float:
    return round(value, 1)


def goal_chart(
    ratings: Sequence[tuple[datetime, int]], *, width: int = WIDTH, height: int = HEIGHT
) -> GoalChart:
    """Lay out ``ratings`` — (rated at, rating) pairs in any order, every datetime
    timezone-aware, every rating a whole number from 0 to 10 (ValueError otherwise)."""
    for when, value in ratings:
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("rating times must be timezone-aware")
        if isinstance(value, bool) or not LOWEST <= value <= HIGHEST:
            raise ValueError(f"{value!r} is not a rating from {LOWEST} to {HIGHEST}")
    left, right = _LEFT, width - _RIGHT_MARGIN
    top, bottom = _TOP, height - _BOTTOM_MARGIN
    span = (HIGHEST + 0.5) - (LOWEST - 0.5)

    def y_of(value: float) -> float:
        return _r(top + ((HIGHEST + 0.5) - value) / span * (bottom - top))

    ordered = sorted(ratings, key=lambda pair: pair[0])
    points: list[GoalPoint] = []
    x_ticks: list[tuple[float, datetime]] = []
    if ordered:
        first, last = ordered[0][0], ordered[-1][0]
        start, end = first, last
        if end - start < timedelta(days=1):
            start, end = start - timedelta(days=7), end + timedelta(days=7)
        pad = (end - start) * 0.04  # keep the first and last points off the plot's edges
        start, end = start - pad, end + pad
        seconds = (end - start).total_seconds()

        def x_of(when: datetime) -> float:
            return _r(left + (when - start).total_seconds() / seconds * (right - left))

        points = [GoalPoint(x_of(when), y_of(value), value, when) for when, value in ordered]
        x_ticks = [(x_of(first), first)]
        if last.date() != first.date():
            x_ticks.append((x_of(last), last))
    return GoalChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        points=tuple(points),
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        y_ticks=tuple((y_of(v), v) for v in _Y_TICKS),
        x_ticks=tuple(x_ticks),
    )
