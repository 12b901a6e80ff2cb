"""Geometry of a progress chart: one instrument's totals over time, drawn over its bands.

Pure arithmetic; the page turns it into inline SVG (no script, no network), so the chart
works on a slow phone, in a browser without JavaScript and on paper.

Coordinates are SVG user units in a ``width`` by ``height`` view box (the page scales it to
the screen). Scores run up the y axis from the instrument's minimum to its maximum; each
band is drawn from half a point below its minimum to half a point above its maximum, so
bands meet without gaps and every whole score sits inside exactly one band. The caseness
line is drawn on the boundary below the caseness cut-off: a point above the line is a case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from stepwell.domain.instruments.model import Instrument, Text


@dataclass(frozen=True, slots=True)
class ChartPoint:
    taken_at: datetime
    total: int
    band: str
    prorated: bool = False
    safety: bool = False


@dataclass(frozen=True, slots=True)
class BandArea:
    code: str
    label: Text
    min: int
    max: int
    y: float  # top edge
    height: float
    label_y: float  # vertical centre, for the band's name
    level: int  # 0 = the healthiest band … n-1 = the most severe


@dataclass(frozen=True, slots=True)
class PlacedPoint:
    x: float
    y: float
    point: ChartPoint


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: float
    right: float  # x of the plot's right edge
    top: float
    bottom: float  # y of the plot's bottom edge
    bands: tuple[BandArea, ...]
    caseness_y: float | None
    caseness_min: int | None
    points: tuple[PlacedPoint, ...]
    polyline: str  # "x,y x,y …" joining the points in time order
    y_ticks: tuple[tuple[float, int], ...]  # (y, score)
    x_ticks: tuple[tuple[float, datetime], ...]  # (x, when)
    label_x: float  # where band names are written
    label_anchor: str  # SVG text-anchor for band names: "start" (right of the plot) or "end"

    @property
    def plot_width(self) -> float:
        return _r(self.right - self.left)


WIDTH, HEIGHT = 640, 320
NARROW_WIDTH, NARROW_HEIGHT = 360, 300  # a phone: drawn near 1:1, so text stays legible
_LEFT, _RIGHT_MARGIN, _TOP, _BOTTOM_MARGIN = 44.0, 132.0, 14.0, 40.0
_NARROW_LEFT, _NARROW_RIGHT_MARGIN = 28.0, 6.0
_MAX_X_TICKS = 6


def _r(value: float) -> float:
    return round(value, 1)


def progress_chart(
    instrument: Instrument,
    points: Sequence[ChartPoint],
    *,
    narrow: bool = False,
) -> Chart:
    """Lay out ``points`` (any order; all timezone-aware) for ``instrument``.

    ``narrow`` lays it out for a phone: a smaller view box with band names written inside
    the bands at the right, instead of in a margin. With no points the chart has its bands
    and axes and nothing else; with one point (or several on one day) the time axis spans a
    fortnight around it.
    """
    lo, hi = instrument.range
    width, height = (NARROW_WIDTH, NARROW_HEIGHT) if narrow else (WIDTH, HEIGHT)
    if narrow:
        left, right = _NARROW_LEFT, width - _NARROW_RIGHT_MARGIN
    else:
        left, right = _LEFT, width - _RIGHT_MARGIN
    top, bottom = _TOP, height - _BOTTOM_MARGIN
    span = (hi + 0.5) - (lo - 0.5)

    def y_of(score: float) -> float:
        return _r(top + ((hi + 0.5) - score) / span * (bottom - top))

    n = len(instrument.bands)
    bands = []
    for i, band in enumerate(instrument.bands):
        y_top, y_bottom = y_of(band.max + 0.5), y_of(band.min - 0.5)
        level = n - 1 - i if instrument.higher_is_better else i
        bands.append(
            BandArea(
                code=band.code,
                label=band.label,
                min=band.min,
                max=band.max,
                y=y_top,
                height=_r(y_bottom - y_top),
                label_y=_r((y_top + y_bottom) / 2),
                level=level,
            )
        )
    caseness = instrument.caseness_min
    caseness_y = y_of(caseness - 0.5) if caseness is not None else None
    y_ticks = (*tuple((y_of(b.min), b.min) for b in instrument.bands), (y_of(hi), hi))

    ordered = sorted(points, key=lambda p: p.taken_at)
    placed: list[PlacedPoint] = []
    x_ticks: list[tuple[float, datetime]] = []
    if ordered:
        start, end = ordered[0].taken_at, ordered[-1].taken_at
        if end - start < timedelta(days=1):
            start, end = start - timedelta(days=7), end + timedelta(days=7)
        # Keep the first and last points off the axes.
        pad = (end - start) * 0.04
        start, end = start - pad, end + pad
        seconds = (end - start).total_seconds()

        def x_of(when: datetime) -> float:
            return _r(left + (when - start).total_seconds() / seconds * (right - left))

        placed = [PlacedPoint(x_of(p.taken_at), y_of(p.total), p) for p in ordered]
        ticks = min(_MAX_X_TICKS // 2 if narrow else _MAX_X_TICKS, max(2, len(ordered)))
        step = (end - start - 2 * pad) / (ticks - 1)
        first = start + pad
        x_ticks = [(x_of(first + step * k), first + step * k) for k in range(ticks)]
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        bands=tuple(bands),
        caseness_y=caseness_y,
        caseness_min=caseness,
        points=tuple(placed),
        polyline=" ".join(f"{p.x},{p.y}" for p in placed),
        y_ticks=y_ticks,
        x_ticks=tuple(x_ticks),
        label_x=_r(right - 4) if narrow else _r(right + 6),
        label_anchor="end" if narrow else "start",
    )
