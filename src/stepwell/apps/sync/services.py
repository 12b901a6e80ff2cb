"""Applying records captured offline (CHW tablets), each at most once.

Every record carries a UUID made on the device. A record is applied in its own savepoint
together with its ``SyncedRecord`` row, so a batch sent again — after a lost response, from
a second device, or reordered — applies nothing twice and answers ``duplicate`` with the
object first made. A record that fails is ``rejected`` with its problems; the rest of the
batch still applies. Everything goes through the same services as the pages and the API, so
an offline PHQ-9 with item 9 > 0 raises its safety task when it syncs.

(Only questionnaires sync so far; home visits, barriers, consents and the changes feed
back to the device are issue 11.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db import IntegrityError, transaction

from stepwell.apps.accounts.models import User
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.measurement.services import assessment_record
from stepwell.apps.sync.models import SyncedRecord
from stepwell.domain.instruments.scoring import Answer
from stepwell.domain.records import FieldProblem


@dataclass(frozen=True, slots=True)
class OfflineAssessment:
    uuid: UUID
    patient_id: int
    instrument: str
    answers: Sequence[Answer]
    taken_at: datetime
    mode: str


@dataclass(frozen=True, slots=True)
class SyncResult:
    uuid: UUID
    status: str  # "applied", "duplicate" or "rejected"
    object_id: int | None = None
    problems: list[FieldProblem] = field(default_factory=list)


def _seen(actor: User, uuid: UUID) -> SyncResult | None:
    row = SyncedRecord.objects.filter(uuid=uuid).values_list("user_id", "object_id").first()
    if row is None:
        return None
    if row[0] != actor.pk:
        # Never reveal or touch another user's record: a UUID clash is the device's error.
        return SyncResult(uuid, "rejected", None, [FieldProblem("id", "already used")])
    return SyncResult(uuid, "duplicate", row[1])


def _apply(actor: User, device_id: str, record: OfflineAssessment, now: datetime) -> SyncResult:
    earlier = _seen(actor, record.uuid)
    if earlier is not None:
        return earlier
    try:
        with transaction.atomic():
            assessment = assessment_record(
                actor=actor,
                patient_id=record.patient_id,
                instrument_code=record.instrument,
                answers=record.answers,
                taken_at=record.taken_at,
                mode=record.mode,
                now=now,
            )
            SyncedRecord.objects.create(
                uuid=record.uuid,
                device_id=device_id,
                user=actor,
                kind="assessment",
                object_id=assessment.pk,
                received_at=now,
            )
    except IntegrityError:
        # The same UUID committed by a concurrent request between our look and our insert.
        return _seen(actor, record.uuid) or SyncResult(
            record.uuid, "rejected", None, [FieldProblem("id", "could not be stored; retry")]
        )
    except InvalidInput as exc:
        return SyncResult(record.uuid, "rejected", None, exc.problems)
    except NotFound:
        problem = FieldProblem("patient_id", f"{record.patient_id}: no patient you may see")
        return SyncResult(record.uuid, "rejected", None, [problem])
    except Forbidden as exc:
        return SyncResult(record.uuid, "rejected", None, [FieldProblem("type", str(exc))])
    return SyncResult(record.uuid, "applied", assessment.pk)


def sync_apply(
    *, actor: User, device_id: str, records: Sequence[OfflineAssessment], now: datetime
) -> list[SyncResult]:
    """Apply a batch in order; one result per record, in the same order."""
    return [_apply(actor, device_id, record, now) for record in records]
