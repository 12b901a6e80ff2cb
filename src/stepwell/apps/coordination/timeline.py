"""An episode's journey as one chronological list: referral, first contact, assessments,
step changes with their reasons, appointments and no-shows, peer encounters, barriers and
what was done, referrals, safety events, discharge.

Read for one visible episode, by the care team (full view); audited ``journey.viewed``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils.translation import gettext as _

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.content import barrier_vocabulary, coordination_rules
from stepwell.apps.coordination.models import (
    Appointment,
    Attendance,
    Barrier,
    BarrierAction,
    BarrierStatus,
    Referral,
    ReferralStatus,
)
from stepwell.apps.core.errors import NotFound
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.patients.models import DischargeReason, Episode, StepChange
from stepwell.apps.peers.models import PeerEncounter
from stepwell.apps.safety.models import SafetyEvent
from stepwell.domain.access.policy import Role, View

# The kinds an entry may have, in the order the filter lists them.
KINDS = (
    "referral",
    "contact",
    "assessment",
    "step",
    "appointment",
    "encounter",
    "barrier",
    "safety",
    "discharge",
)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # one of KINDS
    title: str
    detail: str = ""
    ref_type: str = ""
    ref_id: int = 0


@dataclass(frozen=True, slots=True)
class Journey:
    episode_id: int
    patient_id: int
    record_number: str
    entries: list[TimelineEntry]  # oldest first
    kinds: tuple[str, ...]  # the kinds shown (all when no filter)


def _day(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), coordination_rules().default.zone)


def _entries(episode: Episode, language: str, until: datetime) -> list[TimelineEntry]:
    """Every entry of the episode's window (referral to discharge, or now)."""
    rules = coordination_rules()
    vocabulary = barrier_vocabulary()
    patient_id = episode.patient_id
    start = _day(episode.referral_date)
    # Through the whole discharge day (its last contacts happen on it), else until now.
    end = _day(episode.discharge_date + timedelta(days=1)) if episode.discharge_date else until
    window = {"patient_id": patient_id}
    out = [
        TimelineEntry(
            start,
            "referral",
            _("Referred to care"),
            episode.get_referral_source_display(),
            "episode",
            episode.pk,
        )
    ]
    if episode.first_contact_date:
        out.append(TimelineEntry(_day(episode.first_contact_date), "contact", _("First contact")))
    for a in Assessment.objects.filter(**window, taken_at__gte=start, taken_at__lte=end):
        out.append(
            TimelineEntry(
                a.taken_at,
                "assessment",
                _("%(instrument)s: %(total)s (%(band)s)")
                % {"instrument": a.instrument, "total": a.total, "band": a.band},
                a.get_mode_display(),
                "assessment",
                a.pk,
            )
        )
    for c in StepChange.objects.filter(episode=episode):
        title = (
            _("Started at step %(to)s") % {"to": c.to_step}
            if c.from_step is None
            else _("Step %(from)s → %(to)s") % {"from": c.from_step, "to": c.to_step}
        )
        out.append(TimelineEntry(c.changed_at, "step", title, c.reason, "step-change", c.pk))
    attendance = dict(Attendance.choices)
    for ap in Appointment.objects.filter(**window, starts_at__gte=start, starts_at__lte=end):
        modality = rules.modalities.get(ap.modality)
        label = modality.label.get(language, ap.modality) if modality else ap.modality
        state = str(attendance[ap.attendance]) if ap.attendance else _("Booked")
        reason = rules.cancellation_reasons.get(ap.cancellation_reason, {})
        detail = state + (f" — {reason.get(language, '')}" if reason else "")
        out.append(TimelineEntry(ap.starts_at, "appointment", label, detail, "appointment", ap.pk))
    for e in PeerEncounter.objects.filter(**window, occurred_at__gte=start, occurred_at__lte=end):
        out.append(
            TimelineEntry(
                e.occurred_at,
                "encounter",
                _("Peer support contact"),
                _("%(minutes)s minutes, %(modality)s")
                % {"minutes": e.minutes, "modality": e.modality},
                "peer-encounter",
                e.pk,
            )
        )
    statuses = dict(BarrierStatus.choices)
    barriers = {
        b.pk: b for b in Barrier.objects.filter(**window, raised_at__gte=start, raised_at__lte=end)
    }
    for b in barriers.values():
        out.append(
            TimelineEntry(
                b.raised_at,
                "barrier",
                _("Barrier: %(kind)s") % {"kind": vocabulary.label("kinds", b.kind, language)},
                b.get_source_display(),
                "barrier",
                b.pk,
            )
        )
    for act in BarrierAction.objects.filter(barrier_id__in=barriers):
        kind = vocabulary.label("kinds", barriers[act.barrier_id].kind, language)
        what = vocabulary.label("actions", act.action, language) if act.action else ""
        out.append(
            TimelineEntry(
                act.at,
                "barrier",
                _("Barrier %(kind)s: %(status)s") % {"kind": kind, "status": statuses[act.status]},
                what,
                "barrier",
                act.barrier_id,
            )
        )
    referral_status = dict(ReferralStatus.choices)
    for r in Referral.objects.filter(**window, sent_at__gte=start, sent_at__lte=end).select_related(
        "to_site"
    ):
        out.append(
            TimelineEntry(
                r.sent_at,
                "referral",
                _("Referred to %(site)s (%(urgency)s)")
                % {"site": r.to_site.name, "urgency": r.get_urgency_display()},
                str(referral_status[r.status]),
                "referral",
                r.pk,
            )
        )
    for s in SafetyEvent.objects.filter(**window, raised_at__gte=start, raised_at__lte=end):
        out.append(
            TimelineEntry(
                s.raised_at,
                "safety",
                _("Safety event (%(severity)s)") % {"severity": s.get_severity_display()},
                s.get_source_display(),
                "safety-event",
                s.pk,
            )
        )
    if episode.discharge_date:
        out.append(
            TimelineEntry(
                _day(episode.discharge_date),
                "discharge",
                _("Discharged"),
                str(dict(DischargeReason.choices).get(episode.discharge_reason, "")),
                "episode",
                episode.pk,
            )
        )
    return out


def journey_timeline(
    *,
    user: User,
    episode_id: int,
    now: datetime,
    language: str,
    kinds: set[str] | None = None,
) -> Journey:
    """The episode's journey, oldest first, optionally only the given ``kinds``."""
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL or user.role == Role.PATIENT:
        raise NotFound("episode")
    episode = (
        Episode.objects.filter(pk=episode_id, patient__in=vis.patients)
        .select_related("patient")
        .first()
    )
    if episode is None:
        raise NotFound("episode")
    chosen = tuple(k for k in KINDS if not kinds or k in kinds)
    entries = [e for e in _entries(episode, language, now) if e.kind in chosen]
    entries.sort(key=lambda e: (e.at, KINDS.index(e.kind)))
    audit_record(
        actor=user,
        action="journey.viewed",
        now=now,
        patient_id=episode.patient_id,
        object_type="episode",
        object_id=episode.pk,
        via_break_glass=episode.patient_id in vis.break_glass_ids,
    )
    return Journey(episode.pk, episode.patient_id, episode.patient.record_number, entries, chosen)
