"""The one place that decides which patients a user may see (PRODUCT.md §2).

Every patient-level query starts from ``visible_patients`` (or, for a read written in raw
SQL, from ``visible_patients_sql``: the same rules spelled as SQL, tested to agree). A
patient outside the scope is treated exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from stepwell.apps.access.models import BreakGlassGrant
from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.coordination.models import REFERRAL_GRANTS_ACCESS, Referral
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
    """The normal (non-emergency) scope of a role as a filter, or None for no patients.

    ``_scope_sql`` spells the same rules in SQL: change both (a property test compares them).
    """
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
            # An accepted referral to one of the user's sites (referral_update audits it).
            referred = (
                Referral.objects.filter(to_site_id__in=site_ids, status__in=REFERRAL_GRANTS_ACCESS)
                .values("patient_id")
                .order_by()
            )
            if policy.scope is Scope.SITES_AND_CARE_TEAM:
                on_team = (
                    CareTeamMember.objects.filter(user_id=user.pk)
                    .values("episode__patient_id")
                    .order_by()
                )
                return Q(pk__in=registered.union(treated, referred, on_team))
            return Q(pk__in=registered.union(treated, referred))
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


@dataclass(frozen=True, slots=True)
class VisibleSQL:
    """The patients a user sees, as a query to use inside raw SQL.

    ``sql`` yields one row per visible patient with the columns ``patient_id`` and
    ``via_break_glass`` (1 when the patient is reached only by a break-the-glass grant in
    force, else 0). Its parameters are named (``%(vis_…)s``) so that it composes with a
    larger statement's own.
    """

    sql: str
    params: dict[str, Any]
    policy: RolePolicy


_NOBODY = "SELECT CAST(NULL AS BIGINT) AS patient_id, 0 AS via_break_glass WHERE 1 = 0"
# Rows of (patient_id, glass): glass is 1 for a break-the-glass grant, 0 for the normal scope.
_OWN = "SELECT id AS patient_id, 0 AS glass FROM patients_patient WHERE user_id = %(vis_user)s"
_REGISTERED = (
    "SELECT id AS patient_id, 0 AS glass FROM patients_patient WHERE site_id IN "
    "(SELECT site_id FROM accounts_sitemembership WHERE user_id = %(vis_user)s)"
)
_TREATED = (
    "SELECT patient_id, 0 AS glass FROM patients_episode WHERE site_id IN "
    "(SELECT site_id FROM accounts_sitemembership WHERE user_id = %(vis_user)s)"
)
# The statuses are REFERRAL_GRANTS_ACCESS (checked at import below; the property test compares
# this SQL with the ORM rule).
_REFERRED = (
    "SELECT patient_id, 0 AS glass FROM coordination_referral "
    "WHERE status IN ('accepted', 'scheduled', 'seen') AND to_site_id IN "
    "(SELECT site_id FROM accounts_sitemembership WHERE user_id = %(vis_user)s)"
)
assert {s.value for s in REFERRAL_GRANTS_ACCESS} == {"accepted", "scheduled", "seen"}
_ON_TEAM = (
    "SELECT e.patient_id, 0 AS glass FROM patients_careteammember c "
    "JOIN patients_episode e ON e.id = c.episode_id WHERE c.user_id = %(vis_user)s"
)
_MATCHED = (
    "SELECT patient_id, 0 AS glass FROM peers_peermatch "
    "WHERE peer_id = %(vis_user)s AND status = %(vis_active)s"
)
_GRANTED = (
    "SELECT patient_id, 1 AS glass FROM access_breakglassgrant WHERE user_id = %(vis_user)s "
    "AND granted_at <= %(vis_now)s AND expires_at > %(vis_now)s"
)


def _scope_sql(scope: Scope) -> list[str]:
    """``_scope_filter`` as SQL: the queries whose union is the normal scope (none: nobody)."""
    match scope:
        case Scope.OWN_RECORD:
            return [_OWN]
        case Scope.SITES:
            # As in _scope_filter: one indexed lookup per way of reaching a patient, unioned,
            # so the cost follows the user's caseload, not the region's size.
            return [_REGISTERED, _TREATED, _REFERRED]
        case Scope.SITES_AND_CARE_TEAM:
            return [_REGISTERED, _TREATED, _REFERRED, _ON_TEAM]
        case Scope.MATCHED:
            return [_MATCHED]
        case _:
            return []


@lru_cache(maxsize=16)
def _visible_sql(scope: Scope, may_break_glass: bool) -> str:
    parts = _scope_sql(scope) + ([_GRANTED] if may_break_glass else [])
    if not parts:
        return _NOBODY
    # A patient reached both normally and by a grant is not a break-the-glass read.
    union = " UNION ALL ".join(parts)
    return (
        "SELECT vis_rows.patient_id, MIN(vis_rows.glass) AS via_break_glass "  # noqa: S608 - fixed SQL only
        f"FROM ({union}) vis_rows GROUP BY vis_rows.patient_id"
    )


def visible_patients_sql(user: User, *, now: datetime) -> VisibleSQL:
    """``visibility_for`` as SQL, for reads written in raw SQL (the caseload): the same
    patients, and the same ones reached only by break-the-glass, at ``now`` (aware)."""
    policy = policy_for(getattr(user, "role", ""))
    if not user.is_authenticated or not user.is_active:
        return VisibleSQL(_NOBODY, {}, policy)
    return VisibleSQL(
        _visible_sql(policy.scope, policy.may_break_glass),
        {
            "vis_user": user.pk,
            "vis_now": connection.ops.adapt_datetimefield_value(now)
            if connection.vendor == "sqlite"
            else now,
            "vis_active": MatchStatus.ACTIVE.value,
        },
        policy,
    )


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
