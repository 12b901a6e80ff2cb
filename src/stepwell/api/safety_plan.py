"""Safety-plan endpoints: read the current plan with the crisis numbers, save a new version."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from stepwell.api.auth import AUTH
from stepwell.api.auth import request_language as _language
from stepwell.api.schemas import ErrorOut, StrictIn
from stepwell.apps.safety import plans
from stepwell.apps.safety.models import SafetyPlan
from stepwell.domain.safety.plan import MAX_ENTRIES, MAX_ENTRY_CHARS, SECTIONS, CrisisLine

router = Router(auth=AUTH, tags=["safety"])
Lang = Literal["en", "es"]

_SECTIONS_DOC = (
    "section code -> list of one-line entries; codes: "
    + ", ".join(SECTIONS)
    + f"; at most {MAX_ENTRIES} entries of {MAX_ENTRY_CHARS} characters per section"
)


class SafetyPlanIn(StrictIn):
    # Any mapping here: the domain check names the section and entry at fault.
    sections: dict[str, Any] = Field(description=_SECTIONS_DOC)


class CrisisLineOut(Schema):
    code: str
    name: str
    phone: str
    dial: str = Field(description="the number for a tel: link")
    hours: str


class SafetyPlanVersionOut(Schema):
    patient_id: int
    version: int | None = Field(description="null when no plan has been written yet")
    sections: dict[str, list[str]] = Field(description="every section code, in plan order")
    created_at: datetime | None
    created_by: str | None


class SafetyPlanOut(SafetyPlanVersionOut):
    language: str
    crisis_lines: list[CrisisLineOut]
    crisis_lines_version: str


class LangQuery(Schema):
    lang: Lang | None = None


def _version_dict(patient_id: int, plan: SafetyPlan | None) -> dict[str, Any]:
    author = plan.created_by if plan is not None else None
    return {
        "patient_id": patient_id,
        "version": plan.version if plan else None,
        "sections": plans.plan_sections(plan),
        "created_at": plan.created_at if plan else None,
        "created_by": (author.get_full_name() or author.username) if author else None,
    }


def _line_dict(line: CrisisLine, language: str) -> dict[str, str]:
    return {
        "code": line.code,
        "name": line.name[language],
        "phone": line.phone,
        "dial": line.dial,
        "hours": line.hours[language],
    }


@router.get(
    "/patients/{patient_id}/safety-plan",
    response={200: SafetyPlanOut, 404: ErrorOut},
    summary="The current safety plan (version null if none yet) and the crisis numbers",
)
def safety_plan_get(request: HttpRequest, patient_id: int, q: Query[LangQuery]) -> Any:
    language = _language(request, q.lang)
    current = plans.safety_plan_current(
        actor=request.auth,  # type: ignore[attr-defined]
        patient_id=patient_id,
        now=timezone.now(),
    )
    return _version_dict(patient_id, current.plan) | {
        "language": language,
        "crisis_lines": [_line_dict(line, language) for line in current.crisis_lines],
        "crisis_lines_version": current.crisis_lines_version,
    }


@router.put(
    "/patients/{patient_id}/safety-plan",
    response={200: SafetyPlanVersionOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Save the safety plan as a new version (care team only; audited)",
)
def safety_plan_put(request: HttpRequest, patient_id: int, payload: SafetyPlanIn) -> Any:
    plan = plans.safety_plan_save(
        actor=request.auth,  # type: ignore[attr-defined]
        patient_id=patient_id,
        sections=payload.sections,
        now=timezone.now(),
    )
    return _version_dict(patient_id, plan)
