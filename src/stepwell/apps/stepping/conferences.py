"""Case conferences: who needs multidisciplinary review, the agenda, and recorded decisions.

Writes (``case_conference_plan``, ``case_conference_attendance``, ``conference_item_record``)
are services: atomic, audited per patient. Reads start from the access selector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from stepwell.apps.access.selectors import visibility_for, visible_patients
from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.audit.services import audit_record, audit_record_many
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.patients.models import Episode, EpisodeStatus
from stepwell.apps.patients.services import episode_step_change
from stepwell.apps.stepping.models import (
    CaseConference,
    ConferenceItem,
    ConferenceStatus,
    Decision,
    Recommendation,
    RecommendationStatus,
    StepDecision,
)
from stepwell.domain.access.policy import Role, View, policy_for
from stepwell.domain.records import FieldProblem

CONFERENCE_ACTIONS = ("case-conference",)


def _require_planner(actor: User) -> None:
    if not policy_for(actor.role).may_plan_conferences:
        raise Forbidden("only clinicians and coordinators organise case conferences")


# --- reads -----------------------------------------------------------------------------------


def conference_candidates(*, user: User, now: datetime) -> list[Recommendation]:
    """Open case-conference recommendations of visible open episodes, not yet on the agenda
    of a planned conference; oldest first."""
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL:
        raise NotFound("conferences")
    on_agenda = ConferenceItem.objects.filter(
        episode_id=OuterRef("episode_id"), conference__status=ConferenceStatus.PLANNED
    )
    recs = list(
        Recommendation.objects.filter(
            action__in=CONFERENCE_ACTIONS,
            status=RecommendationStatus.OPEN,
            episode__patient__in=vis.patients,
        )
        .exclude(episode__status=EpisodeStatus.DISCHARGED)
        .exclude(Exists(on_agenda))
        .select_related("episode__patient", "episode__site")
        .order_by("created_at", "id")
    )
    if recs:
        audit_record_many(
            actor=user,
            action="conference.candidates_listed",
            now=now,
            patient_ids=[r.episode.patient_id for r in recs],
            break_glass_ids=vis.break_glass_ids,
        )
    return recs


def _site_conferences(user: User) -> QuerySet[CaseConference]:
    sites = SiteMembership.objects.filter(user_id=user.pk).values("site_id")
    return CaseConference.objects.filter(site_id__in=sites)


def conferences_for(*, user: User) -> list[CaseConference]:
    """Conferences at the user's sites, newest first (no patient data: titles and dates)."""
    if policy_for(user.role).view is not View.FULL:
        raise NotFound("conferences")
    return list(_site_conferences(user).select_related("site").order_by("-scheduled_for"))


@dataclass(frozen=True, slots=True)
class ConferenceView:
    conference: CaseConference
    items: list[ConferenceItem]  # only items whose patient the user may see


def conference_detail(*, user: User, conference_id: int, now: datetime) -> ConferenceView:
    """A conference at one of the user's sites, with the agenda items they may see
    (audited per patient)."""
    if policy_for(user.role).view is not View.FULL:
        raise NotFound("conference")
    conference = (
        _site_conferences(user)
        .select_related("site", "created_by")
        .prefetch_related("attendees")
        .filter(pk=conference_id)
        .first()
    )
    if conference is None:
        raise NotFound("conference")
    vis = visibility_for(user, now=now)
    items = list(
        ConferenceItem.objects.filter(conference=conference, episode__patient__in=vis.patients)
        .select_related("episode__patient", "episode__site", "recorded_by")
        .order_by("position")
    )
    if items:
        audit_record_many(
            actor=user,
            action="conference.viewed",
            now=now,
            patient_ids=[i.episode.patient_id for i in items],
            break_glass_ids=vis.break_glass_ids,
        )
    return ConferenceView(conference, items)


def conference_outcomes_for_patient(
    *, user: User, patient_id: int, now: datetime
) -> list[ConferenceItem]:
    """Recorded conference decisions about a patient (part of the record; the patient page
    that shows them is itself audited)."""
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL:
        return []
    return list(
        ConferenceItem.objects.filter(
            episode__patient_id=patient_id,
            episode__patient__in=vis.patients,
            recorded_at__isnull=False,
        )
        .select_related("conference", "recorded_by")
        .order_by("-recorded_at")
    )


# --- writes ----------------------------------------------------------------------------------


@transaction.atomic
def case_conference_plan(
    *,
    actor: User,
    site_id: int,
    title: str,
    scheduled_for: datetime,
    recommendation_ids: Sequence[int],
    now: datetime,
) -> CaseConference:
    """Plan a conference at one of the actor's sites with an agenda of patients, each
    brought by an open case-conference recommendation (its reasons become the question)."""
    _require_planner(actor)
    problems: list[FieldProblem] = []
    if not SiteMembership.objects.filter(user_id=actor.pk, site_id=site_id).exists():
        problems.append(FieldProblem("site_id", f"{site_id} is not one of your sites"))
    if not title.strip():
        problems.append(FieldProblem("title", "a conference needs a title"))
    if scheduled_for.tzinfo is None:
        problems.append(FieldProblem("scheduled_for", "needs a time zone"))
    if not recommendation_ids:
        problems.append(FieldProblem("recommendation_ids", "choose at least one patient"))
    recs = list(
        Recommendation.objects.filter(
            pk__in=recommendation_ids,
            status=RecommendationStatus.OPEN,
            episode__patient__in=visible_patients(actor, now=now),
        ).select_related("episode")
    )
    missing = sorted(set(recommendation_ids) - {r.pk for r in recs})
    if missing:
        problems.append(
            FieldProblem(
                "recommendation_ids",
                "not open recommendations you can see: " + ", ".join(map(str, missing)),
            )
        )
    if problems:
        raise InvalidInput(problems)
    conference = CaseConference.objects.create(
        site_id=site_id,
        title=title.strip(),
        scheduled_for=scheduled_for,
        created_by=actor,
        created_at=now,
    )
    seen: set[int] = set()
    position = 0
    for rec in recs:
        if rec.episode_id in seen:
            continue
        seen.add(rec.episode_id)
        position += 1
        ConferenceItem.objects.create(
            conference=conference,
            episode_id=rec.episode_id,
            recommendation=rec,
            position=position,
            question=rec.reasons,
        )
        audit_record(
            actor=actor,
            action="conference.patient_added",
            now=now,
            patient_id=rec.episode.patient_id,
            object_type="case_conference",
            object_id=conference.pk,
        )
    return conference


@transaction.atomic
def case_conference_attendance(
    *,
    actor: User,
    conference_id: int,
    attendee_ids: Sequence[int],
    other_attendees: str,
    now: datetime,
) -> CaseConference:
    """Record who attended (staff of the conference's site, and others by name)."""
    _require_planner(actor)
    conference = _site_conferences(actor).filter(pk=conference_id).first()
    if conference is None:
        raise NotFound("conference")
    staff = list(User.objects.filter(pk__in=attendee_ids, memberships__site_id=conference.site_id))
    unknown = sorted(set(attendee_ids) - {u.pk for u in staff})
    if unknown:
        raise InvalidInput(
            [
                FieldProblem(
                    "attendee_ids",
                    "not staff of the conference's site: " + ", ".join(map(str, unknown)),
                )
            ]
        )
    conference.attendees.set(staff)
    conference.other_attendees = other_attendees.strip()[:500]
    conference.status = ConferenceStatus.HELD
    conference.save(update_fields=["other_attendees", "status"])
    audit_record(
        actor=actor,
        action="conference.attendance_recorded",
        now=now,
        object_type="case_conference",
        object_id=conference.pk,
        details={"attendees": len(staff), "others": bool(conference.other_attendees)},
    )
    return conference


@transaction.atomic
def conference_item_record(
    *,
    actor: User,
    item_id: int,
    outcome: str,
    actions: str,
    next_step: int | None,
    now: datetime,
) -> ConferenceItem:
    """Record a conference's decision about one patient. A new step is applied through the
    step-change service, and the recommendation that brought the patient is decided."""
    if not policy_for(actor.role).may_decide_steps:
        raise Forbidden("only clinicians record case-conference decisions")
    item = (
        ConferenceItem.objects.select_for_update(of=("self",))
        .select_related("conference", "episode", "recommendation")
        .filter(
            pk=item_id,
            conference__in=_site_conferences(actor),
            episode__patient__in=visible_patients(actor, now=now),
        )
        .first()
    )
    if item is None:
        raise NotFound("conference item")
    problems: list[FieldProblem] = []
    if not outcome.strip():
        problems.append(FieldProblem("outcome", "say what the conference decided"))
    if next_step is not None and not 1 <= next_step <= 4:
        problems.append(FieldProblem("next_step", f"{next_step} is not a step (1-4)"))
    if item.recorded_at is not None:
        problems.append(FieldProblem("item_id", "this decision is already recorded"))
    if problems:
        raise InvalidInput(problems)
    episode: Episode = item.episode
    from_step = episode.current_step
    target = next_step or from_step
    when = item.conference.scheduled_for.date().isoformat()
    rec = item.recommendation
    version = rec.protocol_version if rec else ""
    if target != from_step:
        episode_step_change(
            actor=actor,
            episode_id=episode.pk,
            to_step=target,
            reason=f"Case conference {when}: {outcome.strip()}",
            now=now,
            protocol_version=f"{rec.protocol_code} {version}" if rec else "",
        )
    if rec is not None and rec.status == RecommendationStatus.OPEN:
        rec.status = RecommendationStatus.ACCEPTED
        rec.save(update_fields=["status"])
        StepDecision.objects.create(
            episode=episode,
            recommendation=rec,
            decision=Decision.ACCEPT,
            from_step=from_step,
            to_step=target,
            reason=f"Case conference {when}: {outcome.strip()}",
            decided_by=actor,
            decided_at=now,
            protocol_version=version,
        )
    item.outcome = outcome.strip()
    item.actions = actions.strip()
    item.next_step = target
    item.recorded_by = actor
    item.recorded_at = now
    item.save(update_fields=["outcome", "actions", "next_step", "recorded_by", "recorded_at"])
    audit_record(
        actor=actor,
        action="conference.decision_recorded",
        now=now,
        patient_id=episode.patient_id,
        object_type="conference_item",
        object_id=item.pk,
        details={"from_step": from_step, "to_step": target},
    )
    return item


def conference_staff(conference: CaseConference) -> list[User]:
    """Staff of the conference's site, who may be recorded as attendees."""
    return list(
        User.objects.filter(memberships__site_id=conference.site_id)
        .exclude(role=Role.PATIENT)
        .order_by("last_name", "first_name", "username")
    )
