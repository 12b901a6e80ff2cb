"""Reading assessments; starts from the access selector and audits what it returns."""

from __future__ import annotations

from datetime import datetime

from stepwell.apps.accounts.models import User
from stepwell.apps.core.errors import NotFound
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.patients.selectors import patient_detail
from stepwell.domain.access.policy import View


def assessments_for_patient(
    *, user: User, patient_id: int, now: datetime, instrument: str | None = None
) -> list[Assessment]:
    """A patient's assessments, oldest first; NotFound when out of scope or for peers."""
    record = patient_detail(
        user=user, patient_id=patient_id, now=now, with_episodes=False, action="assessment.listed"
    )
    if record.view is not View.FULL:
        raise NotFound("patient")
    qs = Assessment.objects.filter(patient_id=patient_id)
    if instrument:
        qs = qs.filter(instrument__iexact=instrument)
    return list(qs.order_by("taken_at", "id"))
