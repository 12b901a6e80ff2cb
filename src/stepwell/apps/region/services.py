"""Writing a generated synthetic region into the database through bulk paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import formats, translation

from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.content import (
    barrier_vocabulary,
    coordination_rules,
    message_templates,
)
from stepwell.apps.coordination.models import (
    Appointment,
    Barrier,
    BarrierAction,
    BarrierSource,
    BarrierStatus,
    Goal,
    GoalRating,
    Referral,
    Reminder,
    ReminderKind,
)
from stepwell.apps.core.bulk import (
    analyze,
    bulk_insert,
    constraints_deferred_to_end,
    cyclic_gc_paused,
    reserve_ids,
    reset_sequences,
)
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.network.models import Site
from stepwell.apps.outbox.models import DeliveryStatus, Notification
from stepwell.apps.patients.models import CareTeamMember, Episode, Patient, StepChange
from stepwell.apps.peers.models import (
    GroupSession,
    MatchStatus,
    PeerEncounter,
    PeerGroup,
    PeerMatch,
    PeerProfile,
    PeerSupportRequest,
    RematchRequest,
    SupervisionSession,
    TrainingCompletion,
)
from stepwell.apps.safety.models import OnCallShift, SafetyCover
from stepwell.apps.stepping.protocols import active_protocol
from stepwell.domain.coordination.reminders import language_for
from stepwell.domain.synthetic.assessments import AssessmentSpec
from stepwell.domain.synthetic.coordination import (
    AppointmentSpec,
    CareCoordination,
    care_coordination,
    seed_of,
)
from stepwell.domain.synthetic.peers import PeerProgramme
from stepwell.domain.synthetic.region import Region

# Demo data only: `seed` refuses to run in production, and real accounts get their own.
DEMO_PASSWORD = "stepwell-demo"  # noqa: S105
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RegionNotEmpty(Exception):
    """The database already holds a network; seeding would mix two regions."""


@dataclass(frozen=True, slots=True)
class SeedResult:
    sites: int
    users: int
    patients: int
    episodes: int
    step_changes: int
    matches: int
    assessments: int = 0
    peers: int = 0
    peer_requests: int = 0
    peer_encounters: int = 0
    peer_groups: int = 0
    appointments: int = 0
    barriers: int = 0  # raised by coordinators and CHWs (those from encounters not counted)
    goals: int = 0
    referrals: int = 0
    reminders: int = 0


def database_is_empty() -> bool:
    return not Site.objects.exists() and not Patient.objects.exists()


@transaction.atomic
def _safety_cover(region: Region, site_ids: list[int], user_ids: list[int], now: datetime) -> None:
    """Every site gets a two-week on-call rota (daily shifts from 08:00, rotating through
    the site's clinicians) and a fallback owner from the largest team (the regional
    hospital), so a safety signal in the demo always has someone to go to and someone
    else to escalate to."""
    by_site: dict[int, list[int]] = {}
    for i, s in enumerate(region.staff):
        if s.role == "clinician":
            for site in s.sites:
                by_site.setdefault(site, []).append(user_ids[i])
    backup = max(by_site.values(), key=len) if by_site else []
    start = now.replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=1)
    shifts: list[OnCallShift] = []
    covers: list[SafetyCover] = []
    for index, site_id in enumerate(site_ids):
        team = by_site.get(index) or backup
        if not team:
            continue
        fallback = backup[0] if team is not backup else team[-1]
        if len(team) > 1:
            team = [uid for uid in team if uid != fallback]
        covers.append(SafetyCover(site_id=site_id, fallback_owner_id=fallback))
        shifts.extend(
            OnCallShift(
                site_id=site_id,
                clinician_id=team[day % len(team)],
                starts_at=start + timedelta(days=day),
                ends_at=start + timedelta(days=day + 1),
            )
            for day in range(15)
        )
    SafetyCover.objects.bulk_create(covers)
    OnCallShift.objects.bulk_create(shifts)


@cyclic_gc_paused()
@transaction.atomic  # as the docstring and ADR 0003 promise: all or nothing, one commit
def region_store(
    *,
    region: Region,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    assessments: Sequence[AssessmentSpec] = (),
    peers: PeerProgramme | None = None,
    coordination: CareCoordination | None = None,
) -> SeedResult:
    """Insert ``region`` (sites, staff, patients, episodes, history, matches), its
    ``assessments`` (histories made for it), its ``peers`` programme (profiles, training,
    supervision, waiting list, encounters and their barriers, groups) and its care
    ``coordination`` (appointments, barriers, goals, referrals, reminders; see
    ``region_coordination``) in one transaction.

    ``progress`` is called with a count of patients' worth of rows written.
    """
    if not database_is_empty():
        raise RegionNotEmpty("the database already has sites or patients")
    tick = progress or (lambda n: None)
    coordination = coordination or CareCoordination()
    sites = Site.objects.bulk_create(
        [
            Site(
                code=s.code,
                name=s.name,
                kind=s.kind,
                latitude=s.latitude,
                longitude=s.longitude,
                steps_offered=list(s.steps),
                services=list(s.services),
            )
            for s in region.sites
        ]
    )
    site_ids = [s.pk for s in sites]
    # One hash for every synthetic account: hashing is deliberately slow, the password shared.
    password = make_password(DEMO_PASSWORD)
    demo_names = set(region.demo_logins.values())
    users = User.objects.bulk_create(
        [
            User(
                username=s.username,
                first_name=s.first_name,
                last_name=s.last_name,
                role=s.role,
                preferred_language=s.language,
                date_joined=now,
                password=password if s.username in demo_names else "!",
                is_staff=s.role == "admin",
                is_superuser=s.role == "admin",
                # Synthetic contact details (reserved example domain, fictional 555 numbers)
                # so safety notifications have somewhere to go in the demo outbox.
                email=f"{s.username}@example.org",
                phone=f"+1555{i:07d}",
            )
            for i, s in enumerate(region.staff)
        ]
    )
    user_ids = [u.pk for u in users]
    _safety_cover(region, site_ids, user_ids, now)
    SiteMembership.objects.bulk_create(
        [
            SiteMembership(user_id=user_ids[i], site_id=site_ids[site])
            for i, s in enumerate(region.staff)
            for site in s.sites
        ]
    )
    patient_users = {
        p.username: User.objects.create(
            username=p.username,
            first_name=p.given_name,
            last_name=p.family_name,
            role="patient",
            preferred_language=p.language,
            date_joined=now,
            password=password,
        ).pk
        for p in region.patients
        if p.username
    }
    n = len(region.patients)
    bulk_models: list[type[models.Model]] = [
        Patient,
        Episode,
        StepChange,
        CareTeamMember,
        PeerMatch,
        Assessment,
        *(_PEER_MODELS if peers is not None else ()),
    ]
    # Barrier is in both lists; dropping its constraints twice would fail.
    bulk_models = list(dict.fromkeys([*bulk_models, *_COORDINATION_MODELS]))
    with constraints_deferred_to_end(bulk_models):
        patient_ids = reserve_ids(Patient, n)
        bulk_insert(
            Patient,
            (
                "id",
                "record_number",
                "given_name",
                "family_name",
                "birth_date",
                "sex",
                "gender",
                "preferred_language",
                "phone",
                "email",
                "preferred_channel",
                "consent_care",
                "consent_peer_support",
                "consent_share_with_peer",
                "consent_sms",
                "consent_email",
                "home_latitude",
                "home_longitude",
                "site_id",
                "user_id",
                "created_at",
            ),
            (
                (
                    patient_ids[i],
                    p.record_number,
                    p.given_name,
                    p.family_name,
                    p.birth_date,
                    p.sex,
                    p.gender,
                    p.language,
                    p.phone,
                    p.email,
                    p.channel,
                    True,
                    p.consent_peer_support,
                    p.consent_share_with_peer,
                    p.channel == "sms",
                    p.channel == "email",
                    p.latitude,
                    p.longitude,
                    site_ids[p.site],
                    patient_users.get(p.username or ""),
                    now,
                )
                for i, p in enumerate(region.patients)
            ),
        )
        tick(n // 3)
        episode_ids = reserve_ids(Episode, len(region.episodes))
        bulk_insert(
            Episode,
            (
                "id",
                "patient_id",
                "site_id",
                "referral_source",
                "referral_date",
                "first_contact_date",
                "current_step",
                "status",
                "discharge_reason",
                "discharge_date",
                "created_at",
            ),
            (
                (
                    episode_ids[i],
                    patient_ids[e.patient],
                    site_ids[e.site],
                    e.referral_source,
                    e.referral_date,
                    e.first_contact_date,
                    e.current_step,
                    e.status,
                    e.discharge_reason,
                    e.discharge_date,
                    e.steps[0].at,
                )
                for i, e in enumerate(region.episodes)
            ),
        )
        tick(n // 3)
        n_changes = sum(len(e.steps) for e in region.episodes)
        change_ids = iter(reserve_ids(StepChange, n_changes))
        bulk_insert(
            StepChange,
            (
                "id",
                "episode_id",
                "from_step",
                "to_step",
                "changed_at",
                "reason",
                "decided_by_id",
                "protocol_version",
            ),
            (
                (
                    next(change_ids),
                    episode_ids[i],
                    c.from_step,
                    c.to_step,
                    c.at,
                    c.reason,
                    user_ids[e.clinician],
                    "",
                )
                for i, e in enumerate(region.episodes)
                for c in e.steps
            ),
        )
        team_ids = reserve_ids(CareTeamMember, len(region.episodes))
        bulk_insert(
            CareTeamMember,
            ("id", "episode_id", "user_id", "role"),
            (
                (team_ids[i], episode_ids[i], user_ids[e.clinician], "lead clinician")
                for i, e in enumerate(region.episodes)
            ),
        )
        match_ids = reserve_ids(PeerMatch, len(region.matches))
        bulk_insert(
            PeerMatch,
            (
                "id",
                "peer_id",
                "patient_id",
                "status",
                "created_at",
                "approved_by_id",
                "approved_at",
                "ended_at",
            ),
            (
                (
                    match_ids[i],
                    user_ids[m.peer],
                    patient_ids[m.patient],
                    "active",
                    m.approved_at,
                    user_ids[m.approved_by],
                    m.approved_at,
                    None,
                )
                for i, m in enumerate(region.matches)
            ),
        )
        _store_assessments(assessments, region, patient_ids, episode_ids, user_ids, now)
        if peers is not None:
            _store_peers(peers, site_ids, patient_ids, user_ids)
        ids = _Ids(site_ids, patient_ids, episode_ids, user_ids)
        _store_coordination(coordination, region, ids, patient_users)
    reset_sequences(bulk_models)
    analyze([*bulk_models, Site, User, SiteMembership])
    tick(n - 2 * (n // 3))
    result = SeedResult(
        len(sites),
        len(users) + len(patient_users),
        n,
        len(region.episodes),
        n_changes,
        len(region.matches),
        len(assessments),
        len(peers.profiles) if peers else 0,
        len(peers.requests) if peers else 0,
        len(peers.encounters) if peers else 0,
        len(peers.groups) if peers else 0,
        len(coordination.appointments),
        len(coordination.barriers),
        len(coordination.goals),
        len(coordination.referrals),
        len(coordination.reminders),
    )
    # Synthetic generation is one administrative act, audited as one event (no patient rows).
    audit_record(
        actor=None,
        action="region.seeded",
        now=now,
        object_type="region",
        details={k: getattr(result, k) for k in result.__dataclass_fields__},
    )
    return result


def _store_assessments(
    assessments: Sequence[AssessmentSpec],
    region: Region,
    patient_ids: range,
    episode_ids: range,
    user_ids: list[int],
    now: datetime,
) -> None:
    """Bulk-insert synthetic assessments; JSON columns go in as JSON text."""
    ids = reserve_ids(Assessment, len(assessments))
    bulk_insert(
        Assessment,
        (
            "id",
            "patient_id",
            "episode_id",
            "instrument",
            "instrument_version",
            "answers",
            "total",
            "band",
            "caseness",
            "prorated",
            "missing",
            "safety",
            "taken_at",
            "mode",
            "recorded_by_id",
            "created_at",
        ),
        (
            (
                ids[k],
                patient_ids[region.episodes[a.episode].patient],
                episode_ids[a.episode],
                a.instrument,
                a.score.version,
                _dumps(list(a.answers)),
                a.score.total,
                a.score.band,
                a.score.caseness,
                a.score.prorated,
                _dumps(list(a.score.missing)),
                _dumps(list(a.score.safety)),
                a.taken_at,
                a.mode,
                None if a.recorded_by is None else user_ids[a.recorded_by],
                now,
            )
            for k, a in enumerate(assessments)
        ),
    )


_PEER_MODELS: tuple[type[models.Model], ...] = (
    PeerProfile,
    TrainingCompletion,
    SupervisionSession,
    SupervisionSession.attendees.through,
    SupervisionSession.encounters_reviewed.through,
    PeerSupportRequest,
    RematchRequest,
    PeerEncounter,
    Barrier,
    PeerGroup,
    PeerGroup.facilitators.through,
    PeerGroup.members.through,
    GroupSession,
    GroupSession.attended.through,
)


def _json(values: Sequence[str]) -> str:
    """A JSON column's value as JSON text (what COPY and executemany both take)."""
    return _dumps(list(values))


def _store_peers(
    peers: PeerProgramme, site_ids: list[int], patient_ids: range, user_ids: list[int]
) -> None:
    """Bulk-insert the peer programme. Many-to-many rows leave their ids to the database."""
    _store_peer_people(peers, patient_ids, user_ids)
    encounter_ids = _store_encounters(peers, patient_ids, user_ids)
    sessions = reserve_ids(SupervisionSession, len(peers.supervision))
    bulk_insert(
        SupervisionSession,
        ("id", "supervisor_id", "format", "held_on", "minutes", "topics", "actions", "recorded_at"),
        (
            (
                sessions[k],
                user_ids[s.supervisor],
                s.format,
                s.held_on,
                s.minutes,
                s.topics,
                s.actions,
                s.recorded_at,
            )
            for k, s in enumerate(peers.supervision)
        ),
    )
    bulk_insert(
        SupervisionSession.attendees.through,
        ("supervisionsession_id", "user_id"),
        ((sessions[k], user_ids[a]) for k, s in enumerate(peers.supervision) for a in s.attendees),
    )
    bulk_insert(
        SupervisionSession.encounters_reviewed.through,
        ("supervisionsession_id", "peerencounter_id"),
        (
            (sessions[k], encounter_ids[e])
            for k, s in enumerate(peers.supervision)
            for e in s.encounters_reviewed
        ),
    )
    _store_groups(peers, site_ids, patient_ids, user_ids)


def _store_peer_people(peers: PeerProgramme, patient_ids: range, user_ids: list[int]) -> None:
    """Profiles, training, requests, ended matches and re-match requests."""
    bulk_insert(
        PeerProfile,
        (
            "user_id",
            "state",
            "languages",
            "lived_experience",
            "gender",
            "modalities",
            "availability",
            "max_patients",
            "remote_ok",
            "home_latitude",
            "home_longitude",
            "travel_km",
            "state_changed_at",
            "created_at",
        ),
        (
            (
                user_ids[p.peer],
                p.state,
                _json(p.languages),
                _json(p.lived_experience),
                p.gender,
                _json(p.modalities),
                _json(p.availability),
                p.max_patients,
                p.remote_ok,
                p.latitude,
                p.longitude,
                p.travel_km,
                p.state_changed_at,
                p.created_at,
            )
            for p in peers.profiles
        ),
    )
    bulk_insert(
        TrainingCompletion,
        (
            "user_id",
            "curriculum",
            "module",
            "completed_on",
            "passed",
            "expires_on",
            "assessor_id",
            "recorded_at",
        ),
        (
            (
                user_ids[t.user],
                t.curriculum,
                t.module,
                t.completed_on,
                t.passed,
                t.expires_on,
                user_ids[t.assessor],
                datetime.combine(t.completed_on, time(17), UTC),
            )
            for t in peers.training
        ),
    )
    bulk_insert(
        PeerSupportRequest,
        (
            "patient_id",
            "gender_preference",
            "languages",
            "lived_experience",
            "modalities",
            "availability",
            "remote_ok",
            "requested_at",
            "matched_at",
            "created_by_id",
        ),
        (
            (
                patient_ids[r.patient],
                r.gender_preference,
                _json(r.languages),
                _json(r.lived_experience),
                _json(r.modalities),
                _json(r.availability),
                r.remote_ok,
                r.requested_at,
                r.matched_at,
                user_ids[r.created_by],
            )
            for r in peers.requests
        ),
    )
    # After the active matches, with explicit ids like them (PostgreSQL's sequence is moved
    # past the loaded rows only at the end).
    ended = reserve_ids(PeerMatch, len(peers.ended_matches))
    bulk_insert(
        PeerMatch,
        (
            "id",
            "peer_id",
            "patient_id",
            "status",
            "created_at",
            "approved_by_id",
            "approved_at",
            "ended_at",
            "end_reason",
        ),
        (
            (
                ended[k],
                user_ids[m.peer],
                patient_ids[m.patient],
                MatchStatus.ENDED.value,
                m.approved_at,
                user_ids[m.approved_by],
                m.approved_at,
                m.ended_at,
                m.end_reason,
            )
            for k, m in enumerate(peers.ended_matches)
        ),
    )
    bulk_insert(
        RematchRequest,
        ("patient_id", "peer_id", "reason", "note", "recorded_by_id", "recorded_at"),
        (
            (
                patient_ids[r.patient],
                user_ids[r.peer],
                r.reason,
                "",
                user_ids[r.recorded_by],
                r.recorded_at,
            )
            for r in peers.rematches
        ),
    )


def _store_encounters(peers: PeerProgramme, patient_ids: range, user_ids: list[int]) -> range:
    """Encounters and a barrier record (source peer-encounter) per disclosed barrier, as
    ``peer_encounter_record`` makes them. Returns the encounters' ids."""
    ids = reserve_ids(PeerEncounter, len(peers.encounters))
    bulk_insert(
        PeerEncounter,
        (
            "id",
            "patient_id",
            "peer_id",
            "occurred_at",
            "modality",
            "minutes",
            "topics",
            "mood_before",
            "mood_after",
            "note",
            "barriers",
            "concern",
            "next_contact_on",
            "recorded_at",
        ),
        (
            (
                ids[k],
                patient_ids[e.patient],
                user_ids[e.peer],
                e.occurred_at,
                e.modality,
                e.minutes,
                _json(e.topics),
                e.mood_before,
                e.mood_after,
                e.note,
                _json(e.barriers),
                "",
                e.next_contact_on,
                e.recorded_at,
            )
            for k, e in enumerate(peers.encounters)
        ),
    )
    bulk_insert(
        Barrier,
        (
            "patient_id",
            "kind",
            "status",
            "source",
            "peer_encounter_id",
            "note",
            "action",
            "raised_by_id",
            "raised_at",
            "updated_at",
        ),
        (
            (
                patient_ids[e.patient],
                kind,
                BarrierStatus.OPEN.value,
                BarrierSource.PEER_ENCOUNTER.value,
                ids[k],
                "",
                "",
                user_ids[e.peer],
                e.recorded_at,
                e.recorded_at,
            )
            for k, e in enumerate(peers.encounters)
            for kind in e.barriers
        ),
    )
    return ids


def _store_groups(
    peers: PeerProgramme, site_ids: list[int], patient_ids: range, user_ids: list[int]
) -> None:
    groups = reserve_ids(PeerGroup, len(peers.groups))
    bulk_insert(
        PeerGroup,
        ("id", "name", "kind", "site_id", "schedule", "active", "created_at"),
        (
            (groups[k], g.name, g.kind, site_ids[g.site], g.schedule, True, g.created_at)
            for k, g in enumerate(peers.groups)
        ),
    )
    bulk_insert(
        PeerGroup.facilitators.through,
        ("peergroup_id", "user_id"),
        ((groups[k], user_ids[f]) for k, g in enumerate(peers.groups) for f in g.facilitators),
    )
    bulk_insert(
        PeerGroup.members.through,
        ("peergroup_id", "patient_id"),
        ((groups[k], patient_ids[m]) for k, g in enumerate(peers.groups) for m in g.members),
    )
    sessions = reserve_ids(GroupSession, len(peers.sessions))
    bulk_insert(
        GroupSession,
        ("id", "group_id", "held_at", "note", "recorded_by_id", "recorded_at"),
        (
            (
                sessions[k],
                groups[s.group],
                s.held_at,
                s.note,
                user_ids[s.recorded_by],
                s.recorded_at,
            )
            for k, s in enumerate(peers.sessions)
        ),
    )
    bulk_insert(
        GroupSession.attended.through,
        ("groupsession_id", "patient_id"),
        ((sessions[k], patient_ids[m]) for k, s in enumerate(peers.sessions) for m in s.attended),
    )


# --- care coordination -----------------------------------------------------------------------

_COORDINATION_MODELS: tuple[type[models.Model], ...] = (
    Barrier,
    BarrierAction,
    Referral,
    Appointment,
    Notification,
    Reminder,
    Goal,
    GoalRating,
)


@dataclass(frozen=True, slots=True)
class _Ids:
    """Database ids of the region's rows, by index in the generated region."""

    sites: list[int]
    patients: range
    episodes: range
    users: list[int]

    def site(self, index: int | None) -> int | None:
        return None if index is None else self.sites[index]

    def user(self, index: int | None) -> int | None:
        return None if index is None else self.users[index]


def region_coordination(
    region: Region, assessments: Sequence[AssessmentSpec], now: datetime
) -> CareCoordination:
    """The region's care coordination around ``now``, coded by the content in force (the
    assessments' courses shape goals and attendance); the seed comes from the region, so the
    same region gets the same coordination."""
    vocabulary = barrier_vocabulary()
    return care_coordination(
        region,
        coordination_rules(),
        tuple(vocabulary.kinds),
        tuple(vocabulary.actions),
        seed=seed_of(region),
        now=now,
        courses={a.episode: a.course for a in assessments},
    )


def _store_coordination(
    c: CareCoordination, region: Region, ids: _Ids, patient_users: dict[str, int]
) -> None:
    """Bulk-insert the care coordination with explicit ids where other rows point at them
    (barriers, referrals, appointments, reminders, messages, goals); history rows
    (barrier actions, goal ratings) leave their ids to the database."""
    barrier_ids = reserve_ids(Barrier, len(c.barriers))
    bulk_insert(
        Barrier,
        (
            "id",
            "patient_id",
            "kind",
            "status",
            "source",
            "peer_encounter_id",
            "note",
            "action",
            "raised_by_id",
            "raised_at",
            "updated_at",
            "closed_at",
        ),
        (
            (
                barrier_ids[k],
                ids.patients[b.patient],
                b.kind,
                b.status,
                b.source,
                None,
                b.note,
                b.action,
                ids.users[b.raised_by],
                b.raised_at,
                b.updated_at,
                b.closed_at,
            )
            for k, b in enumerate(c.barriers)
        ),
    )
    bulk_insert(
        BarrierAction,
        ("barrier_id", "action", "status", "note", "by_id", "at"),
        (
            (barrier_ids[k], s.action, s.status, s.note, ids.users[s.by], s.at)
            for k, b in enumerate(c.barriers)
            for s in b.steps
        ),
    )
    referral_ids = _store_referrals(c, ids)
    appointment_ids = _store_appointments(c, ids, barrier_ids, referral_ids)
    _store_reminders(c, region, ids, appointment_ids, patient_users)
    _store_goals(c, ids)


def _store_referrals(c: CareCoordination, ids: _Ids) -> range:
    referral_ids = reserve_ids(Referral, len(c.referrals))
    bulk_insert(
        Referral,
        (
            "id",
            "patient_id",
            "episode_id",
            "from_site_id",
            "to_site_id",
            "reason",
            "urgency",
            "status",
            "sent_by_id",
            "sent_at",
            "deadline_at",
            "accepted_by_id",
            "accepted_at",
            "scheduled_for",
            "seen_at",
            "closed_at",
            "status_note",
            "overdue_at",
            "updated_at",
        ),
        (
            (
                referral_ids[k],
                ids.patients[r.patient],
                ids.episodes[r.episode],
                ids.sites[r.from_site],
                ids.sites[r.to_site],
                r.reason,
                r.urgency,
                r.status,
                ids.users[r.sent_by],
                r.sent_at,
                r.deadline_at,
                ids.user(r.accepted_by),
                r.accepted_at,
                r.scheduled_for,
                r.seen_at,
                r.closed_at,
                r.status_note,
                r.overdue_at,
                r.updated_at,
            )
            for k, r in enumerate(c.referrals)
        ),
    )
    return referral_ids


def _store_appointments(
    c: CareCoordination, ids: _Ids, barrier_ids: range, referral_ids: range
) -> range:
    appointment_ids = reserve_ids(Appointment, len(c.appointments))
    no_suggestion = _json(())
    bulk_insert(
        Appointment,
        (
            "id",
            "patient_id",
            "episode_id",
            "modality",
            "site_id",
            "address",
            "staff_id",
            "starts_at",
            "minutes",
            "barrier_id",
            "referral_id",
            "travel_minutes",
            "suggested",
            "booked_by_id",
            "booked_at",
            "attendance",
            "cancellation_reason",
            "attendance_by_id",
            "attendance_at",
        ),
        (
            (
                appointment_ids[k],
                ids.patients[a.patient],
                None if a.episode is None else ids.episodes[a.episode],
                a.modality,
                ids.site(a.site),
                "",
                ids.user(a.staff),
                a.starts_at,
                a.minutes,
                None if a.barrier is None else barrier_ids[a.barrier],
                None if a.referral is None else referral_ids[a.referral],
                a.travel_minutes,
                _json(a.suggested) if a.suggested else no_suggestion,
                ids.users[a.booked_by],
                a.booked_at,
                a.attendance,
                a.cancellation_reason,
                ids.user(a.attendance_by),
                a.attendance_at,
            )
            for k, a in enumerate(c.appointments)
        ),
    )
    return appointment_ids


def _store_reminders(
    c: CareCoordination,
    region: Region,
    ids: _Ids,
    appointment_ids: range,
    patient_users: dict[str, int],
) -> None:
    """Reminders, and the outbox message of each one already handed over (sent, or failed
    after the protocol's last retry), worded as ``reminders_send_due`` words them."""
    reminder_ids = reserve_ids(Reminder, len(c.reminders))
    queued = [k for k, r in enumerate(c.reminders) if r.status == "queued"]
    message_ids = dict(zip(queued, reserve_ids(Notification, len(queued)), strict=True))
    keys = [f"appointment:{appointment_ids[r.appointment]}:{r.lead_hours}h" for r in c.reminders]
    attempts = active_protocol().safety.retry_attempts
    texts = _reminder_texts(c, region, queued)
    rows = []
    for k in queued:
        r = c.reminders[k]
        a = c.appointments[r.appointment]
        patient = region.patients[a.patient]
        subject, body = texts[k]
        sent = r.delivery == "sent"
        assert r.handled_at is not None
        rows.append(
            (
                message_ids[k],
                f"reminder:{keys[k]}",
                r.channel,
                patient_users.get(patient.username or ""),
                (patient.phone if r.channel == "sms" else patient.email).strip(),
                subject,
                body,
                "reminder",
                reminder_ids[k],
                DeliveryStatus.SENT.value if sent else DeliveryStatus.FAILED.value,
                1 if sent else attempts,
                r.handled_at,
                "",
                r.error,
                r.handled_at + timedelta(seconds=2) if sent else None,
                "",
                r.handled_at,
            )
        )
    bulk_insert(
        Notification,
        (
            "id",
            "key",
            "channel",
            "recipient_id",
            "address",
            "subject",
            "body",
            "ref_type",
            "ref_id",
            "status",
            "attempts",
            "next_attempt_at",
            "claim_token",
            "last_error",
            "sent_at",
            "provider_id",
            "created_at",
        ),
        rows,
    )
    bulk_insert(
        Reminder,
        (
            "id",
            "key",
            "kind",
            "patient_id",
            "appointment_id",
            "episode_id",
            "channel",
            "send_at",
            "status",
            "notification_id",
            "created_at",
            "handled_at",
        ),
        (
            (
                reminder_ids[k],
                keys[k],
                ReminderKind.APPOINTMENT.value,
                ids.patients[c.appointments[r.appointment].patient],
                appointment_ids[r.appointment],
                _episode_id(ids, c.appointments[r.appointment]),
                r.channel,
                r.send_at,
                r.status,
                message_ids.get(k),
                r.created_at,
                r.handled_at,
            )
            for k, r in enumerate(c.reminders)
        ),
    )


def _episode_id(ids: _Ids, a: AppointmentSpec) -> int | None:
    return None if a.episode is None else ids.episodes[a.episode]


def _reminder_texts(
    c: CareCoordination, region: Region, queued: Sequence[int]
) -> dict[int, tuple[str, str]]:
    """(subject, body) of each handed-over reminder (by index), in the patient's language:
    the template of ``content/coordination/messages.yaml`` with the local date and time,
    the place and the modality, as ``reminders_send_due`` fills it in. One language at a
    time: switching the active translation per message would cost more than the rest."""
    rules, templates = coordination_rules(), message_templates()
    by_language: dict[str, list[int]] = {}
    for k in queued:
        patient = region.patients[c.appointments[c.reminders[k].appointment].patient]
        by_language.setdefault(language_for(patient.language), []).append(k)
    out = {}
    for language, indexes in by_language.items():
        with translation.override(language):
            for k in indexes:
                r = c.reminders[k]
                a = c.appointments[r.appointment]
                site = region.sites[a.site] if a.site is not None else None
                home = region.sites[region.patients[a.patient].site]
                local = rules.local_for(site.code if site else home.code)
                modality = rules.modalities.get(a.modality)
                label = modality.label[language] if modality else a.modality
                when = formats.date_format(a.starts_at.astimezone(local.zone), "DATETIME_FORMAT")
                out[k] = templates.render(
                    "appointment-reminder",
                    r.channel,
                    language,
                    {"when": when, "place": site.name if site else label, "modality": label},
                )
    return out


def _store_goals(c: CareCoordination, ids: _Ids) -> None:
    goal_ids = reserve_ids(Goal, len(c.goals))
    bulk_insert(
        Goal,
        ("id", "patient_id", "episode_id", "text", "created_by_id", "created_at", "closed_at"),
        (
            (
                goal_ids[k],
                ids.patients[g.patient],
                ids.episodes[g.episode],
                g.text,
                ids.users[g.created_by],
                g.created_at,
                g.closed_at,
            )
            for k, g in enumerate(c.goals)
        ),
    )
    bulk_insert(
        GoalRating,
        ("goal_id", "rating", "rated_at", "recorded_by_id"),
        (
            (goal_ids[k], x.rating, x.rated_at, ids.users[x.recorded_by])
            for k, g in enumerate(c.goals)
            for x in g.ratings
        ),
    )
