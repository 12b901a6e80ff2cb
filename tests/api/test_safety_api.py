"""Safety over HTTP: concerns, the task list, acknowledge / assess / resolve, who may see
what, and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from stepwell.apps.measurement.services import assessment_record
from stepwell.apps.outbox.models import Notification
from stepwell.apps.safety.models import EscalationTask, SafetyEvent
from tests.conftest import Cover, Network, token_for

NO = {
    "wish-dead": False,
    "thoughts": False,
    "method": False,
    "intent": False,
    "plan": False,
    "behaviour-recent": False,
    "behaviour-ever": False,
}


def _h(client: Client, network: Network, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, network.users[who])}"}


def _post(client: Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


def _concern(client: Client, network: Network, who: str = "peer", **body: Any) -> Any:
    payload = {"text": "She said she can't see the point any more", "urgency": "urgent"} | body
    return _post(
        client,
        f"/api/v1/patients/{network.patients['a1'].pk}/concerns",
        payload,
        _h(client, network, who),
    )


def test_a_peers_concern_reaches_the_on_call_clinician(
    network: Network, cover: Cover, api_client: Client
) -> None:
    response = _concern(api_client, network)
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"id", "raised_at", "urgency", "status"}
    event = SafetyEvent.objects.get()
    assert (event.source, event.severity, event.raised_by) == (
        "concern",
        "high",
        network.users["peer"],
    )
    task = event.task
    assert task.owner == cover.on_call
    assert {n.recipient for n in Notification.objects.filter(ref_id=task.pk)} == {cover.on_call}
    # The on-call clinician finds it in their list, with the concern's words.
    listing = api_client.get(
        "/api/v1/safety/tasks?status=open&mine=true", headers=_h(api_client, network, "clinician")
    )
    assert [t["id"] for t in listing.json()["results"]] == [task.pk]
    assert listing.json()["results"][0]["source"] == "concern"
    detail = api_client.get(
        f"/api/v1/safety/tasks/{task.pk}", headers=_h(api_client, network, "clinician")
    )
    assert detail.json()["note"] == "She said she can't see the point any more"


def test_a_peer_cannot_read_the_clinical_follow_up(
    network: Network, cover: Cover, api_client: Client
) -> None:
    _concern(api_client, network)
    task = EscalationTask.objects.get()
    clinician = _h(api_client, network, "clinician")
    _post(
        api_client,
        f"/api/v1/safety/tasks/{task.pk}/assessment",
        {
            "screen": NO | {"wish-dead": True},
            "risk_level": "moderate",
            "actions": ["Called her; safety plan reviewed"],
        },
        clinician,
    )
    peer = _h(api_client, network, "peer")
    assert api_client.get("/api/v1/safety/tasks", headers=peer).status_code == 404
    assert api_client.get(f"/api/v1/safety/tasks/{task.pk}", headers=peer).status_code == 404
    assert (
        _post(api_client, f"/api/v1/safety/tasks/{task.pk}/acknowledge", {}, peer).status_code
        == 404
    )
    pid = network.patients["a1"].pk
    assert api_client.get(f"/api/v1/patients/{pid}/assessments", headers=peer).status_code == 404
    own = api_client.get(f"/api/v1/patients/{pid}/concerns", headers=peer)
    assert own.status_code == 200
    assert own.json() == [
        {
            "id": task.event_id,
            "raised_at": own.json()[0]["raised_at"],
            "urgency": "urgent",
            "status": "acknowledged",
        }
    ]
    assert "moderate" not in own.content.decode()
    assert "safety plan" not in own.content.decode()
    # On the patient's page the peer sees the concern's status, no banner, no risk.
    client = Client()
    client.force_login(network.users["peer"])
    page = client.get(f"/patients/{pid}/").content.decode()
    assert 'data-testid="own-concerns"' in page
    assert "a clinician is on it" in page
    assert "safety-banner" not in page
    assert "Moderate risk" not in page


def test_task_lifecycle_acknowledge_assess_resolve(
    network: Network, cover: Cover, api_client: Client
) -> None:
    now = timezone.now()
    assessment_record(
        actor=network.users["clinician"],
        patient_id=network.patients["a1"].pk,
        instrument_code="PHQ-9",
        answers=[0] * 8 + [2],
        taken_at=now,
        mode="clinician",
        now=now,
    )
    task = EscalationTask.objects.get()
    h = _h(api_client, network, "clinician")
    base = f"/api/v1/safety/tasks/{task.pk}"
    # Resolving before the risk assessment is refused.
    early = _post(api_client, f"{base}/resolve", {"note": "Spoke to her"}, h)
    assert early.status_code == 422
    assert {
        "field": "risk_level",
        "message": "record the risk assessment before resolving",
    } in early.json()["errors"]
    ack = _post(api_client, f"{base}/acknowledge", {}, h)
    assert ack.status_code == 200
    assert ack.json()["status"] == "acknowledged"
    assert api_client.get("/api/v1/safety/tasks?status=open", headers=h).json()["count"] == 0
    assessed = _post(
        api_client,
        f"{base}/assessment",
        {
            "screen": NO | {"thoughts": True},
            "risk_level": "low",
            "actions": ["Safety plan updated"],
        },
        h,
    )
    assert assessed.status_code == 200, assessed.content
    assert assessed.json()["risk_level"] == "low"
    assert assessed.json()["screen"]["indicated"] == "low"
    done = _post(
        api_client, f"{base}/resolve", {"note": "Seen same day; weekly follow-up booked"}, h
    )
    assert done.status_code == 200
    assert done.json()["status"] == "resolved"
    assert [a["action"] for a in done.json()["actions"]] == ["Safety plan updated"]
    assert api_client.get("/api/v1/safety/tasks", headers=h).json()["count"] == 0
    again = _post(api_client, f"{base}/resolve", {"note": "again"}, h)
    assert again.status_code == 422


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"screen": NO | {"intent": True}, "risk_level": "low"},
            "risk_level",
            "'low' is lower than the screen indicates ('high')",
        ),
        (
            {"screen": {k: v for k, v in NO.items() if k != "plan"}, "risk_level": "none"},
            "screen.plan",
            "needs an answer (yes or no)",
        ),
        (
            {"screen": NO | {"mood": True}, "risk_level": "none"},
            "screen.mood",
            "is not a question of the screen",
        ),
        ({"screen": NO, "risk_level": "extreme"}, "risk_level", "Input should be"),
        ({"screen": NO, "risk_level": "none", "extra": 1}, "extra", "unknown field"),
    ],
)
def test_bad_risk_assessments_are_refused_naming_the_field(
    network: Network,
    cover: Cover,
    api_client: Client,
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    _concern(api_client, network)
    task = EscalationTask.objects.get()
    response = _post(
        api_client,
        f"/api/v1/safety/tasks/{task.pk}/assessment",
        body,
        _h(api_client, network, "clinician"),
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
    task.refresh_from_db()
    assert (task.status, task.risk_level, task.screen) == ("open", "", {})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({"urgency": "whenever"}, "urgency"),
        ({"text": "x" * 2001}, "text"),
    ],
)
def test_bad_concerns_are_refused_and_nothing_is_stored(
    network: Network, cover: Cover, api_client: Client, body: dict[str, Any], field: str
) -> None:
    response = _concern(api_client, network, **body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert not SafetyEvent.objects.exists()


def test_who_may_raise_concerns_and_act_on_tasks(
    network: Network, cover: Cover, api_client: Client
) -> None:
    assert _concern(api_client, network, who="patient").status_code == 403
    assert _concern(api_client, network, who="peer_unmatched").status_code == 404
    assert _concern(api_client, network, who="clinician_b").status_code == 404
    manual = _concern(api_client, network, who="clinician", urgency="routine")
    assert manual.status_code == 201
    event = SafetyEvent.objects.get()
    assert (event.source, event.severity) == ("manual", "routine")
    task = event.task
    # Out of scope: another site's clinician; no patient access at all: manager, admin.
    for who in ("clinician_b", "manager", "admin", "chw", "peer_supervisor"):
        h = _h(api_client, network, who)
        assert api_client.get(f"/api/v1/safety/tasks/{task.pk}", headers=h).status_code == 404, who
    coordinator = _h(api_client, network, "coordinator")
    assert (
        _post(
            api_client, f"/api/v1/safety/tasks/{task.pk}/acknowledge", {}, coordinator
        ).status_code
        == 200
    )
    # A coordinator acknowledges (reaches the patient) but the clinical screen is a clinician's.
    screen = {"screen": NO, "risk_level": "none"}
    assert (
        _post(
            api_client, f"/api/v1/safety/tasks/{task.pk}/assessment", screen, coordinator
        ).status_code
        == 403
    )
