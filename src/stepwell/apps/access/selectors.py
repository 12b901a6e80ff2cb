"""The one place that decides which patients a user may see (PRODUCT.md §2).

Every patient-level query starts from ``visible_patients``. A patient outside the scope is
treated exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from stepwell.apps.access.models import BreakGlassGrant
from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.patients.models import CareTeamMember, Episode, Patient
from stepwell.apps.peers.models import MatchStatus, PeerMatch
from stepwell.domain.access.policy import RolePolicy, Scope, policy_for


@dataclass(frozen=True, slots=True)
class Visibility:
    """What a user reaches: the queryset, and the patients reached only by break-the-glass."""

    patients: QuerySet[Patient]
    policy: RolePolicy
    break_glass_ids: frozenset[int]


def _scope_filter(user: User, policy: RolePolicy) -> Q | None:
    """The normal (non-emergency) scope of a role as a filter, or None for no patients."""
    match policy.scope:
        case Scope.OWN_RECORD:
            return Q(user_id=user.pk)
        case Scope.SITES | Scope.SITES_AND_CARE_TEAM:
            # One id list as a UNION of indexed lookups, not an OR of conditions: an OR makes
            # the database test every patient row, so the cost would grow with the whole
            # region instead of with the user's own caseload.
            # The user's few site ids as values, not a subquery: the planner then sees how
            # many patients those sites hold and picks index lookups for a small caseload.
            site_ids = list(
                SiteMembership.objects.filter(user_id=user.pk).values_list("site_id", flat=True)
            )
            # (order_by() clears model orderings: a UNION's parts may not be ordered.)
            registered = Patient.objects.filter(site_id__in=site_ids).values("id").order_by()
            treated = Episode.objects.filter(site_id__in=site_ids).values("patient_id").order_by()
            if policy.scope is Scope.SITES_AND_CARE_TEAM:
                on_team = (
                    CareTeamMember.objects.filter(user_id=user.pk)
                    .values("episode__patient_id")
                    .order_by()
                )
                return Q(pk__in=registered.union(treated, on_team))
            return Q(pk__in=registered.union(treated))
        case Scope.MATCHED:
            return Q(
                Exists(
                    PeerMatch.objects.filter(
                        patient_id=OuterRef("pk"), peer_id=user.pk, status=MatchStatus.ACTIVE
                    )
                )
            )
        case _:
            return None


def active_break_glass(user: User, *, now: datetime) -> QuerySet[BreakGlassGrant]:
    return BreakGlassGrant.objects.filter(user_id=user.pk, granted_at__lte=now, expires_at__gt=now)


def visibility_for(user: User, *, now: datetime) -> Visibility:
    """The patients ``user`` may see at ``now`` (timezone-aware)."""
    policy = policy_for(getattr(user, "role", ""))
    if not user.is_authenticated or not user.is_active:
        return Visibility(Patient.objects.none(), policy, frozenset())
    normal = _scope_filter(user, policy)
    glass_ids: frozenset[int] = frozenset()
    if policy.may_break_glass:
        granted = set(active_break_glass(user, now=now).values_list("patient_id", flat=True))
        if granted and normal is not None:
            granted -= set(
                Patient.objects.filter(normal, pk__in=granted).values_list("pk", flat=True)
            )
        glass_ids = frozenset(granted)
    if normal is None and not glass_ids:
        return Visibility(Patient.objects.none(), policy, glass_ids)
    combined = Q(pk__in=glass_ids) if normal is None else normal | Q(pk__in=glass_ids)
    return Visibility(Patient.objects.filter(combined), policy, glass_ids)


def visible_patients(user: User, *, now: datetime) -> QuerySet[Patient]:
    return visibility_for(user, now=now).patients


def break_glass_grants_active(*, now: datetime) -> QuerySet[BreakGlassGrant]:
    """All grants in force, for administrators to review each other's emergency access."""
    return (
        BreakGlassGrant.objects.filter(granted_at__lte=now, expires_at__gt=now)
        .select_related("user", "patient")
        .order_by("-granted_at")
    )


def break_glass_grants_recent(*, limit: int = 50) -> QuerySet[BreakGlassGrant]:
    return BreakGlassGrant.objects.select_related("user", "patient").order_by("-granted_at")[:limit]
