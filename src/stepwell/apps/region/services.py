"""Writing a generated synthetic region into the database through bulk paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.db import models, transaction

from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.audit.services import audit_record
from stepwell.apps.coordination.models import Barrier, BarrierSource, BarrierStatus
from stepwell.apps.core.bulk import (
    analyze,
    bulk_insert,
    constraints_deferred_to_end,
    reserve_ids,
    reset_sequences,
)
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.network.models import Site
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
from stepwell.domain.synthetic.assessments import AssessmentSpec
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


def region_store(
    *,
    region: Region,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    assessments: Sequence[AssessmentSpec] = (),
    peers: PeerProgramme | None = None,
) -> SeedResult:
    """Insert ``region`` (sites, staff, patients, episodes, history, matches), its
    ``assessments`` (histories made for it) and its ``peers`` programme (profiles, training,
    supervision, waiting list, encounters and their barriers, groups) in one transaction.

    ``progress`` is called with a count of patients' worth of rows written.
    """
    if not database_is_empty():
        raise RegionNotEmpty("the database already has sites or patients")
    tick = progress or (lambda n: None)
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
