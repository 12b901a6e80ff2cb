"""Writes to patients and episodes: validate, persist, audit — in one transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from stepwell.apps.access.selectors import visible_patients
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.core.errors import Forbidden, InvalidInput
from stepwell.apps.network.models import Site
from stepwell.apps.patients.models import (
    CareTeamMember,
    DischargeReason,
    Episode,
    EpisodeStatus,
    Patient,
    StepChange,
)
from stepwell.domain.access.policy import Role, policy_for
from stepwell.domain.records import (
    FieldProblem,
    check_birth_date,
    check_episode_dates,
    check_location,
    check_step,
    phone_number,
)

_RECORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on the phone


def new_record_number(rng: secrets.SystemRandom | None = None) -> str:
    """A pseudonymous record number such as ``SW-7KQ2M9XA``; reveals nothing about the person."""
    pick = (rng or secrets.SystemRandom()).choice
    return "SW-" + "".join(pick(_RECORD_ALPHABET) for _ in range(8))


@dataclass(frozen=True, slots=True)
class PatientInput:
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    gender: str
    preferred_language: str
    site_id: int
    preferred_channel: str = "sms"
    phone: str = ""
    email: str = ""
    consent_care: bool = True
    consent_peer_support: bool = False
    consent_share_with_peer: bool = False
    consent_sms: bool = False
    consent_email: bool = False
    home_latitude: float | None = None
    home_longitude: float | None = None


def _member_site(actor: User, site_id: int, *, field: str) -> Site:
    site = Site.objects.filter(pk=site_id, active=True).first()
    if site is None:
        raise InvalidInput([FieldProblem(field, f"site {site_id} does not exist")])
    if not actor.memberships.filter(site_id=site_id).exists():
        raise InvalidInput([FieldProblem(field, f"site {site_id} is not one of your sites")])
    return site


@transaction.atomic
def patient_create(*, actor: User, data: PatientInput, now: datetime) -> Patient:
    """Register a patient at one of the actor's sites. Raises InvalidInput naming each field."""
    if not policy_for(actor.role).may_register_patients:
        raise Forbidden("this role cannot register patients")
    problems = check_birth_date(data.birth_date, today=timezone.localdate(now))
    problems += check_location(data.home_latitude, data.home_longitude, prefix="home")
    if data.consent_share_with_peer and not data.consent_peer_support:
        problems.append(
            FieldProblem(
                "consent_share_with_peer", "sharing with a peer needs consent to peer support"
            )
        )
    phone = phone_number(data.phone) if data.phone.strip() else ""
    if phone is None:
        problems.append(
            FieldProblem("phone", f"{data.phone!r} is not a phone number (6 to 15 digits)")
        )
    if data.preferred_channel == "sms" and not data.phone.strip():
        problems.append(FieldProblem("phone", "needed when the preferred channel is sms"))
    if data.preferred_channel == "email" and not data.email:
        problems.append(FieldProblem("email", "needed when the preferred channel is email"))
    if problems:
        raise InvalidInput(problems)
    site = _member_site(actor, data.site_id, field="site_id")
    fields = {
        name: getattr(data, name) for name in PatientInput.__dataclass_fields__ if name != "site_id"
    }
    fields["phone"] = phone or ""  # stored normalised: inbound SMS match it exactly
    for _attempt in range(5):
        try:
            with transaction.atomic():
                patient = Patient.objects.create(
                    record_number=new_record_number(), site=site, created_at=now, **fields
                )
            break
        except IntegrityError:  # record-number collision: astronomically rare, try again
            continue
    else:  # pragma: no cover - would need five collisions in a row
        raise RuntimeError("could not allocate a record number")
    audit_record(
        actor=actor,
        action="patient.created",
        now=now,
        patient_id=patient.pk,
        object_type="patient",
        object_id=patient.pk,
    )
    return patient


@dataclass(frozen=True, slots=True)
class EpisodeInput:
    patient_id: int
    site_id: int
    referral_source: str
    referral_date: date
    first_contact_date: date | None = None
    step: int = 1
    reason: str = ""


@transaction.atomic
def episode_create(*, actor: User, data: EpisodeInput, now: datetime) -> Episode:
    """Open an episode of care at ``data.step`` with its first step-history entry."""
    if not policy_for(actor.role).may_open_episodes:
        raise Forbidden("this role cannot open episodes")
    problems = check_episode_dates(
        referral_date=data.referral_date,
        first_contact_date=data.first_contact_date,
        today=timezone.localdate(now),
    )
    problems += check_step(data.step)
    if not data.reason.strip():
        problems.append(FieldProblem("reason", "say why the episode starts at this step"))
    patient = visible_patients(actor, now=now).filter(pk=data.patient_id).first()
    if patient is None:
        # Out of scope reads exactly like non-existent (PRODUCT.md §2).
        problems.append(FieldProblem("patient_id", f"patient {data.patient_id} does not exist"))
    if problems:
        raise InvalidInput(problems)
    assert patient is not None
    site = _member_site(actor, data.site_id, field="site_id")
    if Episode.objects.filter(patient=patient).exclude(status=EpisodeStatus.DISCHARGED).exists():
        raise InvalidInput([FieldProblem("patient_id", "the patient already has an open episode")])
    episode = Episode.objects.create(
        patient=patient,
        site=site,
        referral_source=data.referral_source,
        referral_date=data.referral_date,
        first_contact_date=data.first_contact_date,
        current_step=data.step,
        status=EpisodeStatus.ACTIVE if data.first_contact_date else EpisodeStatus.REFERRED,
        created_at=now,
    )
    StepChange.objects.create(
        episode=episode,
        from_step=None,
        to_step=data.step,
        changed_at=now,
        reason=data.reason.strip(),
        decided_by=actor,
    )
    if actor.role == Role.CLINICIAN:
        CareTeamMember.objects.create(episode=episode, user=actor, role="lead clinician")
    audit_record(
        actor=actor,
        action="episode.created",
        now=now,
        patient_id=patient.pk,
        object_type="episode",
        object_id=episode.pk,
        reason=data.reason.strip(),
        details={"step": data.step},
    )
    return episode


@transaction.atomic
def episode_step_change(
    *,
    actor: User,
    episode_id: int,
    to_step: int,
    reason: str,
    now: datetime,
    protocol_version: str = "",
) -> Episode:
    """Move an open episode to ``to_step``; the history keeps the reason and protocol version."""
    if not policy_for(actor.role).may_decide_steps:
        raise Forbidden("only clinicians change steps")
    problems = check_step(to_step, field="to_step")
    if not reason.strip():
        problems.append(FieldProblem("reason", "a step change needs a reason"))
    episode = (
        Episode.objects.select_for_update()
        .filter(pk=episode_id, patient__in=visible_patients(actor, now=now))
        .first()
    )
    if episode is None:
        problems.append(FieldProblem("episode_id", f"episode {episode_id} does not exist"))
    elif episode.status == EpisodeStatus.DISCHARGED:
        problems.append(FieldProblem("episode_id", "the episode is discharged"))
    elif episode.current_step == to_step:
        problems.append(FieldProblem("to_step", f"the episode is already at step {to_step}"))
    if problems:
        raise InvalidInput(problems)
    assert episode is not None
    from_step = episode.current_step
    Episode.objects.filter(pk=episode.pk).update(current_step=to_step)
    episode.current_step = to_step
    StepChange.objects.create(
        episode=episode,
        from_step=from_step,
        to_step=to_step,
        changed_at=now,
        reason=reason.strip(),
        decided_by=actor,
        protocol_version=protocol_version,
    )
    audit_record(
        actor=actor,
        action="episode.step_changed",
        now=now,
        patient_id=episode.patient_id,
        object_type="episode",
        object_id=episode.pk,
        reason=reason.strip(),
        details={"from_step": from_step, "to_step": to_step, "protocol_version": protocol_version},
    )
    return episode


@transaction.atomic
def episode_discharge(
    *, actor: User, episode_id: int, discharge_reason: str, now: datetime
) -> Episode:
    """Close an open episode (``discharge_reason`` one of DischargeReason); audited."""
    if not policy_for(actor.role).may_decide_steps:
        raise Forbidden("only clinicians discharge")
    problems: list[FieldProblem] = []
    if discharge_reason not in DischargeReason.values:
        allowed = ", ".join(DischargeReason.values)
        problems.append(
            FieldProblem("discharge_reason", f"{discharge_reason!r} is not one of {allowed}")
        )
    episode = (
        Episode.objects.select_for_update()
        .filter(pk=episode_id, patient__in=visible_patients(actor, now=now))
        .first()
    )
    if episode is None:
        problems.append(FieldProblem("episode_id", f"episode {episode_id} does not exist"))
    elif episode.status == EpisodeStatus.DISCHARGED:
        problems.append(FieldProblem("episode_id", "the episode is already discharged"))
    if problems:
        raise InvalidInput(problems)
    assert episode is not None
    episode.status = EpisodeStatus.DISCHARGED
    episode.discharge_reason = discharge_reason
    episode.discharge_date = now.date()
    episode.save(update_fields=["status", "discharge_reason", "discharge_date"])
    audit_record(
        actor=actor,
        action="episode.discharged",
        now=now,
        patient_id=episode.patient_id,
        object_type="episode",
        object_id=episode.pk,
        details={"discharge_reason": discharge_reason},
    )
    return episode
