"""Care coordination in real Chromium: a coordinator takes an open transport barrier from
the list, arranges a ride, books the appointment from the barrier's page, records that the
patient attended, and finds it all on the record and the barrier's history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from stepwell.apps.coordination.content import coordination_rules
from stepwell.apps.coordination.models import Appointment, Barrier, BarrierAction
from stepwell.apps.coordination.services import barrier_record
from stepwell.apps.patients.models import Patient
from tests.browser.test_journeys import SHOTS, _login
from tests.conftest import Network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def transport_barrier(network: Network) -> Barrier:
    """Patient a1 lives a few km from site A and has no way to get there."""
    a1 = network.patients["a1"]
    Patient.objects.filter(pk=a1.pk).update(home_latitude=37.62, home_longitude=-106.01)
    return barrier_record(
        actor=network.users["peer"],
        patient_id=a1.pk,
        kind="transport",
        source="peer-encounter",
        note="The bus stopped running in October.",
        now=timezone.now() - timedelta(days=2),
    )


def _stored(barrier_id: int) -> tuple[list[tuple[str, str, str]], list[Appointment]]:
    try:
        steps = list(
            BarrierAction.objects.filter(barrier_id=barrier_id).values_list(
                "action", "status", "note"
            )
        )
        return steps, list(Appointment.objects.filter(barrier_id=barrier_id))
    finally:
        connection.close()  # a context-local connection while Playwright runs


def test_a_coordinator_resolves_a_transport_barrier_and_records_attendance(
    network: Network, transport_barrier: Barrier, live_server: Any, page: Any
) -> None:
    barrier = transport_barrier
    a1 = network.patients["a1"]
    _login(page, live_server.url, "coord-a")
    # The coordinator's day starts with the open barrier.
    home_barriers = page.get_by_test_id("home-barriers")
    assert "Transport" in home_barriers.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "coordination-home.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_test_id("nav-barriers").click()
    row = page.get_by_test_id("barrier-row").filter(has_text=a1.record_number)
    assert "The bus stopped running in October." in row.inner_text()
    with page.expect_navigation():
        row.get_by_test_id("barrier-link").click()
    assert page.url.endswith(f"/barriers/{barrier.pk}/")
    assert page.get_by_test_id("barrier-kind").inner_text() == "Transport"
    assert page.get_by_test_id("no-history").is_visible()

    # Arrange a ride.
    form = page.get_by_test_id("barrier-action-form")
    form.get_by_label("Action taken").select_option(label="Ride or voucher arranged")
    form.get_by_label("Status after it").select_option(label="In progress")
    form.get_by_label("Note (optional)").fill("Volunteer driver on Tuesdays.")
    with page.expect_navigation():
        page.get_by_test_id("barrier-action-submit").click()
    assert page.get_by_test_id("barrier-status").inner_text() == "In progress"
    step = page.get_by_test_id("barrier-step")
    assert step.count() == 1
    assert "Ride or voucher arranged" in step.inner_text()
    assert "Volunteer driver on Tuesdays." in step.inner_text()

    # Book the appointment from the barrier's page: today, an hour ago (entered late).
    with page.expect_navigation():
        page.get_by_test_id("book-appointment").click()
    assert page.get_by_test_id("booking-for-barrier").is_visible()
    assert page.get_by_test_id("travel-notice").count() == 0
    zone = ZoneInfo(coordination_rules().default.time_zone)
    an_hour_ago = timezone.localtime(timezone.now() - timedelta(hours=1), zone)
    form = page.get_by_test_id("booking-form")
    form.get_by_label("How").select_option(label="In person")
    site = form.get_by_label("Site")
    site.select_option(str(network.site_a.pk))
    assert "Site a — " in site.locator("option:checked").inner_text()
    form.get_by_label("Date and time").fill(an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Minutes").fill("45")
    page.screenshot(path=str(SHOTS / "coordination-booking.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_test_id("booking-submit").click()

    assert page.url.endswith(f"/barriers/{barrier.pk}/")
    assert any("Appointment booked for" in n for n in page.locator(".notice").all_inner_texts())
    booked = page.get_by_test_id("barrier-appointments").get_by_test_id("appointment-row")
    assert booked.count() == 1
    assert "In person" in booked.inner_text()
    assert "Site a" in booked.inner_text()

    # Record that the patient came.
    with page.expect_navigation():
        booked.get_by_test_id("record-attendance").click()
    form = page.get_by_test_id("attendance-form")
    reason = form.get_by_label("Why was it cancelled?")
    assert not reason.is_visible()  # asked only for a cancellation
    form.get_by_label("Cancelled by the patient").check()
    assert reason.is_visible()
    form.get_by_label("Attended", exact=True).check()
    assert not reason.is_visible()
    page.screenshot(path=str(SHOTS / "coordination-attendance.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_test_id("attendance-submit").click()

    # Back on the record: the appointment shows as attended.
    assert page.url.endswith(f"/patients/{a1.pk}/")
    assert "Attendance recorded: Attended." in page.locator(".notice").all_inner_texts()
    row = page.get_by_test_id("appointments").get_by_test_id("appointment-row")
    assert row.count() == 1
    assert row.get_attribute("data-attendance") == "attended"
    assert "Attended" in row.get_by_test_id("attendance").inner_text()
    page.screenshot(path=str(SHOTS / "coordination-record.png"), full_page=True)

    # The barrier's history still shows the ride, with the appointment booked for it.
    page.goto(f"{live_server.url}/barriers/{barrier.pk}/")
    assert "Ride or voucher arranged" in page.get_by_test_id("barrier-history").inner_text()
    assert "Attended" in page.get_by_test_id("barrier-appointments").inner_text()
    page.screenshot(path=str(SHOTS / "coordination-barrier.png"), full_page=True)

    steps, appointments = _stored(barrier.pk)
    assert steps == [("ride-or-voucher", "in_progress", "Volunteer driver on Tuesdays.")]
    assert len(appointments) == 1
    appointment = appointments[0]
    assert (appointment.modality, appointment.site_id, appointment.minutes) == (
        "in-person",
        network.site_a.pk,
        45,
    )
    assert appointment.starts_at == an_hour_ago.replace(second=0, microsecond=0)
    assert appointment.attendance == "attended"
    assert appointment.cancellation_reason == ""
    assert appointment.travel_minutes is not None
    assert appointment.suggested == []
