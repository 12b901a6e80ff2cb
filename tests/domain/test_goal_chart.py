"""Goal-chart geometry: ratings 0 to 10 up the y axis, time along the x axis, points in time
order inside the plot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepwell.domain.coordination.goal_chart import goal_chart

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_an_empty_chart_has_its_axis_and_no_points() -> None:
    chart = goal_chart([])
    assert chart.points == ()
    assert chart.polyline == ""
    assert chart.x_ticks == ()
    assert [v for _y, v in chart.y_ticks] == [0, 5, 10]
    ys = [y for y, _v in chart.y_ticks]
    assert chart.top < ys[2] < ys[1] < ys[0] < chart.bottom  # 10 at the top, 0 at the bottom


def test_points_are_placed_by_time_and_rating_oldest_first() -> None:
    chart = goal_chart([(T0 + timedelta(days=14), 7), (T0, 2), (T0 + timedelta(days=7), 4)])
    assert [p.rating for p in chart.points] == [2, 4, 7]
    xs = [p.x for p in chart.points]
    assert chart.left < xs[0] < xs[1] < xs[2] < chart.right
    assert abs((xs[1] - xs[0]) - (xs[2] - xs[1])) <= 0.1  # a week apart both times
    ys = [p.y for p in chart.points]
    assert ys[0] > ys[1] > ys[2]  # a higher rating is drawn higher up
    tick_y = dict((v, y) for y, v in chart.y_ticks)
    assert abs(chart.points[0].y - (tick_y[0] + (tick_y[5] - tick_y[0]) * 2 / 5)) <= 0.1
    assert chart.polyline == " ".join(f"{p.x},{p.y}" for p in chart.points)
    assert [when for _x, when in chart.x_ticks] == [T0, T0 + timedelta(days=14)]


def test_one_rating_sits_in_the_middle_of_a_fortnight() -> None:
    chart = goal_chart([(T0, 10)])
    (point,) = chart.points
    assert abs(point.x - (chart.left + chart.right) / 2) <= 0.1
    assert chart.top < point.y < chart.bottom
    assert len(chart.x_ticks) == 1


def test_naive_times_and_ratings_off_the_scale_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        goal_chart([(datetime(2026, 6, 1, 9, 0), 5)])  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="11"):
        goal_chart([(T0, 11)])


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=400 * 24), st.integers(0, 10)),
        max_size=30,
    )
)
def test_every_point_lies_inside_the_plot(pairs: list[tuple[int, int]]) -> None:
    chart = goal_chart([(T0 + timedelta(hours=h), v) for h, v in pairs])
    assert len(chart.points) == len(pairs)
    for p in chart.points:
        assert chart.left <= p.x <= chart.right
        assert chart.top <= p.y <= chart.bottom
    assert [p.rated_at for p in chart.points] == sorted(p.rated_at for p in chart.points)
