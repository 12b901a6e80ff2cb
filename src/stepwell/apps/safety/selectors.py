"""Safety reads: the task list and a task, a patient's open risk (banner and registry flag),
a peer's own concerns (status only), and the admin's undelivered list.

Patient-level reads start from ``visibility_for`` and are audited. The undelivered list is
for administrators, who see no patients: it carries task numbers, sites, recipients and
errors, never patient names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record, audit_record_many
from stepwell.apps.core.errors import NotFound
from stepwell.apps.outbox.models import DeliveryStatus, Notification
from stepwell.apps.safety.models import EscalationTask, SafetyEvent, TaskStatus
from stepwell.apps.safety.services import TASK_ROLES
from stepwell.domain.access.policy import Role, View
from stepwell.domain.safety.escalation import SEVERITIES

TASK_STATUSES = ("open", "unresolved", "acknowledged", "resolved", "all")


def _task_scope(user: User, now: datetime) -> QuerySet[EscalationTask]:
    vis = visibility_for(user, now=now)
    if user.role not in TASK_ROLES or vis.policy.view is not View.FULL:
        raise NotFound("safety tasks")
    return EscalationTask.objects.filter(patient__in=vis.patients)


def _with_people(qs: QuerySet[EscalationTask]) -> QuerySet[EscalationTask]:
    return qs.select_related("event", "patient", "site", "owner")


def safety_tasks(
    *, user: User, now: datetime, status: str = "unresolved", mine: bool = False, limit: int = 200
) -> list[EscalationTask]:
    """Tasks on patients ``user`` sees (care-team roles), most urgent first: unresolved by
    deadline, resolved newest first. ``status``: open (not yet acknowledged), acknowledged,
    unresolved (either), resolved or all. Audited per patient listed."""
    qs = _task_scope(user, now)
    if status == "unresolved":
        qs = qs.exclude(status=TaskStatus.RESOLVED)
    elif status != "all":
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(owner=user)
    order = ("-resolved_at", "-id") if status == "resolved" else ("due_at", "id")
    tasks = list(_with_people(qs).order_by(*order)[:limit])
    if tasks:
        audit_record_many(
            actor=user,
            action="safety.tasks_listed",
            now=now,
            patient_ids=sorted({t.patient_id for t in tasks}),
        )
    return tasks


@dataclass(frozen=True, slots=True)
class TaskDetail:
    task: EscalationTask
    notifications: list[Notification]
    people: dict[int, str]  # user id -> name, for the owner chain and the actions log


def safety_task(*, user: User, task_id: int, now: datetime) -> TaskDetail:
    """One task with its event, delivery state of each notification and owner chain."""
    task = _with_people(_task_scope(user, now)).filter(pk=task_id).first()
    if task is None:
        raise NotFound("task")
    notifications = list(
        Notification.objects.filter(ref_type="safety-task", ref_id=task.pk)
        .select_related("recipient")
        .order_by("created_at", "id")
    )
    ids = set(task.owner_chain) | {a.get("by") for a in task.actions if a.get("by")}
    people = {u.pk: (u.get_full_name() or u.username) for u in User.objects.filter(pk__in=ids)}
    audit_record(
        actor=user,
        action="safety.task_viewed",
        now=now,
        patient_id=task.patient_id,
        object_type="escalation-task",
        object_id=task.pk,
    )
    return TaskDetail(task, notifications, people)


@dataclass(frozen=True, slots=True)
class OpenRisk:
    """Unresolved safety tasks of one patient: how many, the most severe, the soonest due."""

    count: int
    severity: str
    due_at: datetime
    task_ids: tuple[int, ...]


def most_severe(severities: Iterable[str]) -> str:
    """The most severe of some tasks' severities (at least one)."""
    return min(severities, key=SEVERITIES.index)


def open_risk_by_patient(patient_ids: Iterable[int]) -> dict[int, OpenRisk]:
    """Open risk for patients the caller has already selected through ``visibility_for``
    (no audit here: the caller's read is audited, e.g. ``patient.viewed`` for the banner on
    a record, ``caseload.listed`` for the registry flag). One query."""
    rows: dict[int, list[tuple[int, str, datetime]]] = {}
    for pid, tid, severity, due in (
        EscalationTask.objects.filter(patient_id__in=list(patient_ids))
        .exclude(status=TaskStatus.RESOLVED)
        .values_list("patient_id", "id", "severity", "due_at")
    ):
        rows.setdefault(pid, []).append((tid, severity, due))
    return {
        pid: OpenRisk(
            count=len(tasks),
            severity=most_severe(s for _t, s, _d in tasks),
            due_at=min(d for _t, _s, d in tasks),
            task_ids=tuple(sorted(t for t, _s, _d in tasks)),
        )
        for pid, tasks in rows.items()
    }


@dataclass(frozen=True, slots=True)
class ConcernStatus:
    """What the author of a concern may know about it: when, how urgent, where it stands."""

    event_id: int
    raised_at: datetime
    urgency: str
    status: str  # open / acknowledged / resolved


def own_concerns(*, user: User, patient_id: int, now: datetime) -> list[ConcernStatus]:
    """The concerns ``user`` raised about a patient they (still) see, with their task's
    status only: no risk level, screen, actions or notes of the clinical follow-up."""
    vis = visibility_for(user, now=now)
    if not vis.patients.filter(pk=patient_id).exists():
        raise NotFound("patient")
    events = (
        SafetyEvent.objects.filter(patient_id=patient_id, raised_by=user)
        .filter(Q(source="concern") | Q(source="manual"))
        .select_related("task")
        .order_by("-raised_at", "-id")
    )
    out = [
        ConcernStatus(e.pk, e.raised_at, str(e.details.get("urgency", "")), e.task.status)
        for e in events
    ]
    audit_record(
        actor=user,
        action="safety.concerns_viewed",
        now=now,
        patient_id=patient_id,
        object_type="patient",
        object_id=patient_id,
    )
    return out


@dataclass(frozen=True, slots=True)
class Undelivered:
    notifications: list[Notification]
    unowned_tasks: list[EscalationTask]
    stuck_tasks: list[EscalationTask]  # overdue, unacknowledged, nobody left to escalate to


def undelivered(*, user: User, now: datetime) -> Undelivered:
    """For administrators: messages that failed (given up, or failing and being retried),
    open tasks nobody owns, and overdue tasks at the end of their owner chain."""
    if user.role != Role.ADMIN:
        raise NotFound("undelivered")
    notifications = list(
        Notification.objects.filter(
            Q(status=DeliveryStatus.FAILED)
            | Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.CLAIMED], attempts__gt=0)
        )
        .select_related("recipient")
        .order_by("-created_at", "-id")[:500]
    )
    open_tasks = EscalationTask.objects.filter(status=TaskStatus.OPEN).select_related(
        "site", "owner"
    )
    unowned = list(open_tasks.filter(owner__isnull=True).order_by("due_at", "id"))
    stuck = [
        t
        for t in open_tasks.filter(owner__isnull=False, due_at__lt=now).order_by("due_at", "id")
        if t.owner_level + 1 >= len(t.owner_chain)
    ]
    return Undelivered(notifications, unowned, stuck)


def my_open_task_count(user: User) -> int:
    """How many tasks ``user`` owns and has not acknowledged yet (the in-app alert in the
    page header). Ids only: no patient data is read."""
    return EscalationTask.objects.filter(owner=user, status=TaskStatus.OPEN).count()
