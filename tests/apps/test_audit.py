"""Every patient-level read and write leaves an append-only audit event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from stepwell.apps.audit.models import AuditEvent, AuditImmutable
from stepwell.apps.patients.services import episode_step_change
from tests.conftest import NOW, Network, token_for


def _events(action: str, patient_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, patient_id=patient_id))


def test_writes_in_the_fixture_were_audited(network: Network) -> None:
    for patient in network.patients.values():
        assert len(_events("patient.created", patient.pk)) == 1
        assert len(_events("episode.created", patient.pk)) == 1
    created = _events("patient.created", network.patients["a1"].pk)[0]
    assert created.actor == network.users["coordinator"]
    assert created.actor_role == "coordinator"


def test_api_reads_and_writes_each_record_an_event(network: Network) -> None:
    client = Client()
    user = network.users["clinician"]
    headers = {"Authorization": f"Bearer {token_for(client, user)}", "X-Request-ID": "req-12345678"}
    a1 = network.patients["a1"]
    client.get(f"/api/v1/patients/{a1.pk}", headers=headers)
    viewed = _events("patient.viewed", a1.pk)
    assert [(e.actor_id, e.request_id) for e in viewed] == [(user.pk, "req-12345678")]

    client.get(f"/api/v1/patients/{a1.pk}/episodes", headers=headers)
    assert len(_events("episode.listed", a1.pk)) == 1

    client.get("/api/v1/patients", headers=headers)
    listed = AuditEvent.objects.filter(action="patient.listed", actor=user)
    assert set(listed.values_list("patient_id", flat=True)) == network.ids("a1", "a2", "b2", "b3")

    response = client.post(
        "/api/v1/patients",
        {
            "given_name": "Flor",
            "family_name": "Ejemplo",
            "birth_date": "1990-01-02",
            "sex": "female",
            "gender": "woman",
            "preferred_language": "es",
            "site_id": network.site_a.pk,
            "phone": "+1 555 0100",
        },
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201
    new_id = response.json()["id"]
    assert len(_events("patient.created", new_id)) == 1


def test_page_reads_are_audited(network: Network) -> None:
    client = Client()
    client.force_login(network.users["coordinator"])
    a2 = network.patients["a2"]
    assert client.get(f"/patients/{a2.pk}/").status_code == 200
    assert len(_events("patient.viewed", a2.pk)) == 1
    client.get("/")
    assert len(_events("patient.listed", a2.pk)) == 1


def test_a_refused_read_records_nothing_about_the_patient(network: Network) -> None:
    client = Client()
    client.force_login(network.users["coordinator"])
    b1 = network.patients["b1"]
    assert client.get(f"/patients/{b1.pk}/").status_code == 404
    assert _events("patient.viewed", b1.pk) == []


def test_step_change_is_audited_with_reason_and_protocol_version(network: Network) -> None:
    episode = network.patients["a1"].episodes.get()
    episode_step_change(
        actor=network.users["clinician"],
        episode_id=episode.pk,
        to_step=3,
        reason="No reliable improvement after 8 weeks.",
        now=NOW + timedelta(days=1),
        protocol_version="2026.1",
    )
    [event] = _events("episode.step_changed", network.patients["a1"].pk)
    assert event.reason == "No reliable improvement after 8 weeks."
    assert event.details == {"from_step": 2, "to_step": 3, "protocol_version": "2026.1"}
    history = list(episode.step_changes.values_list("from_step", "to_step"))
    assert history == [(None, 2), (2, 3)]


def test_audit_events_cannot_be_changed_or_deleted_by_the_app(network: Network) -> None:
    event = AuditEvent.objects.first()
    assert event is not None
    event.reason = "tampered"
    with pytest.raises(AuditImmutable):
        event.save()
    with pytest.raises(AuditImmutable):
        event.delete()
    with pytest.raises(AuditImmutable):
        AuditEvent.objects.filter(pk=event.pk).update(reason="tampered")
    with pytest.raises(AuditImmutable):
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.reason != "tampered"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database trigger is PostgreSQL's")
def test_postgresql_refuses_raw_update_and_delete(network: Network) -> None:
    event = AuditEvent.objects.first()
    assert event is not None
    for sql in (
        "UPDATE audit_auditevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, reason=event.reason).exists()
