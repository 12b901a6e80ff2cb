"""Care-coordination writes: barriers to care."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.content import barrier_vocabulary
from stepwell.apps.coordination.models import Barrier, BarrierSource
from stepwell.apps.core.errors import InvalidInput, NotFound
from stepwell.domain.records import FieldProblem

MAX_NOTE = 2000


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
