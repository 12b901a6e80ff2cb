"""Peer programme reads: peers, their training, supervision and load (no patient-level
data here; a peer's patients are read through ``apps/access``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery

from stepwell.apps.access.selectors import visibility_for
from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.audit.services import audit_record, audit_record_many
from stepwell.apps.core.errors import NotFound
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.models import (
    MatchingRun,
    MatchProposal,
    MatchStatus,
    PeerEncounter,
    PeerMatch,
    PeerProfile,
    PeerState,
    RunStatus,
    SupervisionSession,
    TrainingCompletion,
)
from stepwell.domain.access.policy import PEER_FIELDS, Role, View
from stepwell.domain.peers.content import PeerContent
from stepwell.domain.peers.curriculum import (
    CertificationStatus,
    Completion,
    certification_status,
    completion_for,
)
from stepwell.domain.peers.eligibility import PeerState as EligibilityState
from stepwell.domain.peers.eligibility import (
    capacity,
    match_eligibility,
    supervision_due_by,
    supervision_reason,
)
from stepwell.domain.peers.reasons import Reason as PeerReason


@dataclass(frozen=True, slots=True)
class PeerSummary:
    peer_id: int
    username: str
    display_name: str
    active_matches: int


# Who runs the peer programme: reads peers and matching runs of their sites, runs matching.
PROGRAMME_STAFF = frozenset({Role.PEER_SUPERVISOR, Role.COORDINATOR, Role.ADMIN})


def staff_site_ids(user: User) -> QuerySet[SiteMembership, int] | None:
    """The sites whose peers and matching runs programme staff act on: their own (a
    subquery); None for an administrator (every site)."""
    if user.role == Role.ADMIN:
        return None
    return SiteMembership.objects.filter(user_id=user.pk).values_list("site_id", flat=True)


def peers_of(user: User) -> QuerySet[User]:
    """Active peers sharing a site with ``user`` (every active peer for an administrator)."""
    peers = User.objects.filter(role=Role.PEER, is_active=True)
    sites = staff_site_ids(user)
    if sites is None:
        return peers
    return peers.filter(pk__in=SiteMembership.objects.filter(site_id__in=sites).values("user_id"))


def runs_of(user: User) -> QuerySet[MatchingRun]:
    """Matching runs made by someone of ``user``'s sites (every run for an administrator)."""
    sites = staff_site_ids(user)
    runs = MatchingRun.objects.all()
    if sites is None:
        return runs
    return runs.filter(
        created_by_id__in=SiteMembership.objects.filter(site_id__in=sites).values("user_id")
    )


def peers_supervised_by(supervisor: User) -> list[PeerSummary]:
    """Peers who share a site with the supervisor, with their active match counts."""
    peers = (
        peers_of(supervisor)
        .annotate(active=Count("peer_matches", filter=Q(peer_matches__status=MatchStatus.ACTIVE)))
        .order_by("last_name", "first_name", "id")
    )
    return [PeerSummary(p.pk, p.username, p.get_full_name() or p.username, p.active) for p in peers]


def certification_of(
    user_ids: Sequence[int], content: PeerContent, now: datetime
) -> dict[int, CertificationStatus]:
    """Each user's certification against the peer curriculum today, from their recorded
    training (one query for all)."""
    curriculum = content.peer_curriculum
    modules = {m.code: m for m in curriculum.modules}
    done: dict[int, list[Completion]] = {uid: [] for uid in user_ids}
    for uid, module, on, passed, assessor in TrainingCompletion.objects.filter(
        user_id__in=user_ids, module__in=list(modules)
    ).values_list("user_id", "module", "completed_on", "passed", "assessor_id"):
        done[uid].append(
            completion_for(modules[module], completed_on=on, assessor_id=assessor, passed=passed)
        )
    return {uid: certification_status(curriculum, c, now) for uid, c in done.items()}


def last_supervision_of(user_ids: Sequence[int], min_minutes: int) -> dict[int, date]:
    """Each peer's last supervision session long enough to count, if any."""
    rows = (
        SupervisionSession.objects.filter(attendees__in=user_ids, minutes__gte=min_minutes)
        .values("attendees")
        .annotate(last=Max("held_on"))
        .values_list("attendees", "last")
    )
    return dict(rows)


def match_counts(user_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per peer: (active matches, pairs proposed in runs awaiting approval)."""
    active = dict(
        PeerMatch.objects.filter(peer_id__in=user_ids, status=MatchStatus.ACTIVE)
        .values("peer_id")
        .annotate(n=Count("id"))
        .values_list("peer_id", "n")
    )
    proposed = dict(
        MatchProposal.objects.filter(peer_id__in=user_ids, run__status=RunStatus.PROPOSED)
        .values("peer_id")
        .annotate(n=Count("id"))
        .values_list("peer_id", "n")
    )
    return {uid: (active.get(uid, 0), proposed.get(uid, 0)) for uid in user_ids}


@dataclass(frozen=True, slots=True)
class PeerOverview:
    """A peer as their supervisor sees them: status, certification, supervision, load, and
    why (if so) they may not take a new match."""

    peer_id: int
    username: str
    display_name: str
    state: str
    certified: bool
    certified_until: date | None
    lacking: tuple[str, ...]
    last_supervision: date | None
    supervision_due: date | None
    supervision_overdue: bool  # as the programme's supervision rule reads it today
    active_matches: int
    max_patients: int
    ineligible: tuple[PeerReason, ...]


def peers_overview(*, user: User, now: datetime) -> list[PeerOverview]:
    """Peers of the user's sites (every peer for an admin) with what a supervisor watches.
    Programme staff only."""
    if user.role not in PROGRAMME_STAFF:
        raise NotFound("peers")
    content = peer_content()
    rules = content.programme
    people = list(peers_of(user).order_by("last_name", "first_name", "id"))
    ids = [p.pk for p in people]
    profiles = {p.user_id: p for p in PeerProfile.objects.filter(user_id__in=ids)}
    certs = certification_of(ids, content, now)
    supervised = last_supervision_of(ids, rules.supervision_min_minutes)
    counts = match_counts(ids)
    out = []
    for p in people:
        profile = profiles.get(p.pk)
        state = profile.state if profile else PeerState.APPLICANT
        active, proposed = counts[p.pk]
        peer_state = EligibilityState(
            lifecycle=state,
            active_matches=active,
            proposed_matches=proposed,
            max_patients=profile.max_patients if profile else None,
        )
        last = supervised.get(p.pk)
        cert = certs[p.pk]
        out.append(
            PeerOverview(
                peer_id=p.pk,
                username=p.username,
                display_name=p.get_full_name() or p.username,
                state=state,
                certified=cert.certified,
                certified_until=cert.last_certified_day,
                lacking=cert.lacking,
                last_supervision=last,
                supervision_due=supervision_due_by(last, rules),
                supervision_overdue=supervision_reason(last, now, rules) is not None,
                active_matches=active,
                max_patients=capacity(peer_state, rules),
                ineligible=match_eligibility(peer_state, cert, last, now, rules),
            )
        )
    return out


# --- the peer's own home and the supervisor's review list (web pages) ------------------------


@dataclass(frozen=True, slots=True)
class PeerPatientRow:
    """A patient as their matched peer sees them on the peer's home: contact fields only
    (``domain.access.policy.PEER_FIELDS``), and the peer's own last and next contact."""

    patient_id: int
    record_number: str
    given_name: str
    family_name: str
    preferred_language: str
    preferred_channel: str
    phone: str
    last_contact_at: datetime | None  # the peer's latest encounter with the patient
    next_contact_on: date | None  # as planned at that encounter

    def contact_overdue(self, today: date) -> bool:
        return self.next_contact_on is not None and self.next_contact_on < today


# Read from the patient row: never more than a peer may see, whatever the patient consented.
_PEER_HOME_FIELDS = (
    "id",
    "record_number",
    "given_name",
    "family_name",
    "preferred_language",
    "preferred_channel",
    "phone",
)
if not set(_PEER_HOME_FIELDS) <= PEER_FIELDS:  # pragma: no cover - a policy change
    raise RuntimeError("the peer's home reads fields a peer may not see")


def _peer_patient_rows(user: User, now: datetime, patient_id: int | None) -> list[PeerPatientRow]:
    if user.role != Role.PEER:
        raise NotFound("patients")
    patients = visibility_for(user, now=now).patients
    if patient_id is not None:
        patients = patients.filter(pk=patient_id)
    own = PeerEncounter.objects.filter(patient_id=OuterRef("pk"), peer_id=user.pk).order_by(
        "-occurred_at", "-id"
    )
    rows = (
        patients.annotate(
            last_contact_at=Subquery(own.values("occurred_at")[:1]),
            next_contact=Subquery(own.values("next_contact_on")[:1]),
        )
        .order_by(F("next_contact").asc(nulls_last=True), "family_name", "given_name", "id")
        .values_list(*_PEER_HOME_FIELDS, "last_contact_at", "next_contact")
    )
    out = [PeerPatientRow(*row) for row in rows]
    if out:
        audit_record_many(
            actor=user,
            action="peer_patients.listed" if patient_id is None else "peer_patient.viewed",
            now=now,
            patient_ids=[r.patient_id for r in out],
        )
    return out


def peer_home(*, user: User, now: datetime) -> list[PeerPatientRow]:
    """The peer's actively matched patients, the next contact due first (then by name).
    Peers only (anyone else: NotFound). Audited per patient listed. Two queries."""
    return _peer_patient_rows(user, now, None)


def peer_patient(*, user: User, patient_id: int, now: datetime) -> PeerPatientRow:
    """One of the peer's matched patients, as on the peer's home (e.g. above the encounter
    form). NotFound for a patient not actively matched to the peer, or a user not a peer."""
    rows = _peer_patient_rows(user, now, patient_id)
    if not rows:
        raise NotFound("patient")
    return rows[0]


@dataclass(frozen=True, slots=True)
class EncounterToReview:
    """A peer encounter not yet reviewed in supervision. The patient is named by record
    number only; codes (modality, topics, barriers) are said by the caller."""

    encounter_id: int
    occurred_at: datetime
    peer_id: int
    peer_name: str
    patient_id: int
    record_number: str
    modality: str
    minutes: int
    topics: tuple[str, ...]
    mood_before: int | None
    mood_after: int | None
    barriers: tuple[str, ...]
    concern: bool  # a concern was raised (it went to the care team as a safety event)
    note: str


def encounters_to_review(
    *, supervisor: User, now: datetime, limit: int = 200
) -> list[EncounterToReview]:
    """Encounters of the programme's review window (``supervision.review_window_days``) by
    peers sharing a site with the supervisor,
    not yet reviewed in a supervision session, newest first (at most ``limit``). Peer
    supervisors only (anyone else: NotFound). Audited per patient listed. Two queries."""
    if supervisor.role != Role.PEER_SUPERVISOR:
        raise NotFound("encounters")
    days = peer_content().programme.supervision_review_days
    peers = peers_of(supervisor).values("id")
    reviewed = SupervisionSession.encounters_reviewed.through.objects.values("peerencounter_id")
    rows = (
        PeerEncounter.objects.filter(peer_id__in=peers, occurred_at__gte=now - timedelta(days=days))
        .exclude(pk__in=reviewed)
        .order_by("-occurred_at", "-id")
        .values_list(
            "id",
            "occurred_at",
            "peer_id",
            "peer__first_name",
            "peer__last_name",
            "peer__username",
            "patient_id",
            "patient__record_number",
            "modality",
            "minutes",
            "topics",
            "mood_before",
            "mood_after",
            "barriers",
            "concern",
            "note",
        )[:limit]
    )
    out = [
        EncounterToReview(
            encounter_id=eid,
            occurred_at=at,
            peer_id=peer_id,
            peer_name=f"{first} {last}".strip() or username,
            patient_id=patient_id,
            record_number=record_number,
            modality=modality,
            minutes=minutes,
            topics=tuple(topics or ()),
            mood_before=before,
            mood_after=after,
            barriers=tuple(barriers or ()),
            concern=bool(concern),
            note=note,
        )
        for (
            eid,
            at,
            peer_id,
            first,
            last,
            username,
            patient_id,
            record_number,
            modality,
            minutes,
            topics,
            before,
            after,
            barriers,
            concern,
            note,
        ) in rows
    ]
    if out:
        audit_record_many(
            actor=supervisor,
            action="peer_encounters.listed",
            now=now,
            patient_ids=list(dict.fromkeys(r.patient_id for r in out)),
        )
    return out


def matching_run_latest(*, user: User) -> int | None:
    """The id of the latest matching run (awaiting approval or approved; superseded runs
    are skipped) that the user may read: a run by someone of the user's sites (any run for
    an admin). Programme staff only (anyone else: NotFound)."""
    if user.role not in PROGRAMME_STAFF:
        raise NotFound("matching run")
    runs = runs_of(user).filter(status__in=[RunStatus.PROPOSED, RunStatus.APPROVED])
    return runs.order_by("-created_at", "-id").values_list("id", flat=True).first()


@dataclass(frozen=True, slots=True)
class EncounterView:
    """A peer encounter as the care team reads it in the record (the peer's own note, kept
    apart from clinical notes)."""

    id: int
    occurred_at: datetime
    peer_name: str
    modality: str
    minutes: int
    topics: tuple[str, ...]
    mood_before: int | None
    mood_after: int | None
    note: str
    barriers: tuple[str, ...]
    concern_raised: bool
    next_contact_on: date | None


def patient_peer_encounters(
    *, user: User, patient_id: int, now: datetime, limit: int = 20
) -> list[EncounterView]:
    """The patient's latest peer encounters, newest first, for the care team (full view of
    the patient) or, for a peer, the encounters they documented themselves. Audited
    (``peer_encounters.viewed``) when any are shown."""
    vis = visibility_for(user, now=now)
    patient = vis.patients.filter(pk=patient_id).values_list("pk", flat=True).first()
    if patient is None or user.role == Role.PATIENT:
        raise NotFound("patient")
    encounters = PeerEncounter.objects.filter(patient_id=patient_id)
    if vis.policy.view is not View.FULL:
        encounters = encounters.filter(peer_id=user.pk)
    rows = list(encounters.select_related("peer").order_by("-occurred_at", "-id")[:limit])
    if rows:
        audit_record(
            actor=user,
            action="peer_encounters.viewed",
            now=now,
            patient_id=patient_id,
            object_type="patient",
            object_id=patient_id,
            via_break_glass=patient_id in vis.break_glass_ids,
        )
    return [
        EncounterView(
            id=e.pk,
            occurred_at=e.occurred_at,
            peer_name=e.peer.get_full_name() or e.peer.username,
            modality=e.modality,
            minutes=e.minutes,
            topics=tuple(e.topics),
            mood_before=e.mood_before,
            mood_after=e.mood_after,
            note=e.note,
            barriers=tuple(e.barriers),
            concern_raised=bool(e.concern),
            next_contact_on=e.next_contact_on,
        )
        for e in rows
    ]
