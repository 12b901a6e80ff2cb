"""Care-coordination writes: barriers and their actions, goals, referrals, appointments.

Each write is one transaction, checks the patient is visible to the actor (NotFound
otherwise, as for a patient that does not exist) and writes its audit event."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from stepwell.apps.access.selectors import Visibility, visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.content import barrier_vocabulary, coordination_rules
from stepwell.apps.coordination.models import (
    Appointment,
    Attendance,
    Barrier,
    BarrierAction,
    BarrierSource,
    BarrierStatus,
    Goal,
    GoalRating,
    Referral,
    ReferralStatus,
    Urgency,
)
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.network.models import Site
from stepwell.apps.patients.models import Episode, EpisodeStatus, Patient
from stepwell.domain.access.policy import Role
from stepwell.domain.coordination import referrals as referral_rules
from stepwell.domain.coordination.appointments import attendance_problem
from stepwell.domain.coordination.rules import CoordinationRules, Modality
from stepwell.domain.coordination.travel import (
    SiteLocation,
    SiteTravel,
    suggest,
    travel_to_sites,
)
from stepwell.domain.records import FieldProblem

MAX_NOTE = 2000
MAX_GOAL = 300
# Who arranges care: barrier actions, referrals, appointments.
CARE_TEAM_ROLES = frozenset({Role.COORDINATOR, Role.CHW, Role.CLINICIAN})
# How far ahead an appointment may be booked, and how far back one may be entered late.
BOOK_AHEAD = timedelta(days=366)
BOOK_BEHIND = timedelta(days=31)


def _visible_patient(actor: User, patient_id: int, now: datetime) -> tuple[Patient, Visibility]:
    vis = visibility_for(actor, now=now)
    patient = vis.patients.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("patient")
    return patient, vis


def _care_team_only(actor: User) -> None:
    if actor.role not in CARE_TEAM_ROLES:
        raise Forbidden("only a coordinator, community health worker or clinician may do this")


def _note(value: str, problems: list[FieldProblem], field: str = "note") -> str:
    text = (value or "").strip()
    if len(text) > MAX_NOTE:
        problems.append(FieldProblem(field, f"{len(text)} characters; at most {MAX_NOTE}"))
    return text


def _open_episode(patient: Patient) -> Episode | None:
    return (
        Episode.objects.filter(patient=patient)
        .exclude(status=EpisodeStatus.DISCHARGED)
        .select_related("site")
        .first()
    )


@transaction.atomic
def barrier_record(
    *,
    actor: User,
    patient_id: int,
    kind: str,
    source: str,
    note: str,
    now: datetime,
    peer_encounter_id: int | None = None,
) -> Barrier:
    """A barrier to care for a patient the actor sees (coordinator, CHW, clinician, a peer
    for a matched patient, the patient themself); it waits, open, on the coordinator's list."""
    vis = visibility_for(actor, now=now)
    patient = vis.patients.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("patient")
    vocabulary = barrier_vocabulary()
    problems: list[FieldProblem] = []
    if kind not in vocabulary.kinds:
        problems.append(
            FieldProblem("barriers", f"{kind!r} is not one of " + ", ".join(vocabulary.kinds))
        )
    if source not in BarrierSource.values:
        problems.append(FieldProblem("source", f"{source!r} is not a barrier source"))
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        problems.append(FieldProblem("note", f"{len(note)} characters; at most {MAX_NOTE}"))
    if problems:
        raise InvalidInput(problems)
    barrier = Barrier.objects.create(
        patient=patient,
        kind=kind,
        source=source,
        peer_encounter_id=peer_encounter_id,
        note=note,
        raised_by=actor,
        raised_at=now,
        updated_at=now,
    )
    audit_record(
        actor=actor,
        action="barrier.recorded",
        now=now,
        patient_id=patient.pk,
        object_type="barrier",
        object_id=barrier.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
        details={"kind": kind, "source": source},
    )
    return barrier


@transaction.atomic
def barrier_act(
    *,
    actor: User,
    barrier_id: int,
    action: str,
    status: str,
    note: str,
    now: datetime,
) -> Barrier:
    """Record what was done about a barrier (an action code, or "" for a status change or a
    note only) and its status after it. A closed barrier (resolved, could not resolve) may
    be reopened by setting it open or in progress."""
    _care_team_only(actor)
    barrier = Barrier.objects.select_for_update().filter(pk=barrier_id).first()
    if barrier is None:
        raise NotFound("barrier")
    patient, vis = _visible_patient(actor, barrier.patient_id, now)
    problems: list[FieldProblem] = []
    vocabulary = barrier_vocabulary()
    if action and action not in vocabulary.actions:
        problems.append(
            FieldProblem("action", f"{action!r} is not one of " + ", ".join(vocabulary.actions))
        )
    if status not in BarrierStatus.values:
        problems.append(
            FieldProblem("status", f"{status!r} is not one of " + ", ".join(BarrierStatus.values))
        )
    text = _note(note, problems)
    if not action and status == barrier.status and not text:
        problems.append(FieldProblem("action", "give an action, a new status or a note"))
    if problems:
        raise InvalidInput(problems)
    before = barrier.status
    BarrierAction.objects.create(
        barrier=barrier, action=action, status=status, note=text, by=actor, at=now
    )
    barrier.status = status
    if action:
        barrier.action = action
    closed = status in (BarrierStatus.RESOLVED, BarrierStatus.UNRESOLVED)
    barrier.closed_at = now if closed else None
    barrier.updated_at = now
    barrier.save(update_fields=["status", "action", "closed_at", "updated_at"])
    audit_record(
        actor=actor,
        action="barrier.acted",
        now=now,
        patient_id=patient.pk,
        object_type="barrier",
        object_id=barrier.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
        details={"action": action, "from": before, "to": status},
    )
    return barrier


@transaction.atomic
def goal_create(*, actor: User, patient_id: int, text: str, now: datetime) -> Goal:
    """A goal in the patient's words, for the patient themself or their care team."""
    patient, vis = _visible_patient(actor, patient_id, now)
    if actor.role != Role.PATIENT:
        _care_team_only(actor)
    words = " ".join((text or "").split())
    if not words:
        raise InvalidInput([FieldProblem("text", "say what matters, e.g. walking to the market")])
    if len(words) > MAX_GOAL:
        raise InvalidInput([FieldProblem("text", f"{len(words)} characters; at most {MAX_GOAL}")])
    goal = Goal.objects.create(
        patient=patient,
        episode=_open_episode(patient),
        text=words,
        created_by=actor,
        created_at=now,
    )
    audit_record(
        actor=actor,
        action="goal.created",
        now=now,
        patient_id=patient.pk,
        object_type="goal",
        object_id=goal.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
    )
    return goal


@transaction.atomic
def goal_rate(
    *, actor: User, goal_id: int, rating: object, now: datetime, rated_at: datetime | None = None
) -> GoalRating:
    """How near the goal the patient feels, 0 (not at all) to 10 (fully)."""
    goal = Goal.objects.filter(pk=goal_id).first()
    if goal is None:
        raise NotFound("goal")
    patient, vis = _visible_patient(actor, goal.patient_id, now)
    if actor.role != Role.PATIENT:
        _care_team_only(actor)
    problems: list[FieldProblem] = []
    if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 10:
        problems.append(FieldProblem("rating", f"{rating!r} is not a whole number from 0 to 10"))
    when = rated_at or now
    if when.tzinfo is None:
        problems.append(FieldProblem("rated_at", "needs a time zone"))
    elif when > now + timedelta(minutes=5):
        problems.append(FieldProblem("rated_at", f"{when.isoformat()} is in the future"))
    if goal.closed_at is not None:
        problems.append(FieldProblem("goal", "this goal is closed"))
    if problems:
        raise InvalidInput(problems)
    assert isinstance(rating, int)
    row = GoalRating.objects.create(goal=goal, rating=rating, rated_at=when, recorded_by=actor)
    audit_record(
        actor=actor,
        action="goal.rated",
        now=now,
        patient_id=patient.pk,
        object_type="goal",
        object_id=goal.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
        details={"rating": rating},
    )
    return row


@transaction.atomic
def referral_send(
    *,
    actor: User,
    patient_id: int,
    to_site_id: int,
    reason: str,
    urgency: str,
    now: datetime,
    from_site_id: int | None = None,
) -> Referral:
    """Refer a patient from one of the actor's sites (the patient's open episode's site by
    default) to another site. Its acceptance deadline follows ``access.yaml``."""
    if actor.role not in (Role.CLINICIAN, Role.COORDINATOR):
        raise Forbidden("only a clinician or coordinator may refer")
    patient, vis = _visible_patient(actor, patient_id, now)
    episode = _open_episode(patient)
    problems: list[FieldProblem] = []
    own_sites = set(actor.memberships.values_list("site_id", flat=True))
    if from_site_id is None:
        from_site_id = episode.site_id if episode and episode.site_id in own_sites else None
        if from_site_id is None and own_sites:
            from_site_id = patient.site_id if patient.site_id in own_sites else min(own_sites)
    if from_site_id not in own_sites:
        problems.append(FieldProblem("from_site", "refer from one of your own sites"))
    to_site = Site.objects.filter(pk=to_site_id, active=True).first()
    if to_site is None:
        problems.append(FieldProblem("to_site", f"no active site {to_site_id}"))
    elif to_site.pk == from_site_id:
        problems.append(FieldProblem("to_site", "a referral goes to another site"))
    if urgency not in Urgency.values:
        problems.append(
            FieldProblem("urgency", f"{urgency!r} is not one of " + ", ".join(Urgency.values))
        )
    text = _note(reason, problems, "reason")
    if not text:
        problems.append(FieldProblem("reason", "say why the patient is referred"))
    if problems:
        raise InvalidInput(problems)
    assert to_site is not None
    assert from_site_id is not None
    deadline = referral_rules.acceptance_deadline(now, urgency, coordination_rules().referrals)
    referral = Referral.objects.create(
        patient=patient,
        episode=episode,
        from_site_id=from_site_id,
        to_site=to_site,
        reason=text,
        urgency=urgency,
        sent_by=actor,
        sent_at=now,
        deadline_at=deadline,
        updated_at=now,
    )
    audit_record(
        actor=actor,
        action="referral.sent",
        now=now,
        patient_id=patient.pk,
        object_type="referral",
        object_id=referral.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
        details={"to_site": to_site.pk, "urgency": urgency},
    )
    return referral


def _referral_for_update(actor: User, referral_id: int) -> Referral:
    # The sending or receiving side: the receiving site before it has access. A subquery,
    # not a join: PostgreSQL refuses FOR UPDATE with DISTINCT (and a join would lock the
    # membership rows too).
    sites = actor.memberships.values_list("site_id", flat=True)
    referral = (
        Referral.objects.select_for_update()
        .filter(pk=referral_id)
        .filter(Q(from_site_id__in=sites) | Q(to_site_id__in=sites))
        .first()
    )
    if referral is None:
        raise NotFound("referral")
    return referral


def _referral_move_check(
    referral: Referral,
    status: str,
    receiving: bool,
    note: str,
    scheduled_for: datetime | None,
) -> str:
    """The note of a valid move; InvalidInput naming each problem otherwise."""
    problems: list[FieldProblem] = []
    if status not in ReferralStatus.values:
        problems.append(
            FieldProblem("status", f"{status!r} is not one of " + ", ".join(ReferralStatus.values))
        )
    else:
        problem = referral_rules.transition_problem(referral.status, status)
        if problem:
            problems.append(FieldProblem("status", problem))
        elif status != ReferralStatus.CANCELLED and not receiving:
            problems.append(FieldProblem("status", "only the receiving site may do this"))
    if status == ReferralStatus.SCHEDULED and (
        scheduled_for is None or scheduled_for.tzinfo is None
    ):
        problems.append(FieldProblem("scheduled_for", "give the date and time, with zone"))
    text = _note(note, problems)
    if status in (ReferralStatus.DECLINED, ReferralStatus.CANCELLED) and not text:
        problems.append(FieldProblem("note", f"say why the referral is {status}"))
    if problems:
        raise InvalidInput(problems)
    return text


@transaction.atomic
def referral_update(
    *,
    actor: User,
    referral_id: int,
    status: str,
    now: datetime,
    note: str = "",
    scheduled_for: datetime | None = None,
) -> Referral:
    """Move a referral on: the receiving site accepts, declines, schedules and sees it; the
    sending site may cancel. Accepting lets the receiving site's care team see the patient
    (audited ``referral.access_granted``)."""
    if actor.role not in (Role.CLINICIAN, Role.COORDINATOR):
        raise Forbidden("only a clinician or coordinator may update a referral")
    referral = _referral_for_update(actor, referral_id)
    receiving = actor.memberships.filter(site_id=referral.to_site_id).exists()
    text = _referral_move_check(referral, status, receiving, note, scheduled_for)
    before = referral.status
    referral.status = status
    referral.updated_at = now
    if status == ReferralStatus.ACCEPTED or (
        status in (ReferralStatus.SCHEDULED, ReferralStatus.SEEN) and referral.accepted_at is None
    ):
        referral.accepted_at, referral.accepted_by = now, actor
    if status == ReferralStatus.SCHEDULED:
        referral.scheduled_for = scheduled_for
    if status == ReferralStatus.SEEN:
        referral.seen_at = now
    if status in (ReferralStatus.DECLINED, ReferralStatus.CANCELLED):
        referral.closed_at = now
        referral.status_note = text
    referral.save()
    audit_record(
        actor=actor,
        action="referral.updated",
        now=now,
        patient_id=referral.patient_id,
        object_type="referral",
        object_id=referral.pk,
        details={"from": before, "to": status},
    )
    if before == ReferralStatus.SENT and status in (
        ReferralStatus.ACCEPTED,
        ReferralStatus.SCHEDULED,
        ReferralStatus.SEEN,
    ):
        audit_record(
            actor=actor,
            action="referral.access_granted",
            now=now,
            patient_id=referral.patient_id,
            object_type="site",
            object_id=referral.to_site_id,
            details={"referral": referral.pk},
        )
    return referral


def referrals_flag_overdue(*, now: datetime) -> int:
    """Mark referrals still ``sent`` after their acceptance deadline (the worker's job).
    Idempotent: a flagged referral keeps its first ``overdue_at``. Returns how many."""
    with transaction.atomic():
        due = Referral.objects.filter(
            status=ReferralStatus.SENT, deadline_at__lte=now, overdue_at__isnull=True
        )
        ids = list(due.values_list("id", flat=True))
        Referral.objects.filter(id__in=ids).update(overdue_at=now)
        for rid in ids:
            audit_record(
                actor=None,
                action="referral.overdue",
                now=now,
                object_type="referral",
                object_id=rid,
            )
    return len(ids)


def travel_from_home(patient: Patient, sites: list[Site]) -> dict[int, SiteTravel]:
    """One-way travel from the patient's home to each site, by site id (empty without a
    home location)."""
    home = (
        (patient.home_latitude, patient.home_longitude)
        if patient.home_latitude is not None and patient.home_longitude is not None
        else None
    )
    rows = travel_to_sites(
        home,
        [SiteLocation(s.pk, s.latitude, s.longitude) for s in sites],
        coordination_rules().travel,
    )
    return {r.site_id: r for r in rows}


def sites_for_step(patient: Patient) -> list[Site]:
    """Active sites offering the patient's current step (any site without an open episode)."""
    step = (
        Episode.objects.filter(patient=patient)
        .exclude(status=EpisodeStatus.DISCHARGED)
        .values_list("current_step", flat=True)
        .first()
    )
    return [
        s
        for s in Site.objects.filter(active=True)
        if step is None or step in (s.steps_offered or [])
    ]


def nearest_site_travel(patient: Patient) -> SiteTravel | None:
    """Travel to the nearest site offering the patient's step (None without a home)."""
    travel = travel_from_home(patient, sites_for_step(patient))
    return min(travel.values(), key=lambda t: (t.minutes, t.site_id), default=None)


def has_connectivity_barrier(patient: Patient) -> bool:
    """An open connectivity barrier makes a home visit, not video, the first suggestion."""
    return Barrier.objects.filter(
        patient=patient,
        kind="connectivity",
        status__in=[BarrierStatus.OPEN, BarrierStatus.IN_PROGRESS],
    ).exists()


def _booking_time(
    starts_at: datetime, now: datetime, minutes: int, problems: list[FieldProblem]
) -> None:
    if starts_at.tzinfo is None:
        problems.append(FieldProblem("starts_at", "needs a time zone (e.g. 2026-12-01T10:00Z)"))
    elif not now - BOOK_BEHIND <= starts_at <= now + BOOK_AHEAD:
        problems.append(
            FieldProblem(
                "starts_at", f"{starts_at.isoformat()} is not within a month back and a year ahead"
            )
        )
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 5 <= minutes <= 480:
        problems.append(FieldProblem("minutes", f"{minutes!r}: from 5 to 480 minutes"))


def _booking_links(
    patient: Patient,
    staff_id: int | None,
    barrier_id: int | None,
    referral_id: int | None,
    problems: list[FieldProblem],
) -> tuple[User | None, Barrier | None, Referral | None]:
    """The staff member, barrier and referral a booking names, if it names them."""
    staff = barrier = referral = None
    if staff_id is not None:
        staff = User.objects.filter(pk=staff_id, is_active=True).first()
        if staff is None or staff.role == Role.PATIENT:
            problems.append(FieldProblem("staff", f"no staff member {staff_id}"))
    if barrier_id is not None:
        barrier = Barrier.objects.filter(pk=barrier_id, patient=patient).first()
        if barrier is None:
            problems.append(FieldProblem("barrier", f"no barrier {barrier_id} for this patient"))
    if referral_id is not None:
        referral = Referral.objects.filter(pk=referral_id, patient=patient).first()
        if referral is None:
            problems.append(FieldProblem("referral", f"no referral {referral_id} for this patient"))
    return staff, barrier, referral


def _booking_check(
    patient: Patient,
    rules: CoordinationRules,
    modality: str,
    starts_at: datetime,
    now: datetime,
    minutes: int,
    site_id: int | None,
    address: str,
    staff_id: int | None,
    barrier_id: int | None,
    referral_id: int | None,
) -> tuple[Modality, Site | None, User | None, Barrier | None, Referral | None]:
    """The booking's parts, looked up and checked; InvalidInput naming each problem."""
    problems: list[FieldProblem] = []
    kind = rules.modalities.get(modality)
    if kind is None:
        problems.append(
            FieldProblem("modality", f"{modality!r} is not one of " + ", ".join(rules.modalities))
        )
    _booking_time(starts_at, now, minutes, problems)
    site = Site.objects.filter(pk=site_id, active=True).first() if site_id is not None else None
    if site_id is not None and site is None:
        problems.append(FieldProblem("site", f"no active site {site_id}"))
    if kind is not None and kind.in_person and site is None and not address.strip():
        problems.append(FieldProblem("site", f"a {modality} appointment needs a site or a place"))
    if modality == "home-visit" and site is not None:
        problems.append(FieldProblem("site", "a home visit happens at the patient's home"))
    if len(address) > 300:
        problems.append(FieldProblem("address", "at most 300 characters"))
    staff, barrier, referral = _booking_links(patient, staff_id, barrier_id, referral_id, problems)
    if problems:
        raise InvalidInput(problems)
    assert kind is not None
    return kind, site, staff, barrier, referral


@transaction.atomic
def appointment_book(
    *,
    actor: User,
    patient_id: int,
    modality: str,
    starts_at: datetime,
    now: datetime,
    minutes: int = 45,
    site_id: int | None = None,
    address: str = "",
    staff_id: int | None = None,
    barrier_id: int | None = None,
    referral_id: int | None = None,
) -> Appointment:
    """Book an appointment and plan its reminders. For a modality the patient travels to,
    the travel estimate to the site and the suggestion the rules made are kept with it."""
    from stepwell.apps.coordination.reminders import reminders_plan_appointment

    _care_team_only(actor)
    patient, vis = _visible_patient(actor, patient_id, now)
    rules = coordination_rules()
    kind, site, staff, barrier, referral = _booking_check(
        patient,
        rules,
        modality,
        starts_at,
        now,
        minutes,
        site_id,
        address,
        staff_id,
        barrier_id,
        referral_id,
    )
    # The travel the patient faced when this was booked, whatever was chosen: to the site
    # for an in-person visit, else to the nearest site offering their step (what they would
    # have travelled to). With the modality booked, this shows whether advice was taken.
    travel = (
        travel_from_home(patient, [site]).get(site.pk)
        if kind.in_person and site is not None
        else nearest_site_travel(patient)
    )
    travel_minutes = travel.minutes if travel is not None else None
    suggested: list[str] = []
    if travel is not None:
        advice = suggest(
            travel, rules.travel, connectivity_barrier=has_connectivity_barrier(patient)
        )
        suggested = list(advice.modalities) if advice.over_limit else []
    appointment = Appointment.objects.create(
        patient=patient,
        episode=_open_episode(patient),
        modality=modality,
        site=site,
        address=address.strip(),
        staff=staff,
        starts_at=starts_at,
        minutes=minutes,
        barrier=barrier,
        referral=referral,
        travel_minutes=travel_minutes,
        suggested=suggested,
        booked_by=actor,
        booked_at=now,
    )
    planned = reminders_plan_appointment(appointment, now=now)
    audit_record(
        actor=actor,
        action="appointment.booked",
        now=now,
        patient_id=patient.pk,
        object_type="appointment",
        object_id=appointment.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
        details={"modality": modality, "reminders": planned},
    )
    return appointment


@transaction.atomic
def appointment_attendance(
    *,
    actor: User,
    appointment_id: int,
    attendance: str,
    now: datetime,
    cancellation_reason: str = "",
) -> Appointment:
    """Record what happened: attended, late but seen, cancelled (by whom, and why) or did not
    attend. A did-not-attend counts towards the ``disengaged`` flag; a cancellation drops
    the reminders not sent yet. Recording again corrects the earlier entry (audited)."""
    from stepwell.apps.coordination.reminders import reminders_cancel_for

    _care_team_only(actor)
    appointment = Appointment.objects.select_for_update().filter(pk=appointment_id).first()
    if appointment is None:
        raise NotFound("appointment")
    patient, vis = _visible_patient(actor, appointment.patient_id, now)
    rules = coordination_rules()
    problem = attendance_problem(attendance, cancellation_reason, rules)
    # A known attendance code with a problem: the problem is the cancellation reason.
    field = "attendance" if attendance not in rules.attendance else "cancellation_reason"
    problems = [FieldProblem(field, problem)] if problem else []
    cancelled = attendance in (Attendance.CANCELLED_PATIENT, Attendance.CANCELLED_SERVICE)
    if not cancelled and appointment.starts_at > now:
        problems.append(
            FieldProblem("attendance", "the appointment has not started yet; only a cancellation")
        )
    if problems:
        raise InvalidInput(problems)
    before = appointment.attendance
    appointment.attendance = attendance
    appointment.cancellation_reason = cancellation_reason if cancelled else ""
    appointment.attendance_by = actor
    appointment.attendance_at = now
    appointment.save(
        update_fields=["attendance", "cancellation_reason", "attendance_by", "attendance_at"]
    )
    if cancelled:
        reminders_cancel_for(appointment, now=now)
    if appointment.episode_id and attendance in (Attendance.ATTENDED, Attendance.LATE_SEEN):
        # The first attended contact is the episode's first contact (wait-time evaluation).
        day = appointment.starts_at.date()
        Episode.objects.filter(
            pk=appointment.episode_id, first_contact_date__isnull=True, referral_date__lte=day
        ).update(first_contact_date=day)
    audit_record(
        actor=actor,
        action="appointment.attendance",
        now=now,
        patient_id=patient.pk,
        object_type="appointment",
        object_id=appointment.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
        details={"from": before, "to": attendance, "reason": appointment.cancellation_reason},
    )
    return appointment
