"""Reading assessments; starts from the access selector and audits what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max

from stepwell.apps.accounts.models import User
from stepwell.apps.core.errors import NotFound
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.patients.selectors import PatientRecord, patient_detail
from stepwell.domain.access.policy import View


def _full_record(*, user: User, patient_id: int, now: datetime, action: str) -> PatientRecord:
    record = patient_detail(
        user=user, patient_id=patient_id, now=now, with_episodes=False, action=action
    )
    if record.view is not View.FULL:  # peers never see scores
        raise NotFound("patient")
    return record


def assessments_for_patient(
    *, user: User, patient_id: int, now: datetime, instrument: str | None = None
) -> list[Assessment]:
    """A patient's assessments, oldest first; NotFound when out of scope or for peers."""
    return patient_progress(user=user, patient_id=patient_id, now=now, instrument=instrument)[1]


def patient_progress(
    *, user: User, patient_id: int, now: datetime, instrument: str | None = None
) -> tuple[PatientRecord, list[Assessment]]:
    """The patient record and their assessments (of one instrument, if given), oldest first.

    One audited read (``assessment.listed``); NotFound when out of scope or for peers.
    """
    record = _full_record(user=user, patient_id=patient_id, now=now, action="assessment.listed")
    qs = Assessment.objects.filter(patient_id=patient_id)
    if instrument:
        qs = qs.filter(instrument__iexact=instrument)
    return record, list(qs.order_by("taken_at", "id"))


@dataclass(frozen=True, slots=True)
class InstrumentSummary:
    instrument: str
    count: int
    latest: Assessment


def assessment_summary(*, user: User, patient_id: int, now: datetime) -> list[InstrumentSummary]:
    """Per instrument the patient has answered: how many times, and the latest assessment.

    Two queries whatever the history's length; audited as one read.
    """
    _full_record(user=user, patient_id=patient_id, now=now, action="assessment.summarised")
    per_instrument = (
        Assessment.objects.filter(patient_id=patient_id)
        .values("instrument")
        .annotate(n=Count("id"), last=Max("taken_at"))
    )
    counts = {r["instrument"]: (r["n"], r["last"]) for r in per_instrument}
    if not counts:
        return []
    latest: dict[str, Assessment] = {}
    candidates = Assessment.objects.filter(
        patient_id=patient_id, taken_at__in=[last for _, last in counts.values()]
    ).order_by("taken_at", "id")
    for a in candidates:
        if a.taken_at == counts[a.instrument][1]:
            latest[a.instrument] = a  # the last of equal times wins
    return [
        InstrumentSummary(code, counts[code][0], latest[code])
        for code in sorted(counts)
        if code in latest
    ]
