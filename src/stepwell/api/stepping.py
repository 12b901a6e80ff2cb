"""Stepped-care endpoints: review an episode, decide on a recommendation, the caseload."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from stepwell.api.auth import AUTH
from stepwell.api.auth import request_language as _language
from stepwell.api.schemas import ErrorOut, StrictIn
from stepwell.apps.stepping import selectors, services
from stepwell.apps.stepping.models import (
    EpisodeFlag,
    EpisodeReview,
    Recommendation,
    StepDecision,
)
from stepwell.apps.stepping.protocols import active_protocol
from stepwell.domain.stepping.engine import FLAGS

router = Router(auth=AUTH, tags=["stepped care"])
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
Lang = Literal["en", "es"]


class ReasonOut(Schema):
    code: str
    params: dict[str, Any]
    text: str


class RecommendationOut(Schema):
    id: int
    action: str
    to_step: int | None
    reasons: list[ReasonOut]
    evidence: list[int] = Field(description="assessment ids the recommendation rests on")
    review_within_days: int | None
    protocol: str
    protocol_version: str
    status: str


class FlagOut(Schema):
    code: str
    reasons: list[str]
    protocol_version: str


class ReviewOut(Schema):
    episode_id: int
    protocol: str
    protocol_version: str
    next_review: date | None
    recommendations: list[RecommendationOut]
    flags: list[FlagOut]


class LangQuery(Schema):
    lang: Lang | None = None


class DecisionIn(StrictIn):
    recommendation_id: int
    decision: Literal["accept", "override"]
    to_step: int | None = None
    reason: str = Field(default="", max_length=2000)


class DecisionOut(Schema):
    id: int
    episode_id: int
    recommendation_id: int
    decision: str
    from_step: int
    to_step: int | None
    reason: str
    protocol_version: str
    decided_at: Any


class CaseloadQuery(Schema):
    flag: Literal[FLAGS] | None = None  # type: ignore[valid-type]
    site: int | None = None
    step: int | None = Field(default=None, ge=1, le=4)
    sort: Literal["flags", "name", "step", "weeks", "review"] = "flags"
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)
    lang: Lang | None = None


class ScoreOut(Schema):
    total: int
    band: str


class CaseloadPatientOut(Schema):
    id: int
    record_number: str
    name: str


class CaseloadRowOut(Schema):
    patient: CaseloadPatientOut
    episode_id: int
    site: str
    step: int
    weeks_on_step: int
    next_review: date | None
    flags: list[FlagOut]
    scores: dict[str, ScoreOut | None]


class CaseloadOut(Schema):
    count: int
    protocol: str
    measures: list[str]
    results: list[CaseloadRowOut]


def _recommendation(r: Recommendation, language: str) -> dict[str, Any]:
    texts = selectors.reason_texts(r.reasons, language)
    return {
        "id": r.pk,
        "action": r.action,
        "to_step": r.to_step,
        "reasons": [
            {"code": x.get("code", ""), "params": x.get("params", {}), "text": t}
            for x, t in zip(r.reasons, texts, strict=True)
        ],
        "evidence": r.evidence,
        "review_within_days": r.review_within_days,
        "protocol": r.protocol_code,
        "protocol_version": r.protocol_version,
        "status": r.status,
    }


def _flag(f: EpisodeFlag, language: str) -> dict[str, Any]:
    return {
        "code": f.code,
        "reasons": selectors.reason_texts(f.reasons, language),
        "protocol_version": f.protocol_version,
    }


@router.post(
    "/episodes/{episode_id}/review",
    response={200: ReviewOut, 404: ErrorOut},
    summary="Run the protocol on an episode now: recommendations and flags, reasons in words",
)
def episode_review(request: HttpRequest, episode_id: int, q: Query[LangQuery]) -> Any:
    language = _language(request, q.lang)
    recs = services.episode_review(
        actor=request.auth,  # type: ignore[attr-defined]
        episode_id=episode_id,
        now=timezone.now(),
    )
    protocol = active_protocol()
    flags = EpisodeFlag.objects.filter(episode_id=episode_id).order_by("code")
    review = EpisodeReview.objects.filter(episode_id=episode_id).first()
    return {
        "episode_id": episode_id,
        "protocol": protocol.code,
        "protocol_version": protocol.version,
        "next_review": review.next_review if review else None,
        "recommendations": [_recommendation(r, language) for r in recs],
        "flags": [_flag(f, language) for f in flags],
    }


def _decision(d: StepDecision) -> dict[str, Any]:
    return {
        "id": d.pk,
        "episode_id": d.episode_id,
        "recommendation_id": d.recommendation_id,
        "decision": d.decision,
        "from_step": d.from_step,
        "to_step": d.to_step,
        "reason": d.reason,
        "protocol_version": d.protocol_version,
        "decided_at": d.decided_at,
    }


@router.post(
    "/episodes/{episode_id}/step-decisions",
    response={201: DecisionOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Accept or override a recommendation (overriding needs a reason)",
)
def step_decision(request: HttpRequest, episode_id: int, payload: DecisionIn) -> Any:
    made = services.step_decision_record(
        actor=request.auth,  # type: ignore[attr-defined]
        episode_id=episode_id,
        recommendation_id=payload.recommendation_id,
        decision=payload.decision,
        to_step=payload.to_step,
        reason=payload.reason,
        now=timezone.now(),
    )
    return Status(201, _decision(made))


@router.get(
    "/caseload",
    response={200: CaseloadOut, 404: ErrorOut},
    summary="The registry: open episodes with flags, last scores, weeks on step, next review",
)
def caseload(request: HttpRequest, q: Query[CaseloadQuery]) -> Any:
    language = _language(request, q.lang)
    page = selectors.caseload(
        user=request.auth,  # type: ignore[attr-defined]
        now=timezone.now(),
        language=language,
        flag=q.flag,
        site_id=q.site,
        step=q.step,
        sort=q.sort,
        limit=q.limit,
        offset=q.offset,
    )
    body = {
        "count": page.count,
        "protocol": active_protocol().label,
        "measures": list(page.measures),
        "results": [
            {
                "patient": {
                    "id": row.patient_id,
                    "record_number": row.record_number,
                    "name": f"{row.given_name} {row.family_name}",
                },
                "episode_id": row.episode_id,
                "site": row.site_name,
                "step": row.step,
                "weeks_on_step": row.weeks_on_step,
                "next_review": row.next_review.isoformat() if row.next_review else None,
                "flags": [
                    {"code": f.code, "reasons": f.reasons, "protocol_version": f.protocol_version}
                    for f in row.flags
                ],
                "scores": {
                    code: None if s is None else {"total": s[0], "band": s[1]}
                    for code, s in row.scores.items()
                },
            }
            for row in page.rows
        ],
    }
    # Built here to the letter of CaseloadOut (a test validates it against the schema):
    # re-validating 50 rows through pydantic on every request cost more than the queries.
    return HttpResponse(_dumps(body), content_type="application/json; charset=utf-8")
