"""Care-coordination endpoints: barrier actions, goals, referrals, appointments, travel, an
episode's journey, the coordinator's home, failed reminders, and the SMS gateway's webhook.

Access is decided by the services and selectors (a patient outside scope is a 404, a role
that may not act a 403). The open-barrier list itself is ``GET /barriers`` in ``peers.py``.

The webhook (``POST /sms/inbound``) is not called by a user: it proves itself with a shared
secret in ``X-Stepwell-Webhook-Secret``. The text of a message is never logged, stored or
echoed back (a reply may hold anything).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from stepwell.api.auth import AUTH
from stepwell.api.auth import request_language as _language
from stepwell.api.auth import request_user as _user
from stepwell.api.peers import BarrierOut
from stepwell.api.schemas import ErrorOut, StrictIn
from stepwell.apps.coordination import selectors, services
from stepwell.apps.coordination.inbound import sms_inbound_handle
from stepwell.apps.coordination.models import Appointment, Barrier, Goal, GoalRating, Referral
from stepwell.apps.coordination.timeline import KINDS, journey_timeline
from stepwell.apps.core.errors import InvalidInput
from stepwell.domain.records import FieldProblem

router = Router(auth=AUTH, tags=["care coordination"])
webhook_router = Router(auth=None, tags=["care coordination"])
Lang = Literal["en", "es"]
# The longest span one appointment list may cover (the list is capped at 500 rows).
MAX_APPOINTMENT_SPAN = timedelta(days=92)


@contextmanager
def _fields_named(**aliases: str) -> Iterator[None]:
    """Name a service's problems as this API's input fields (``site`` → ``site_id``)."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInput(
            FieldProblem(aliases.get(p.field, p.field), p.message) for p in exc.problems
        ) from None


class LangQuery(Schema):
    lang: Lang | None = None


# --- barriers -------------------------------------------------------------------------------


class BarrierActionIn(StrictIn):
    action: str = Field(default="", max_length=32, description="an actions code, or ''")
    status: str = Field(max_length=16, description="the barrier's status after it")
    note: str = Field(default="", max_length=services.MAX_NOTE)


class BarrierStateOut(Schema):
    id: int
    patient_id: int
    kind: str
    status: str
    action: str
    source: str
    raised_at: datetime
    updated_at: datetime
    closed_at: datetime | None


def _barrier(b: Barrier) -> dict[str, Any]:
    return {
        "id": b.pk,
        "patient_id": b.patient_id,
        "kind": b.kind,
        "status": b.status,
        "action": b.action,
        "source": b.source,
        "raised_at": b.raised_at,
        "updated_at": b.updated_at,
        "closed_at": b.closed_at,
    }


@router.post(
    "/barriers/{barrier_id}/actions",
    response={201: BarrierStateOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record what was done about a barrier and its status after it",
)
def barrier_action(request: HttpRequest, barrier_id: int, payload: BarrierActionIn) -> Any:
    barrier = services.barrier_act(
        actor=_user(request),
        barrier_id=barrier_id,
        action=payload.action,
        status=payload.status,
        note=payload.note,
        now=timezone.now(),
    )
    return Status(201, _barrier(barrier))


# --- goals ----------------------------------------------------------------------------------


class RatingPointOut(Schema):
    rated_at: datetime
    rating: int


class GoalOut(Schema):
    id: int
    text: str
    created_at: datetime
    closed: bool
    ratings: list[RatingPointOut] = Field(description="0 (not at all) to 10 (fully), oldest first")


@router.get(
    "/patients/{patient_id}/goals",
    response={200: list[GoalOut], 404: ErrorOut},
    summary="A patient's goals and how near them they felt over time",
)
def goal_list(request: HttpRequest, patient_id: int) -> Any:
    goals = selectors.patient_goals(user=_user(request), patient_id=patient_id, now=timezone.now())
    return [
        {
            "id": g.id,
            "text": g.text,
            "created_at": g.created_at,
            "closed": g.closed,
            "ratings": [{"rated_at": at, "rating": value} for at, value in g.ratings],
        }
        for g in goals
    ]


class GoalIn(StrictIn):
    text: str = Field(max_length=services.MAX_GOAL * 2, description="in the patient's words")


@router.post(
    "/patients/{patient_id}/goals",
    response={201: GoalOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Set a goal in the patient's words",
)
def goal_create(request: HttpRequest, patient_id: int, payload: GoalIn) -> Any:
    goal: Goal = services.goal_create(
        actor=_user(request), patient_id=patient_id, text=payload.text, now=timezone.now()
    )
    return Status(
        201,
        {
            "id": goal.pk,
            "text": goal.text,
            "created_at": goal.created_at,
            "closed": False,
            "ratings": [],
        },
    )


class RatingIn(StrictIn):
    rating: int = Field(description="0 (not at all) to 10 (fully)")
    rated_at: AwareDatetime | None = Field(default=None, description="default: now")


class RatingOut(Schema):
    id: int
    goal_id: int
    rating: int
    rated_at: datetime


@router.post(
    "/goals/{goal_id}/ratings",
    response={201: RatingOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="How near the goal the patient feels now, 0 to 10",
)
def goal_rating(request: HttpRequest, goal_id: int, payload: RatingIn) -> Any:
    row: GoalRating = services.goal_rate(
        actor=_user(request),
        goal_id=goal_id,
        rating=payload.rating,
        rated_at=payload.rated_at,
        now=timezone.now(),
    )
    return Status(
        201, {"id": row.pk, "goal_id": row.goal_id, "rating": row.rating, "rated_at": row.rated_at}
    )


# --- referrals ------------------------------------------------------------------------------


class ReferralQuery(Schema):
    urgent: bool = Field(default=False, description="only urgent or overdue ones")
    open: bool = Field(default=True, description="false: closed and seen ones too")
    patient: int | None = Field(default=None, gt=0)


class ReferralRowOut(Schema):
    id: int
    patient_id: int
    record_number: str
    from_site: str
    to_site: str
    reason: str
    urgency: str
    status: str
    status_label: str
    sent_at: datetime
    deadline_at: datetime
    overdue: bool
    wait_days: int
    incoming: bool = Field(description="to one of your sites")


@router.get(
    "/referrals",
    response={200: list[ReferralRowOut], 404: ErrorOut, 422: ErrorOut},
    summary="Referrals from or to your sites, by acceptance deadline",
)
def referral_list(request: HttpRequest, q: Query[ReferralQuery]) -> Any:
    return selectors.referrals_for(
        user=_user(request),
        now=timezone.now(),
        urgent_only=q.urgent,
        open_only=q.open,
        patient_id=q.patient,
    )


class ReferralIn(StrictIn):
    patient_id: int = Field(gt=0)
    to_site_id: int = Field(gt=0)
    from_site_id: int | None = Field(
        default=None, gt=0, description="one of your sites; default: the episode's site"
    )
    reason: str = Field(max_length=services.MAX_NOTE * 2)
    urgency: str = Field(max_length=16, description="routine or urgent")


class ReferralOut(Schema):
    id: int
    patient_id: int
    from_site_id: int
    to_site_id: int
    urgency: str
    status: str
    sent_at: datetime
    deadline_at: datetime
    accepted_at: datetime | None
    scheduled_for: datetime | None
    seen_at: datetime | None
    closed_at: datetime | None


def _referral(r: Referral) -> dict[str, Any]:
    return {
        "id": r.pk,
        "patient_id": r.patient_id,
        "from_site_id": r.from_site_id,
        "to_site_id": r.to_site_id,
        "urgency": r.urgency,
        "status": r.status,
        "sent_at": r.sent_at,
        "deadline_at": r.deadline_at,
        "accepted_at": r.accepted_at,
        "scheduled_for": r.scheduled_for,
        "seen_at": r.seen_at,
        "closed_at": r.closed_at,
    }


@router.post(
    "/referrals",
    response={201: ReferralOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Refer a patient to another site (clinicians and coordinators)",
)
def referral_create(request: HttpRequest, payload: ReferralIn) -> Any:
    with _fields_named(to_site="to_site_id", from_site="from_site_id"):
        referral = services.referral_send(
            actor=_user(request),
            patient_id=payload.patient_id,
            to_site_id=payload.to_site_id,
            from_site_id=payload.from_site_id,
            reason=payload.reason,
            urgency=payload.urgency,
            now=timezone.now(),
        )
    return Status(201, _referral(referral))


class ReferralStatusIn(StrictIn):
    status: str = Field(max_length=16)
    note: str = Field(default="", max_length=services.MAX_NOTE * 2)
    scheduled_for: AwareDatetime | None = Field(default=None, description="with status scheduled")


@router.post(
    "/referrals/{referral_id}/status",
    response={200: ReferralOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Accept, decline, schedule, see or cancel a referral",
)
def referral_status(request: HttpRequest, referral_id: int, payload: ReferralStatusIn) -> Any:
    referral = services.referral_update(
        actor=_user(request),
        referral_id=referral_id,
        status=payload.status,
        note=payload.note,
        scheduled_for=payload.scheduled_for,
        now=timezone.now(),
    )
    return _referral(referral)


# --- appointments ---------------------------------------------------------------------------


class AppointmentQuery(Schema):
    from_: AwareDatetime = Field(alias="from", description="ISO 8601 with zone")
    to: AwareDatetime = Field(description="ISO 8601 with zone; after from, at most 92 days")
    patient: int | None = Field(default=None, gt=0)
    lang: Lang | None = None

    @field_validator("to")
    @classmethod
    def _after_from(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("from_")
        if start is not None and value <= start:
            raise ValueError("must be after from")
        if start is not None and value - start > MAX_APPOINTMENT_SPAN:
            raise ValueError(f"at most {MAX_APPOINTMENT_SPAN.days} days after from")
        return value


class AppointmentRowOut(Schema):
    id: int
    patient_id: int
    record_number: str
    patient_name: str
    modality: str
    modality_label: str
    starts_at: datetime
    minutes: int
    place: str
    staff_name: str
    attendance: str
    attendance_label: str
    cancellation_reason: str
    travel_minutes: int | None
    suggested: list[str] = Field(description="modalities suggested when booked (travel)")


@router.get(
    "/appointments",
    response={200: list[AppointmentRowOut], 404: ErrorOut, 422: ErrorOut},
    summary="Appointments of the patients you see, from ?from= up to ?to=, by time",
)
def appointment_list(request: HttpRequest, q: Query[AppointmentQuery]) -> Any:
    return selectors.appointments_between(
        user=_user(request),
        now=timezone.now(),
        start=q.from_,
        end=q.to,
        patient_id=q.patient,
        language=_language(request, q.lang),
    )


class AppointmentIn(StrictIn):
    patient_id: int = Field(gt=0)
    modality: str = Field(max_length=24)
    starts_at: AwareDatetime
    minutes: int = 45
    site_id: int | None = Field(default=None, gt=0)
    address: str = Field(default="", max_length=600, description="a home visit's or group's place")
    staff_id: int | None = Field(default=None, gt=0)
    barrier_id: int | None = Field(default=None, gt=0, description="the barrier it addresses")
    referral_id: int | None = Field(default=None, gt=0, description="the referral it follows")


class AppointmentOut(Schema):
    id: int
    patient_id: int
    modality: str
    starts_at: datetime
    minutes: int
    site_id: int | None
    address: str
    staff_id: int | None
    barrier_id: int | None
    referral_id: int | None
    travel_minutes: int | None
    suggested: list[str]
    attendance: str
    cancellation_reason: str


def _appointment(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "patient_id": a.patient_id,
        "modality": a.modality,
        "starts_at": a.starts_at,
        "minutes": a.minutes,
        "site_id": a.site_id,
        "address": a.address,
        "staff_id": a.staff_id,
        "barrier_id": a.barrier_id,
        "referral_id": a.referral_id,
        "travel_minutes": a.travel_minutes,
        "suggested": list(a.suggested or ()),
        "attendance": a.attendance,
        "cancellation_reason": a.cancellation_reason,
    }


@router.post(
    "/appointments",
    response={201: AppointmentOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Book an appointment (its reminders are planned with it)",
)
def appointment_create(request: HttpRequest, payload: AppointmentIn) -> Any:
    with _fields_named(
        site="site_id", staff="staff_id", barrier="barrier_id", referral="referral_id"
    ):
        appointment = services.appointment_book(
            actor=_user(request), **payload.model_dump(), now=timezone.now()
        )
    return Status(201, _appointment(appointment))


class AttendanceIn(StrictIn):
    attendance: str = Field(max_length=24)
    cancellation_reason: str = Field(default="", max_length=24)


@router.post(
    "/appointments/{appointment_id}/attendance",
    response={200: AppointmentOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record what happened: attended, late but seen, cancelled, did not attend",
)
def appointment_attendance(request: HttpRequest, appointment_id: int, payload: AttendanceIn) -> Any:
    appointment = services.appointment_attendance(
        actor=_user(request),
        appointment_id=appointment_id,
        attendance=payload.attendance,
        cancellation_reason=payload.cancellation_reason,
        now=timezone.now(),
    )
    return _appointment(appointment)


# --- travel, journey ------------------------------------------------------------------------


class TravelOptionOut(Schema):
    site_id: int
    site_name: str
    road_km: float
    minutes: int


class TravelOut(Schema):
    options: list[TravelOptionOut] = Field(description="sites offering the step, nearest first")
    over_limit: bool
    suggested: list[str] = Field(description="modalities to offer instead, in order")
    reason: str = Field(description="a code: within-limit, travel-over-limit, no-home-location")


@router.get(
    "/patients/{patient_id}/travel",
    response={200: TravelOut, 404: ErrorOut},
    summary="Travel from the patient's home to the sites offering their step (an estimate)",
)
def travel(request: HttpRequest, patient_id: int) -> Any:
    return selectors.travel_advice(user=_user(request), patient_id=patient_id, now=timezone.now())


class JourneyQuery(Schema):
    kind: list[str] = Field(
        default_factory=list, max_length=len(KINDS), description="repeat to show several kinds"
    )
    lang: Lang | None = None

    @field_validator("kind")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [k for k in value if k not in KINDS]
        if unknown:
            listed = ", ".join(repr(k[:40]) for k in unknown)
            raise ValueError(f"{listed}: not one of {', '.join(KINDS)}")
        return value


class JourneyEntryOut(Schema):
    at: datetime
    kind: str
    title: str
    detail: str
    ref_type: str
    ref_id: int


class JourneyOut(Schema):
    episode_id: int
    patient_id: int
    record_number: str
    kinds: list[str]
    entries: list[JourneyEntryOut] = Field(description="oldest first")


@router.get(
    "/episodes/{episode_id}/journey",
    response={200: JourneyOut, 404: ErrorOut, 422: ErrorOut},
    summary="An episode's journey in one list: referral to discharge (?kind= to filter)",
)
def journey(request: HttpRequest, episode_id: int, q: Query[JourneyQuery]) -> Any:
    return journey_timeline(
        user=_user(request),
        episode_id=episode_id,
        now=timezone.now(),
        language=_language(request, q.lang),
        kinds=set(q.kind) or None,
    )


# --- the coordinator's home, failed reminders -----------------------------------------------


class FailedReminderOut(Schema):
    reminder_id: int
    patient_id: int
    record_number: str
    kind: str
    channel: str
    status: str
    error: str
    at: datetime


class HomeOut(Schema):
    appointments_today: list[AppointmentRowOut]
    barriers: list[BarrierOut]
    urgent_referrals: list[ReferralRowOut]
    failed_reminders: list[FailedReminderOut]


@router.get(
    "/coordination/home",
    response={200: HomeOut, 404: ErrorOut},
    summary="Today's appointments, open barriers, urgent or overdue referrals, failed reminders",
)
def coordination_home(request: HttpRequest, q: Query[LangQuery]) -> Any:
    return selectors.coordinator_home(
        user=_user(request), now=timezone.now(), language=_language(request, q.lang)
    )


@router.get(
    "/reminders/failed",
    response={200: list[FailedReminderOut], 404: ErrorOut},
    summary="Reminders for your patients that could not go out, newest first",
)
def reminders_failed(request: HttpRequest) -> Any:
    return selectors.reminders_failed(user=_user(request), now=timezone.now())


# --- the SMS gateway's webhook --------------------------------------------------------------


class InboundOut(Schema):
    outcome: str = Field(
        description="opted-out, opted-in, recorded, not-understood, unknown-number, not-recorded"
    )
    reply_queued: bool
    duplicate: bool = Field(description="this message id was handled before")


# Our names first, then those of gateways that post forms (Twilio-style).
_INBOUND_FIELDS = {
    "message_id": ("message_id", "MessageSid"),
    "from": ("from", "From"),
    "body": ("body", "Body"),
}


def _inbound_fields(request: HttpRequest) -> dict[str, str]:
    """The message id, sender and text of a JSON or form-encoded post. Problems name the
    field; none quotes the text."""
    data: Mapping[str, Any]
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise InvalidInput([FieldProblem("json", "not valid JSON")]) from None
        if not isinstance(data, dict):
            raise InvalidInput([FieldProblem("json", "send a JSON object")])
    else:
        data = request.POST
    out: dict[str, str] = {}
    problems = []
    for field, names in _INBOUND_FIELDS.items():
        value = next((data[n] for n in names if n in data), None)
        if isinstance(value, int) and not isinstance(value, bool) and field != "body":
            value = str(value)  # some gateways send numeric ids and numbers
        if value is None:
            value = ""
        if not isinstance(value, str):
            problems.append(FieldProblem(field, "must be text"))
        out[field] = value if isinstance(value, str) else ""
    if problems:
        raise InvalidInput(problems)
    return out


def _secret_ok(request: HttpRequest, secret: str) -> bool:
    given = request.headers.get("X-Stepwell-Webhook-Secret", "")
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


@webhook_router.post(
    "/sms/inbound",
    response={200: InboundOut, 401: ErrorOut, 422: ErrorOut, 503: ErrorOut},
    summary="The SMS gateway's webhook: one inbound message (JSON or form-encoded)",
    description="Authenticated by the shared secret in the X-Stepwell-Webhook-Secret header. "
    'JSON {"message_id", "from", "body"}, or a form with MessageSid, From, Body. Handled once '
    "per message id. The text is neither kept nor echoed.",
)
def sms_inbound(request: HttpRequest) -> Any:
    secret = settings.STEPWELL_SMS_WEBHOOK_SECRET
    if not secret:
        return Status(503, {"detail": "inbound SMS is not configured"})
    if not _secret_ok(request, secret):
        return Status(401, {"detail": "wrong or missing X-Stepwell-Webhook-Secret"})
    fields = _inbound_fields(request)
    result = sms_inbound_handle(
        provider_id=fields["message_id"],
        from_number=fields["from"],
        body=fields["body"],
        now=timezone.now(),
    )
    return {
        "outcome": result.message.outcome,
        "reply_queued": result.message.reply_id is not None,
        "duplicate": not result.created,
    }
