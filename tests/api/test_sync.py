"""Offline capture synced later: each record applied at most once, per-record answers, and
an item-9 answer captured without signal raising its safety task at sync."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.test import Client
from django.utils import timezone

from stepwell.apps.measurement.models import Assessment
from stepwell.apps.safety.models import EscalationTask, SafetyEvent
from tests.conftest import Cover, Network, token_for


def _record(
    network: Network, answers: list[Any], patient: str = "a1", **extra: Any
) -> dict[str, Any]:
    return {
        "id": str(uuid4()),
        "type": "assessment",
        "patient_id": network.patients[patient].pk,
        "instrument": "PHQ-9",
        "answers": answers,
        "taken_at": timezone.now().isoformat(),
        "mode": "chw",
    } | extra


def _sync(client: Client, network: Network, records: list[dict[str, Any]], who: str = "chw") -> Any:
    return client.post(
        "/api/v1/sync",
        {"device_id": "tablet-7", "records": records},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(client, network.users[who])}"},
    )


def test_offline_item9_raises_its_task_at_sync_once_however_often_it_is_sent(
    network: Network, cover: Cover, api_client: Client
) -> None:
    record = _record(network, [0] * 8 + [3])
    first = _sync(api_client, network, [record])
    assert first.status_code == 200, first.content
    [result] = first.json()["results"]
    assert result["status"] == "applied"
    task = EscalationTask.objects.get()
    assert (task.severity, task.owner, task.event.assessment_id) == (
        "high",
        cover.on_call,
        result["object_id"],
    )
    # The response was lost; the tablet sends the batch again, and again with the record twice.
    again = _sync(api_client, network, [record, record]).json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert {r["object_id"] for r in again} == {result["object_id"]}
    assert Assessment.objects.count() == 1
    assert SafetyEvent.objects.count() == 1


def test_a_bad_record_is_rejected_by_name_and_the_rest_of_the_batch_applies(
    network: Network, cover: Cover, api_client: Client
) -> None:
    good = _record(network, [1] * 8 + [0])
    bad_item = _record(network, [0] * 8 + [4])
    future = _record(network, [0] * 9, taken_at="2099-01-01T00:00:00+00:00")
    out_of_scope = _record(network, [0] * 9, patient="b1")
    results = _sync(api_client, network, [bad_item, good, future, out_of_scope]).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "applied", "rejected", "rejected"]
    assert results[0]["errors"] == [
        {"field": "answers", "message": "PHQ-9 item 9: 4 is not one of 0, 1, 2, 3"}
    ]
    assert results[2]["errors"][0]["field"] == "taken_at"
    assert results[3]["errors"][0]["field"] == "patient_id"
    assert list(Assessment.objects.values_list("total", flat=True)) == [8]
    assert not SafetyEvent.objects.exists()
    # A corrected record under a new id applies; the rejected id was never stored.
    fixed = bad_item | {"answers": [0] * 8 + [1]}
    assert _sync(api_client, network, [fixed]).json()["results"][0]["status"] == "applied"


def test_an_id_already_used_by_someone_else_is_rejected(
    network: Network, cover: Cover, api_client: Client
) -> None:
    record = _record(network, [0] * 9)
    assert _sync(api_client, network, [record]).json()["results"][0]["status"] == "applied"
    other = _sync(api_client, network, [record | {"mode": "clinician"}], who="clinician")
    assert other.json()["results"][0] == {
        "id": record["id"],
        "status": "rejected",
        "object_id": None,
        "errors": [{"field": "id", "message": "already used"}],
    }
    assert Assessment.objects.count() == 1


def test_malformed_batches_are_refused_whole(network: Network, api_client: Client) -> None:
    token = token_for(api_client, network.users["chw"])
    headers = {"Authorization": f"Bearer {token}"}
    broken = api_client.post(
        "/api/v1/sync", "{not json", content_type="application/json", headers=headers
    )
    assert broken.status_code == 400
    assert broken.json()["detail"] == "Cannot parse request body"
    cases = [
        ({"device_id": "t", "records": [{"id": "not-a-uuid"}]}, "records.0.id"),
        (
            {"device_id": "t", "records": [_record(network, [0] * 9, type="home-visit")]},
            "records.0.type",
        ),
        ({"device_id": "", "records": []}, "device_id"),
    ]
    for body, field in cases:
        response = api_client.post(
            "/api/v1/sync", body, content_type="application/json", headers=headers
        )
        assert response.status_code == 422, body
        assert any(e["field"].startswith(field) for e in response.json()["errors"]), response.json()
    assert not Assessment.objects.exists()
