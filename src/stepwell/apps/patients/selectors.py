"""Patient reads. Each one starts from the access selector and writes its audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from stepwell.apps.access.selectors import active_break_glass, visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record, audit_record_many
from stepwell.apps.core.errors import NotFound
from stepwell.apps.network.models import Site
from stepwell.apps.patients.models import Episode, EpisodeStatus, Patient, StepChange
from stepwell.domain.access.policy import View


@dataclass(frozen=True, slots=True)
class PatientPage:
    patients: list[Patient]
    count: int
    view: View


def _open_episodes() -> QuerySet[Episode]:
    return Episode.objects.filter(patient_id=OuterRef("pk")).exclude(
        status=EpisodeStatus.DISCHARGED
    )


def _with_current_episode(qs: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotate the open episode's step and status (None when the patient has none open)."""
    return qs.annotate(
        current_step=Subquery(_open_episodes().values("current_step")[:1]),
        episode_status=Subquery(_open_episodes().values("status")[:1]),
    )


def patient_list(
    *,
    user: User,
    now: datetime,
    site_id: int | None = None,
    step: int | None = None,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> PatientPage:
    """One page of the patients ``user`` may see, filtered; audits each patient shown.

    The query count does not depend on the number of patients (tested).
    """
    vis = visibility_for(user, now=now)
    qs = vis.patients
    if site_id is not None:
        qs = qs.filter(Q(site_id=site_id) | Q(Exists(_open_episodes().filter(site_id=site_id))))
    if step is not None:
        qs = qs.filter(Exists(_open_episodes().filter(current_step=step)))
    if search:
        term = search.strip()
        qs = qs.filter(
            Q(record_number__iexact=term)
            | Q(family_name__istartswith=term)
            | Q(given_name__istartswith=term)
        )
    count = qs.count()
    rows = list(
        _with_current_episode(qs.select_related("site")).order_by(
            "family_name", "given_name", "id"
        )[offset : offset + limit]
    )
    if rows:
        audit_record_many(
            actor=user,
            action="patient.listed",
            now=now,
            patient_ids=[p.pk for p in rows],
            break_glass_ids=vis.break_glass_ids,
        )
    return PatientPage(rows, count, vis.policy.view)


@dataclass(frozen=True, slots=True)
class PatientRecord:
    patient: Patient
    view: View
    via_break_glass: bool
    episodes: list[Episode]


def patient_detail(
    *,
    user: User,
    patient_id: int,
    now: datetime,
    with_episodes: bool = True,
    action: str = "patient.viewed",
) -> PatientRecord:
    """A patient record with episodes and step history; NotFound when out of scope.

    Audited as ``action``; a read through break-the-glass carries the grant's reason.
    """
    vis = visibility_for(user, now=now)
    patient = _with_current_episode(vis.patients.select_related("site")).filter(pk=patient_id)
    found = patient.first()
    if found is None:
        raise NotFound("patient")
    via_glass = found.pk in vis.break_glass_ids
    episodes: list[Episode] = []
    # Peers see no clinical history; only full views include episodes.
    if with_episodes and vis.policy.view is View.FULL:
        episodes = list(
            _episodes_with_history().filter(patient_id=found.pk).order_by("-referral_date", "-id")
        )
    audit_record(
        actor=user,
        action=action,
        now=now,
        patient_id=found.pk,
        object_type="patient",
        object_id=found.pk,
        reason=_glass_reason(user, found.pk, now) if via_glass else "",
        via_break_glass=via_glass,
    )
    return PatientRecord(found, vis.policy.view, via_glass, episodes)


def _episodes_with_history() -> QuerySet[Episode]:
    return Episode.objects.select_related("site").prefetch_related(
        Prefetch(
            "step_changes",
            queryset=StepChange.objects.select_related("decided_by").order_by("changed_at", "id"),
        ),
        "team",
        "team__user",
    )


def episode_just_written(episode_id: int) -> Episode:
    """An episode with its history, to answer the write that just made or changed it.

    Not audited as a read: the service audited the write, and the writer already had access.
    """
    return _episodes_with_history().get(pk=episode_id)


def episode_list(*, user: User, patient_id: int, now: datetime) -> list[Episode]:
    """A patient's episodes with step history (full views only); audited as one read."""
    record = patient_detail(
        user=user, patient_id=patient_id, now=now, with_episodes=True, action="episode.listed"
    )
    if record.view is not View.FULL:
        raise NotFound("patient")
    return record.episodes


def _glass_reason(user: User, patient_id: int, now: datetime) -> str:
    grant = active_break_glass(user, now=now).filter(patient_id=patient_id).first()
    return grant.reason if grant else ""


@dataclass(frozen=True, slots=True)
class SiteStepCount:
    site_id: int
    site_name: str
    step: int
    patients: int


def open_episodes_by_site_and_step() -> list[SiteStepCount]:
    """Counts of open episodes per site and step: aggregates, no patient-level rows."""
    rows = (
        Episode.objects.exclude(status=EpisodeStatus.DISCHARGED)
        .values("site_id", "site__name", "current_step")
        .annotate(n=Count("id"))
        .order_by("site__name", "current_step")
    )
    return [SiteStepCount(r["site_id"], r["site__name"], r["current_step"], r["n"]) for r in rows]


def sites_for(user: User) -> QuerySet[Site]:
    return Site.objects.filter(memberships__user_id=user.pk).order_by("name")
