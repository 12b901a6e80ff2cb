"""Measurement in real Chromium: the progress chart as drawn, and a patient answering a
questionnaire on a phone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from stepwell.apps.measurement.models import Assessment
from stepwell.apps.measurement.services import assessment_record
from tests.browser.test_journeys import SHOTS, _login
from tests.conftest import PASSWORD, Network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phq9_history(network: Network) -> None:
    """PHQ-9 totals 18, 11, 5, four weeks apart (answers hand-summed). A fixture, so the
    rows are written before Playwright starts (see ``page`` in conftest)."""
    now = timezone.now()
    for k, answers in enumerate(([2] * 9, [2, 2] + [1] * 7, [1] * 5 + [0] * 4)):
        assessment_record(
            actor=network.users["clinician"],
            patient_id=network.patients["a1"].pk,
            instrument_code="PHQ-9",
            answers=answers,
            taken_at=now - timedelta(days=28 * (3 - k)),
            mode="clinician",
            now=now,
        )


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None
    return box


@pytest.fixture
def spanish_patient(network: Network) -> None:
    user = network.users["patient"]
    user.preferred_language = "es"
    user.save(update_fields=["preferred_language"])


def _stored_assessments(patient_id: int) -> list[tuple[str, int, str, str]]:
    """Read while Playwright runs: that uses a context-local connection, closed here so the
    test database can be dropped at the end of the session."""
    try:
        return list(
            Assessment.objects.filter(patient_id=patient_id).values_list(
                "instrument", "total", "band", "mode"
            )
        )
    finally:
        connection.close()


def test_chart_draws_points_inside_their_bands_with_the_caseness_line(
    network: Network, phq9_history: None, live_server: Any, page: Any
) -> None:
    _login(page, live_server.url, "clin-a")
    page.goto(f"{live_server.url}/patients/{network.patients['a1'].pk}/progress/PHQ-9/")
    chart = page.locator("svg.chart-wide")
    assert chart.is_visible()
    assert not page.locator("svg.chart-narrow").is_visible()
    assert chart.locator("rect.band").count() == 5
    points = chart.locator("g.point")
    assert [points.nth(i).get_attribute("data-total") for i in range(3)] == ["18", "11", "5"]
    # Each point is drawn inside the band its score belongs to, as the browser lays it out.
    for i, band in enumerate(("moderately-severe", "moderate", "mild")):
        dot = _box(points.nth(i).locator("circle"))
        area = _box(chart.locator(f"rect[data-band='{band}']"))
        centre = dot["y"] + dot["height"] / 2
        assert area["y"] < centre < area["y"] + area["height"], band
    # The caseness line runs between 11 (a case) and 5 (not a case), on the moderate band's
    # lower edge.
    line = _box(page.get_by_test_id("caseness-line-wide"))
    line_y = line["y"] + line["height"] / 2
    mild = _box(chart.locator("rect[data-band='mild']"))
    assert mild["y"] - 2 < line_y < mild["y"] + 2  # boxes include half the stroke widths
    y11 = _box(points.nth(1).locator("circle"))["y"]
    y5 = _box(points.nth(2).locator("circle"))["y"]
    assert y11 < line_y < y5
    # Time runs left to right.
    xs = [_box(points.nth(i).locator("circle"))["x"] for i in range(3)]
    assert xs == sorted(xs)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "progress-chart.png"), full_page=True)

    # On a phone the narrow layout replaces the wide one, drawn near full size so its
    # text stays legible, with no sideways scrolling.
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    narrow = page.locator("svg.chart-narrow")
    assert narrow.is_visible()
    assert not page.locator("svg.chart-wide").is_visible()
    assert _box(narrow)["width"] <= PHONE["width"]
    label = _box(narrow.locator("text.band-label").first)
    assert label["height"] >= 9  # px on screen: the wide chart's would be about 6
    assert narrow.locator("g.point").count() == 3
    page.screenshot(path=str(SHOTS / "progress-chart-phone.png"), full_page=True)

    # Printed, the chart and the table stay; navigation and buttons go.
    page.emulate_media(media="print")
    assert page.locator("svg.chart-wide").is_visible()
    assert page.get_by_test_id("score-table").is_visible()
    assert not page.locator("header.bar").is_visible()


def test_patient_answers_a_questionnaire_on_a_phone(
    network: Network, spanish_patient: None, live_server: Any, chromium: Any
) -> None:
    context = chromium.new_context(locale="es-ES", viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        # The browser asks for Spanish, so the log-in form is in Spanish: fill it by name.
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator("input[name=username]").fill("pat-a1")
        page.locator("input[name=password]").fill(PASSWORD)
        with page.expect_navigation():
            page.locator("form button[type=submit]").last.click()
        with page.expect_navigation():
            page.get_by_test_id("record-GAD-7").click()
        # The portal speaks the patient's language: the interface and the questions.
        assert page.locator("html").get_attribute("lang") == "es"
        assert "Durante las últimas 2 semanas, ¿qué tan seguido" in page.content()
        assert page.get_by_test_id("submit").inner_text() != "Save answers"
        items = page.locator("fieldset.item")
        assert items.count() == 7
        # Tap targets: every answer row is at least 44 px tall and fits the screen.
        first_choice = _box(items.first.locator("label.choice").first)
        assert first_choice["height"] >= 44
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # Answer 2,1,1,0,3,2,1 → GAD-7 total 10, moderate (10-14). Tap the labels.
        for i, value in enumerate((2, 1, 1, 0, 3, 2, 1)):
            items.nth(i).locator(f"input[value='{value}']").locator("xpath=..").tap()
        page.screenshot(path=str(SHOTS / "questionnaire-phone.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_test_id("submit").tap()
        narrow = page.locator("svg.chart-narrow")
        assert narrow.locator("g.point").count() == 1
        assert narrow.locator("g.point").first.get_attribute("data-total") == "10"
        assert _stored_assessments(network.patients["a1"].pk) == [
            ("GAD-7", 10, "moderate", "portal")
        ]
    finally:
        context.close()
