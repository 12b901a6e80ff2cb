"""Progress-chart geometry: bands meet without gaps, the caseness line sits on the band
boundary below the cut-off, points are placed by time and score."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from stepwell.domain.instruments.chart import ChartPoint, progress_chart
from tests.domain.test_instruments import INSTRUMENTS

PHQ9 = INSTRUMENTS["PHQ-9"]
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_bands_tile_the_plot_from_bottom_to_top() -> None:
    chart = progress_chart(PHQ9, [])
    bands = chart.bands
    assert [b.code for b in bands] == ["minimal", "mild", "moderate", "moderately-severe", "severe"]
    assert [b.level for b in bands] == [0, 1, 2, 3, 4]
    assert bands[0].y + bands[0].height == chart.bottom  # minimal starts at the axis
    assert bands[-1].y == chart.top  # severe reaches the top
    for lower, upper in itertools.pairwise(bands):
        assert abs(upper.y + upper.height - lower.y) <= 0.1  # no gap, no overlap
    # Heights are proportional to the number of whole scores in each band (5,5,5,5,8 of 28).
    unit = (chart.bottom - chart.top) / 28
    for band, scores in zip(bands, (5, 5, 5, 5, 8), strict=True):
        assert abs(band.height - scores * unit) <= 0.15
    assert chart.points == ()
    assert chart.x_ticks == ()


def test_caseness_line_is_the_boundary_between_mild_and_moderate() -> None:
    chart = progress_chart(PHQ9, [])
    mild, moderate = chart.bands[1], chart.bands[2]
    assert chart.caseness_min == 10
    assert chart.caseness_y is not None
    assert abs(chart.caseness_y - mild.y) <= 0.1
    assert abs(chart.caseness_y - (moderate.y + moderate.height)) <= 0.1


def test_points_are_ordered_by_time_and_placed_by_score() -> None:
    points = [
        ChartPoint(T0 + timedelta(days=56), 9, "mild"),
        ChartPoint(T0, 18, "moderately-severe"),
        ChartPoint(T0 + timedelta(days=28), 10, "moderate"),
    ]
    chart = progress_chart(PHQ9, points)
    assert [p.point.total for p in chart.points] == [18, 10, 9]
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs)
    assert chart.left < xs[0]
    assert xs[-1] < chart.right
    assert abs((xs[1] - xs[0]) - (xs[2] - xs[1])) <= 0.2  # equal 28-day gaps
    assert chart.caseness_y is not None
    assert chart.points[1].y < chart.caseness_y < chart.points[2].y  # 10 is a case, 9 not
    assert chart.polyline.split() == [f"{p.x},{p.y}" for p in chart.points]
    assert chart.x_ticks[0][1] == T0
    assert chart.x_ticks[-1][1] == T0 + timedelta(days=56)


def test_one_point_sits_mid_chart() -> None:
    chart = progress_chart(PHQ9, [ChartPoint(T0, 4, "minimal")])
    (only,) = chart.points
    assert abs(only.x - (chart.left + chart.right) / 2) <= 0.2
    assert len(chart.x_ticks) == 2


def test_higher_is_better_reverses_the_shading_and_has_no_caseness_line() -> None:
    chart = progress_chart(INSTRUMENTS["SATISFACTION"], [])
    assert [b.level for b in chart.bands] == [2, 1, 0]
    assert chart.caseness_y is None


@given(
    code=st.sampled_from(sorted(INSTRUMENTS)),
    fractions=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=30),
)
def test_every_point_lies_inside_its_own_band(code: str, fractions: list[float]) -> None:
    inst = INSTRUMENTS[code]
    lo, hi = inst.range
    totals = [round(lo + f * (hi - lo)) for f in fractions]
    points = [
        ChartPoint(T0 + timedelta(days=7 * k), t, inst.band_for(t).code)
        for k, t in enumerate(totals)
    ]
    chart = progress_chart(inst, points)
    areas = {b.code: b for b in chart.bands}
    for placed in chart.points:
        band = areas[placed.point.band]
        assert band.y < placed.y < band.y + band.height
        assert chart.left < placed.x < chart.right
