"""Offline sync: ``POST /api/v1/sync`` applies records captured without a connection, each
at most once (client-made UUIDs), and answers per record."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from pydantic import Field

from stepwell.api.auth import AUTH
from stepwell.api.measurement import AnswerValue
from stepwell.api.schemas import ErrorItem, ErrorOut, StrictIn
from stepwell.apps.sync.services import OfflineAssessment, sync_apply

router = Router(auth=AUTH, tags=["sync"])


class OfflineAssessmentIn(StrictIn):
    id: UUID = Field(description="made on the device; the same id is applied once")
    type: Literal["assessment"]
    patient_id: int
    instrument: str = Field(min_length=1, max_length=32)
    answers: list[AnswerValue] = Field(max_length=100)
    taken_at: datetime
    mode: Literal["chw", "clinician"]


class SyncIn(StrictIn):
    device_id: str = Field(min_length=1, max_length=100)
    records: list[OfflineAssessmentIn] = Field(max_length=500)


class SyncResultOut(Schema):
    id: UUID
    status: Literal["applied", "duplicate", "rejected"]
    object_id: int | None
    errors: list[ErrorItem]


class SyncOut(Schema):
    results: list[SyncResultOut]


@router.post(
    "/sync",
    response={200: SyncOut, 401: ErrorOut, 422: ErrorOut},
    summary="Apply records captured offline (each at most once)",
)
def sync(request: HttpRequest, payload: SyncIn) -> Any:
    results = sync_apply(
        actor=request.auth,  # type: ignore[attr-defined]
        device_id=payload.device_id,
        records=[
            OfflineAssessment(r.id, r.patient_id, r.instrument, r.answers, r.taken_at, r.mode)
            for r in payload.records
        ],
        now=timezone.now(),
    )
    return {
        "results": [
            {
                "id": r.uuid,
                "status": r.status,
                "object_id": r.object_id,
                "errors": [{"field": p.field, "message": p.message} for p in r.problems],
            }
            for r in results
        ]
    }
