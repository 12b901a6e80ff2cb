"""Safety endpoints: escalation tasks (list, read, acknowledge, assess, resolve) and concerns.

A peer or CHW raising a concern gets back only what they may know: the concern's id and its
status. Task details (risk screen, actions, notes) are for the care team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from stepwell.api.auth import AUTH
from stepwell.api.schemas import ErrorOut, StrictIn
from stepwell.apps.safety import selectors, services
from stepwell.apps.safety.models import EscalationTask
from stepwell.domain.safety.escalation import CONCERN_URGENCIES

router = Router(auth=AUTH, tags=["safety"])


class NotificationOut(Schema):
    channel: str
    recipient: str
    status: str
    attempts: int
    last_error: str
    sent_at: datetime | None


class TaskOut(Schema):
    id: int
    patient_id: int
    record_number: str
    site: str
    source: str
    severity: str
    status: str
    owner: str | None
    owner_level: int
    due_at: datetime
    overdue: bool
    created_at: datetime
    acknowledged_at: datetime | None
    risk_level: str
    resolved_at: datetime | None


class TaskDetailOut(TaskOut):
    details: dict[str, Any]
    note: str
    screen: dict[str, Any]
    actions: list[dict[str, Any]]
    resolution_note: str
    notifications: list[NotificationOut]


class TaskListOut(Schema):
    count: int
    results: list[TaskOut]


class TaskQuery(Schema):
    status: Literal[selectors.TASK_STATUSES] = "unresolved"  # type: ignore[valid-type]
    mine: bool = False


class AssessIn(StrictIn):
    screen: dict[str, bool] = Field(description="every question of the risk screen: yes/no")
    risk_level: Literal["none", "low", "moderate", "high"]
    actions: list[str] = Field(default_factory=list, max_length=20)


class ResolveIn(StrictIn):
    note: str = Field(max_length=2000)
    actions: list[str] = Field(default_factory=list, max_length=20)


class ConcernIn(StrictIn):
    text: str = Field(max_length=2000)
    urgency: Literal[CONCERN_URGENCIES]  # type: ignore[valid-type]


class ConcernOut(Schema):
    id: int
    raised_at: datetime
    urgency: str
    status: str


def _task(t: EscalationTask, now: datetime) -> dict[str, Any]:
    return {
        "id": t.pk,
        "patient_id": t.patient_id,
        "record_number": t.patient.record_number,
        "site": t.site.name,
        "source": t.event.source,
        "severity": t.severity,
        "status": t.status,
        "owner": t.owner.username if t.owner else None,
        "owner_level": t.owner_level,
        "due_at": t.due_at,
        "overdue": t.status == "open" and t.due_at < now,
        "created_at": t.created_at,
        "acknowledged_at": t.acknowledged_at,
        "risk_level": t.risk_level,
        "resolved_at": t.resolved_at,
    }


def _detail(request: HttpRequest, task_id: int, now: datetime) -> dict[str, Any]:
    d = selectors.safety_task(user=request.auth, task_id=task_id, now=now)  # type: ignore[attr-defined]
    t = d.task
    return {
        **_task(t, now),
        "details": t.event.details,
        "note": t.event.note,
        "screen": t.screen,
        "actions": t.actions,
        "resolution_note": t.resolution_note,
        "notifications": [
            {
                "channel": n.channel,
                "recipient": n.recipient.username if n.recipient else "",
                "status": n.status,
                "attempts": n.attempts,
                "last_error": n.last_error,
                "sent_at": n.sent_at,
            }
            for n in d.notifications
        ],
    }


@router.get(
    "/safety/tasks",
    response={200: TaskListOut, 404: ErrorOut},
    summary="Safety escalation tasks on patients you care for",
)
def tasks_list(request: HttpRequest, filters: Query[TaskQuery]) -> Any:
    now = timezone.now()
    tasks = selectors.safety_tasks(
        user=request.auth,  # type: ignore[attr-defined]
        now=now,
        status=filters.status,
        mine=filters.mine,
    )
    return {"count": len(tasks), "results": [_task(t, now) for t in tasks]}


@router.get(
    "/safety/tasks/{task_id}", response={200: TaskDetailOut, 404: ErrorOut}, summary="A task"
)
def task_read(request: HttpRequest, task_id: int) -> Any:
    return _detail(request, task_id, timezone.now())


@router.post(
    "/safety/tasks/{task_id}/acknowledge",
    response={200: TaskDetailOut, 404: ErrorOut, 422: ErrorOut},
    summary="Acknowledge a task (stops its escalation)",
)
def task_acknowledge(request: HttpRequest, task_id: int) -> Any:
    now = timezone.now()
    services.task_acknowledge(actor=request.auth, task_id=task_id, now=now)  # type: ignore[attr-defined]
    return _detail(request, task_id, now)


@router.post(
    "/safety/tasks/{task_id}/assessment",
    response={200: TaskDetailOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record the risk screen, risk level and actions taken",
)
def task_assess(request: HttpRequest, task_id: int, payload: AssessIn) -> Any:
    now = timezone.now()
    services.task_assess(
        actor=request.auth,  # type: ignore[attr-defined]
        task_id=task_id,
        screen=dict(payload.screen),
        risk_level=payload.risk_level,
        actions=payload.actions,
        now=now,
    )
    return _detail(request, task_id, now)


@router.post(
    "/safety/tasks/{task_id}/resolve",
    response={200: TaskDetailOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Resolve a task with a note (after the risk assessment)",
)
def task_resolve(request: HttpRequest, task_id: int, payload: ResolveIn) -> Any:
    now = timezone.now()
    services.task_resolve(
        actor=request.auth,  # type: ignore[attr-defined]
        task_id=task_id,
        note=payload.note,
        actions=payload.actions,
        now=now,
    )
    return _detail(request, task_id, now)


@router.post(
    "/patients/{patient_id}/concerns",
    response={201: ConcernOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Raise a safety concern (peer, CHW) or flag a patient (clinician)",
)
def concern_create(request: HttpRequest, patient_id: int, payload: ConcernIn) -> Any:
    now = timezone.now()
    event = services.concern_raise(
        actor=request.auth,  # type: ignore[attr-defined]
        patient_id=patient_id,
        text=payload.text,
        urgency=payload.urgency,
        now=now,
    )
    return Status(
        201,
        {
            "id": event.pk,
            "raised_at": event.raised_at,
            "urgency": payload.urgency,
            "status": event.task.status,
        },
    )


@router.get(
    "/patients/{patient_id}/concerns",
    response={200: list[ConcernOut], 404: ErrorOut},
    summary="The concerns you raised about a patient, with their status",
)
def concern_list(request: HttpRequest, patient_id: int) -> Any:
    concerns = selectors.own_concerns(
        user=request.auth,  # type: ignore[attr-defined]
        patient_id=patient_id,
        now=timezone.now(),
    )
    return [
        {"id": c.event_id, "raised_at": c.raised_at, "urgency": c.urgency, "status": c.status}
        for c in concerns
    ]
