"""Care-coordination reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record_many
from stepwell.apps.coordination.content import barrier_vocabulary
from stepwell.apps.coordination.models import Barrier, BarrierStatus
from stepwell.apps.core.errors import NotFound
from stepwell.domain.access.policy import Role, View


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
