"""Inbound SMS (the gateway's webhook): opt-out and opt-in, short-score replies to check-in
prompts, and everything else answered plainly or logged — never a crash, never the text
kept or logged (a reply may hold anything)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.content import coordination_rules, message_templates
from stepwell.apps.coordination.models import (
    InboundMessage,
    InboundOutcome,
    Reminder,
    ReminderKind,
    ReminderStatus,
)
from stepwell.apps.core.errors import InvalidInput
from stepwell.apps.measurement.models import Assessment, CaptureMode
from stepwell.apps.measurement.registry import instrument as find_instrument
from stepwell.apps.measurement.services import assessment_store
from stepwell.apps.outbox.models import Notification, OutChannel
from stepwell.apps.outbox.services import notification_enqueue
from stepwell.apps.patients.models import Patient
from stepwell.domain.coordination.inbound import NotUnderstood, OptIn, OptOut, ShortScore, parse_sms
from stepwell.domain.coordination.reminders import language_for
from stepwell.domain.instruments.scoring import AnswerError, score
from stepwell.domain.records import FieldProblem, phone_number

log = logging.getLogger(__name__)


def normalise_number(raw: str) -> str | None:
    """The sender's number in the form patients' numbers are stored in (``phone_number``)."""
    return phone_number(raw)


@dataclass(frozen=True, slots=True)
class InboundResult:
    message: InboundMessage
    created: bool  # False: this provider id was handled before (a webhook retry)


def _reply(provider_id: str, number: str, code: str, language: str, now: datetime) -> Notification:
    _subject, body = message_templates().render(code, "sms", language, {})
    return notification_enqueue(
        key=f"sms-reply:{provider_id}",
        channel=OutChannel.SMS,
        recipient=None,
        address=number,
        subject="",
        body=body,
        ref_type="inbound-sms",
        ref_id=0,
        now=now,
    )


def _set_sms_consent(
    patients: list[Patient], consent: bool, provider_id: str, now: datetime
) -> None:
    Patient.objects.filter(pk__in=[p.pk for p in patients]).update(consent_sms=consent)
    for p in patients:
        audit_record(
            actor=None,
            action="patient.sms_opted_in" if consent else "patient.sms_opted_out",
            now=now,
            patient_id=p.pk,
            object_type="patient",
            object_id=p.pk,
            details={"via": "sms", "message": provider_id},
        )


def _answering(patients: list[Patient], now: datetime) -> tuple[Patient | None, Reminder | None]:
    """Which patient a short-score reply is from: the one with the latest check-in prompt
    sent to this number lately; the only patient with the number otherwise. None when a
    shared number leaves it ambiguous (a family phone: nothing is recorded on a guess)."""
    prompt = (
        Reminder.objects.filter(
            patient__in=patients,
            kind=ReminderKind.CHECK_IN,
            status=ReminderStatus.QUEUED,
            channel=OutChannel.SMS,
            answered_at__isnull=True,  # an answered prompt waits for no reply
            # A reply answers the latest prompt sent to that number lately (access.yaml).
            handled_at__gte=now - timedelta(days=coordination_rules().inbound.reply_match_days),
            handled_at__lte=now,
        )
        .order_by("-handled_at", "-id")
        .first()
    )
    if prompt is not None:
        return next(p for p in patients if p.pk == prompt.patient_id), prompt
    if len(patients) == 1:
        return patients[0], None
    return None, None


def _record_score(
    patient: Patient, command: ShortScore, now: datetime
) -> tuple[Assessment | None, str]:
    """Score and store the reply as an SMS-captured assessment; (None, problem) if it cannot
    be scored. Safety rules run as for any assessment."""
    code = coordination_rules().inbound.short_scores.get(command.instrument, command.instrument)
    instrument = find_instrument(code)
    if instrument is None:
        return None, f"no instrument {code}"
    try:
        result = score(instrument, list(command.values))
    except AnswerError as exc:
        return None, str(exc)
    assessment = assessment_store(
        patient=patient,
        definition=instrument,
        answers=list(command.values),
        result=result,
        taken_at=now,
        mode=CaptureMode.SMS,
        actor=None,
        now=now,
    )
    return assessment, ""


def sms_inbound_handle(
    *, provider_id: str, from_number: str, body: str, now: datetime
) -> InboundResult:
    """Handle one inbound SMS once (idempotent on the provider's message id).

    Raises InvalidInput naming the field for a request the gateway should not have sent
    (no message id, no sender); any body, however odd, gets an outcome and usually a reply.
    """
    problems = []
    provider_id = (provider_id or "").strip()
    if not provider_id or len(provider_id) > 100:
        problems.append(FieldProblem("message_id", "required, at most 100 characters"))
    number = normalise_number(from_number)
    if number is None:
        problems.append(FieldProblem("from", "not a phone number"))
    if problems:
        raise InvalidInput(problems)
    assert number is not None
    existing = InboundMessage.objects.filter(provider_id=provider_id).first()
    if existing is not None:
        return InboundResult(existing, created=False)
    try:
        with transaction.atomic():
            return InboundResult(_handle(provider_id, number, body or "", now), created=True)
    except IntegrityError:
        # The same message handled at this moment by a parallel webhook call.
        return InboundResult(InboundMessage.objects.get(provider_id=provider_id), created=False)


def _handle(provider_id: str, number: str, body: str, now: datetime) -> InboundMessage:
    patients = list(Patient.objects.filter(phone=number).order_by("id"))
    command = parse_sms(body, coordination_rules().inbound)
    language = language_for(patients[0].preferred_language if patients else None)
    message = InboundMessage(provider_id=provider_id, received_at=now, outcome="")
    reply_code: str | None = None
    if not patients:
        message.outcome = InboundOutcome.UNKNOWN_NUMBER
        reply_code = "number-unknown"
    elif isinstance(command, OptOut):
        _set_sms_consent(patients, False, provider_id, now)
        message.outcome, reply_code = InboundOutcome.OPTED_OUT, "opt-out-confirmed"
    elif isinstance(command, OptIn):
        _set_sms_consent(patients, True, provider_id, now)
        message.outcome, reply_code = InboundOutcome.OPTED_IN, "opt-in-confirmed"
    elif isinstance(command, ShortScore):
        patient, prompt = _answering(patients, now)
        if patient is None:
            message.outcome, message.detail = InboundOutcome.NOT_RECORDED, "shared number"
            reply_code = "reply-not-understood"
        else:
            patients = [patient]
            assessment, problem = _record_score(patient, command, now)
            if assessment is None:
                message.outcome, message.detail = InboundOutcome.NOT_RECORDED, problem[:200]
                reply_code = "reply-not-understood"
            else:
                message.outcome, message.assessment = InboundOutcome.RECORDED, assessment
                reply_code = "reply-recorded"
                if prompt is not None:
                    Reminder.objects.filter(pk=prompt.pk).update(answered_at=now)
    else:
        assert isinstance(command, NotUnderstood)
        message.outcome, message.detail = InboundOutcome.NOT_UNDERSTOOD, command.reason
        reply_code = "reply-not-understood"
    # Opted-out numbers get only the opt-out confirmation (carriers require that one).
    may_reply = (
        message.outcome == InboundOutcome.OPTED_OUT
        or not patients
        or any(p.consent_sms for p in Patient.objects.filter(pk__in=[p.pk for p in patients]))
    )
    if reply_code and may_reply:
        message.reply = _reply(provider_id, number, reply_code, language, now)
    message.save()
    message.patients.set(patients)
    log.info("inbound sms %s: %s", message.pk, message.outcome)
    return message
