"""Writing audit events. Every patient-level read and write calls one of these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from stepwell.apps.accounts.models import User
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.core.bulk import bulk_insert
from stepwell.apps.core.request_context import current_request_id


def _event(
    *,
    actor: User | None,
    action: str,
    now: datetime,
    patient_id: int | None,
    object_type: str,
    object_id: str,
    reason: str,
    via_break_glass: bool,
    details: dict[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        at=now,
        actor=actor,
        actor_username=actor.username if actor else "",
        actor_role=actor.role if actor else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        reason=reason,
        request_id=current_request_id(),
        via_break_glass=via_break_glass,
        details=details or {},
    )


def audit_record(
    *,
    actor: User | None,
    action: str,
    now: datetime,
    patient_id: int | None = None,
    object_type: str = "",
    object_id: str | int = "",
    reason: str = "",
    via_break_glass: bool = False,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. ``action`` is dotted, e.g. ``patient.viewed``."""
    event = _event(
        actor=actor,
        action=action,
        now=now,
        patient_id=patient_id,
        object_type=object_type,
        object_id=str(object_id),
        reason=reason,
        via_break_glass=via_break_glass,
        details=details,
    )
    event.save()
    return event


def audit_record_many(
    *,
    actor: User | None,
    action: str,
    now: datetime,
    patient_ids: Iterable[int],
    object_type: str = "patient",
    reason: str = "",
    break_glass_ids: frozenset[int] = frozenset(),
) -> int:
    """One event per patient in a single insert, e.g. for the patients shown on a list page.

    Rows go straight to the table (COPY on PostgreSQL) without model instances: list pages
    and the caseload API write one per patient shown, on every request.
    """
    ids = list(patient_ids)
    if not ids:
        return 0
    request_id = current_request_id()
    username, role = (actor.username, actor.role) if actor else ("", "system")
    actor_id = actor.pk if actor else None
    with transaction.atomic():
        return bulk_insert(
            AuditEvent,
            (
                "at",
                "actor_id",
                "actor_username",
                "actor_role",
                "action",
                "object_type",
                "object_id",
                "patient_id",
                "reason",
                "request_id",
                "via_break_glass",
                "details",
            ),
            (
                (
                    now,
                    actor_id,
                    username,
                    role,
                    action,
                    object_type,
                    str(pid),
                    pid,
                    reason,
                    request_id,
                    pid in break_glass_ids,
                    "{}",
                )
                for pid in ids
            ),
        )
