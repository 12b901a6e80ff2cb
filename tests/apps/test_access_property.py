"""Property test: the access selector agrees with a plain reading of PRODUCT.md §2 on random
small networks (memberships, registrations, treating sites, care teams, matches, grants,
referrals between sites)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepwell.apps.access.models import BreakGlassGrant
from stepwell.apps.access.selectors import visibility_for, visible_patients, visible_patients_sql
from stepwell.apps.accounts.models import SiteMembership, User
from stepwell.apps.coordination.models import Referral
from stepwell.apps.patients.models import CareTeamMember, Episode, Patient
from stepwell.apps.peers.models import PeerMatch
from tests.conftest import NOW, make_site

ROLES = [
    "patient",
    "chw",
    "clinician",
    "coordinator",
    "peer",
    "peer_supervisor",
    "manager",
    "admin",
]

world = st.fixed_dictionaries(
    {
        "users": st.lists(
            st.tuples(st.sampled_from(ROLES), st.sets(st.integers(0, 2))), min_size=1, max_size=6
        ),
        # (registered site, treating site or None, discharged?)
        "patients": st.lists(
            st.tuples(st.integers(0, 2), st.none() | st.integers(0, 2), st.booleans()),
            min_size=1,
            max_size=6,
        ),
        "care_team": st.sets(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=4),
        "matches": st.sets(
            st.tuples(
                st.integers(0, 5),
                st.integers(0, 5),
                st.sampled_from(["proposed", "active", "ended"]),
            ),
            max_size=5,
        ),
        # (user, patient, hours since grant)
        "grants": st.sets(
            st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), max_size=3
        ),
        "own": st.dictionaries(st.integers(0, 5), st.integers(0, 5), max_size=2),
        # (patient, to site, status): accepted, scheduled or seen opens the record to that site
        "referrals": st.lists(
            st.tuples(
                st.integers(0, 5),
                st.integers(0, 2),
                st.sampled_from(["sent", "accepted", "scheduled", "seen", "declined"]),
            ),
            max_size=3,
        ),
    }
)


def _build(w: dict) -> tuple[list[User], list[Patient]]:  # type: ignore[type-arg]
    sites = [make_site(f"s{i}", lat=37 + i / 10) for i in range(3)]
    sender = User.objects.create(username="referrer", role="clinician")
    users = []
    for n, (role, memberships) in enumerate(w["users"]):
        user = User.objects.create(username=f"u{n}", role=role)
        for s in memberships:
            SiteMembership.objects.create(user=user, site=sites[s])
        users.append(user)
    patients = []
    for n, (reg, treat, discharged) in enumerate(w["patients"]):
        patient = Patient.objects.create(
            record_number=f"SW-P{n:07d}",
            given_name="P",
            family_name="Testwell",
            birth_date="1980-01-01",
            sex="female",
            gender="woman",
            preferred_language="en",
            preferred_channel="none",
            site=sites[reg],
            created_at=NOW,
        )
        if treat is not None:
            Episode.objects.create(
                patient=patient,
                site=sites[treat],
                referral_source="self",
                referral_date="2026-01-01",
                current_step=1,
                status="discharged" if discharged else "active",
                discharge_reason="completed" if discharged else "",
                discharge_date="2026-06-01" if discharged else None,
                created_at=NOW,
            )
        patients.append(patient)
    _link(w, users, patients)
    for p, to, status in w["referrals"]:
        if p < len(patients):
            from_site = sites[(to + 1) % 3]
            Referral.objects.create(
                patient=patients[p],
                from_site=from_site,
                to_site=sites[to],
                reason="why",
                urgency="routine",
                status=status,
                sent_by=sender,
                sent_at=NOW,
                deadline_at=NOW + timedelta(days=14),
                updated_at=NOW,
            )
    return users, patients


def _link(w: dict, users: list[User], patients: list[Patient]) -> None:  # type: ignore[type-arg]
    for u, p in w["care_team"]:
        if u < len(users) and p < len(patients):
            ep = patients[p].episodes.first()
            if ep:
                CareTeamMember.objects.get_or_create(episode=ep, user=users[u])
    for u, p, status in w["matches"]:
        if (
            u < len(users)
            and p < len(patients)
            and not (
                status == "active"
                and PeerMatch.objects.filter(
                    peer=users[u], patient=patients[p], status="active"
                ).exists()
            )
        ):
            PeerMatch.objects.create(
                peer=users[u],
                patient=patients[p],
                status=status,
                created_at=NOW,
                approved_at=NOW if status != "proposed" else None,
            )
    for u, p, hours in w["grants"]:
        if u < len(users) and p < len(patients):
            start = NOW - timedelta(hours=hours)
            BreakGlassGrant.objects.create(
                user=users[u],
                patient=patients[p],
                reason="why",
                granted_at=start,
                expires_at=start + timedelta(hours=3),
            )
    for u, p in w["own"].items():
        if u < len(users) and p < len(patients) and users[u].role == "patient":
            Patient.objects.filter(user=users[u]).update(user=None)
            Patient.objects.filter(pk=patients[p].pk).update(user=users[u])


def _expected(w: dict, users: list[User], patients: list[Patient], u: int) -> set[int]:  # type: ignore[type-arg]
    """PRODUCT.md §2, read literally, without the selector's code."""
    role, memberships = w["users"][u]
    user = users[u]
    seen = set()
    for n, (reg, treat, _discharged) in enumerate(w["patients"]):
        p = Patient.objects.get(pk=patients[n].pk)
        referred_here = any(
            pp == n and to in memberships and status in {"accepted", "scheduled", "seen"}
            for pp, to, status in w["referrals"]
        )
        by_site = (
            reg in memberships or (treat is not None and treat in memberships) or referred_here
        )
        on_team = CareTeamMember.objects.filter(episode__patient=p, user=user).exists()
        matched = PeerMatch.objects.filter(peer=user, patient=p, status="active").exists()
        granted = any(uu == u and pp == n and h < 3 for uu, pp, h in w["grants"])
        allowed = {
            "patient": p.user_id == user.pk,
            "chw": by_site,
            "coordinator": by_site,
            "clinician": by_site or on_team or granted,
            "peer": matched,
            "admin": granted,
        }.get(role, False)
        if allowed:
            seen.add(p.pk)
    return seen


def _assert_sql_agrees(user: User, seen: set[int]) -> None:
    """The raw-SQL spelling of the rules (used by the caseload) reaches the same patients,
    once each, and marks the same ones as reached only by break-the-glass."""
    vis = visible_patients_sql(user, now=NOW)
    with connection.cursor() as cursor:
        cursor.execute(vis.sql, vis.params)
        rows = cursor.fetchall()
    assert sorted(pid for pid, _ in rows) == sorted(seen), user.role
    glass = {pid for pid, via_break_glass in rows if via_break_glass}
    assert glass == visibility_for(user, now=NOW).break_glass_ids, user.role
    assert vis.policy == visibility_for(user, now=NOW).policy


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(w=world)
def test_selector_matches_the_policy_on_random_networks(w: dict) -> None:  # type: ignore[type-arg]
    with transaction.atomic():
        users, patients = _build(w)
        for u, user in enumerate(users):
            got = set(visible_patients(user, now=NOW).values_list("pk", flat=True))
            assert got == _expected(w, users, patients, u), (user.role, w)
            _assert_sql_agrees(user, got)
        transaction.set_rollback(True)
