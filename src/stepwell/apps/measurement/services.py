"""Recording assessments: score by the instrument file, store answers and score, audit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction

from stepwell.apps.access.selectors import visible_patients
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.measurement.models import Assessment, CaptureMode
from stepwell.apps.measurement.registry import instrument as find_instrument
from stepwell.apps.patients.models import Episode, EpisodeStatus, Patient
from stepwell.apps.safety.services import signals_from_assessment
from stepwell.domain.access.policy import Role, View, policy_for
from stepwell.domain.instruments.model import Instrument
from stepwell.domain.instruments.scoring import Answer, AnswerError, Score, score
from stepwell.domain.records import FieldProblem

# Devices' clocks drift; an assessment a few minutes "in the future" is a clock, not an error.
_CLOCK_SKEW = timedelta(minutes=10)
_PATIENT_MODES = {CaptureMode.PORTAL, CaptureMode.SMS}


@transaction.atomic
def assessment_record(
    *,
    actor: User,
    patient_id: int,
    instrument_code: str,
    answers: Sequence[Answer],
    taken_at: datetime,
    mode: str,
    now: datetime,
) -> Assessment:
    """Score and store one assessment for a patient the actor may see.

    Raises NotFound (patient out of scope), Forbidden (role), InvalidInput (naming the field
    or item). Nothing is stored unless everything is valid.
    """
    policy = policy_for(actor.role)
    patient = visible_patients(actor, now=now).filter(pk=patient_id).first()
    if patient is None or policy.view is not View.FULL:
        raise NotFound("patient")
    if not policy.may_record_assessments:
        raise Forbidden("this role cannot record assessments")
    problems = []
    if taken_at.tzinfo is None:
        problems.append(FieldProblem("taken_at", "needs a time zone (e.g. 2026-11-23T10:00Z)"))
    elif taken_at > now + _CLOCK_SKEW:
        problems.append(FieldProblem("taken_at", f"{taken_at.isoformat()} is in the future"))
    if mode not in CaptureMode.values:
        problems.append(
            FieldProblem("mode", f"{mode!r} is not one of " + ", ".join(CaptureMode.values))
        )
    elif (actor.role == Role.PATIENT) != (mode in _PATIENT_MODES):
        problems.append(FieldProblem("mode", f"{mode!r} does not fit a {actor.role}"))
    definition = find_instrument(instrument_code)
    if definition is None:
        problems.append(FieldProblem("instrument", f"{instrument_code!r} is not an instrument"))
        raise InvalidInput(problems)
    answer_error: AnswerError | None = None
    try:
        result = score(definition, answers)
    except AnswerError as exc:
        answer_error = exc
        problems.append(FieldProblem("answers", str(exc)))
    if problems:
        # The AnswerError rides along as the cause so a page can mark the items at fault.
        raise InvalidInput(problems) from answer_error
    return assessment_store(
        patient=patient,
        definition=definition,
        answers=answers,
        result=result,
        taken_at=taken_at,
        mode=mode,
        actor=actor,
        now=now,
    )


def assessment_store(
    *,
    patient: Patient,
    definition: Instrument,
    answers: Sequence[Answer],
    result: Score,
    taken_at: datetime,
    mode: str,
    actor: User | None,
    now: datetime,
) -> Assessment:
    """Store an assessment already scored and checked (``assessment_record`` for people;
    an SMS reply has no actor), audited ``assessment.recorded``, with its safety events in
    the same transaction. Call inside a transaction."""
    episode = (
        Episode.objects.filter(patient=patient).exclude(status=EpisodeStatus.DISCHARGED).first()
    )
    assessment = Assessment.objects.create(
        patient=patient,
        episode=episode,
        instrument=definition.code,
        instrument_version=definition.version,
        answers=list(answers),
        total=result.total,
        band=result.band,
        caseness=result.caseness,
        prorated=result.prorated,
        missing=list(result.missing),
        safety=list(result.safety),
        taken_at=taken_at,
        mode=mode,
        recorded_by=actor,
        created_at=now,
    )
    audit_record(
        actor=actor,
        action="assessment.recorded",
        now=now,
        patient_id=patient.pk,
        object_type="assessment",
        object_id=assessment.pk,
        details={"instrument": definition.code, "version": definition.version},
    )
    # In the same transaction: an item-9 answer is never stored without its safety event.
    signals_from_assessment(assessment, definition, actor=actor, now=now)
    return assessment
