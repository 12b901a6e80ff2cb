"""Writing a generated synthetic region into the database through bulk paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction

from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.audit.services import audit_record
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
from stepwell.apps.peers.models import PeerMatch
from stepwell.apps.safety.models import OnCallShift, SafetyCover
from stepwell.domain.synthetic.assessments import AssessmentSpec
from stepwell.domain.synthetic.region import Region

# Demo data only: `seed` refuses to run in production, and real accounts get their own.
DEMO_PASSWORD = "stepwell-demo"  # noqa: S105


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
) -> SeedResult:
    """Insert ``region`` (sites, staff, patients, episodes, history, matches) and its
    ``assessments`` (histories made for it) in one transaction.

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
    bulk_models = [Patient, Episode, StepChange, CareTeamMember, PeerMatch, Assessment]
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
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
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
                dumps(list(a.answers)),
                a.score.total,
                a.score.band,
                a.score.caseness,
                a.score.prorated,
                dumps(list(a.score.missing)),
                dumps(list(a.score.safety)),
                a.taken_at,
                a.mode,
                None if a.recorded_by is None else user_ids[a.recorded_by],
                now,
            )
            for k, a in enumerate(assessments)
        ),
    )
