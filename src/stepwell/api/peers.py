"""Peer programme endpoints: peers (profile, status, training, supervision), patients
waiting for a peer, matching runs (propose, read, approve), encounters, barriers, groups.

Access is decided by the services and selectors; reasons go out as codes and as a sentence
in the caller's language (``?lang=`` or their preferred language).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import AwareDatetime, Field, field_validator

from stepwell.api.auth import AUTH
from stepwell.api.auth import request_language as _language
from stepwell.api.auth import request_user as _user
from stepwell.api.schemas import ErrorOut, StrictIn
from stepwell.apps.coordination.selectors import barriers_open
from stepwell.apps.peers import matching, services
from stepwell.apps.peers.models import GroupSession, MatchingRun, PeerGroup, PeerProfile, RunStatus
from stepwell.apps.peers.reasons import reasons_in_words
from stepwell.apps.peers.run_selectors import matching_run_detail
from stepwell.apps.peers.selectors import peers_overview
from stepwell.domain.safety.escalation import CONCERN_URGENCIES

router = Router(auth=AUTH, tags=["peer programme"])
Lang = Literal["en", "es"]
Code = str  # a vocabulary code of content/peers/vocabulary.yaml (checked by the services)


class LangQuery(Schema):
    lang: Lang | None = None


class ReasonOut(Schema):
    code: str
    params: dict[str, Any]
    text: str


# --- peers ----------------------------------------------------------------------------------


class PeerOut(Schema):
    id: int
    username: str
    name: str
    state: str
    certified: bool
    certified_until: date | None
    lacking: list[str] = Field(description="required training modules not (or no longer) held")
    last_supervision: date | None
    supervision_due: date | None
    active_matches: int
    max_patients: int
    eligible: bool
    ineligible: list[ReasonOut] = Field(description="why the peer may not take a new match")


@router.get(
    "/peers",
    response={200: list[PeerOut], 404: ErrorOut},
    summary="Peers of your sites: status, certification, supervision, load, eligibility",
)
def peer_list(request: HttpRequest, q: Query[LangQuery]) -> Any:
    language = _language(request, q.lang)
    rows = peers_overview(user=_user(request), now=timezone.now())
    return [
        {
            "id": p.peer_id,
            "username": p.username,
            "name": p.display_name,
            "state": p.state,
            "certified": p.certified,
            "certified_until": p.certified_until,
            "lacking": list(p.lacking),
            "last_supervision": p.last_supervision,
            "supervision_due": p.supervision_due,
            "active_matches": p.active_matches,
            "max_patients": p.max_patients,
            "eligible": not p.ineligible,
            "ineligible": reasons_in_words(p.ineligible, language),
        }
        for p in rows
    ]


class ProfileIn(StrictIn):
    languages: list[Code] = Field(max_length=20)
    lived_experience: list[Code] = Field(default_factory=list, max_length=40)
    gender: Code = Field(max_length=16)
    modalities: list[Code] = Field(max_length=20)
    availability: list[Code] = Field(max_length=40)
    max_patients: int | None = Field(default=None, ge=1, le=100)
    remote_ok: bool = True
    home_latitude: float | None = None
    home_longitude: float | None = None
    travel_km: float | None = None


class ProfileOut(Schema):
    peer_id: int
    state: str
    languages: list[str]
    lived_experience: list[str]
    gender: str
    modalities: list[str]
    availability: list[str]
    max_patients: int | None
    remote_ok: bool
    home_latitude: float | None
    home_longitude: float | None
    travel_km: float | None
    state_changed_at: datetime


def _profile(p: PeerProfile) -> dict[str, Any]:
    return {
        "peer_id": p.user_id,
        "state": p.state,
        "languages": p.languages,
        "lived_experience": p.lived_experience,
        "gender": p.gender,
        "modalities": p.modalities,
        "availability": p.availability,
        "max_patients": p.max_patients,
        "remote_ok": p.remote_ok,
        "home_latitude": p.home_latitude,
        "home_longitude": p.home_longitude,
        "travel_km": p.travel_km,
        "state_changed_at": p.state_changed_at,
    }


class EnrolIn(ProfileIn):
    peer_id: int


@router.post(
    "/peers",
    response={201: ProfileOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Enrol a peer user in the programme as an applicant, with their profile",
)
def peer_enrol(request: HttpRequest, payload: EnrolIn) -> Any:
    fields = payload.model_dump()
    peer_id = fields.pop("peer_id")
    saved = services.peer_enrol(
        actor=_user(request),
        peer_id=peer_id,
        profile=services.ProfileInput(**fields),
        now=timezone.now(),
    )
    return Status(201, _profile(saved))


@router.post(
    "/peers/{peer_id}/profile",
    response={200: ProfileOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Create or update a peer's profile (programme staff, or the peer themself)",
)
def peer_profile(request: HttpRequest, peer_id: int, payload: ProfileIn) -> Any:
    saved = services.peer_profile_save(
        actor=_user(request),
        peer_id=peer_id,
        profile=services.ProfileInput(**payload.model_dump()),
        now=timezone.now(),
    )
    return _profile(saved)


class StateIn(StrictIn):
    state: str = Field(min_length=1, max_length=16)
    reason: str = Field(default="", max_length=services.MAX_TEXT)


@router.post(
    "/peers/{peer_id}/state",
    response={200: ProfileOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Move a peer along the lifecycle (applicant → in training → certified → active …)",
)
def peer_state(request: HttpRequest, peer_id: int, payload: StateIn) -> Any:
    saved = services.peer_state_change(
        actor=_user(request),
        peer_id=peer_id,
        target=payload.state,
        reason=payload.reason,
        now=timezone.now(),
    )
    return _profile(saved)


class TrainingIn(StrictIn):
    user_id: int = Field(gt=0)
    curriculum: str = Field(min_length=1, max_length=64)
    module: str = Field(min_length=1, max_length=64)
    completed_on: date
    passed: bool


class TrainingOut(Schema):
    id: int
    user_id: int
    curriculum: str
    module: str
    completed_on: date
    passed: bool
    expires_on: date | None
    assessor: str


@router.post(
    "/training",
    response={201: TrainingOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record an assessed attempt at a training module (you are the assessor)",
)
def training_record(request: HttpRequest, payload: TrainingIn) -> Any:
    user = _user(request)
    row = services.training_completion_record(
        actor=user, **payload.model_dump(), now=timezone.now()
    )
    return Status(
        201,
        {
            "id": row.pk,
            "user_id": row.user_id,
            "curriculum": row.curriculum,
            "module": row.module,
            "completed_on": row.completed_on,
            "passed": row.passed,
            "expires_on": row.expires_on,
            "assessor": user.username,
        },
    )


class SupervisionIn(StrictIn):
    format: Code = Field(max_length=24)
    held_on: date
    minutes: int
    attendee_ids: list[int] = Field(max_length=50)
    topics: str = Field(default="", max_length=services.MAX_TEXT)
    actions: str = Field(default="", max_length=services.MAX_TEXT)
    encounter_ids: list[int] = Field(default_factory=list, max_length=200)


class SupervisionOut(Schema):
    id: int
    format: str
    held_on: date
    minutes: int
    attendee_ids: list[int]
    encounter_ids: list[int]


@router.post(
    "/supervision-sessions",
    response={201: SupervisionOut, 403: ErrorOut, 422: ErrorOut},
    summary="Record a supervision session you held with peers",
)
def supervision_record(request: HttpRequest, payload: SupervisionIn) -> Any:
    session = services.supervision_session_record(
        actor=_user(request), **payload.model_dump(), now=timezone.now()
    )
    return Status(
        201,
        {
            "id": session.pk,
            "format": session.format,
            "held_on": session.held_on,
            "minutes": session.minutes,
            "attendee_ids": sorted(set(payload.attendee_ids)),
            "encounter_ids": sorted(set(payload.encounter_ids)),
        },
    )


# --- patients waiting for a peer ------------------------------------------------------------


class PreferenceIn(StrictIn):
    gender_preference: Code = Field(default="", max_length=16, description="'' = none")
    languages: list[Code] = Field(
        default_factory=list, max_length=20, description="beyond the preferred language"
    )
    lived_experience: list[Code] = Field(default_factory=list, max_length=40)
    modalities: list[Code] = Field(default_factory=list, max_length=20)
    availability: list[Code] = Field(default_factory=list, max_length=40)
    remote_ok: bool = True


class PeerRequestOut(Schema):
    id: int
    patient_id: int
    requested_at: datetime
    gender_preference: str
    languages: list[str]
    lived_experience: list[str]
    modalities: list[str]
    availability: list[str]
    remote_ok: bool


@router.post(
    "/patients/{patient_id}/peer-request",
    response={200: PeerRequestOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Put a patient on the waiting list for a peer (or change their preferences)",
)
def peer_request(request: HttpRequest, patient_id: int, payload: PreferenceIn) -> Any:
    made = services.peer_request_open(
        actor=_user(request),
        patient_id=patient_id,
        preferences=services.PreferenceInput(**payload.model_dump()),
        now=timezone.now(),
    )
    return {
        "id": made.pk,
        "patient_id": made.patient_id,
        "requested_at": made.requested_at,
        "gender_preference": made.gender_preference,
        "languages": made.languages,
        "lived_experience": made.lived_experience,
        "modalities": made.modalities,
        "availability": made.availability,
        "remote_ok": made.remote_ok,
    }


class RematchIn(StrictIn):
    reason: Code = Field(max_length=32, description="a rematch_reasons code")
    note: str = Field(default="", max_length=services.MAX_TEXT)


class RematchOut(Schema):
    id: int
    patient_id: int
    previous_peer_id: int
    reason: str
    recorded_at: datetime


@router.post(
    "/patients/{patient_id}/rematch",
    response={201: RematchOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="The patient asked for a different peer: end the match, wait again",
)
def rematch(request: HttpRequest, patient_id: int, payload: RematchIn) -> Any:
    made = services.rematch_request_record(
        actor=_user(request),
        patient_id=patient_id,
        reason=payload.reason,
        note=payload.note,
        now=timezone.now(),
    )
    return Status(
        201,
        {
            "id": made.pk,
            "patient_id": made.patient_id,
            "previous_peer_id": made.peer_id,
            "reason": made.reason,
            "recorded_at": made.recorded_at,
        },
    )


# --- matching runs --------------------------------------------------------------------------


class RunOut(Schema):
    id: int
    status: str
    solver_status: str
    total_cost: int
    greedy_cost: int | None
    config_version: str
    waiting: int
    available_peers: int
    proposed: int
    unmatched_count: int
    excluded_count: int
    seconds: float
    created_at: datetime
    created_by: str


class ProposalOut(Schema):
    patient_id: int
    record_number: str
    peer_id: int
    peer_name: str
    cost: int
    edited: bool
    reasons: list[ReasonOut]


class UnmatchedOut(Schema):
    patient_id: int
    record_number: str
    reasons: list[ReasonOut]


class ExcludedOut(Schema):
    peer_id: int
    peer_name: str
    reasons: list[ReasonOut]


class RunDetailOut(RunOut):
    proposals: list[ProposalOut]
    unmatched: list[UnmatchedOut]
    excluded_peers: list[ExcludedOut]


def _run(run: MatchingRun, proposed: int) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "solver_status": run.solver_status,
        "total_cost": run.total_cost,
        "greedy_cost": run.greedy_cost,
        "config_version": run.config_version,
        "waiting": run.waiting,
        "available_peers": run.available_peers,
        "proposed": proposed,
        "unmatched_count": len(run.unmatched),
        "excluded_count": len(run.excluded_peers),
        "seconds": run.seconds,
        "created_at": run.created_at,
        "created_by": run.created_by.username,
    }


@router.post(
    "/matching/runs",
    response={201: RunOut, 403: ErrorOut},
    summary="Run the optimiser over your sites: a proposal that grants nothing until approved",
)
def run_create(request: HttpRequest) -> Any:
    run = matching.matching_run_create(actor=_user(request), now=timezone.now())
    return Status(201, _run(run, run.proposals.count()))


@router.get(
    "/matching/runs/{run_id}",
    response={200: RunDetailOut, 404: ErrorOut},
    summary="A run: proposed pairs, unmatched patients and excluded peers, with reasons",
)
def run_read(request: HttpRequest, run_id: int, q: Query[LangQuery]) -> Any:
    language = _language(request, q.lang)
    d = matching_run_detail(user=_user(request), run_id=run_id, now=timezone.now())
    run = d.run
    return {
        **_run(run, len(d.proposals)),
        "proposals": [
            {
                "patient_id": p.patient_id,
                "record_number": p.patient.record_number,
                "peer_id": p.peer_id,
                "peer_name": d.peer_names[p.peer_id],
                "cost": p.cost,
                "edited": p.edited,
                "reasons": reasons_in_words(p.reasons, language),
            }
            for p in d.proposals
        ],
        "unmatched": [
            {
                "patient_id": pid,
                "record_number": d.record_numbers.get(pid, ""),
                "reasons": reasons_in_words(reasons, language),
            }
            for pid, reasons in d.unmatched
        ],
        "excluded_peers": [
            {
                "peer_id": pid,
                "peer_name": d.peer_names.get(pid, ""),
                "reasons": reasons_in_words(reasons, language),
            }
            for pid, reasons in d.excluded
        ],
    }


class ChangeIn(StrictIn):
    patient_id: int = Field(gt=0)
    peer_id: int | None = Field(description="another peer, or null to leave the patient waiting")


class ApproveIn(StrictIn):
    changes: list[ChangeIn] = Field(default_factory=list, max_length=500)

    @field_validator("changes")
    @classmethod
    def _once_per_patient(cls, value: list[ChangeIn]) -> list[ChangeIn]:
        seen: set[int] = set()
        for c in value:
            if c.patient_id in seen:
                raise ValueError(f"patient {c.patient_id} is changed twice")
            seen.add(c.patient_id)
        return value


class MatchOut(Schema):
    id: int
    patient_id: int
    peer_id: int


class ApprovedOut(Schema):
    run_id: int
    status: str
    matches: list[MatchOut]


@router.post(
    "/matching/runs/{run_id}/approve",
    response={200: ApprovedOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Approve a proposal, optionally changing pairs first (peer supervisors)",
)
def run_approve(request: HttpRequest, run_id: int, payload: ApproveIn | None = None) -> Any:
    changes = {c.patient_id: c.peer_id for c in payload.changes} if payload else {}
    made = matching.matching_run_approve(
        actor=_user(request), run_id=run_id, now=timezone.now(), changes=changes
    )
    return {
        "run_id": run_id,
        "status": RunStatus.APPROVED.value,
        "matches": [{"id": m.pk, "patient_id": m.patient_id, "peer_id": m.peer_id} for m in made],
    }


# --- encounters and barriers ----------------------------------------------------------------


class EncounterIn(StrictIn):
    occurred_at: AwareDatetime
    modality: Code = Field(max_length=24)
    minutes: int
    topics: list[Code] = Field(max_length=20)
    mood_before: int | None = None
    mood_after: int | None = None
    note: str = Field(default="", max_length=services.MAX_TEXT)
    barriers: list[Code] = Field(default_factory=list, max_length=20)
    concern: str = Field(default="", max_length=services.CONCERN_MAX)
    concern_urgency: Literal[CONCERN_URGENCIES] = "soon"  # type: ignore[valid-type]
    next_contact_on: date | None = None
    client_uuid: UUID | None = Field(default=None, description="made on the device; sent once")


class EncounterOut(Schema):
    id: int
    created: bool = Field(description="false: this client_uuid was recorded before")
    barrier_ids: list[int]
    safety_event_id: int | None


@router.post(
    "/patients/{patient_id}/peer-encounters",
    response={200: EncounterOut, 201: EncounterOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Document an encounter with a matched patient (barriers and a concern reach "
    "the care team)",
)
def encounter_record(request: HttpRequest, patient_id: int, payload: EncounterIn) -> Any:
    recorded = services.peer_encounter_record(
        actor=_user(request),
        patient_id=patient_id,
        encounter=services.EncounterInput(**payload.model_dump()),
        now=timezone.now(),
    )
    body = {
        "id": recorded.encounter.pk,
        "created": recorded.created,
        "barrier_ids": list(recorded.barrier_ids),
        "safety_event_id": recorded.safety_event_id,
    }
    return Status(201 if recorded.created else 200, body)


class BarrierOut(Schema):
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


@router.get(
    "/barriers",
    response={200: list[BarrierOut], 404: ErrorOut},
    summary="Open barriers to care of the patients you see, oldest first",
)
def barrier_list(request: HttpRequest, q: Query[LangQuery]) -> Any:
    rows = barriers_open(
        user=_user(request), now=timezone.now(), language=_language(request, q.lang)
    )
    return [
        {
            "id": r.id,
            "patient_id": r.patient_id,
            "record_number": r.record_number,
            "patient_name": r.patient_name,
            "kind": r.kind,
            "kind_label": r.kind_label,
            "status": r.status,
            "source": r.source,
            "note": r.note,
            "raised_at": r.raised_at,
        }
        for r in rows
    ]


# --- groups ---------------------------------------------------------------------------------


class GroupIn(StrictIn):
    name: str = Field(min_length=1, max_length=120)
    kind: Code = Field(max_length=24)
    site_id: int = Field(gt=0)
    schedule: str = Field(min_length=1, max_length=200)
    facilitator_ids: list[int] = Field(max_length=20)


class GroupOut(Schema):
    id: int
    name: str
    kind: str
    site_id: int
    schedule: str
    active: bool
    facilitator_ids: list[int]
    member_ids: list[int]


def _group(g: PeerGroup) -> dict[str, Any]:
    return {
        "id": g.pk,
        "name": g.name,
        "kind": g.kind,
        "site_id": g.site_id,
        "schedule": g.schedule,
        "active": g.active,
        "facilitator_ids": sorted(g.facilitators.values_list("id", flat=True)),
        "member_ids": sorted(g.members.values_list("id", flat=True)),
    }


@router.post(
    "/peer-groups",
    response={201: GroupOut, 403: ErrorOut, 422: ErrorOut},
    summary="Create a peer support group at one of your sites",
)
def group_create(request: HttpRequest, payload: GroupIn) -> Any:
    group = services.peer_group_create(
        actor=_user(request), **payload.model_dump(), now=timezone.now()
    )
    return Status(201, _group(group))


class MembersIn(StrictIn):
    patient_ids: list[int] = Field(max_length=100)


@router.put(
    "/peer-groups/{group_id}/members",
    response={200: GroupOut, 404: ErrorOut, 422: ErrorOut},
    summary="Set a group's roster (patients who consented to peer support)",
)
def group_members(request: HttpRequest, group_id: int, payload: MembersIn) -> Any:
    group = services.peer_group_members_set(
        actor=_user(request), group_id=group_id, patient_ids=payload.patient_ids, now=timezone.now()
    )
    return _group(group)


class GroupSessionIn(StrictIn):
    held_at: AwareDatetime
    attended_ids: list[int] = Field(default_factory=list, max_length=100)
    note: str = Field(default="", max_length=services.MAX_TEXT)


class GroupSessionOut(Schema):
    id: int
    group_id: int
    held_at: AwareDatetime
    attended_ids: list[int]


def _session(s: GroupSession) -> dict[str, Any]:
    return {
        "id": s.pk,
        "group_id": s.group_id,
        "held_at": s.held_at,
        "attended_ids": sorted(s.attended.values_list("id", flat=True)),
    }


@router.post(
    "/peer-groups/{group_id}/sessions",
    response={201: GroupSessionOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record a group meeting: attendance and the session note",
)
def group_session(request: HttpRequest, group_id: int, payload: GroupSessionIn) -> Any:
    session = services.group_session_record(
        actor=_user(request), group_id=group_id, **payload.model_dump(), now=timezone.now()
    )
    return Status(201, _session(session))
