"""Appointment reminders and check-in prompts: planned, then handed to the outbox.

Planning writes ``Reminder`` rows (unique keys: planning twice plans once), already moved
out of the quiet hours of the place they are for. ``reminders_send_due`` (the worker's
``reminders-send`` job) hands due ones to the outbox in the patient's language, after
checking again what may have changed since planning: the appointment cancelled or already
begun (stale: never sent), the patient opted out, no address, or the quiet hours (a worker
that was down must not send at night on restart). The outbox then delivers exactly once
(``apps/outbox``); its status is the reminder's delivery status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import formats, timezone, translation

from stepwell.apps.coordination.content import coordination_rules, message_templates
from stepwell.apps.coordination.models import Appointment, Reminder, ReminderKind, ReminderStatus
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.outbox.models import Notification, OutChannel
from stepwell.apps.outbox.services import NewMessage, notification_enqueue_many
from stepwell.apps.patients.models import Channel, Episode, EpisodeStatus, Patient
from stepwell.apps.stepping.protocols import active_protocol
from stepwell.domain.coordination.reminders import (
    MessageTemplates,
    check_in_due,
    check_in_time,
    is_stale,
    language_for,
    outside_quiet_hours,
    reminder_times,
)
from stepwell.domain.coordination.rules import CoordinationRules


def _channel(patient: Patient) -> str | None:
    """The channel reminders go by: the patient's preferred one, if they consented to it."""
    if patient.preferred_channel == Channel.SMS and patient.consent_sms:
        return OutChannel.SMS
    if patient.preferred_channel == Channel.EMAIL and patient.consent_email:
        return OutChannel.EMAIL
    return None


def _site_code(appointment: Appointment) -> str | None:
    return appointment.site.code if appointment.site_id and appointment.site else None


def reminders_plan_appointment(appointment: Appointment, *, now: datetime) -> int:
    """Plan the reminders of a newly booked appointment; see ``reminders_plan_appointments``.
    Call inside the booking's transaction."""
    return reminders_plan_appointments([appointment], now=now)


def reminders_plan_appointments(appointments: Sequence[Appointment], *, now: datetime) -> int:
    """Plan the reminders of booked appointments (``lead_hours`` before each, none due
    before ``now``, none in quiet hours, none that would arrive after the start), in one
    insert per 1,000. Appointments need ``patient`` and ``patient.site`` loaded (and
    ``site``). Returns how many were planned (an existing key is left as it is)."""
    rules = coordination_rules()
    rows = []
    for appointment in appointments:
        patient = appointment.patient
        channel = _channel(patient)
        if channel is None:
            continue
        local = rules.local_for(_site_code(appointment) or patient.site.code)
        for lead, planned in reminder_times(appointment.starts_at, rules.reminders.lead_hours, now):
            send_at = outside_quiet_hours(planned, local)
            if is_stale(starts_at=appointment.starts_at, send_at=send_at):
                continue
            rows.append(
                Reminder(
                    key=f"appointment:{appointment.pk}:{lead}h",
                    kind=ReminderKind.APPOINTMENT,
                    patient=patient,
                    appointment=appointment,
                    episode_id=appointment.episode_id,
                    channel=channel,
                    send_at=send_at,
                    created_at=now,
                )
            )
    Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def reminders_cancel_for(appointment: Appointment, *, now: datetime) -> int:
    """Drop the reminders of a cancelled appointment that have not gone out yet."""
    return Reminder.objects.filter(appointment=appointment, status=ReminderStatus.PLANNED).update(
        status=ReminderStatus.CANCELLED, handled_at=now
    )


@dataclass(slots=True)
class SendReport:
    queued: int = 0
    stale: int = 0
    opted_out: int = 0
    no_address: int = 0
    cancelled: int = 0
    postponed: int = 0  # due in quiet hours: moved to their end

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _when(appointment: Appointment, language: str, zone: object) -> str:
    local = timezone.localtime(appointment.starts_at, zone)  # type: ignore[arg-type]
    with translation.override(language):
        return formats.date_format(local, "DATETIME_FORMAT")


def _check_in_link(patient_id: int, rules: CoordinationRules) -> str:
    return settings.STEPWELL_BASE_URL.rstrip("/") + reverse(
        "assessment-new", args=[patient_id, rules.reminders.check_in_instrument]
    )


def _message(
    reminder: Reminder, language: str, rules: CoordinationRules, templates: MessageTemplates
) -> tuple[str, str]:
    if reminder.kind == ReminderKind.CHECK_IN:
        return templates.render(
            "check-in-prompt",
            reminder.channel,
            language,
            {"link": _check_in_link(reminder.patient_id, rules)},
        )
    appointment = reminder.appointment
    assert appointment is not None
    modality = rules.modalities.get(appointment.modality)
    site = appointment.site
    local = rules.local_for(site.code if site else reminder.patient.site.code)
    place = site.name if site else appointment.address
    return templates.render(
        "appointment-reminder",
        reminder.channel,
        language,
        {
            "when": _when(appointment, language, local.zone),
            "place": place or (modality.label[language] if modality else ""),
            "modality": modality.label[language] if modality else appointment.modality,
        },
    )


def _skip_reason(reminder: Reminder, now: datetime) -> str | None:
    patient = reminder.patient
    appointment = reminder.appointment
    if appointment is not None:
        if appointment.attendance in ("cancelled-patient", "cancelled-service"):
            return ReminderStatus.CANCELLED
        if appointment.attendance or is_stale(starts_at=appointment.starts_at, send_at=now):
            return ReminderStatus.STALE
    consented = patient.consent_sms if reminder.channel == OutChannel.SMS else patient.consent_email
    if not consented:
        return ReminderStatus.OPTED_OUT
    address = patient.phone if reminder.channel == OutChannel.SMS else patient.email
    if not address.strip():
        return ReminderStatus.NO_ADDRESS
    return None


_COUNTERS: dict[str, str] = {
    ReminderStatus.STALE: "stale",
    ReminderStatus.OPTED_OUT: "opted_out",
    ReminderStatus.NO_ADDRESS: "no_address",
    ReminderStatus.CANCELLED: "cancelled",
}


def _hand_over(reminders: Sequence[Reminder], now: datetime, report: SendReport) -> None:
    """One batch: each reminder queued to the outbox, skipped or postponed, in one
    transaction of a few statements whatever the batch size (a crash leaves the whole
    batch planned; the keys make the retry safe)."""
    rules, templates = coordination_rules(), message_templates()
    messages: list[NewMessage] = []
    changed: list[Reminder] = []
    for reminder in reminders:
        patient = reminder.patient
        appointment = reminder.appointment
        site = appointment.site if appointment is not None else None
        local = rules.local_for(site.code if site is not None else patient.site.code)
        skip = _skip_reason(reminder, now)
        if skip is not None:
            reminder.status, reminder.handled_at = skip, now
            counter = _COUNTERS[skip]
            setattr(report, counter, getattr(report, counter) + 1)
            changed.append(reminder)
            continue
        later = outside_quiet_hours(now, local)
        if later > now:
            reminder.send_at = later
            report.postponed += 1
            changed.append(reminder)
            continue
        subject, body = _message(
            reminder, language_for(patient.preferred_language), rules, templates
        )
        sms = reminder.channel == OutChannel.SMS
        messages.append(
            NewMessage(
                key=f"reminder:{reminder.key}",
                channel=reminder.channel,
                recipient_id=patient.user_id,
                address=(patient.phone if sms else patient.email).strip(),
                subject=subject,
                body=body,
                ref_type="reminder",
                ref_id=reminder.pk,
            )
        )
        reminder.status, reminder.handled_at = ReminderStatus.QUEUED, now
        changed.append(reminder)
        report.queued += 1
    queued = [r.pk for r in changed if r.status == ReminderStatus.QUEUED]
    skipped: dict[str, list[int]] = {}
    postponed: dict[datetime, list[int]] = {}
    for r in changed:
        if r.status == ReminderStatus.PLANNED:
            postponed.setdefault(r.send_at, []).append(r.pk)
        elif r.status != ReminderStatus.QUEUED:
            skipped.setdefault(r.status, []).append(r.pk)
    # A few grouped UPDATEs, not one per row (or bulk_update's per-row CASE).
    with transaction.atomic():
        notification_enqueue_many(messages, now=now)
        if queued:
            notification = Notification.objects.filter(
                key=Concat(Value("reminder:"), OuterRef("key"))
            ).values("id")[:1]
            Reminder.objects.filter(pk__in=queued).update(
                status=ReminderStatus.QUEUED, handled_at=now, notification=Subquery(notification)
            )
        for status, ids in skipped.items():
            Reminder.objects.filter(pk__in=ids).update(status=status, handled_at=now)
        for send_at, ids in postponed.items():
            Reminder.objects.filter(pk__in=ids).update(send_at=send_at)


def reminders_send_due(*, now: datetime, batch: int = 500) -> SendReport:
    """Hand every reminder due by ``now`` to the outbox (or skip it, saying why)."""
    report = SendReport()
    seen_up_to = 0
    while True:
        due = list(
            Reminder.objects.filter(
                status=ReminderStatus.PLANNED, send_at__lte=now, id__gt=seen_up_to
            )
            .select_related("patient", "patient__site", "patient__user", "appointment__site")
            .order_by("id")[:batch]
        )
        if not due:
            return report
        seen_up_to = due[-1].pk
        _hand_over(due, now, report)


def _last_by_patient(rows: Iterable[tuple[int, datetime | None]]) -> dict[int, datetime]:
    return {pid: at for pid, at in rows if at is not None}


def check_ins_plan(*, now: datetime, batch: int = 2000) -> int:
    """Plan a check-in prompt for each open episode whose step's check-in cadence
    (``content/protocols``) has passed with no contact and no prompt. Returns how many.

    A contact is a completed questionnaire or an attended appointment. Prompts go out at the
    region's check-in hour, today or (if that has passed) tomorrow."""
    protocol = active_protocol()
    rules = coordination_rules()
    episodes = list(
        Episode.objects.exclude(status=EpisodeStatus.DISCHARGED)
        .filter(
            Q(patient__preferred_channel=Channel.SMS, patient__consent_sms=True)
            | Q(patient__preferred_channel=Channel.EMAIL, patient__consent_email=True)
        )
        .values_list(
            "id",
            "patient_id",
            "current_step",
            "referral_date",
            "first_contact_date",
            "created_at",
            "patient__preferred_channel",
            "patient__site__code",
        )
    )
    planned = 0
    for start in range(0, len(episodes), batch):
        chunk = episodes[start : start + batch]
        ids = [e[1] for e in chunk]
        assessed = _last_by_patient(
            Assessment.objects.filter(patient_id__in=ids, taken_at__lte=now)
            .values("patient_id")
            .annotate(at=Max("taken_at"))
            .values_list("patient_id", "at")
        )
        attended = _last_by_patient(
            Appointment.objects.filter(
                patient_id__in=ids, attendance__in=["attended", "late-seen"], starts_at__lte=now
            )
            .values("patient_id")
            .annotate(at=Max("starts_at"))
            .values_list("patient_id", "at")
        )
        prompted = _last_by_patient(
            Reminder.objects.filter(patient_id__in=ids, kind=ReminderKind.CHECK_IN)
            .values("patient_id")
            .annotate(at=Max("send_at"))
            .values_list("patient_id", "at")
        )
        rows = []
        for eid, pid, step, _referral, _first, created, channel, site_code in chunk:
            last_contact = max(
                (t for t in (assessed.get(pid), attended.get(pid)) if t is not None),
                default=None,
            )
            cadence = protocol.steps[step].check_in_days
            if not check_in_due(
                last_contact=last_contact,
                last_prompt=prompted.get(pid),
                in_care_since=created,
                cadence_days=cadence,
                now=now,
            ):
                continue
            local = rules.local_for(site_code)
            today = timezone.localtime(now, local.zone).date()
            hour = rules.reminders.check_in_hour
            send_at = check_in_time(today, local, hour)
            if send_at < now:
                send_at = check_in_time(today + timedelta(days=1), local, hour)
            rows.append(
                Reminder(
                    key=f"check-in:{eid}:{send_at.date().isoformat()}",
                    kind=ReminderKind.CHECK_IN,
                    patient_id=pid,
                    episode_id=eid,
                    channel=OutChannel.SMS if channel == Channel.SMS else OutChannel.EMAIL,
                    send_at=send_at,
                    created_at=now,
                )
            )
        Reminder.objects.bulk_create(rows, ignore_conflicts=True)
        planned += len(rows)
    return planned
