"""Instrument and assessment endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from stepwell.api.auth import AUTH
from stepwell.api.schemas import ErrorOut, StrictIn
from stepwell.apps.core.errors import InvalidInput, NotFound
from stepwell.apps.measurement import selectors, services
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.measurement.registry import instrument, instruments
from stepwell.domain.instruments.model import Instrument
from stepwell.domain.instruments.scoring import AnswerError, score
from stepwell.domain.records import FieldProblem

router = Router(auth=AUTH, tags=["measurement"])

AnswerValue = int | str | None


class InstrumentSummary(Schema):
    code: str
    version: str
    name: str
    items: int
    range: list[int]


class OptionOut(Schema):
    value: int
    label: str


class ItemOut(Schema):
    id: str
    text: str
    type: str
    scored: bool
    options: list[OptionOut]
    not_applicable: str | None
    loinc: str | None


class BandOut(Schema):
    code: str
    min: int
    max: int
    label: str


class InstrumentOut(Schema):
    code: str
    version: str
    language: str
    name: str
    recall_period: str
    source: str
    licence: str
    range: list[int]
    max_missing: int
    bands: list[BandOut]
    caseness_min: int | None
    reliable_change: float
    higher_is_better: bool
    loinc: dict[str, str | None]
    items: list[ItemOut]


class ScoreIn(StrictIn):
    answers: list[AnswerValue] = Field(
        description='in item order: a number, "na" (not applicable) or null (missing)'
    )


class ScoreOut(Schema):
    instrument: str
    version: str
    total: int
    band: str
    caseness: bool | None
    prorated: bool
    missing: list[str]
    not_applicable: list[str]
    safety: list[str]


class AssessmentIn(StrictIn):
    instrument: str = Field(min_length=1, max_length=32)
    answers: list[AnswerValue]
    taken_at: datetime
    mode: Literal["portal", "sms", "chw", "clinician"]


class AssessmentOut(ScoreOut):
    id: int
    patient_id: int
    episode_id: int | None
    answers: list[AnswerValue]
    taken_at: datetime
    mode: str


class LangQuery(Schema):
    lang: Literal["en", "es"] = "en"


class AssessmentFilter(Schema):
    instrument: str | None = Field(default=None, max_length=32)


def _get(code: str) -> Instrument:
    found = instrument(code)
    if found is None:
        raise NotFound("instrument")
    return found


def _instrument_dict(inst: Instrument, lang: str) -> dict[str, Any]:
    return {
        "code": inst.code,
        "version": inst.version,
        "language": lang,
        "name": inst.name[lang],
        "recall_period": inst.recall_period[lang],
        "source": inst.source,
        "licence": inst.licence,
        "range": list(inst.range),
        "max_missing": inst.max_missing,
        "bands": [
            {"code": b.code, "min": b.min, "max": b.max, "label": b.label[lang]} for b in inst.bands
        ],
        "caseness_min": inst.caseness_min,
        "reliable_change": inst.reliable_change,
        "higher_is_better": inst.higher_is_better,
        "loinc": {"panel": inst.loinc_panel, "total": inst.loinc_total},
        "items": [
            {
                "id": i.id,
                "text": i.text[lang],
                "type": i.kind,
                "scored": i.scored,
                "options": [{"value": o.value, "label": o.label[lang]} for o in i.options],
                "not_applicable": i.not_applicable[lang] if i.not_applicable else None,
                "loinc": i.loinc,
            }
            for i in inst.items
        ],
    }


def _assessment_dict(a: Assessment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "patient_id": a.patient_id,
        "episode_id": a.episode_id,
        "instrument": a.instrument,
        "version": a.instrument_version,
        "total": a.total,
        "band": a.band,
        "caseness": a.caseness,
        "prorated": a.prorated,
        "missing": a.missing,
        "safety": a.safety,
        "not_applicable": _na_items(a),
        "answers": a.answers,
        "taken_at": a.taken_at,
        "mode": a.mode,
    }


def _na_items(a: Assessment) -> list[str]:
    inst = instrument(a.instrument)
    if inst is None:
        return []
    return [i.id for i, v in zip(inst.items, a.answers, strict=False) if v == "na"]


@router.get("/instruments", response=list[InstrumentSummary], summary="List instruments")
def instrument_list(request: HttpRequest) -> Any:
    return [
        {
            "code": i.code,
            "version": i.version,
            "name": i.name["en"],
            "items": len(i.items),
            "range": list(i.range),
        }
        for i in sorted(instruments().values(), key=lambda i: i.code)
    ]


@router.get("/instruments/{code}", response={200: InstrumentOut, 404: ErrorOut})
def instrument_get(request: HttpRequest, code: str, q: Query[LangQuery]) -> Any:
    return _instrument_dict(_get(code), q.lang)


@router.post(
    "/instruments/{code}/score",
    response={200: ScoreOut, 404: ErrorOut, 422: ErrorOut},
    summary="Score answers without storing them",
)
def instrument_score(request: HttpRequest, code: str, payload: ScoreIn) -> Any:
    try:
        return score(_get(code), payload.answers).as_dict()
    except AnswerError as exc:
        raise InvalidInput([FieldProblem("answers", str(exc))]) from None


@router.post(
    "/patients/{patient_id}/assessments",
    response={201: AssessmentOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record an assessment (scored and stored, audited)",
)
def assessment_create(request: HttpRequest, patient_id: int, payload: AssessmentIn) -> Any:
    assessment = services.assessment_record(
        actor=request.auth,  # type: ignore[attr-defined]
        patient_id=patient_id,
        instrument_code=payload.instrument,
        answers=payload.answers,
        taken_at=payload.taken_at,
        mode=payload.mode,
        now=timezone.now(),
    )
    return Status(201, _assessment_dict(assessment))


@router.get(
    "/patients/{patient_id}/assessments", response={200: list[AssessmentOut], 404: ErrorOut}
)
def assessment_list(request: HttpRequest, patient_id: int, f: Query[AssessmentFilter]) -> Any:
    found = selectors.assessments_for_patient(
        user=request.auth,  # type: ignore[attr-defined]
        patient_id=patient_id,
        now=timezone.now(),
        instrument=f.instrument,
    )
    return [_assessment_dict(a) for a in found]
