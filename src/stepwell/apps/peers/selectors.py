"""Peer programme reads (no patient-level data here)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.peers.models import MatchStatus
from stepwell.domain.access.policy import Role


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
