"""Reads for the stepping area: the caseload registry, an episode's recommendations.

Every read starts from the access selector and audits the patients it returns. The caseload
costs a fixed number of queries whatever its size (tested).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import translation
from django.utils.translation import ngettext

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record_many
from stepwell.apps.core.errors import NotFound
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.patients.models import Episode, EpisodeStatus, StepChange
from stepwell.apps.safety.models import EscalationTask, TaskStatus
from stepwell.apps.safety.selectors import open_risk_by_patient
from stepwell.apps.stepping.models import EpisodeFlag, Recommendation
from stepwell.apps.stepping.protocols import active_protocol
from stepwell.domain.access.policy import Scope, View
from stepwell.domain.stepping.engine import FLAGS, Reason
from stepwell.domain.stepping.protocol import Protocol

_CARE_TEAM_SCOPES = {Scope.SITES, Scope.SITES_AND_CARE_TEAM}
SORTS = {
    "flags": (
        F("review__flag_count").desc(nulls_last=True),
        "patient__family_name",
        "patient__given_name",
        "id",
    ),
    "name": ("patient__family_name", "patient__given_name", "id"),
    "step": ("-current_step", "patient__family_name", "id"),
    "weeks": ("step_since", "id"),
    "review": (F("review__next_review").asc(nulls_last=True), "id"),
}


def reason_texts(
    reasons: list[dict[str, Any]], language: str, protocol: Protocol | None = None
) -> list[str]:
    """Stored reasons (codes + parameters) as sentences of ``protocol`` (default: the one
    in force; codes are stable across versions, sentences may be reworded)."""
    protocol = protocol or active_protocol()
    out = []
    for r in reasons:
        code = r.get("code", "")
        if code in protocol.texts:
            out.append(Reason(code, r.get("params", {})).text(protocol, language))
        else:  # a code a later protocol dropped: say so rather than guess
            out.append(code)
    return out


@dataclass(frozen=True, slots=True)
class FlagView:
    code: str
    reasons: list[str]
    protocol_version: str


@dataclass(slots=True)
class CaseloadRow:
    """One open episode in the registry (plain values: a page is read, not edited)."""

    episode_id: int
    patient_id: int
    record_number: str
    given_name: str
    family_name: str
    site_name: str
    step: int
    weeks_on_step: int
    next_review: date | None
    flags: list[FlagView] = field(default_factory=list)
    scores: dict[str, tuple[int, str] | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseloadPage:
    rows: list[CaseloadRow]
    count: int
    measures: tuple[str, ...]


def _latest_scores(
    patient_ids: list[int], measures: tuple[str, ...]
) -> dict[tuple[int, str], tuple[int, str]]:
    """(patient, instrument) → (total, band) of the latest assessment, in one query."""
    ranked = (
        Assessment.objects.filter(patient_id__in=patient_ids, instrument__in=measures)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("patient_id"), F("instrument")],
                order_by=[F("taken_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .values_list("patient_id", "instrument", "total", "band")
    )
    return {(p, code): (total, band) for p, code, total, band in ranked}


def caseload(
    *,
    user: User,
    now: datetime,
    language: str,
    flag: str | None = None,
    site_id: int | None = None,
    step: int | None = None,
    sort: str = "flags",
    limit: int = 50,
    offset: int = 0,
) -> CaseloadPage:
    """Open episodes of the patients ``user`` sees in full, with flags (reasons in
    ``language``), latest primary scores, weeks on step and next review. Audited per
    patient shown (``caseload.listed``)."""
    vis = visibility_for(user, now=now)
    # The registry is the care team's view: roles that reach patients through sites.
    if vis.policy.view is not View.FULL or vis.policy.scope not in _CARE_TEAM_SCOPES:
        raise NotFound("caseload")
    protocol = active_protocol()
    measures = protocol.primary_measures
    qs: QuerySet[Episode] = Episode.objects.exclude(status=EpisodeStatus.DISCHARGED).filter(
        patient__in=vis.patients
    )
    # An unresolved safety task puts the patient at risk whatever the last review said (a
    # later item-9 = 0 does not clear risk raised by a concern or by crisis language).
    open_task = Exists(
        EscalationTask.objects.filter(patient_id=OuterRef("patient_id")).exclude(
            status=TaskStatus.RESOLVED
        )
    )
    if flag:
        flagged = Exists(EpisodeFlag.objects.filter(episode_id=OuterRef("pk"), code=flag))
        qs = qs.filter(flagged | open_task if flag == "safety-risk" else flagged)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    if step is not None:
        qs = qs.filter(current_step=step)
    episodes = list(
        qs.annotate(
            # The total rides on every row: one query instead of a separate COUNT.
            total_rows=Window(Count("id")),
            step_since=Subquery(
                StepChange.objects.filter(episode_id=OuterRef("pk"))
                .order_by("-changed_at", "-id")
                .values("changed_at")[:1]
            ),
        )
        .order_by(
            *((open_task.desc(),) if sort == "flags" else ()), *SORTS.get(sort, SORTS["flags"])
        )
        .values_list(
            "id",
            "patient_id",
            "patient__record_number",
            "patient__given_name",
            "patient__family_name",
            "site__name",
            "current_step",
            "review__next_review",
            "step_since",
            "created_at",
            "total_rows",
        )[offset : offset + limit]
    )
    count = episodes[0][-1] if episodes else (qs.count() if offset else 0)
    patient_ids = [e[1] for e in episodes]
    latest = _latest_scores(patient_ids, measures)
    flags: dict[int, list[FlagView]] = defaultdict(list)
    for episode_id, code, reasons, version in (
        EpisodeFlag.objects.filter(episode_id__in=[e[0] for e in episodes])
        .order_by("code")
        .values_list("episode_id", "code", "reasons", "protocol_version")
    ):
        flags[episode_id].append(FlagView(code, reason_texts(reasons, language, protocol), version))
    for pid, risk in open_risk_by_patient(patient_ids).items():
        with translation.override(language):
            text = ngettext(
                "%(n)s unresolved safety task (most severe: %(severity)s)",
                "%(n)s unresolved safety tasks (most severe: %(severity)s)",
                risk.count,
            ) % {"n": risk.count, "severity": risk.severity}
        for eid in (e[0] for e in episodes if e[1] == pid):
            current = next((f for f in flags[eid] if f.code == "safety-risk"), None)
            if current is None:
                flags[eid].append(FlagView("safety-risk", [text], protocol.version))
            else:
                current.reasons.insert(0, text)
    rows = []
    for eid, pid, record, given, family, site, on_step, next_review, since, created, _ in episodes:
        rows.append(
            CaseloadRow(
                episode_id=eid,
                patient_id=pid,
                record_number=record,
                given_name=given,
                family_name=family,
                site_name=site,
                step=on_step,
                weeks_on_step=max(0, (now - (since or created)).days // 7),
                next_review=next_review,
                flags=sorted(flags[eid], key=lambda f: FLAGS.index(f.code)),
                scores={code: latest.get((pid, code)) for code in measures},
            )
        )
    if rows:
        audit_record_many(
            actor=user,
            action="caseload.listed",
            now=now,
            patient_ids=patient_ids,
            break_glass_ids=vis.break_glass_ids,
        )
    return CaseloadPage(rows, count, measures)


@dataclass(frozen=True, slots=True)
class RecommendationView:
    recommendation: Recommendation
    reasons: list[str]


def patient_recommendations(
    *, user: User, patient_id: int, now: datetime, language: str
) -> dict[int, list[RecommendationView]]:
    """Open recommendations per open episode of a patient seen in full (part of the
    patient page, whose read is audited there); reasons in ``language``."""
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL:
        return {}
    recs = Recommendation.objects.filter(
        episode__patient_id=patient_id,
        episode__patient__in=vis.patients,
        status="open",
    ).order_by("episode_id", "id")
    out: dict[int, list[RecommendationView]] = defaultdict(list)
    for r in recs:
        out[r.episode_id].append(RecommendationView(r, reason_texts(r.reasons, language)))
    return dict(out)
