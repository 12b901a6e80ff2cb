"""REST endpoints: parse, call one service or selector, serialise. Nothing else."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from stepwell.api.auth import AUTH
from stepwell.api.auth import request_user as _user
from stepwell.api.mappers import episode_dict, patient_dict
from stepwell.api.schemas import (
    BreakGlassIn,
    BreakGlassOut,
    CaseloadSummaryOut,
    EpisodeIn,
    EpisodeOut,
    ErrorOut,
    PatientIn,
    PatientListOut,
    PatientOut,
    TokenIn,
    TokenOut,
)
from stepwell.apps.access.services import break_glass_grant
from stepwell.apps.accounts.services import LockedOut, LoginFailed, api_token_issue
from stepwell.apps.core.content import suppression_rule
from stepwell.apps.core.errors import Forbidden
from stepwell.apps.patients import selectors, services
from stepwell.domain.access.policy import Scope, policy_for
from stepwell.domain.metrics.suppression import suppress

router = Router(auth=AUTH)
auth_router = Router(auth=None)


@auth_router.post(
    "/token", response={200: TokenOut, 401: ErrorOut, 429: ErrorOut}, summary="Log in"
)
def token_create(request: HttpRequest, payload: TokenIn) -> Any:
    try:
        raw, token = api_token_issue(
            request=request,
            username=payload.username,
            password=payload.password,
            now=timezone.now(),
        )
    except LockedOut:
        return Status(429, {"detail": "too many failed log-ins; try again later"})
    except LoginFailed:
        return Status(401, {"detail": "wrong user name or password"})
    return Status(200, {"token": raw, "expires_at": token.expires_at})


class PatientFilters(Schema):
    site: int | None = Field(default=None, gt=0)
    step: int | None = Field(default=None, ge=1, le=4)
    q: str = Field(default="", max_length=100)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


@router.get(
    "/patients",
    response={200: PatientListOut, 403: ErrorOut, 422: ErrorOut},
    summary="List the patients you may see",
)
def patient_list(request: HttpRequest, filters: Query[PatientFilters]) -> Any:
    user = _user(request)
    policy = policy_for(user.role)
    if policy.scope is Scope.NONE and not policy.may_break_glass:
        raise Forbidden("this role sees aggregates only, not patient records")
    page = selectors.patient_list(
        user=user,
        now=timezone.now(),
        site_id=filters.site,
        step=filters.step,
        search=filters.q,
        limit=filters.limit,
        offset=filters.offset,
    )
    return {"items": [patient_dict(p, page.view) for p in page.patients], "count": page.count}


@router.get("/patients/{patient_id}", response={200: PatientOut, 404: ErrorOut})
def patient_get(request: HttpRequest, patient_id: int) -> Any:
    record = selectors.patient_detail(
        user=_user(request), patient_id=patient_id, now=timezone.now(), with_episodes=False
    )
    return patient_dict(record.patient, record.view)


@router.post(
    "/patients",
    response={201: PatientOut, 403: ErrorOut, 422: ErrorOut},
    summary="Register a patient",
)
def patient_create(request: HttpRequest, payload: PatientIn) -> Any:
    user = _user(request)
    now = timezone.now()
    patient = services.patient_create(
        actor=user, data=services.PatientInput(**payload.model_dump()), now=now
    )
    # Roles that register patients have the full view; a new patient has no episode yet.
    return Status(201, patient_dict(patient, policy_for(user.role).view))


@router.get("/patients/{patient_id}/episodes", response={200: list[EpisodeOut], 404: ErrorOut})
def episode_list(request: HttpRequest, patient_id: int) -> Any:
    episodes = selectors.episode_list(
        user=_user(request), patient_id=patient_id, now=timezone.now()
    )
    return [episode_dict(e) for e in episodes]


@router.post(
    "/episodes",
    response={201: EpisodeOut, 403: ErrorOut, 422: ErrorOut},
    summary="Open an episode of care",
)
def episode_create(request: HttpRequest, payload: EpisodeIn) -> Any:
    user = _user(request)
    now = timezone.now()
    episode = services.episode_create(
        actor=user, data=services.EpisodeInput(**payload.model_dump()), now=now
    )
    return Status(201, episode_dict(selectors.episode_just_written(episode.pk)))


@router.get(
    "/stats/caseload",
    response={200: CaseloadSummaryOut, 403: ErrorOut},
    summary="Open episodes by site and step (aggregates, small cells suppressed)",
)
def caseload_summary(request: HttpRequest) -> Any:
    if not policy_for(_user(request).role).sees_aggregates:
        raise Forbidden("aggregates are for programme managers")
    rule = suppression_rule()
    cells = []
    for c in selectors.open_episodes_by_site_and_step():
        shown = suppress(c.patients, rule)
        cells.append(
            {
                "site_id": c.site_id,
                "site_name": c.site_name,
                "step": c.step,
                "patients": shown,
                "suppressed": shown is None,
            }
        )
    return {"cells": cells, "suppression": rule.describe()}


@router.post(
    "/break-glass",
    response={201: BreakGlassOut, 403: ErrorOut, 422: ErrorOut},
    summary="Emergency access to one patient for a stated reason (audited, time-limited)",
)
def break_glass(request: HttpRequest, payload: BreakGlassIn) -> Any:
    grant = break_glass_grant(
        user=_user(request),
        record_number=payload.record_number,
        reason=payload.reason,
        now=timezone.now(),
    )
    return Status(
        201,
        {
            "patient_id": grant.patient_id,
            "granted_at": grant.granted_at,
            "expires_at": grant.expires_at,
        },
    )
