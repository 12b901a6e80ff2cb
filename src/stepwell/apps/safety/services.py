"""Safety writes: signals become events, events become escalation tasks with an owner and a
deadline, owners are notified through the outbox, tasks are acknowledged, assessed and
resolved, and overdue tasks go to the next owner.

"Never silently dropped": an event is written in the same transaction as its cause (an
assessment, a concern), with its task and its queued notifications; a task with nobody to
own it is still created (it shows as unowned to every clinician of the site and on the
admin undelivered list).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.core.content import crisis_lexicon, risk_screen
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.outbox.models import OutChannel
from stepwell.apps.outbox.services import notification_enqueue
from stepwell.apps.patients.models import Patient
from stepwell.apps.safety.models import (
    EscalationTask,
    OnCallShift,
    RiskLevel,
    SafetyCover,
    SafetyEvent,
    SignalSource,
    TaskStatus,
)
from stepwell.apps.stepping.protocols import active_protocol
from stepwell.domain.access.policy import Role, View
from stepwell.domain.instruments.model import Instrument
from stepwell.domain.records import FieldProblem
from stepwell.domain.safety.crisis import screen as crisis_screen
from stepwell.domain.safety.escalation import (
    CONCERN_URGENCIES,
    SafetyRules,
    worsening_signal,
)
from stepwell.domain.safety.screen import LEVELS, ScreenAnswerError

# Who acts on tasks: clinicians own and resolve them; coordinators may acknowledge (e.g.
# reach the patient by phone) but the clinical screen and resolution are a clinician's.
TASK_ROLES = {Role.CLINICIAN, Role.COORDINATOR}
CONCERN_ROLES = {Role.PEER, Role.CHW, Role.CLINICIAN, Role.COORDINATOR}
MAX_NOTE = 2000


def _rules() -> tuple[SafetyRules, str]:
    protocol = active_protocol()
    return protocol.safety, protocol.label


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def owner_chain(site_id: int, at: datetime) -> list[int]:
    """User ids in the order they own a site's task raised at ``at``: clinicians on call
    then (earliest shift first), then the site's fallback owner; inactive users skipped."""
    on_call = (
        OnCallShift.objects.filter(
            site_id=site_id, starts_at__lte=at, ends_at__gt=at, clinician__is_active=True
        )
        .order_by("starts_at", "id")
        .values_list("clinician_id", flat=True)
    )
    fallback = SafetyCover.objects.filter(
        site_id=site_id, fallback_owner__is_active=True
    ).values_list("fallback_owner_id", flat=True)
    chain: list[int] = []
    for uid in [*on_call, *fallback]:
        if uid not in chain:
            chain.append(uid)
    return chain


def _notify(task: EscalationTask, owner_id: int, now: datetime, *, escalated: bool) -> None:
    """Queue SMS and e-mail to one owner. No patient data in the text: the task number, its
    severity and deadline, and where to open it."""
    owner = User.objects.get(pk=owner_id)
    link = settings.STEPWELL_BASE_URL.rstrip("/") + reverse("safety-task", args=[task.pk])
    zone = _zone()
    with translation.override(owner.preferred_language or "en"):
        subject = (
            _("Stepwell: safety task %(id)s escalated to you")
            if escalated
            else _("Stepwell: new safety task %(id)s")
        ) % {"id": task.pk}
        body = _(
            "Safety task %(id)s (%(severity)s) needs your response by %(due)s. Open: %(link)s"
        ) % {
            "id": task.pk,
            "severity": task.get_severity_display(),
            "due": task.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "link": link,
        }
    for channel in (OutChannel.SMS, OutChannel.EMAIL):
        notification_enqueue(
            # One message per event, recipient and channel, whatever re-runs or escalations.
            key=f"safety-event:{task.event_id}:user:{owner_id}:{channel}",
            channel=channel,
            recipient=owner,
            subject=subject,
            body=body,
            ref_type="safety-task",
            ref_id=task.pk,
            now=now,
        )


def safety_event_raise(
    *,
    patient: Patient,
    source: str,
    severity: str,
    key: str,
    now: datetime,
    raised_by: User | None = None,
    assessment: Assessment | None = None,
    details: dict[str, Any] | None = None,
    note: str = "",
) -> SafetyEvent:
    """Store a safety event, its escalation task and the owner's notifications.

    Must run inside the transaction that stores the cause. Idempotent on ``key``: the same
    cause returns the event already stored. No access check: callers have done theirs.
    """
    existing = SafetyEvent.objects.filter(key=key).first()
    if existing is not None:
        return existing
    rules, protocol_label = _rules()
    with transaction.atomic():
        event = SafetyEvent.objects.create(
            key=key,
            patient=patient,
            source=source,
            severity=severity,
            raised_at=now,
            raised_by=raised_by,
            assessment=assessment,
            details=details or {},
            note=note,
            protocol_version=protocol_label,
        )
        chain = owner_chain(patient.site_id, now)
        task = EscalationTask.objects.create(
            event=event,
            patient=patient,
            site_id=patient.site_id,
            severity=severity,
            owner_id=chain[0] if chain else None,
            owner_chain=chain,
            due_at=rules.due_at(severity, now, _zone()),
            created_at=now,
        )
        if chain:
            _notify(task, chain[0], now, escalated=False)
        audit_record(
            actor=raised_by,
            action="safety.event_raised",
            now=now,
            patient_id=patient.pk,
            object_type="safety-event",
            object_id=event.pk,
            details={"source": source, "severity": severity, "task": task.pk},
        )
    return event


def signals_from_assessment(
    assessment: Assessment, definition: Instrument, *, actor: User | None, now: datetime
) -> list[SafetyEvent]:
    """Safety events for a just-stored assessment: its questionnaire safety signals (e.g.
    PHQ-9 item 9 > 0, severity by the answer), crisis language in its free-text answers,
    and severe worsening against the previous score on the same instrument."""
    rules, _label = _rules()
    events = []
    items = {item.id: n for n, item in enumerate(definition.items)}
    for rule in definition.safety:
        if rule.code not in assessment.safety:
            continue
        value = assessment.answers[items[rule.item]]
        numeric = value if isinstance(value, int) else rule.min
        events.append(
            safety_event_raise(
                patient=assessment.patient,
                source=rule.code,
                severity=rules.severity_for_signal(rule.code, numeric),
                key=f"assessment:{assessment.pk}:{rule.code}",
                now=now,
                raised_by=actor,
                assessment=assessment,
                details={
                    "instrument": definition.code,
                    "item": rule.item,
                    "value": numeric,
                    "taken_at": assessment.taken_at.isoformat(),
                },
            )
        )
    free_text = " ".join(
        a
        for item, a in zip(definition.items, assessment.answers, strict=False)
        if item.kind == "text" and isinstance(a, str)
    )
    if free_text.strip():
        event = crisis_text_screen(
            patient=assessment.patient,
            text=free_text,
            key=f"assessment:{assessment.pk}:crisis-language",
            now=now,
            raised_by=actor,
            assessment=assessment,
        )
        if event is not None:
            events.append(event)
    previous = (
        Assessment.objects.filter(
            patient_id=assessment.patient_id,
            instrument=assessment.instrument,
            taken_at__lt=assessment.taken_at,
        )
        .order_by("-taken_at", "-id")
        .values_list("total", "band")
        .first()
    )
    if previous is not None:
        evidence = worsening_signal(
            rules.worsening,
            assessment.instrument,
            previous[0],
            previous[1],
            assessment.total,
            assessment.band,
        )
        if evidence is not None:
            events.append(
                safety_event_raise(
                    patient=assessment.patient,
                    source=SignalSource.SEVERE_WORSENING,
                    severity=rules.worsening.severity,
                    key=f"assessment:{assessment.pk}:severe-worsening",
                    now=now,
                    raised_by=actor,
                    assessment=assessment,
                    details=evidence,
                )
            )
    return events


def crisis_text_screen(
    *,
    patient: Patient,
    text: str,
    key: str,
    now: datetime,
    raised_by: User | None = None,
    assessment: Assessment | None = None,
) -> SafetyEvent | None:
    """Screen free text written by or about a patient (a message, a portal note, a text
    answer) for crisis language; a finding becomes a safety event. The text itself is not
    copied into the event: only the matched phrases, the lexicon version and the key of
    where it was written."""
    found = crisis_screen(text, crisis_lexicon())
    if found is None:
        return None
    rules, _label = _rules()
    return safety_event_raise(
        patient=patient,
        source=SignalSource.CRISIS_LANGUAGE,
        severity=rules.crisis_language[found.severity],
        key=key,
        now=now,
        raised_by=raised_by,
        assessment=assessment,
        details={
            "level": found.severity,
            "phrases": list(found.phrases),
            "negated": found.negated,
            "lexicon": found.lexicon_version,
        },
    )


@transaction.atomic
def concern_raise(
    *,
    actor: User,
    patient_id: int,
    text: str,
    urgency: str,
    now: datetime,
    key: str | None = None,
) -> SafetyEvent:
    """A peer's or CHW's "raise a concern", or a clinician's manual flag, on a patient the
    actor may see. Raises NotFound (not visible), Forbidden (role), InvalidInput.

    ``key``: the event's key when the concern belongs to a record that may be sent again
    (e.g. ``peer-encounter:<id>``); by default every concern is its own event."""
    if actor.role not in CONCERN_ROLES:
        raise Forbidden("this role cannot raise safety concerns")
    vis = visibility_for(actor, now=now)
    patient = vis.patients.filter(pk=patient_id).first()
    if patient is None:
        raise NotFound("patient")
    problems = []
    text = (text or "").strip()
    if not text:
        problems.append(FieldProblem("text", "describe the concern"))
    elif len(text) > MAX_NOTE:
        problems.append(FieldProblem("text", f"{len(text)} characters; at most {MAX_NOTE}"))
    if urgency not in CONCERN_URGENCIES:
        problems.append(
            FieldProblem("urgency", f"{urgency!r} is not one of " + ", ".join(CONCERN_URGENCIES))
        )
    if problems:
        raise InvalidInput(problems)
    rules, _label = _rules()
    manual = actor.role in {Role.CLINICIAN, Role.COORDINATOR}
    # Every concern is its own event: two raised in the same second must both reach someone
    # (a double-submitted form makes two tasks, which is the safe side of the trade).
    return safety_event_raise(
        patient=patient,
        source=SignalSource.MANUAL if manual else SignalSource.CONCERN,
        severity=(rules.manual if manual else rules.concern)[urgency],
        key=key or f"concern:{uuid4()}",
        now=now,
        raised_by=actor,
        details={"urgency": urgency, "role": actor.role},
        note=text,
    )


def _task_for_update(actor: User, task_id: int, now: datetime) -> EscalationTask:
    """The task, locked, if ``actor`` may act on it (care-team role seeing the patient)."""
    vis = visibility_for(actor, now=now)
    if actor.role not in TASK_ROLES or vis.policy.view is not View.FULL:
        raise NotFound("task")
    task = (
        EscalationTask.objects.select_for_update()
        .filter(pk=task_id, patient__in=vis.patients)
        .first()
    )
    if task is None:
        raise NotFound("task")
    return task


def _audit_task(
    actor: User, task: EscalationTask, action: str, now: datetime, **details: Any
) -> None:
    audit_record(
        actor=actor,
        action=f"safety.task_{action}",
        now=now,
        patient_id=task.patient_id,
        object_type="escalation-task",
        object_id=task.pk,
        details=details,
    )


@transaction.atomic
def task_acknowledge(*, actor: User, task_id: int, now: datetime) -> EscalationTask:
    """Say "I have this": stops the escalation clock. Idempotent for an acknowledged task."""
    task = _task_for_update(actor, task_id, now)
    if task.status == TaskStatus.RESOLVED:
        raise InvalidInput([FieldProblem("status", "the task is already resolved")])
    if task.status == TaskStatus.OPEN:
        task.status = TaskStatus.ACKNOWLEDGED
        task.acknowledged_at = now
        task.acknowledged_by = actor
        task.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        _audit_task(actor, task, "acknowledged", now)
    return task


def _clean_actions(actions: Sequence[object]) -> tuple[list[str], list[FieldProblem]]:
    out, problems = [], []
    for n, a in enumerate(actions):
        if not isinstance(a, str):
            problems.append(FieldProblem(f"actions[{n}]", "must be text"))
        elif len(a) > 500:
            problems.append(FieldProblem(f"actions[{n}]", f"{len(a)} characters; at most 500"))
        elif a.strip():
            out.append(a.strip())
    return out, problems


@transaction.atomic
def task_assess(
    *,
    actor: User,
    task_id: int,
    screen: dict[str, object],
    risk_level: str,
    actions: Sequence[object] = (),
    now: datetime,
) -> EscalationTask:
    """Record the structured risk screen, the risk level and actions taken (a clinician's).

    The recorded level may be higher than the screen indicates, never lower (InvalidInput
    naming ``risk_level``). Acknowledges an open task.
    """
    task = _task_for_update(actor, task_id, now)
    if actor.role != Role.CLINICIAN:
        raise Forbidden("only a clinician records the risk assessment")
    if task.status == TaskStatus.RESOLVED:
        raise InvalidInput([FieldProblem("status", "the task is already resolved")])
    problems = []
    indicated = None
    try:
        indicated = risk_screen().indicated_level(screen)
    except ScreenAnswerError as exc:
        problems.append(FieldProblem(exc.field, str(exc).split(": ", 1)[1]))
    if risk_level not in RiskLevel.values:
        problems.append(
            FieldProblem("risk_level", f"{risk_level!r} is not one of " + ", ".join(LEVELS))
        )
    elif indicated is not None and LEVELS.index(risk_level) < LEVELS.index(indicated):
        problems.append(
            FieldProblem(
                "risk_level",
                f"{risk_level!r} is lower than the screen indicates ({indicated!r})",
            )
        )
    cleaned, action_problems = _clean_actions(actions)
    problems += action_problems
    if problems:
        raise InvalidInput(problems)
    if task.status == TaskStatus.OPEN:
        task.status = TaskStatus.ACKNOWLEDGED
        task.acknowledged_at = now
        task.acknowledged_by = actor
    task.screen = {"version": risk_screen().version, "answers": screen, "indicated": indicated}
    task.risk_level = risk_level
    task.assessed_at = now
    task.assessed_by = actor
    task.actions = [
        *task.actions,
        *({"at": now.isoformat(), "by": actor.pk, "action": a} for a in cleaned),
    ]
    task.save()
    _audit_task(actor, task, "assessed", now, risk_level=risk_level, indicated=indicated)
    return task


@transaction.atomic
def task_resolve(
    *, actor: User, task_id: int, note: str, actions: Sequence[object] = (), now: datetime
) -> EscalationTask:
    """Close the task with a note. A clinician's, and only after the risk assessment is
    recorded: until then the banner and the registry flag stay."""
    task = _task_for_update(actor, task_id, now)
    if actor.role != Role.CLINICIAN:
        raise Forbidden("only a clinician resolves a safety task")
    problems = []
    if task.status == TaskStatus.RESOLVED:
        problems.append(FieldProblem("status", "the task is already resolved"))
    if not task.risk_level:
        problems.append(FieldProblem("risk_level", "record the risk assessment before resolving"))
    note = (note or "").strip()
    if not note:
        problems.append(FieldProblem("note", "say how the task was resolved"))
    elif len(note) > MAX_NOTE:
        problems.append(FieldProblem("note", f"{len(note)} characters; at most {MAX_NOTE}"))
    cleaned, action_problems = _clean_actions(actions)
    problems += action_problems
    if problems:
        raise InvalidInput(problems)
    task.actions = [
        *task.actions,
        *({"at": now.isoformat(), "by": actor.pk, "action": a} for a in cleaned),
    ]
    task.status = TaskStatus.RESOLVED
    task.resolved_at = now
    task.resolved_by = actor
    task.resolution_note = note
    task.save()
    _audit_task(actor, task, "resolved", now)
    return task


def tasks_escalate_overdue(*, now: datetime) -> list[int]:
    """Hand every open (unacknowledged) task past its deadline to the next owner in its
    chain, with a new deadline and notifications. Returns the ids escalated. A task at the
    end of its chain stays with its last owner, shown overdue."""
    rules, _label = _rules()
    escalated = []
    candidates = EscalationTask.objects.filter(status=TaskStatus.OPEN, due_at__lt=now)
    for task_id in candidates.values_list("id", flat=True):
        with transaction.atomic():
            task = (
                EscalationTask.objects.select_for_update()
                .filter(pk=task_id, status=TaskStatus.OPEN, due_at__lt=now)
                .first()
            )
            if task is None:  # acknowledged meanwhile
                continue
            chain = task.owner_chain or owner_chain(task.site_id, now)
            level = task.owner_level + 1 if task.owner_chain else 0
            if level >= len(chain):
                continue
            task.owner_chain = chain
            task.owner_level = level
            task.owner_id = chain[level]
            task.due_at = now + timedelta(minutes=rules.escalated_within_minutes)
            task.escalated_at = now
            task.save(
                update_fields=["owner_chain", "owner_level", "owner", "due_at", "escalated_at"]
            )
            _notify(task, chain[level], now, escalated=True)
            audit_record(
                actor=None,
                action="safety.task_escalated",
                now=now,
                patient_id=task.patient_id,
                object_type="escalation-task",
                object_id=task.pk,
                details={"level": level, "owner": chain[level]},
            )
            escalated.append(task.pk)
    return escalated
