"""The caseload's raw SQL against a plain reading of the data: sorts, filters, paging, the
safety-risk flag, break-the-glass marking in its audit; and the fast paths it relies on
(multi-row audit insert, the bearer-token lookup)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.apps.access.services import break_glass_grant
from stepwell.apps.accounts.models import ApiToken, User
from stepwell.apps.accounts.services import _digest, api_token_user
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.audit.services import audit_record_many
from stepwell.apps.core.errors import NotFound
from stepwell.apps.core.request_context import request_id_var
from stepwell.apps.patients.models import Episode, StepChange
from stepwell.apps.safety.services import concern_raise
from stepwell.apps.stepping import selectors
from stepwell.apps.stepping.models import EpisodeFlag, EpisodeReview
from stepwell.apps.stepping.services import episodes_review_all
from stepwell.domain.stepping.engine import FLAGS
from tests.conftest import Cover, Network, record_phq9

REASON = "Called by the emergency department about a patient in crisis tonight."


def _scene(network: Network) -> None:
    """Clinician A's caseload (a1, a2, b2, b3) with differing steps, step ages, scores,
    flags and review dates, so that every sort orders it differently."""
    for name, days in (("a1", 56), ("a2", 10), ("b2", 30), ("b3", 3)):
        StepChange.objects.filter(episode__patient=network.patients[name]).update(
            changed_at=timezone.now() - timedelta(days=days)
        )
    record_phq9(network, "a1", [2, 2, 2, 2, 2, 2, 1, 1, 0], days_ago=56)
    record_phq9(network, "a1", [2, 2, 2, 2, 2, 1, 1, 1, 0], days_ago=0)
    record_phq9(network, "b2", [1] * 8 + [0], days_ago=3)
    episodes_review_all(now=timezone.now())
    # One episode never reviewed: no flag count, no review date (NULLS LAST in both sorts).
    EpisodeReview.objects.filter(episode__patient=network.patients["a2"]).delete()


def _expected(network: Network, sort: str) -> list[int]:
    """The episode ids of clinician A's open episodes in ``sort``'s order, read plainly."""
    episodes = Episode.objects.filter(
        patient__in=[network.patients[n] for n in ("a1", "a2", "b2", "b3")]
    ).select_related("patient")

    def since(e: Episode) -> Any:
        return StepChange.objects.filter(episode=e).order_by("-changed_at").first().changed_at  # type: ignore[union-attr]

    reviews = {r.episode_id: r for r in EpisodeReview.objects.all()}

    def key(e: Episode) -> tuple[Any, ...]:
        review = reviews.get(e.pk)
        name = (e.patient.family_name, e.patient.given_name, e.pk)
        return {
            # No open safety tasks here: at-risk is false for all.
            "flags": (-(review.flag_count if review else -1), *name),
            "name": name,
            "step": (-e.current_step, e.patient.family_name, e.pk),
            "weeks": (since(e), e.pk),
            "review": (review is None, review.next_review if review else date.min, e.pk),
        }[sort]

    return [e.pk for e in sorted(episodes, key=key)]


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_each_sort_orders_as_a_plain_reading_does(network: Network, sort: str) -> None:
    _scene(network)
    page = selectors.caseload(
        user=network.users["clinician"], now=timezone.now(), language="en", sort=sort
    )
    assert [r.episode_id for r in page.rows] == _expected(network, sort)
    assert page.count == 4


def test_rows_carry_scores_weeks_review_and_flags(network: Network) -> None:
    _scene(network)
    page = selectors.caseload(user=network.users["clinician"], now=timezone.now(), language="en")
    rows = {r.patient_id: r for r in page.rows}
    a1 = rows[network.patients["a1"].pk]
    assert a1.scores == {"PHQ-9": (13, "moderate"), "GAD-7": None, "PHQ-15": None}
    assert a1.weeks_on_step == 8
    assert a1.site_name == "Site a"
    assert a1.record_number == network.patients["a1"].record_number
    review = EpisodeReview.objects.get(episode__patient=network.patients["a1"])
    assert a1.next_review == review.next_review
    assert isinstance(a1.next_review, date)
    stored = EpisodeFlag.objects.filter(episode__patient=network.patients["a1"])
    assert [f.code for f in a1.flags] == sorted((f.code for f in stored), key=FLAGS.index)
    assert a1.flags[0].reasons[0].startswith("PHQ-9 14 → 13 after 8 weeks at step 2")
    assert rows[network.patients["a2"].pk].next_review is None
    assert rows[network.patients["b3"].pk].weeks_on_step == 0
    spanish = selectors.caseload(
        user=network.users["clinician"], now=timezone.now(), language="es", flag="not-improving"
    )
    assert spanish.rows[0].flags[0].reasons[0].startswith("PHQ-9 14 → 13 tras 8 semanas")


def test_filters_and_paging(network: Network) -> None:
    _scene(network)
    user, now = network.users["clinician"], timezone.now()

    def ids(**kwargs: Any) -> tuple[list[int], int]:
        page = selectors.caseload(user=user, now=now, language="en", **kwargs)
        return [r.patient_id for r in page.rows], page.count

    p = network.patients
    assert ids(site_id=network.site_b.pk) == ([p["b3"].pk], 1)
    assert ids(step=4) == ([p["b2"].pk], 1)
    assert ids(flag="not-improving") == ([p["a1"].pk], 1)
    assert ids(flag="disengaged") == ([], 0)
    everyone, _ = ids(sort="name")
    assert ids(sort="name", limit=2) == (everyone[:2], 4)
    assert ids(sort="name", limit=2, offset=2) == (everyone[2:], 4)
    # Past the last page: no rows, and the total still counts (a second, COUNT query).
    assert ids(sort="name", limit=2, offset=6) == ([], 4)
    # A discharged episode leaves the registry.
    Episode.objects.filter(patient=p["a2"]).update(
        status="discharged", discharge_reason="completed", discharge_date=date(2026, 10, 1)
    )
    assert p["a2"].pk not in ids()[0]


def test_an_open_safety_task_flags_and_sorts_first(network: Network, cover: Cover) -> None:
    _scene(network)
    b3 = network.patients["b3"]
    concern_raise(
        actor=network.users["clinician"],
        patient_id=b3.pk,
        text="Said goodbye to everyone at group",
        urgency="soon",
        now=timezone.now(),
    )
    page = selectors.caseload(user=network.users["clinician"], now=timezone.now(), language="en")
    first = page.rows[0]
    assert first.patient_id == b3.pk
    risk = next(f for f in first.flags if f.code == "safety-risk")
    assert risk.reasons[0].startswith("1 unresolved safety task (most severe:")
    only = selectors.caseload(
        user=network.users["clinician"], now=timezone.now(), language="en", flag="safety-risk"
    )
    assert [r.patient_id for r in only.rows] == [b3.pk]


def test_the_caseload_is_for_care_team_roles_only(network: Network) -> None:
    for who in ("peer", "manager", "patient", "admin", "peer_supervisor"):
        with pytest.raises(NotFound):
            selectors.caseload(user=network.users[who], now=timezone.now(), language="en")


def test_every_patient_listed_is_audited_with_break_the_glass_marked(network: Network) -> None:
    clinician_b = network.users["clinician_b"]
    a1 = network.patients["a1"]
    now = timezone.now()
    break_glass_grant(user=clinician_b, record_number=a1.record_number, reason=REASON, now=now)
    token = request_id_var.set("req-caseload-1")
    try:
        with CaptureQueriesContext(connection) as ctx:
            page = selectors.caseload(
                user=clinician_b, now=now + timedelta(minutes=1), language="en", sort="name"
            )
    finally:
        request_id_var.reset(token)
    listed = {r.patient_id for r in page.rows}
    assert listed == network.ids("a1", "b1", "b2", "b3")  # b2 is registered at B
    events = AuditEvent.objects.filter(action="caseload.listed")
    assert sorted(events.values_list("patient_id", flat=True)) == sorted(listed)
    assert {e.patient_id for e in events if e.via_break_glass} == {a1.pk}
    assert {(e.actor_id, e.actor_role, e.request_id, e.object_type) for e in events} == {
        (clinician_b.pk, "clinician", "req-caseload-1", "patient")
    }
    assert {e.object_id for e in events} == {str(pid) for pid in listed}
    assert all(e.at == now + timedelta(minutes=1) for e in events)
    # The read and its audit: one statement on PostgreSQL, two on SQLite.
    assert len(ctx.captured_queries) == (1 if connection.vendor == "postgresql" else 2)


def test_an_expired_grant_no_longer_lists_the_patient(network: Network) -> None:
    clinician_b = network.users["clinician_b"]
    a1 = network.patients["a1"]
    now = timezone.now()
    break_glass_grant(user=clinician_b, record_number=a1.record_number, reason=REASON, now=now)
    later = selectors.caseload(user=clinician_b, now=now + timedelta(hours=4), language="en")
    assert a1.pk not in {r.patient_id for r in later.rows}


def test_audit_record_many_writes_one_event_per_patient_in_one_statement(
    network: Network,
) -> None:
    user = network.users["clinician"]
    ids = [network.patients[n].pk for n in ("b2", "a1", "a2")]
    with CaptureQueriesContext(connection) as ctx:
        written = audit_record_many(
            actor=user,
            action="test.listed",
            now=timezone.now(),
            patient_ids=ids,
            break_glass_ids=frozenset({ids[1]}),
        )
    assert written == 3
    assert len(ctx.captured_queries) == 1
    events = list(AuditEvent.objects.filter(action="test.listed").order_by("id"))
    assert [e.patient_id for e in events] == ids  # in the order given
    assert [e.via_break_glass for e in events] == [False, True, False]
    assert [e.object_id for e in events] == [str(i) for i in ids]
    assert {e.details == {} and e.actor_username == "clin-a" for e in events} == {True}
    with CaptureQueriesContext(connection) as ctx:
        assert audit_record_many(actor=None, action="x", now=timezone.now(), patient_ids=[]) == 0
    assert ctx.captured_queries == []
    audit_record_many(actor=None, action="system.listed", now=timezone.now(), patient_ids=ids[:1])
    system = AuditEvent.objects.get(action="system.listed")
    assert (system.actor_id, system.actor_role) == (None, "system")


def test_the_bearer_token_lookup(network: Network) -> None:
    now = timezone.now()
    users = {name: network.users[name] for name in ("clinician", "coordinator", "chw", "peer")}
    raws = {name: f"raw-token-{name}" for name in users}
    tokens = {
        name: ApiToken.objects.create(
            user=user,
            key_hash=_digest(raws[name]),
            created_at=now - timedelta(hours=1),
            expires_at=now + timedelta(hours=1),
        )
        for name, user in users.items()
    }
    ApiToken.objects.filter(pk=tokens["coordinator"].pk).update(revoked_at=now)
    ApiToken.objects.filter(pk=tokens["chw"].pk).update(expires_at=now - timedelta(seconds=1))
    User.objects.filter(pk=users["peer"].pk).update(is_active=False)
    # Only the valid token of an active user, and only before it expires.
    for name, raw in (*raws.items(), ("none", "never-issued")):
        got = api_token_user(raw, now=now)
        assert (got.pk if got else None) == (users["clinician"].pk if name == "clinician" else None)
        assert api_token_user(raw, now=now + timedelta(hours=2)) is None, name
    found = api_token_user(raws["clinician"], now=now)
    assert found == users["clinician"]
    assert found is not None
    assert found.role == "clinician"
    assert found.date_joined.tzinfo is not None  # a complete, ordinary user


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan cache")
def test_postgresql_plans_the_caseload_once_per_connection(network: Network) -> None:
    user = network.users["clinician"]
    first = selectors.caseload(user=user, now=timezone.now(), language="en")
    for _ in range(7):  # PostgreSQL tries five custom plans before settling on a generic one
        again = selectors.caseload(user=user, now=timezone.now(), language="en")
    assert [r.episode_id for r in again.rows] == [r.episode_id for r in first.rows]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH vis AS%%'"
        )
        assert max(generic for (generic,) in cursor.fetchall()) > 0
