"""The coordinator's pages: the home page's day (appointments, barriers, referrals, failed
reminders), a barrier's page, booking an appointment, recording attendance, and the
appointments on the patient's record."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.coordination.content import coordination_rules
from stepwell.apps.coordination.models import Appointment, Barrier, BarrierAction, Reminder
from stepwell.apps.coordination.services import (
    appointment_book,
    barrier_record,
    referral_send,
)
from stepwell.apps.patients.models import Patient
from tests.conftest import Network

pytestmark = pytest.mark.django_db


def _client(network: Network, who: str = "coordinator") -> Client:
    client = Client()
    client.force_login(network.users[who])
    return client


def _zone() -> ZoneInfo:
    return ZoneInfo(coordination_rules().default.time_zone)


def _earlier_today() -> datetime:
    """A moment earlier today in the region's time zone (half way since local midnight):
    today's and already begun, whatever the hour the test runs at."""
    now = timezone.now()
    midnight = datetime.combine(timezone.localtime(now, _zone()).date(), time.min, _zone())
    return midnight + (now - midnight) / 2


def _local_input(at: datetime) -> str:
    """What a datetime-local input sends for ``at`` in the region's time zone."""
    return timezone.localtime(at, _zone()).strftime("%Y-%m-%dT%H:%M")


def _barrier(network: Network, patient: str = "a1", kind: str = "transport") -> Barrier:
    return barrier_record(
        actor=network.users["coordinator"],
        patient_id=network.patients[patient].pk,
        kind=kind,
        source="coordinator",
        note="No car since the harvest.",
        now=timezone.now(),
    )


def _book(network: Network, starts_at: datetime, patient: str = "a1", **extra: Any) -> Appointment:
    return appointment_book(
        actor=network.users["coordinator"],
        patient_id=network.patients[patient].pk,
        modality=extra.pop("modality", "in-person"),
        site_id=extra.pop("site_id", network.site_a.pk),
        starts_at=starts_at,
        now=timezone.now(),
        **extra,
    )


def _set_home(patient: Patient, lat: float, lon: float) -> None:
    Patient.objects.filter(pk=patient.pk).update(home_latitude=lat, home_longitude=lon)


def _booking_post(network: Network, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "modality": "in-person",
        "site": str(network.site_a.pk),
        "address": "",
        "starts_at": _local_input(timezone.now() + timedelta(days=2)),
        "minutes": "45",
        "staff": "",
        "barrier": "",
    }
    data.update(overrides)
    return data


def _errors(html: str, field: str) -> list[str]:
    return re.findall(rf'data-testid="error-{field}">([^<]*)<', html)


# --- the home page -------------------------------------------------------------------------


def test_the_coordinators_home_shows_the_day_above_the_caseload(network: Network) -> None:
    a1 = network.patients["a1"]
    appointment = _book(network, _earlier_today())
    barrier = _barrier(network)
    referral = referral_send(
        actor=network.users["coordinator"],
        patient_id=a1.pk,
        to_site_id=network.site_b.pk,
        reason="Specialist pain clinic.",
        urgency="urgent",
        now=timezone.now(),
    )
    now = timezone.now()
    Reminder.objects.create(
        key="test:no-address",
        kind="appointment",
        patient=network.patients["a2"],
        channel="sms",
        send_at=now,
        status="no-address",
        created_at=now,
        handled_at=now,
    )

    html = _client(network).get("/").content.decode()

    assert html.index('data-testid="coordinator-home"') < html.index("Patients at my sites")
    today = html[html.index('data-testid="today-appointments"') :]
    today = today[: today.index("</table>")]
    assert f'href="/patients/{a1.pk}/"' in today
    assert a1.record_number in today
    assert "Ana Testwell" in today
    assert "In person" in today
    assert "Site a" in today
    assert f'href="/appointments/{appointment.pk}/attendance/"' in today
    assert f'href="/barriers/{barrier.pk}/"' in html
    assert f'data-referral="{referral.pk}"' in html
    assert 'href="/referrals/"' in html
    failed = html[html.index('data-testid="home-failed-reminders"') :]
    assert network.patients["a2"].record_number in failed
    assert "SMS" in failed
    assert "Not sent: no phone or e-mail" in failed

    # Site B's coordinator sees none of site A's appointments or barriers; only the
    # referral coming to site B, which they must decide on.
    other = _client(network, "coordinator_b").get("/").content.decode()
    assert 'data-testid="no-appointments-today"' in other
    assert f"/barriers/{barrier.pk}/" not in other
    assert f"/patients/{a1.pk}/" not in other
    assert f'data-referral="{referral.pk}"' in other
    # Clinicians and CHWs have the same day as a section of their home.
    for who in ("clinician", "chw"):
        page = _client(network, who).get("/").content.decode()
        assert 'data-testid="coordination-section"' in page
        assert f"/appointments/{appointment.pk}/attendance/" in page


def test_the_home_page_does_not_query_per_appointment(network: Network) -> None:
    client = _client(network)
    _book(network, _earlier_today())
    _barrier(network)
    client.get("/")
    with CaptureQueriesContext(connection) as one:
        client.get("/")
    for patient in ("a1", "a2", "a2"):
        _book(network, _earlier_today(), patient=patient)
    _barrier(network, "a2", "cost")
    with CaptureQueriesContext(connection) as more:
        response = client.get("/")
    assert response.content.decode().count('data-testid="appointment-row"') == 4
    # Audit events are one insert per list; nothing grows with the rows.
    assert len(more.captured_queries) == len(one.captured_queries)


# --- the barrier page ----------------------------------------------------------------------


def test_the_pages_audit_what_they_show(network: Network) -> None:
    barrier = _barrier(network)
    appointment = _book(network, timezone.now() - timedelta(hours=1))
    client = _client(network)
    for url in (
        f"/barriers/{barrier.pk}/",
        f"/appointments/{appointment.pk}/attendance/",
        f"/patients/{barrier.patient_id}/appointments/new/",
    ):
        assert client.get(url).status_code == 200
    seen = set(
        AuditEvent.objects.filter(patient_id=barrier.patient_id).values_list("action", flat=True)
    )
    assert {"barrier.viewed", "appointment.viewed", "travel.viewed"} <= seen


def test_the_barrier_list_links_each_row_to_its_page(network: Network) -> None:
    barrier = _barrier(network)
    html = _client(network).get("/barriers/").content.decode()
    assert f'href="/barriers/{barrier.pk}/"' in html


def test_the_barrier_page_records_an_action(network: Network) -> None:
    barrier = _barrier(network)
    client = _client(network)
    html = client.get(f"/barriers/{barrier.pk}/").content.decode()
    assert "Transport" in html
    assert "No car since the harvest." in html
    assert 'data-testid="no-history"' in html
    assert f'href="/patients/{barrier.patient_id}/appointments/new/?barrier={barrier.pk}"' in html
    assert "Ride or voucher arranged" in html  # an option of the action select

    response = client.post(
        f"/barriers/{barrier.pk}/",
        {"action": "ride-or-voucher", "status": "in_progress", "note": "Neighbour drives."},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/barriers/{barrier.pk}/"
    step = BarrierAction.objects.get(barrier=barrier)
    assert (step.action, step.status, step.note) == (
        "ride-or-voucher",
        "in_progress",
        "Neighbour drives.",
    )
    barrier.refresh_from_db()
    assert barrier.status == "in_progress"
    html = client.get(f"/barriers/{barrier.pk}/").content.decode()
    history = html[html.index('data-testid="barrier-history"') :]
    assert "Ride or voucher arranged" in history
    assert "Neighbour drives." in history
    assert "Recorded on the barrier" in html


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"action": "", "status": "open", "note": ""}, "action"),  # nothing at all
        ({"action": "teleport", "status": "open", "note": ""}, "action"),
        ({"action": "", "status": "fixed", "note": "x"}, "status"),
    ],
)
def test_a_refused_barrier_action_is_shown_next_to_its_field(
    network: Network, post: dict[str, str], field: str
) -> None:
    barrier = _barrier(network)
    response = _client(network).post(f"/barriers/{barrier.pk}/", post)
    assert response.status_code == 200
    assert _errors(response.content.decode(), field)
    assert not BarrierAction.objects.exists()


# --- who may see what ----------------------------------------------------------------------


def test_pages_are_404_for_a_user_who_cannot_see_the_patient(network: Network) -> None:
    a1 = network.patients["a1"]
    barrier = _barrier(network)
    appointment = _book(network, _earlier_today())
    other = _client(network, "coordinator_b")
    for url in (
        f"/barriers/{barrier.pk}/",
        f"/patients/{a1.pk}/appointments/new/",
        f"/patients/{a1.pk}/appointments/new/?barrier={barrier.pk}",
        f"/appointments/{appointment.pk}/attendance/",
    ):
        assert other.get(url).status_code == 404, url
    assert (
        other.post(
            f"/barriers/{barrier.pk}/", {"action": "subsidy", "status": "resolved"}
        ).status_code
        == 404
    )
    booking = other.post(f"/patients/{a1.pk}/appointments/new/", _booking_post(network))
    assert booking.status_code == 404
    assert (
        other.post(
            f"/appointments/{appointment.pk}/attendance/", {"attendance": "attended"}
        ).status_code
        == 404
    )
    assert not BarrierAction.objects.exists()
    assert Appointment.objects.count() == 1
    appointment.refresh_from_db()
    assert appointment.attendance == ""
    # A peer matched to the patient sees the record, not the coordination pages.
    assert _client(network, "peer").get(f"/barriers/{barrier.pk}/").status_code == 404


# --- booking -------------------------------------------------------------------------------


def test_the_booking_page_books_in_the_regions_time(network: Network) -> None:
    a1 = network.patients["a1"]
    _set_home(a1, 37.62, -106.01)
    client = _client(network)
    html = client.get(f"/patients/{a1.pk}/appointments/new/").content.decode()
    assert a1.record_number in html
    assert 'type="datetime-local"' in html
    assert re.search(r"Site a — \d+ min, \d+ km", html)
    assert 'data-testid="travel-notice"' not in html

    day = timezone.localtime(timezone.now(), _zone()).date() + timedelta(days=3)
    response = client.post(
        f"/patients/{a1.pk}/appointments/new/",
        _booking_post(
            network,
            starts_at=f"{day.isoformat()}T10:30",
            minutes="30",
            staff=str(network.users["clinician"].pk),
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{a1.pk}/"
    appointment = Appointment.objects.get()
    assert appointment.starts_at == datetime.combine(day, time(10, 30), _zone())
    assert (appointment.modality, appointment.site_id, appointment.minutes) == (
        "in-person",
        network.site_a.pk,
        30,
    )
    assert appointment.staff_id == network.users["clinician"].pk
    assert appointment.suggested == []
    record = client.get(response["Location"]).content.decode()
    assert "Appointment booked for" in record
    section = record[record.index('data-testid="appointments"') :]
    assert f'data-appointment="{appointment.pk}"' in section


def test_booking_from_a_barrier_links_it_and_goes_back_to_it(network: Network) -> None:
    barrier = _barrier(network)
    client = _client(network)
    url = f"/patients/{barrier.patient_id}/appointments/new/"
    html = client.get(f"{url}?barrier={barrier.pk}").content.decode()
    assert f'name="barrier" value="{barrier.pk}"' in html
    assert 'data-testid="booking-for-barrier"' in html
    response = client.post(url, _booking_post(network, barrier=str(barrier.pk)))
    assert response["Location"] == f"/barriers/{barrier.pk}/"
    assert Appointment.objects.get().barrier_id == barrier.pk
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="barrier-appointments"' in page


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"modality": "teleport"}, "modality"),
        ({"site": ""}, "site"),  # in person needs a site (or a place)
        ({"modality": "home-visit"}, "site"),  # a home visit is not at a site
        ({"starts_at": "tomorrow at ten"}, "starts_at"),
        ({"starts_at": "2020-01-01T10:00"}, "starts_at"),  # far outside the window
        ({"minutes": "600"}, "minutes"),
    ],
)
def test_refused_bookings_are_shown_next_to_their_field_and_store_nothing(
    network: Network, overrides: dict[str, str], field: str
) -> None:
    a1 = network.patients["a1"]
    response = _client(network).post(
        f"/patients/{a1.pk}/appointments/new/", _booking_post(network, **overrides)
    )
    assert response.status_code == 200
    assert _errors(response.content.decode(), field), response.content.decode()
    assert not Appointment.objects.exists()


def test_the_travel_notice_shows_only_when_every_site_is_far(network: Network) -> None:
    a1, a2 = network.patients["a1"], network.patients["a2"]
    _set_home(a1, 45.0, -90.0)  # hundreds of km from both sites
    _set_home(a2, 37.6, -106.0)  # at site A's door
    client = _client(network)
    far = client.get(f"/patients/{a1.pk}/appointments/new/").content.decode()
    notice = re.search(r'data-testid="travel-notice"[^>]*>\s*([^<]*)<', far)
    assert notice is not None
    assert re.match(
        r"Travel to the nearest site is about \d+ minutes each way: "
        r"consider video call, phone call or home visit\.",
        notice.group(1).strip(),
    )
    assert 'data-suggested="video phone home-visit"' in far
    assert re.search(r'<option value="video" selected>', far)  # the first suggestion
    near = client.get(f"/patients/{a2.pk}/appointments/new/").content.decode()
    assert 'data-testid="travel-notice"' not in near
    assert "Site a — 0 min, 0 km" in near

    # Booked in person anyway: the estimate and the suggestion are kept with it.
    client.post(f"/patients/{a1.pk}/appointments/new/", _booking_post(network))
    appointment = Appointment.objects.get()
    assert appointment.modality == "in-person"
    assert appointment.travel_minutes is not None
    assert appointment.travel_minutes > 60
    assert appointment.suggested == ["video", "phone", "home-visit"]


# --- attendance ----------------------------------------------------------------------------


def test_attendance_is_recorded_and_shown_on_the_record(network: Network) -> None:
    appointment = _book(network, timezone.now() - timedelta(hours=1))
    client = _client(network)
    url = f"/appointments/{appointment.pk}/attendance/"
    html = client.get(url).content.decode()
    assert network.patients["a1"].record_number in html
    for label in ("Attended", "Late, seen", "Did not attend", "Cancelled by the patient"):
        assert label in html
    assert "No transport" in html  # a cancellation reason

    response = client.post(url, {"attendance": "attended", "cancellation_reason": ""})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{appointment.patient_id}/"
    appointment.refresh_from_db()
    assert (appointment.attendance, appointment.attendance_by) == (
        "attended",
        network.users["coordinator"],
    )
    record = client.get(response["Location"]).content.decode()
    row = re.search(rf'data-appointment="{appointment.pk}" data-attendance="(\w+)"', record)
    assert row is not None
    assert row.group(1) == "attended"
    assert "Attendance recorded: Attended." in record


def test_a_future_appointment_may_only_be_cancelled(network: Network) -> None:
    appointment = _book(network, timezone.now() + timedelta(days=2))
    client = _client(network)
    url = f"/appointments/{appointment.pk}/attendance/"
    assert 'data-testid="not-started"' in client.get(url).content.decode()

    response = client.post(url, {"attendance": "attended"})
    assert response.status_code == 200
    assert _errors(response.content.decode(), "attendance")
    appointment.refresh_from_db()
    assert appointment.attendance == ""

    response = client.post(
        url, {"attendance": "cancelled-patient", "cancellation_reason": "transport"}
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.attendance, appointment.cancellation_reason) == (
        "cancelled-patient",
        "transport",
    )


def test_a_reason_left_selected_for_an_attendance_is_dropped(network: Network) -> None:
    appointment = _book(network, timezone.now() - timedelta(hours=1))
    response = _client(network).post(
        f"/appointments/{appointment.pk}/attendance/",
        {"attendance": "did-not-attend", "cancellation_reason": "weather"},
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.attendance, appointment.cancellation_reason) == ("did-not-attend", "")


def test_an_unknown_attendance_is_refused(network: Network) -> None:
    appointment = _book(network, timezone.now() - timedelta(hours=1))
    response = _client(network).post(
        f"/appointments/{appointment.pk}/attendance/", {"attendance": "vanished"}
    )
    assert response.status_code == 200
    assert _errors(response.content.decode(), "attendance")


# --- the patient's record ------------------------------------------------------------------


def test_the_record_lists_appointments_for_the_care_team_only(network: Network) -> None:
    a1 = network.patients["a1"]
    past = _book(network, timezone.now() - timedelta(days=3))
    future = _book(network, timezone.now() + timedelta(days=30), modality="video", site_id=None)
    html = _client(network).get(f"/patients/{a1.pk}/").content.decode()
    section = html[html.index('data-testid="appointments"') :]
    assert section.index(f'data-appointment="{past.pk}"') < section.index(
        f'data-appointment="{future.pk}"'
    )
    assert f"/appointments/{past.pk}/attendance/" in section
    assert "Video call" in section
    assert f"/patients/{a1.pk}/appointments/new/" in section
    # The patient's own page and a peer's view of it carry no appointment section.
    for who in ("patient", "peer"):
        page = _client(network, who).get(f"/patients/{a1.pk}/").content.decode()
        assert 'data-testid="appointments"' not in page
