"""Care-coordination reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from stepwell.apps.access.selectors import Visibility, visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record, audit_record_many
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
    Reminder,
    ReminderStatus,
    Urgency,
)
from stepwell.apps.core.errors import NotFound
from stepwell.apps.network.models import Site
from stepwell.apps.outbox.models import DeliveryStatus
from stepwell.domain.access.policy import Role, Scope, View
from stepwell.domain.coordination import referrals as referral_rules
from stepwell.domain.coordination.travel import suggest


@dataclass(frozen=True, slots=True)
class BarrierRow:
    id: int
    patient_id: int
    record_number: str
    patient_name: str
    kind: str
    kind_label: str
    status: str
    source: str
    note: str
    raised_at: datetime


def barriers_open(
    *, user: User, now: datetime, language: str, limit: int = 200
) -> list[BarrierRow]:
    """Open and in-progress barriers of the patients the user sees in full, oldest first:
    the coordinator's list. Audited per patient listed (``barriers.listed``)."""
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL or user.role == Role.PATIENT:
        raise NotFound("barriers")
    vocabulary = barrier_vocabulary()
    rows = list(
        Barrier.objects.filter(
            patient__in=vis.patients,
            status__in=[BarrierStatus.OPEN, BarrierStatus.IN_PROGRESS],
        )
        .order_by("raised_at", "id")
        .values_list(
            "id",
            "patient_id",
            "patient__record_number",
            "patient__given_name",
            "patient__family_name",
            "kind",
            "status",
            "source",
            "note",
            "raised_at",
        )[:limit]
    )
    out = [
        BarrierRow(
            bid,
            pid,
            record,
            f"{given} {family}",
            kind,
            vocabulary.label("kinds", kind, language),
            status,
            source,
            note,
            raised,
        )
        for bid, pid, record, given, family, kind, status, source, note, raised in rows
    ]
    if out:
        audit_record_many(
            actor=user,
            action="barriers.listed",
            now=now,
            patient_ids=list(dict.fromkeys(r.patient_id for r in out)),
            break_glass_ids=vis.break_glass_ids,
        )
    return out


# --- The coordinator's home, appointments, referrals, goals, travel ---------------------


@dataclass(frozen=True, slots=True)
class AppointmentRow:
    id: int
    patient_id: int
    record_number: str
    patient_name: str
    modality: str
    modality_label: str
    starts_at: datetime
    minutes: int
    place: str
    staff_name: str
    attendance: str
    attendance_label: str
    cancellation_reason: str
    travel_minutes: int | None
    suggested: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReferralRow:
    id: int
    patient_id: int
    record_number: str
    from_site: str
    to_site: str
    reason: str
    urgency: str
    status: str
    status_label: str
    sent_at: datetime
    deadline_at: datetime
    overdue: bool
    wait_days: int
    incoming: bool  # to one of the user's sites


@dataclass(frozen=True, slots=True)
class FailedReminderRow:
    reminder_id: int
    patient_id: int
    record_number: str
    kind: str
    channel: str
    status: str  # the reminder's, or the outbox message's when that failed
    error: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CoordinatorHome:
    appointments_today: list[AppointmentRow]
    barriers: list[BarrierRow]
    urgent_referrals: list[ReferralRow]
    failed_reminders: list[FailedReminderRow]


def _full_view_or_404(user: User, now: datetime) -> Visibility:
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL or user.role == Role.PATIENT:
        raise NotFound("coordination")
    return vis


def _appointment_rows(queryset: QuerySet[Appointment], language: str) -> list[AppointmentRow]:
    rules = coordination_rules()
    labels = dict(Attendance.choices)
    out = []
    for a in queryset.select_related("patient", "site", "staff"):
        modality = rules.modalities.get(a.modality)
        out.append(
            AppointmentRow(
                a.pk,
                a.patient_id,
                a.patient.record_number,
                f"{a.patient.given_name} {a.patient.family_name}",
                a.modality,
                modality.label.get(language, a.modality) if modality else a.modality,
                a.starts_at,
                a.minutes,
                a.site.name if a.site else a.address,
                (a.staff.get_full_name() or a.staff.username) if a.staff else "",
                a.attendance,
                str(labels.get(a.attendance, "")),
                a.cancellation_reason,
                a.travel_minutes,
                tuple(a.suggested or ()),
            )
        )
    return out


def _local_day(now: datetime, site_code: str | None) -> tuple[datetime, datetime]:
    """Today in the region's (or the site's) time zone, as an aware [start, end)."""
    zone = coordination_rules().local_for(site_code).zone
    day = timezone.localtime(now, zone).date()
    start = datetime.combine(day, time.min, zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, zone)


def appointments_between(
    *,
    user: User,
    now: datetime,
    start: datetime,
    end: datetime,
    language: str,
    patient_id: int | None = None,
) -> list[AppointmentRow]:
    """Appointments of patients the user sees in full, in [start, end), by time. Audited
    per patient listed (``appointments.listed``)."""
    vis = _full_view_or_404(user, now)
    qs = Appointment.objects.filter(
        patient__in=vis.patients, starts_at__gte=start, starts_at__lt=end
    )
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    rows = _appointment_rows(qs.order_by("starts_at", "id")[:500], language)
    if rows:
        audit_record_many(
            actor=user,
            action="appointments.listed",
            now=now,
            patient_ids=list(dict.fromkeys(r.patient_id for r in rows)),
            break_glass_ids=vis.break_glass_ids,
        )
    return rows


def _wait_days(r: Referral, now: datetime) -> int:
    rules = coordination_rules()
    return referral_rules.wait_days(
        sent_at=r.sent_at,
        sent_zone=rules.local_for(r.from_site.code).zone,
        until=r.seen_at or r.closed_at or now,
        until_zone=rules.local_for(r.to_site.code).zone,
    )


def referrals_for(
    *,
    user: User,
    now: datetime,
    urgent_only: bool = False,
    open_only: bool = True,
    patient_id: int | None = None,
    limit: int = 200,
) -> list[ReferralRow]:
    """Referrals from or to the user's sites (a receiving site sees an incoming referral,
    reason and record number, before it has access to the record: it must decide on it).
    Audited per patient listed (``referrals.listed``)."""
    vis = _full_view_or_404(user, now)
    if vis.policy.scope is Scope.NONE:
        # Not filtered by visibility (see above), so only roles that see patients through
        # their sites: a manager or administrator with a site membership lists nothing.
        raise NotFound("referrals")
    sites = set(user.memberships.values_list("site_id", flat=True))
    qs = Referral.objects.filter(Q(from_site_id__in=sites) | Q(to_site_id__in=sites))
    if open_only:
        qs = qs.filter(
            status__in=[ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.SCHEDULED]
        )
    if urgent_only:
        qs = qs.filter(Q(urgency=Urgency.URGENT) | Q(overdue_at__isnull=False))
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    labels = dict(ReferralStatus.choices)
    rows = [
        ReferralRow(
            r.pk,
            r.patient_id,
            r.patient.record_number,
            r.from_site.name,
            r.to_site.name,
            r.reason,
            r.urgency,
            r.status,
            str(labels[r.status]),
            r.sent_at,
            r.deadline_at,
            referral_rules.is_overdue(r.status, r.deadline_at, now),
            _wait_days(r, now),
            r.to_site_id in sites,
        )
        for r in qs.select_related("patient", "from_site", "to_site").order_by("deadline_at", "id")[
            :limit
        ]
    ]
    if rows:
        audit_record_many(
            actor=user,
            action="referrals.listed",
            now=now,
            patient_ids=list(dict.fromkeys(r.patient_id for r in rows)),
        )
    return rows


def reminders_failed(*, user: User, now: datetime, limit: int = 50) -> list[FailedReminderRow]:
    """Reminders for the user's patients that could not go out: the outbox gave up, is
    retrying after a failure, or there was no address. Newest first; audited."""
    vis = _full_view_or_404(user, now)
    failing = (
        Q(notification__status=DeliveryStatus.FAILED)
        | Q(notification__status=DeliveryStatus.PENDING, notification__attempts__gt=0)
        | Q(status=ReminderStatus.NO_ADDRESS)
    )
    rows = [
        FailedReminderRow(
            r.pk,
            r.patient_id,
            r.patient.record_number,
            r.kind,
            r.channel,
            r.notification.status if r.notification else r.status,
            (r.notification.last_error if r.notification else str(ReminderStatus(r.status).label)),
            r.handled_at or r.send_at,
        )
        for r in Reminder.objects.filter(failing, patient__in=vis.patients)
        .select_related("patient", "notification")
        .order_by("-handled_at", "-id")[:limit]
    ]
    if rows:
        audit_record_many(
            actor=user,
            action="reminders.failures_listed",
            now=now,
            patient_ids=list(dict.fromkeys(r.patient_id for r in rows)),
            break_glass_ids=vis.break_glass_ids,
        )
    return rows


def coordinator_home(*, user: User, now: datetime, language: str) -> CoordinatorHome:
    """What a coordinator starts the day with: today's appointments, open barriers, urgent
    or overdue referrals, reminders that failed."""
    start, end = _local_day(now, None)
    return CoordinatorHome(
        appointments_between(user=user, now=now, start=start, end=end, language=language),
        barriers_open(user=user, now=now, language=language, limit=20),
        referrals_for(user=user, now=now, urgent_only=True, limit=20),
        reminders_failed(user=user, now=now, limit=20),
    )


@dataclass(frozen=True, slots=True)
class GoalView:
    id: int
    text: str
    created_at: datetime
    closed: bool
    ratings: tuple[tuple[datetime, int], ...]  # (rated at, 0 to 10), oldest first


def patient_goals(*, user: User, patient_id: int, now: datetime) -> list[GoalView]:
    """A patient's goals with their ratings over time (the patient's own, or a visible
    patient's for the care team). Audited ``goals.viewed``."""
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL:
        raise NotFound("patient")
    patient = vis.patients.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("patient")
    ratings: dict[int, list[tuple[datetime, int]]] = {}
    for gid, at, value in (
        GoalRating.objects.filter(goal__patient=patient)
        .values_list("goal_id", "rated_at", "rating")
        .order_by("rated_at", "id")
    ):
        ratings.setdefault(gid, []).append((at, value))
    goals = [
        GoalView(g.pk, g.text, g.created_at, g.closed_at is not None, tuple(ratings.get(g.pk, ())))
        for g in Goal.objects.filter(patient=patient).order_by("created_at", "id")
    ]
    audit_record(
        actor=user,
        action="goals.viewed",
        now=now,
        patient_id=patient.pk,
        object_type="patient",
        object_id=patient.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
    )
    return goals


@dataclass(frozen=True, slots=True)
class TravelOption:
    site_id: int
    site_name: str
    road_km: float
    minutes: int


@dataclass(frozen=True, slots=True)
class TravelAdvice:
    options: list[TravelOption]  # sites offering the patient's step, nearest first
    over_limit: bool  # even the nearest is past the limits
    suggested: tuple[str, ...]  # modalities suggested instead (video, phone, home-visit)
    reason: str


def travel_advice(*, user: User, patient_id: int, now: datetime) -> TravelAdvice:
    """Travel from the patient's home to each active site offering their current step (or
    any step without an open episode), and what the rules suggest when the nearest is too
    far. The method (straight line times a road factor, at an average speed) is in
    ``domain/coordination/travel.py``."""
    from stepwell.apps.coordination.services import (
        has_connectivity_barrier,
        sites_for_step,
        travel_from_home,
    )

    vis = _full_view_or_404(user, now)
    patient = vis.patients.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("patient")
    sites = sites_for_step(patient)
    travel = travel_from_home(patient, sites)
    names = {s.pk: s.name for s in sites}
    options = [
        TravelOption(t.site_id, names[t.site_id], round(t.road_km, 1), t.minutes)
        for t in sorted(travel.values(), key=lambda t: (t.minutes, t.site_id))
    ]
    nearest = min(travel.values(), key=lambda t: (t.minutes, t.site_id), default=None)
    advice = suggest(
        nearest,
        coordination_rules().travel,
        connectivity_barrier=has_connectivity_barrier(patient),
    )
    audit_record(
        actor=user,
        action="travel.viewed",
        now=now,
        patient_id=patient.pk,
        object_type="patient",
        object_id=patient.pk,
        via_break_glass=patient.pk in vis.break_glass_ids,
    )
    return TravelAdvice(options, advice.over_limit, advice.modalities, advice.reason)


# --- The coordinator's pages: one barrier, booking, one appointment ----------------------


@dataclass(frozen=True, slots=True)
class BarrierStep:
    """One row of a barrier's history (``BarrierAction``)."""

    at: datetime
    action: str  # an ``actions`` code or ""
    action_label: str
    status: str
    status_label: str
    note: str
    by_name: str


@dataclass(frozen=True, slots=True)
class BarrierDetail:
    barrier: BarrierRow
    status_label: str
    source_label: str
    raised_by_name: str
    closed_at: datetime | None
    history: list[BarrierStep]  # oldest first
    appointments: list[AppointmentRow]  # booked from this barrier


def _person(user: User | None) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def barrier_detail(*, user: User, barrier_id: int, now: datetime, language: str) -> BarrierDetail:
    """One barrier of a patient the user sees in full, with its history and the
    appointments booked from it. Audited ``barrier.viewed``."""
    vis = _full_view_or_404(user, now)
    b = (
        Barrier.objects.filter(pk=barrier_id, patient__in=vis.patients)
        .select_related("patient", "raised_by")
        .first()
    )
    if b is None:
        raise NotFound("barrier")
    vocabulary = barrier_vocabulary()
    statuses = dict(BarrierStatus.choices)
    history = [
        BarrierStep(
            a.at,
            a.action,
            vocabulary.label("actions", a.action, language) if a.action else "",
            a.status,
            str(statuses.get(a.status, a.status)),
            a.note,
            _person(a.by),
        )
        for a in BarrierAction.objects.filter(barrier=b).select_related("by")
    ]
    detail = BarrierDetail(
        _barrier_row(b, language),
        str(statuses.get(b.status, b.status)),
        str(dict(BarrierSource.choices).get(b.source, b.source)),
        _person(b.raised_by),
        b.closed_at,
        history,
        _appointment_rows(b.appointments.order_by("starts_at", "id"), language),
    )
    audit_record(
        actor=user,
        action="barrier.viewed",
        now=now,
        patient_id=b.patient_id,
        object_type="barrier",
        object_id=b.pk,
        via_break_glass=b.patient_id in vis.break_glass_ids,
    )
    return detail


@dataclass(frozen=True, slots=True)
class SiteChoice:
    site_id: int
    code: str
    name: str
    minutes: int | None  # one-way travel from the patient's home; None: home unknown
    road_km: float | None


@dataclass(frozen=True, slots=True)
class StaffChoice:
    user_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Booking:
    """What the booking page offers for one patient."""

    patient_id: int
    record_number: str
    patient_name: str
    advice: TravelAdvice
    sites: list[SiteChoice]  # the advice's sites, nearest first; all active ones without it
    staff: list[StaffChoice]  # active staff at the user's sites
    barrier: BarrierRow | None  # the barrier it is booked for, if it is this patient's


BOOKABLE_STAFF = (Role.CLINICIAN, Role.COORDINATOR, Role.CHW, Role.PEER)


def appointment_booking(
    *, user: User, patient_id: int, now: datetime, language: str, barrier_id: int | None = None
) -> Booking:
    """The choices for booking an appointment for a visible patient: sites with the travel
    to each (``travel_advice``, audited ``travel.viewed``), staff, the barrier."""
    advice = travel_advice(user=user, patient_id=patient_id, now=now)
    patient = (
        _full_view_or_404(user, now)
        .patients.filter(pk=patient_id)
        .values_list("record_number", "given_name", "family_name")
        .first()
    )
    if patient is None:
        raise NotFound("patient")
    record_number, given, family = patient
    codes = dict(Site.objects.filter(active=True).values_list("pk", "code"))
    sites = [
        SiteChoice(o.site_id, codes.get(o.site_id, ""), o.site_name, o.minutes, o.road_km)
        for o in advice.options
    ] or [
        SiteChoice(s.pk, s.code, s.name, None, None)
        for s in Site.objects.filter(active=True).order_by("name", "id")
    ]
    own_sites = user.memberships.values_list("site_id", flat=True)
    staff = [
        StaffChoice(u.pk, _person(u))
        for u in User.objects.filter(
            is_active=True, role__in=BOOKABLE_STAFF, memberships__site_id__in=own_sites
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    ]
    barrier = (
        Barrier.objects.filter(pk=barrier_id, patient_id=patient_id)
        .select_related("patient")
        .first()
        if barrier_id is not None
        else None
    )
    return Booking(
        patient_id,
        record_number,
        f"{given} {family}",
        advice,
        sites,
        staff,
        _barrier_row(barrier, language) if barrier is not None else None,
    )


def _barrier_row(b: Barrier, language: str) -> BarrierRow:
    return BarrierRow(
        b.pk,
        b.patient_id,
        b.patient.record_number,
        f"{b.patient.given_name} {b.patient.family_name}",
        b.kind,
        barrier_vocabulary().label("kinds", b.kind, language),
        b.status,
        b.source,
        b.note,
        b.raised_at,
    )


@dataclass(frozen=True, slots=True)
class AppointmentDetail:
    row: AppointmentRow
    zone: str  # the IANA time zone of the place (the site's, else the region's)
    started: bool  # it has begun: attendance may be recorded (before: only a cancellation)


def appointment_detail(
    *, user: User, appointment_id: int, now: datetime, language: str
) -> AppointmentDetail:
    """One appointment of a patient the user sees in full. Audited ``appointment.viewed``."""
    vis = _full_view_or_404(user, now)
    qs = Appointment.objects.filter(pk=appointment_id, patient__in=vis.patients)
    rows = _appointment_rows(qs, language)
    if not rows:
        raise NotFound("appointment")
    row = rows[0]
    site_code = qs.values_list("site__code", flat=True).first()
    audit_record(
        actor=user,
        action="appointment.viewed",
        now=now,
        patient_id=row.patient_id,
        object_type="appointment",
        object_id=row.id,
        via_break_glass=row.patient_id in vis.break_glass_ids,
    )
    return AppointmentDetail(
        row, coordination_rules().local_for(site_code).time_zone, row.starts_at <= now
    )
