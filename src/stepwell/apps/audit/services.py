"""Writing audit events. Every patient-level read and write calls one of these."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connection

from stepwell.apps.accounts.models import User
from stepwell.apps.audit.models import AuditEvent
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


# The columns of one audit event, in the order the INSERTs below write them.
_COLUMNS = (
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
)


@dataclass(frozen=True, slots=True)
class AuditInsert:
    """An ``INSERT … SELECT`` of audit events, with named parameters (``%(audit_…)s``)."""

    sql: str
    params: dict[str, Any]


@lru_cache(maxsize=32)
def _insert_sql(source: str, vendor: str) -> str:
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    # Selected in _COLUMNS order; the patient's id is also the object id, as text. Typed
    # where PostgreSQL would otherwise read a NULL or a literal as text.
    details = "CAST('{}' AS jsonb)" if vendor == "postgresql" else "'{}'"
    return (
        f'INSERT INTO "audit_auditevent" ({columns}) '  # noqa: S608 - fixed SQL only
        "SELECT %(audit_at)s, CAST(%(audit_actor_id)s AS BIGINT), %(audit_username)s, "
        "%(audit_role)s, %(audit_action)s, %(audit_object_type)s, "
        "CAST(src.patient_id AS TEXT), src.patient_id, %(audit_reason)s, "
        f"%(audit_request_id)s, (src.via_break_glass = 1), {details} FROM {source} src"
    )


def audit_insert_sql(
    *,
    actor: User | None,
    action: str,
    now: datetime,
    source: str,
    object_type: str = "patient",
    reason: str = "",
) -> AuditInsert:
    """One event per row of ``source`` as SQL, for a read that audits in its own statement.

    ``source`` is a table, a CTE's name or a parenthesised query with the columns
    ``patient_id`` and ``via_break_glass`` (1 when the patient is reached only by
    break-the-glass, else 0). On PostgreSQL the caseload runs it as a data-modifying CTE of
    its query: the rows shown and their audit are then one statement and one round trip.
    Event ids follow the order of ``source``.
    """
    username, role = (actor.username, actor.role) if actor else ("", "system")
    return AuditInsert(
        _insert_sql(source, connection.vendor),
        {
            "audit_at": connection.ops.adapt_datetimefield_value(now)
            if connection.vendor == "sqlite"
            else now,
            "audit_actor_id": actor.pk if actor else None,
            "audit_username": username,
            "audit_role": role,
            "audit_action": action,
            "audit_object_type": object_type,
            "audit_reason": reason,
            "audit_request_id": current_request_id(),
        },
    )


# The ids and the break-the-glass ids as one parameter each (an array on PostgreSQL, a JSON
# list on SQLite), in the order given: the statement is the same whatever their number.
_ID_SOURCES = {
    "postgresql": "(SELECT p AS patient_id, CASE WHEN p = ANY(%(audit_glass)s::bigint[]) "
    "THEN 1 ELSE 0 END AS via_break_glass FROM unnest(%(audit_ids)s::bigint[]) "
    "WITH ORDINALITY AS ids(p, n) ORDER BY n)",
    "sqlite": "(SELECT CAST(ids.value AS INTEGER) AS patient_id, "
    "ids.value IN (SELECT value FROM json_each(%(audit_glass)s)) AS via_break_glass "
    "FROM json_each(%(audit_ids)s) ids ORDER BY ids.key)",
}


def _id_list(ids: Iterable[int]) -> str:
    if connection.vendor == "postgresql":
        return "{" + ",".join(map(str, map(int, ids))) + "}"
    return json.dumps([int(i) for i in ids])


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
    """One event per patient in a single statement, e.g. for the patients shown on a list
    page.

    One ``INSERT … SELECT`` whatever the number of patients, without model instances: list
    pages and the caseload API write one event per patient shown, on every request, and a
    single statement is atomic by itself (no transaction round trips around it).
    """
    ids = list(patient_ids)
    if not ids:
        return 0
    insert = audit_insert_sql(
        actor=actor,
        action=action,
        now=now,
        source=_ID_SOURCES[connection.vendor],
        object_type=object_type,
        reason=reason,
    )
    params = {
        **insert.params,
        "audit_ids": _id_list(ids),
        "audit_glass": _id_list(break_glass_ids),
    }
    with connection.cursor() as cursor:
        cursor.execute(insert.sql, params)
    return len(ids)
