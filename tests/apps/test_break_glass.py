"""Break-the-glass: a stated reason opens one record for three hours, audited, visible."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from stepwell.apps.access.selectors import break_glass_grants_active, visible_patients
from stepwell.apps.access.services import break_glass_grant
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.core.errors import Forbidden, InvalidInput
from stepwell.apps.patients.selectors import patient_detail
from tests.conftest import NOW, Network

REASON = "Called by the emergency department about a patient in crisis tonight."


def test_admin_sees_no_patient_until_breaking_the_glass(network: Network) -> None:
    admin = network.users["admin"]
    b1 = network.patients["b1"]
    assert not visible_patients(admin, now=NOW).exists()
    grant = break_glass_grant(user=admin, record_number=b1.record_number, reason=REASON, now=NOW)
    assert grant.expires_at - grant.granted_at == timedelta(hours=3)
    assert list(visible_patients(admin, now=NOW)) == [b1]
    record = patient_detail(user=admin, patient_id=b1.pk, now=NOW + timedelta(minutes=5))
    assert record.via_break_glass
    viewed = AuditEvent.objects.get(action="patient.viewed", patient=b1)
    assert viewed.via_break_glass
    assert viewed.reason == REASON
    assert AuditEvent.objects.filter(action="access.break_glass_granted", patient=b1).count() == 1


def test_the_grant_expires_after_three_hours(network: Network) -> None:
    admin = network.users["admin"]
    b1 = network.patients["b1"]
    break_glass_grant(user=admin, record_number=b1.record_number, reason=REASON, now=NOW)
    just_before = NOW + timedelta(hours=3) - timedelta(seconds=1)
    assert visible_patients(admin, now=just_before).filter(pk=b1.pk).exists()
    assert not visible_patients(admin, now=NOW + timedelta(hours=3)).exists()
    assert not visible_patients(admin, now=NOW + timedelta(hours=5)).exists()
    assert list(break_glass_grants_active(now=NOW + timedelta(hours=3))) == []


def test_grants_in_force_are_listed(network: Network) -> None:
    b1 = network.patients["b1"]
    break_glass_grant(
        user=network.users["admin"], record_number=b1.record_number, reason=REASON, now=NOW
    )
    assert [g.reason for g in break_glass_grants_active(now=NOW)] == [REASON]


def test_admin_home_lists_grants_in_force(network: Network) -> None:
    from django.utils import timezone

    from tests.conftest import make_user

    b1 = network.patients["b1"]
    break_glass_grant(
        user=network.users["admin"],
        record_number=b1.record_number,
        reason=REASON,
        now=timezone.now(),
    )
    client = Client()
    client.force_login(make_user("admin-2", "admin"))
    page = client.get("/").content.decode()
    assert REASON in page
    assert b1.record_number in page
    assert "admin" in page


@pytest.mark.parametrize(
    ("record", "reason", "field"),
    [("SW-NOPE0000", REASON, "record_number"), (None, "because", "reason")],
)
def test_bad_requests_are_refused_with_the_field(
    network: Network, record: str | None, reason: str, field: str
) -> None:
    record_number = record or network.patients["b1"].record_number
    with pytest.raises(InvalidInput) as err:
        break_glass_grant(
            user=network.users["admin"], record_number=record_number, reason=reason, now=NOW
        )
    assert [p.field for p in err.value.problems] == [field]
    assert not AuditEvent.objects.filter(action="access.break_glass_granted").exists()


def test_roles_without_the_right_are_refused(network: Network) -> None:
    with pytest.raises(Forbidden):
        break_glass_grant(
            user=network.users["peer"],
            record_number=network.patients["b1"].record_number,
            reason=REASON,
            now=NOW,
        )
