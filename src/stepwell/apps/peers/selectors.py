"""Peer programme reads: peers, their training, supervision and load (no patient-level
data here; a peer's patients are read through ``apps/access``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Max, Q

from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.core.errors import NotFound
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.models import (
    MatchProposal,
    MatchStatus,
    PeerMatch,
    PeerProfile,
    PeerState,
    RunStatus,
    SupervisionSession,
    TrainingCompletion,
)
from stepwell.domain.access.policy import Role
from stepwell.domain.peers.content import PeerContent
from stepwell.domain.peers.curriculum import (
    CertificationStatus,
    Completion,
    certification_status,
    completion_for,
)
from stepwell.domain.peers.eligibility import PeerState as EligibilityState
from stepwell.domain.peers.eligibility import capacity, match_eligibility, supervision_due_by
from stepwell.domain.peers.reasons import Reason as PeerReason


@dataclass(frozen=True, slots=True)
class PeerSummary:
    peer_id: int
    username: str
    display_name: str
    active_matches: int


def peers_supervised_by(supervisor: User) -> list[PeerSummary]:
    """Peers who share a site with the supervisor, with their active match counts."""
    site_ids = SiteMembership.objects.filter(user_id=supervisor.pk).values("site_id")
    peers = (
        User.objects.filter(role=Role.PEER, is_active=True, memberships__site_id__in=site_ids)
        .distinct()
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
    active_matches: int
    max_patients: int
    ineligible: tuple[PeerReason, ...]


def peers_overview(*, user: User, now: datetime) -> list[PeerOverview]:
    """Peers of the user's sites (every peer for an admin) with what a supervisor watches.
    Programme staff only."""
    if user.role not in {Role.PEER_SUPERVISOR, Role.COORDINATOR, Role.ADMIN}:
        raise NotFound("peers")
    content = peer_content()
    rules = content.programme
    peers = User.objects.filter(role=Role.PEER, is_active=True)
    if user.role != Role.ADMIN:
        sites = SiteMembership.objects.filter(user_id=user.pk).values("site_id")
        peers = peers.filter(memberships__site_id__in=sites).distinct()
    people = list(peers.order_by("last_name", "first_name", "id"))
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
                active_matches=active,
                max_patients=capacity(peer_state, rules),
                ineligible=match_eligibility(peer_state, cert, last, now, rules),
            )
        )
    return out
