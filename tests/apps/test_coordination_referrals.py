"""Referrals between sites (issue 8, acceptance 2): accepting one gives the receiving site's
care team access (audited, in the ORM and the SQL spelling of the scope alike); an urgent
referral not accepted by its deadline is flagged by the worker's job; wait days count
calendar days at each site, across time zones and clock changes."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from django.db import connection

from stepwell.apps.access.selectors import visibility_for, visible_patients_sql
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.coordination.models import Referral
from stepwell.apps.coordination.selectors import referrals_for
from stepwell.apps.coordination.services import referral_send, referral_update
from stepwell.apps.core.errors import InvalidInput, NotFound
from stepwell.apps.safety.worker import worker_tick
from tests.conftest import Network

CHICAGO, DENVER = ZoneInfo("America/Chicago"), ZoneInfo("America/Denver")


def _sql_visible(user: Any, now: datetime) -> set[int]:
    vis = visible_patients_sql(user, now=now)
    with connection.cursor() as cursor:
        cursor.execute(vis.sql, vis.params)
        return {row[0] for row in cursor.fetchall()}


def _refer(network: Network, now: datetime, urgency: str = "urgent") -> Referral:
    return referral_send(
        actor=network.users["clinician"],
        patient_id=network.patients["a1"].pk,
        to_site_id=network.site_b.pk,
        reason="Specialist assessment of persistent pain.",
        urgency=urgency,
        now=now,
    )


def test_accepting_a_referral_gives_the_receiving_site_access(network: Network) -> None:
    now = datetime(2026, 11, 23, 15, tzinfo=CHICAGO)
    a1 = network.patients["a1"]
    receiving = network.users["clinician_b"]
    assert a1.pk not in set(
        visibility_for(receiving, now=now).patients.values_list("pk", flat=True)
    )
    referral = _refer(network, now)
    # Sent: the receiving site sees the referral (to decide on it), not the record.
    incoming = referrals_for(user=receiving, now=now)
    assert [(r.id, r.incoming) for r in incoming] == [(referral.pk, True)]
    assert a1.pk not in _sql_visible(receiving, now)
    assert not visibility_for(receiving, now=now).patients.filter(pk=a1.pk).exists()
    # The sending site may not accept its own referral.
    with pytest.raises(InvalidInput) as refused:
        referral_update(
            actor=network.users["clinician"], referral_id=referral.pk, status="accepted", now=now
        )
    assert refused.value.problems[0].field == "status"
    # A site that is neither side does not even find it.
    outsider_site = network.site_a.__class__.objects.create(
        code="c", name="Site c", kind="primary-care", latitude=1, longitude=1
    )
    outsider = network.users["coordinator"].__class__.objects.create_user(
        username="clin-c", password="x", role="clinician"
    )
    outsider.memberships.create(site=outsider_site)
    with pytest.raises(NotFound):
        referral_update(actor=outsider, referral_id=referral.pk, status="accepted", now=now)

    referral_update(actor=receiving, referral_id=referral.pk, status="accepted", now=now)
    assert visibility_for(receiving, now=now).patients.filter(pk=a1.pk).exists()
    assert a1.pk in _sql_visible(receiving, now)
    # The coordinator at the receiving site too (they schedule); not its peers or managers.
    assert (
        visibility_for(network.users["coordinator_b"], now=now).patients.filter(pk=a1.pk).exists()
    )
    assert a1.pk in _sql_visible(network.users["coordinator_b"], now)
    grant = AuditEvent.objects.get(action="referral.access_granted")
    assert (grant.actor_id, grant.patient_id, grant.object_id) == (
        receiving.pk,
        a1.pk,
        str(network.site_b.pk),
    )
    # Declined or cancelled referrals grant nothing.
    referral_update(
        actor=network.users["clinician"],
        referral_id=referral.pk,
        status="cancelled",
        note="Seen locally instead.",
        now=now,
    )
    assert not visibility_for(receiving, now=now).patients.filter(pk=a1.pk).exists()
    assert a1.pk not in _sql_visible(receiving, now)


def test_bad_referral_input_names_the_field_and_stores_nothing(network: Network) -> None:
    now = datetime(2026, 11, 23, 15, tzinfo=CHICAGO)
    with pytest.raises(InvalidInput) as bad:
        referral_send(
            actor=network.users["clinician"],
            patient_id=network.patients["a1"].pk,
            to_site_id=network.site_a.pk,
            reason="",
            urgency="asap",
            now=now,
        )
    assert {p.field for p in bad.value.problems} == {"to_site", "urgency", "reason"}
    assert not Referral.objects.exists()
    referral = _refer(network, now)
    with pytest.raises(InvalidInput) as bad_move:
        referral_update(
            actor=network.users["clinician_b"], referral_id=referral.pk, status="seen", now=now
        )
    assert bad_move.value.problems[0].field == "status"
    with pytest.raises(InvalidInput) as no_note:
        referral_update(
            actor=network.users["clinician_b"], referral_id=referral.pk, status="declined", now=now
        )
    assert no_note.value.problems[0].field == "note"
    referral.refresh_from_db()
    assert referral.status == "sent"


def test_urgent_referral_not_accepted_in_time_is_flagged_once(network: Network) -> None:
    sent = datetime(2026, 11, 23, 15, tzinfo=CHICAGO)
    urgent = _refer(network, sent, "urgent")
    routine = _refer(network, sent, "routine")
    assert urgent.deadline_at == sent + timedelta(hours=48)  # access.yaml: urgent 48 h
    assert routine.deadline_at == sent + timedelta(days=14)
    worker_tick(now=sent + timedelta(hours=47, minutes=59))
    urgent.refresh_from_db()
    assert urgent.overdue_at is None
    at = sent + timedelta(hours=48, minutes=1)
    worker_tick(now=at)
    urgent.refresh_from_db()
    routine.refresh_from_db()
    assert urgent.overdue_at is not None
    assert routine.overdue_at is None
    first = urgent.overdue_at
    worker_tick(now=at + timedelta(hours=1))
    urgent.refresh_from_db()
    assert urgent.overdue_at == first
    assert AuditEvent.objects.filter(action="referral.overdue").count() == 1
    rows = referrals_for(user=network.users["clinician_b"], now=at, urgent_only=True)
    assert {r.id: r.overdue for r in rows} == {urgent.pk: True}


def test_accepted_in_time_is_never_flagged(network: Network) -> None:
    sent = datetime(2026, 11, 23, 15, tzinfo=CHICAGO)
    urgent = _refer(network, sent, "urgent")
    referral_update(
        actor=network.users["clinician_b"],
        referral_id=urgent.pk,
        status="accepted",
        now=sent + timedelta(hours=2),
    )
    worker_tick(now=sent + timedelta(days=3))
    urgent.refresh_from_db()
    assert urgent.overdue_at is None


@pytest.fixture
def denver_site_b(settings: Any, tmp_path: Path) -> None:
    """Content where site b keeps Mountain time (the rest of the region Central)."""
    content = tmp_path / "content"
    shutil.copytree(settings.CONTENT_DIR, content)
    path = content / "coordination" / "access.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sites"] = {"b": {"time_zone": "America/Denver"}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings.CONTENT_DIR = content


@pytest.mark.parametrize(
    ("sent", "seen", "days"),
    [
        # Sent late on 7 March (Central), seen the morning of 9 March (Mountain), across the
        # spring-forward night: 33.5 hours, but two calendar days of waiting.
        (datetime(2026, 3, 7, 23, 30, tzinfo=CHICAGO), datetime(2026, 3, 9, 9, tzinfo=DENVER), 2),
        # Across the fall-back night (1 November): 31 October to 2 November is two days.
        (datetime(2026, 10, 31, 8, tzinfo=CHICAGO), datetime(2026, 11, 2, 7, tzinfo=DENVER), 2),
        # Seen at 23:30 Mountain on 1 June (00:30 on the 2nd in Central): the same day by
        # the receiving site's calendar, where the patient was seen.
        (
            datetime(2026, 6, 1, 12, 0, tzinfo=CHICAGO),
            datetime(2026, 6, 1, 23, 30, tzinfo=DENVER),
            0,
        ),
        (
            datetime(2026, 6, 1, 12, 0, tzinfo=CHICAGO),
            datetime(2026, 6, 2, 0, 30, tzinfo=DENVER),
            1,
        ),
    ],
)
def test_wait_days_are_calendar_days_at_each_site(
    network: Network, denver_site_b: None, sent: datetime, seen: datetime, days: int
) -> None:
    referral = _refer(network, sent)
    receiving = network.users["clinician_b"]
    referral_update(actor=receiving, referral_id=referral.pk, status="accepted", now=sent)
    referral_update(actor=receiving, referral_id=referral.pk, status="seen", now=seen)
    rows = referrals_for(user=receiving, now=seen + timedelta(days=30), open_only=False)
    assert [r.wait_days for r in rows] == [days]
