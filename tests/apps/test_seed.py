"""`stepwell seed` stores a whole synthetic region through the bulk paths."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from stepwell.apps.accounts.models import User
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.coordination.content import coordination_rules
from stepwell.apps.coordination.models import (
    Appointment,
    Barrier,
    BarrierAction,
    Goal,
    GoalRating,
    Referral,
    Reminder,
)
from stepwell.apps.coordination.selectors import coordinator_home
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.measurement.registry import instrument
from stepwell.apps.network.models import Site
from stepwell.apps.outbox.models import Notification
from stepwell.apps.patients.models import CareTeamMember, Episode, Patient, StepChange
from stepwell.apps.peers.matching import matching_run_approve, matching_run_create
from stepwell.apps.peers.models import (
    GroupSession,
    PeerEncounter,
    PeerGroup,
    PeerMatch,
    PeerProfile,
    PeerState,
    PeerSupportRequest,
    RematchRequest,
    SupervisionSession,
    TrainingCompletion,
)
from stepwell.domain.instruments.scoring import score
from stepwell.domain.synthetic.region import generate_region


def _request() -> HttpRequest:
    return RequestFactory().post("/accounts/login/")


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed", "--no-progress", "--today", "2026-11-23", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_stores_a_complete_region() -> None:
    output = _seed("--patients", "120", "--seed", "7")
    assert "Seeded 12 sites" in output
    assert Site.objects.count() == 12
    assert Patient.objects.count() == 120
    assert Episode.objects.count() == 120
    assert CareTeamMember.objects.count() == 120
    assert StepChange.objects.count() >= 120
    assert set(Episode.objects.values_list("current_step", flat=True)) == {1, 2, 3, 4}
    assert set(Patient.objects.values_list("preferred_language", flat=True)) == {"en", "es"}
    assert set(Site.objects.values_list("kind", flat=True)) >= {
        "regional-hospital",
        "tertiary-centre",
    }
    roles = set(User.objects.values_list("role", flat=True))
    assert roles == {
        "patient",
        "chw",
        "clinician",
        "coordinator",
        "peer",
        "peer_supervisor",
        "manager",
        "admin",
    }
    # Every episode has its starting entry in the step history.
    assert not Episode.objects.exclude(step_changes__from_step__isnull=True).exists()
    assert AuditEvent.objects.filter(action="region.seeded").count() == 1
    # Assessment histories: stored through COPY/executemany, JSON columns read back as
    # Python values, every stored score what the scoring rules give for the stored answers.
    assessments = list(Assessment.objects.all())
    assert len(assessments) > 120
    assert f"{len(assessments)} assessments" in output
    assert {a.instrument for a in assessments} >= {"PHQ-9", "GAD-7", "PHQ-15", "WSAS", "UCLA-3"}
    for a in assessments[:400]:
        definition = instrument(a.instrument)
        assert definition is not None
        result = score(definition, a.answers)
        assert (a.total, a.band, a.prorated, a.missing, a.safety) == (
            result.total,
            result.band,
            result.prorated,
            list(result.missing),
            list(result.safety),
        )
        assert a.episode is not None
        assert a.episode.patient_id == a.patient_id
    demo = Patient.objects.get(user__username="demo-patient")
    assert demo.assessments.filter(instrument="PHQ-9").exists()
    fresh = Assessment.objects.create(
        patient=demo,
        instrument="PHQ-9",
        instrument_version="1.0",
        answers=[0] * 9,
        total=0,
        band="minimal",
        taken_at="2026-11-23T10:00:00Z",
        mode="portal",
        created_at="2026-11-23T10:00:00Z",
    )
    assert fresh.pk > max(a.pk for a in assessments)
    # New rows after a bulk load get fresh ids (sequences moved past the loaded block).
    site = Site.objects.first()
    assert site is not None
    assert (
        Patient.objects.create(
            record_number="SW-NEWROW01",
            given_name="N",
            family_name="Testwell",
            birth_date="1990-01-01",
            sex="male",
            gender="man",
            preferred_language="en",
            preferred_channel="none",
            site=site,
            created_at="2026-11-23T10:00:00Z",
        ).pk
        > 120
    )


@pytest.mark.django_db
def test_demo_logins_work_for_every_role() -> None:
    _seed("--patients", "60")
    for name in (
        "admin",
        "clinician",
        "coordinator",
        "chw",
        "peer",
        "supervisor",
        "manager",
        "patient",
    ):
        user = authenticate(_request(), username=f"demo-{name}", password="stepwell-demo")
        assert user is not None, name
    demo_patient = Patient.objects.get(user__username="demo-patient")
    assert PeerMatch.objects.filter(
        peer__username="demo-peer", patient=demo_patient, status="active"
    ).exists()
    # Other synthetic accounts cannot log in: they have no usable password.
    assert authenticate(_request(), username="clinician-002", password="stepwell-demo") is None


@pytest.mark.django_db
def test_seed_refuses_a_database_with_a_region() -> None:
    _seed("--patients", "10")
    with pytest.raises(CommandError, match="already has sites or patients"):
        _seed("--patients", "10")
    assert "not seeding" in _seed("--patients", "10", "--if-empty")
    assert Patient.objects.count() == 10


@pytest.mark.django_db
def test_seed_rejects_a_bad_patient_count() -> None:
    with pytest.raises(CommandError, match="--patients: 0"):
        _seed("--patients", "0")
    assert not Site.objects.exists()


@pytest.mark.django_db
def test_same_seed_same_region() -> None:
    _seed("--patients", "30", "--seed", "3")
    first = list(
        Patient.objects.order_by("id").values_list("record_number", "given_name", "birth_date")
    )
    assert len(first) == 30
    again = generate_region(patients=30, seed=3, today=date(2026, 11, 23))
    assert [(p.record_number, p.given_name, p.birth_date) for p in again.patients] == first


@pytest.mark.django_db
def test_seed_stores_a_living_peer_programme() -> None:
    output = _seed("--patients", "200", "--seed", "7", "--no-assessments")
    assert "Peer programme:" in output
    states = Counter(PeerProfile.objects.values_list("state", flat=True))
    assert set(states) == set(PeerState.values)
    assert states[PeerState.ACTIVE] > sum(states.values()) / 2
    assert PeerProfile.objects.count() == User.objects.filter(role="peer").count()
    # Active matches only for patients who consented, approved by a supervisor of the site.
    active = PeerMatch.objects.filter(status="active").select_related("patient", "approved_by")
    assert active
    for m in active:
        assert m.patient.consent_peer_support
        assert m.approved_by is not None
        assert m.approved_by.role == "peer_supervisor"
        assert m.approved_by.memberships.filter(site_id=m.patient.site_id).exists()
    assert not PeerMatch.objects.filter(status="active", peer__peer_profile__state="paused")
    # The waiting list, and a match ended at the patient's request (who waits again).
    waiting = PeerSupportRequest.objects.filter(matched_at__isnull=True)
    assert waiting.count() >= 3
    assert not waiting.filter(patient__peer_matches__status="active").exists()
    rematch = RematchRequest.objects.first()
    assert rematch is not None
    assert PeerMatch.objects.filter(
        patient=rematch.patient, peer=rematch.peer, status="ended", ended_at__isnull=False
    ).exists()
    assert waiting.filter(patient=rematch.patient).exists()
    assert TrainingCompletion.objects.exists()
    # Encounters: disclosed barriers are barrier records, as the encounter service makes them.
    encounters = PeerEncounter.objects.all()
    assert encounters.count() > active.count()
    assert not encounters.exclude(concern="").exists()
    disclosed = {(e.pk, kind) for e in encounters for kind in e.barriers}
    barriers = Barrier.objects.filter(peer_encounter__isnull=False)
    assert disclosed
    assert set(barriers.values_list("peer_encounter_id", "kind")) == disclosed
    assert set(barriers.values_list("source", flat=True)) == {"peer-encounter"}
    for b in barriers.select_related("peer_encounter"):
        assert b.peer_encounter is not None
        assert b.patient_id == b.peer_encounter.patient_id
        assert b.raised_by_id == b.peer_encounter.peer_id
    # Supervision with attendees and reviewed encounters (many-to-many rows).
    assert SupervisionSession.attendees.through.objects.exists()
    assert SupervisionSession.encounters_reviewed.through.objects.exists()
    # Groups: facilitated by peers, attended by members only.
    assert set(PeerGroup.objects.values_list("kind", flat=True)) == {
        "peer-support-group",
        "tele-support-group",
    }
    for group in PeerGroup.objects.prefetch_related("facilitators", "members"):
        assert group.facilitators.all()
        assert {u.role for u in group.facilitators.all()} == {"peer"}
        members = {p.pk for p in group.members.all()}
        assert members
        assert all(p.consent_peer_support for p in group.members.all())
        sessions = GroupSession.objects.filter(group=group).prefetch_related("attended")
        assert sessions
        for session in sessions:
            assert {p.pk for p in session.attended.all()} <= members
    assert GroupSession.attended.through.objects.exists()


@pytest.mark.django_db
def test_a_matching_run_on_the_seeded_region_has_work_to_do() -> None:
    _seed("--patients", "300", "--seed", "1", "--no-assessments")
    supervisor = User.objects.get(username="demo-supervisor")
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    run = matching_run_create(actor=supervisor, now=now)
    assert run.waiting > 0
    assert run.proposals.exists()
    codes = {r["code"] for x in run.excluded_peers for r in x["reasons"]}
    assert {"certification-expired", "supervision-overdue", "not-active"} <= codes
    # The demo peer is in good standing; proposals never repeat a refused pair.
    demo_peer = User.objects.get(username="demo-peer")
    assert demo_peer.pk not in {x["peer"] for x in run.excluded_peers}
    refused = set(RematchRequest.objects.values_list("patient_id", "peer_id"))
    assert not refused & set(run.proposals.values_list("patient_id", "peer_id"))
    # Approving stores new matches after the bulk-loaded ones (sequences moved past them).
    proposed = run.proposals.count()
    made = matching_run_approve(actor=supervisor, run_id=run.pk, now=now)
    assert len(made) == proposed
    assert min(m.pk for m in made) > max(
        PeerMatch.objects.exclude(run=run).values_list("id", flat=True)
    )


@pytest.mark.django_db
def test_seed_stores_a_coordinators_day() -> None:
    """Care coordination goes in with the region (bulk paths), within the models' rules,
    and the demo coordinator starts the day with appointments, barriers and an overdue
    urgent referral on their home."""
    _seed("--patients", "300", "--seed", "1", "--no-assessments")
    now = timezone.now()
    appointments = Appointment.objects.all()
    assert appointments.count() > 300
    # Attendance only once an appointment has begun, reasons only with a cancellation.
    assert not appointments.filter(starts_at__gt=now).exclude(attendance="").exists()
    assert appointments.filter(starts_at__lte=now).exclude(attendance="").exists()
    assert not appointments.exclude(cancellation_reason="").exclude(
        attendance__in=["cancelled-patient", "cancelled-service"]
    )
    assert appointments.filter(cancellation_reason="transport").exists()
    assert appointments.exclude(suggested=[]).exists()
    assert set(appointments.values_list("modality", flat=True)) <= set(
        coordination_rules().modalities
    )
    staff_barriers = Barrier.objects.filter(source__in=["coordinator", "chw"])
    assert set(staff_barriers.values_list("status", flat=True)) >= {
        "open",
        "in_progress",
        "resolved",
    }
    assert BarrierAction.objects.filter(barrier__in=staff_barriers).exists()
    assert Appointment.objects.filter(barrier__isnull=False).exists()
    assert Goal.objects.exists()
    ratings = GoalRating.objects.all()
    assert ratings.count() > Goal.objects.count()
    assert all(0 <= r <= 10 for r in ratings.values_list("rating", flat=True))
    referrals = list(Referral.objects.select_related("from_site", "to_site"))
    assert referrals
    hours = coordination_rules().referrals.accept_within_hours
    for r in referrals:
        assert r.from_site_id != r.to_site_id
        assert (r.deadline_at - r.sent_at).total_seconds() == hours[r.urgency] * 3600
    assert Appointment.objects.filter(referral__isnull=False).exists()
    # Reminders: planned ones wait; handed-over ones have their outbox message.
    assert Reminder.objects.filter(status="planned", send_at__gt=now).exists()
    for reminder in Reminder.objects.filter(status="queued").select_related("notification"):
        assert reminder.notification is not None
        assert reminder.notification.ref_id == reminder.pk
        assert reminder.notification.key == f"reminder:{reminder.key}"
        assert reminder.notification.status in ("sent", "failed")
    assert Notification.objects.count() == Reminder.objects.filter(status="queued").count()
    seeded = AuditEvent.objects.get(action="region.seeded")
    assert seeded.details["appointments"] == appointments.count()
    assert seeded.details["referrals"] == len(referrals)

    coordinator = User.objects.get(username="demo-coordinator")
    home = coordinator_home(user=coordinator, now=timezone.now(), language="en")
    zone = coordination_rules().default.zone
    today = timezone.localtime(now, zone).date()
    assert len(home.appointments_today) >= 5
    assert {timezone.localtime(a.starts_at, zone).date() for a in home.appointments_today} == {
        today
    }
    assert home.barriers
    assert {b.status for b in home.barriers} <= {"open", "in_progress"}
    assert any(r.overdue and r.urgency == "urgent" for r in home.urgent_referrals)

    out = StringIO()
    call_command("demo_info", stdout=out)
    assert "/referrals/" in out.getvalue()
