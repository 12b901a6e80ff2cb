"""Appointments: attendance feeds the stepping engine (two no-shows → ``disengaged``, an
attended visit is a contact), travel burden suggests telehealth or a home visit, bad input is
refused naming the field, and barrier actions keep their history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.coordination.models import Appointment, Barrier, BarrierAction
from stepwell.apps.coordination.services import (
    appointment_attendance,
    appointment_book,
    barrier_act,
    barrier_record,
)
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.patients.models import Patient
from stepwell.apps.stepping.models import EpisodeFlag
from stepwell.apps.stepping.services import episode_review
from stepwell.domain.coordination.travel import haversine_km
from tests.conftest import Network


def _attend(network: Network, days_ago: int, attendance: str, **extra: str) -> Appointment:
    now = timezone.now()
    coordinator = network.users["coordinator"]
    appointment = appointment_book(
        actor=coordinator,
        patient_id=network.patients["a1"].pk,
        modality="in-person",
        site_id=network.site_a.pk,
        starts_at=now - timedelta(days=days_ago),
        now=now,
    )
    return appointment_attendance(
        actor=coordinator, appointment_id=appointment.pk, attendance=attendance, now=now, **extra
    )


def _flags(network: Network) -> set[str]:
    episode = network.patients["a1"].episodes.get()
    episode_review(actor=network.users["clinician"], episode_id=episode.pk, now=timezone.now())
    return set(EpisodeFlag.objects.filter(episode=episode).values_list("code", flat=True))


def test_two_no_shows_in_a_row_flag_the_episode_disengaged(network: Network) -> None:
    _attend(network, 20, "attended")
    _attend(network, 10, "did-not-attend")
    assert "disengaged" not in _flags(network)
    # A cancellation is not a contact: it neither breaks nor adds to the run.
    _attend(network, 7, "cancelled-patient", cancellation_reason="transport")
    _attend(network, 3, "did-not-attend")
    assert "disengaged" in _flags(network)
    _attend(network, 1, "late-seen")
    assert "disengaged" not in _flags(network)


def test_an_attended_appointment_is_a_contact(network: Network) -> None:
    assert "contact-overdue" in _flags(network)  # nothing since September
    _attend(network, 1, "attended")
    assert "contact-overdue" not in _flags(network)


def test_travel_burden_suggests_telehealth_or_a_home_visit(network: Network) -> None:
    now = timezone.now()
    site = network.site_a
    patient = network.patients["a1"]
    # Next door to the clinic: no suggestion.
    Patient.objects.filter(pk=patient.pk).update(
        home_latitude=site.latitude + 0.01, home_longitude=site.longitude
    )
    near = appointment_book(
        actor=network.users["coordinator"],
        patient_id=patient.pk,
        modality="in-person",
        site_id=site.pk,
        starts_at=now + timedelta(days=2),
        now=now,
    )
    assert near.suggested == []
    assert near.travel_minutes is not None
    assert near.travel_minutes <= 5
    # 1.5 degrees of latitude north (≈167 km straight, more by road): past the limits.
    far_lat = site.latitude + 1.5
    Patient.objects.filter(pk=patient.pk).update(home_latitude=far_lat)
    far = appointment_book(
        actor=network.users["coordinator"],
        patient_id=patient.pk,
        modality="in-person",
        site_id=site.pk,
        starts_at=now + timedelta(days=3),
        now=now,
    )
    straight = haversine_km(far_lat, site.longitude, site.latitude, site.longitude)
    assert 160 < straight < 170
    assert far.travel_minutes is not None
    assert far.travel_minutes > 120
    assert far.suggested[0] == "video"
    assert "home-visit" in far.suggested
    # With an open connectivity barrier, a home visit comes first.
    barrier_record(
        actor=network.users["coordinator"],
        patient_id=patient.pk,
        kind="connectivity",
        source="coordinator",
        note="",
        now=now,
    )
    again = appointment_book(
        actor=network.users["coordinator"],
        patient_id=patient.pk,
        modality="in-person",
        site_id=site.pk,
        starts_at=now + timedelta(days=4),
        now=now,
    )
    assert again.suggested[0] == "home-visit"


def test_bad_booking_names_the_field_and_stores_nothing(network: Network) -> None:
    now = timezone.now()
    with pytest.raises(InvalidInput) as bad:
        appointment_book(
            actor=network.users["coordinator"],
            patient_id=network.patients["a1"].pk,
            modality="carrier-pigeon",
            starts_at=(now + timedelta(days=1)).replace(tzinfo=None),
            now=now,
            minutes=0,
        )
    assert {p.field for p in bad.value.problems} == {"modality", "starts_at", "minutes"}
    with pytest.raises(InvalidInput) as no_place:
        appointment_book(
            actor=network.users["coordinator"],
            patient_id=network.patients["a1"].pk,
            modality="in-person",
            starts_at=now + timedelta(days=1),
            now=now,
        )
    assert [p.field for p in no_place.value.problems] == ["site"]
    with pytest.raises(NotFound):  # a patient of another site is not there at all
        appointment_book(
            actor=network.users["coordinator"],
            patient_id=network.patients["b1"].pk,
            modality="phone",
            starts_at=now + timedelta(days=1),
            now=now,
        )
    with pytest.raises(Forbidden):
        appointment_book(
            actor=network.users["peer"],
            patient_id=network.patients["a1"].pk,
            modality="phone",
            starts_at=now + timedelta(days=1),
            now=now,
        )
    assert not Appointment.objects.exists()


def test_attendance_rules(network: Network) -> None:
    now = timezone.now()
    appointment = appointment_book(
        actor=network.users["coordinator"],
        patient_id=network.patients["a1"].pk,
        modality="phone",
        starts_at=now + timedelta(days=1),
        now=now,
    )
    with pytest.raises(InvalidInput) as future:
        appointment_attendance(
            actor=network.users["coordinator"],
            appointment_id=appointment.pk,
            attendance="attended",
            now=now,
        )
    assert future.value.problems[0].field == "attendance"
    with pytest.raises(InvalidInput) as reason:
        appointment_attendance(
            actor=network.users["coordinator"],
            appointment_id=appointment.pk,
            attendance="cancelled-patient",
            cancellation_reason="abducted-by-aliens",
            now=now,
        )
    assert "abducted-by-aliens" in reason.value.problems[0].message
    appointment.refresh_from_db()
    assert appointment.attendance == ""


def test_barrier_actions_keep_their_history_and_are_audited(network: Network) -> None:
    now = timezone.now()
    coordinator = network.users["coordinator"]
    barrier = barrier_record(
        actor=coordinator,
        patient_id=network.patients["a1"].pk,
        kind="transport",
        source="coordinator",
        note="No bus on Tuesdays.",
        now=now,
    )
    barrier_act(
        actor=coordinator,
        barrier_id=barrier.pk,
        action="ride-or-voucher",
        status="in_progress",
        note="Volunteer driver booked.",
        now=now,
    )
    barrier_act(
        actor=coordinator,
        barrier_id=barrier.pk,
        action="",
        status="resolved",
        note="",
        now=now + timedelta(days=1),
    )
    barrier = Barrier.objects.get(pk=barrier.pk)
    assert (barrier.status, barrier.action) == ("resolved", "ride-or-voucher")
    assert barrier.closed_at == now + timedelta(days=1)
    history = list(BarrierAction.objects.filter(barrier=barrier).values_list("action", "status"))
    assert history == [("ride-or-voucher", "in_progress"), ("", "resolved")]
    assert AuditEvent.objects.filter(action="barrier.acted", object_id=str(barrier.pk)).count() == 2
    with pytest.raises(InvalidInput) as bad:
        barrier_act(
            actor=coordinator,
            barrier_id=barrier.pk,
            action="teleport",
            status="sideways",
            note="",
            now=now,
        )
    assert {p.field for p in bad.value.problems} == {"action", "status"}
    with pytest.raises(NotFound):
        barrier_act(
            actor=network.users["coordinator_b"],
            barrier_id=barrier.pk,
            action="subsidy",
            status="open",
            note="",
            now=now,
        )


def test_three_unanswered_check_ins_flag_the_episode_disengaged(network: Network) -> None:
    from stepwell.apps.coordination.models import Reminder

    patient = network.patients["a1"]
    now = timezone.now()

    def prompt(days_ago: int, answered: bool = False) -> None:
        at = now - timedelta(days=days_ago)
        Reminder.objects.create(
            key=f"check-in:test:{days_ago}",
            kind="check-in",
            patient=patient,
            channel="sms",
            send_at=at,
            status="queued",
            handled_at=at,
            answered_at=at + timedelta(hours=1) if answered else None,
            created_at=at,
        )

    prompt(20)
    prompt(13)
    prompt(1)  # sent yesterday: still within its 3-day reply window, not yet unanswered
    assert "disengaged" not in _flags(network)
    prompt(6)
    assert "disengaged" in _flags(network)  # 20, 13 and 6 days ago, none answered
    prompt(4, answered=True)
    assert "disengaged" not in _flags(network)
