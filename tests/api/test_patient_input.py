"""Bad input gets a 422 naming each bad field, and nothing stored changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.patients.models import Episode, Patient, StepChange
from tests.conftest import Network, token_for


def _valid_patient(network: Network) -> dict[str, Any]:
    return {
        "given_name": "Flor",
        "family_name": "Ejemplo",
        "birth_date": "1990-01-02",
        "sex": "female",
        "gender": "woman",
        "preferred_language": "es",
        "site_id": network.site_a.pk,
        "phone": "+1 555 0100",
    }


def _snapshot() -> tuple[int, int, int, int]:
    return (
        Patient.objects.count(),
        Episode.objects.count(),
        StepChange.objects.count(),
        AuditEvent.objects.exclude(action__in=["auth.token_issued", "patient.listed"]).count(),
    )


def _post(client: Client, network: Network, url: str, body: Any, role: str = "coordinator"):  # type: ignore[no-untyped-def]
    token = token_for(client, network.users[role])
    return client.post(
        url, body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def test_a_valid_patient_is_created(network: Network) -> None:
    client = Client()
    response = _post(client, network, "/api/v1/patients", _valid_patient(network))
    assert response.status_code == 201
    body = response.json()
    assert body["record_number"].startswith("SW-")
    assert body["site"] == {"id": network.site_a.pk, "name": "Site a"}
    assert Patient.objects.filter(pk=body["id"], given_name="Flor").exists()
    # Stored in the one form inbound SMS are matched by.
    assert Patient.objects.get(pk=body["id"]).phone == "+15550100"


PATIENT_CASES = [
    ("unknown field", {"favourite_colour": "blue"}, "favourite_colour", "unknown field"),
    ("wrong type", {"site_id": "first"}, "site_id", "integer"),
    ("impossible date", {"birth_date": "1990-02-30"}, "birth_date", "date"),
    ("future date", {"birth_date": "2999-01-01"}, "birth_date", "in the future"),
    ("not a phone number", {"phone": "call me"}, "phone", "pattern"),
    ("unknown site", {"site_id": 999999}, "site_id", "does not exist"),
    ("someone else's site", {"site_id": "SITE_B"}, "site_id", "not one of your sites"),
    ("bad choice", {"sex": "yes"}, "sex", "female"),
    ("missing field", {"given_name": None}, "given_name", ""),
    (
        "latitude out of range",
        {"home_latitude": 91.0, "home_longitude": 0.0},
        "home_latitude",
        "between -90 and 90",
    ),
    (
        "sharing without peer support",
        {"consent_share_with_peer": True},
        "consent_share_with_peer",
        "peer support",
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "field", "words"), PATIENT_CASES, ids=[c[0] for c in PATIENT_CASES]
)
def test_bad_patient_input_names_the_field(
    network: Network, case: str, change: dict[str, Any], field: str, words: str
) -> None:
    body = _valid_patient(network)
    for key, value in change.items():
        if value == "SITE_B":
            value = network.site_b.pk
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    before = _snapshot()
    response = _post(Client(), network, "/api/v1/patients", body)
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert field in [e["field"] for e in errors], errors
    assert any(words in e["message"] for e in errors if e["field"] == field), errors
    assert _snapshot() == before


def test_malformed_json_is_a_422(network: Network) -> None:
    before = _snapshot()
    response = _post(Client(), network, "/api/v1/patients", "{not json")
    assert response.status_code in {400, 422}
    assert response.json()["detail"]
    assert _snapshot() == before


def _valid_episode(network: Network) -> dict[str, Any]:
    # b2's episode is open; a patient needs none open: discharge-free new patient via API.
    return {
        "patient_id": 0,
        "site_id": network.site_a.pk,
        "referral_source": "primary-care",
        "referral_date": "2026-10-01",
        "first_contact_date": "2026-10-05",
        "step": 2,
        "reason": "Baseline PHQ-9 in the moderate band.",
    }


def _new_patient(client: Client, network: Network) -> int:
    response = _post(client, network, "/api/v1/patients", _valid_patient(network))
    return int(response.json()["id"])


def test_a_valid_episode_is_opened_with_history(network: Network) -> None:
    client = Client()
    body = _valid_episode(network) | {"patient_id": _new_patient(client, network)}
    response = _post(client, network, "/api/v1/episodes", body, role="clinician")
    assert response.status_code == 201, response.content
    episode = response.json()
    assert episode["current_step"] == 2
    assert episode["status"] == "active"
    assert [(h["from_step"], h["to_step"]) for h in episode["step_history"]] == [(None, 2)]
    assert episode["care_team"] == ["clin-a"]


EPISODE_CASES = [
    ("unknown field", {"priority": "high"}, "priority", "unknown field"),
    ("step out of range", {"step": 5}, "step", "less than or equal to 4"),
    ("wrong type", {"step": "two"}, "step", "integer"),
    ("impossible date", {"referral_date": "2026-13-01"}, "referral_date", "date"),
    (
        "contact before referral",
        {"first_contact_date": "2026-09-01"},
        "first_contact_date",
        "before the referral date",
    ),
    (
        "future referral",
        {"referral_date": "2999-01-01", "first_contact_date": None},
        "referral_date",
        "in the future",
    ),
    ("unknown site", {"site_id": 987654}, "site_id", "does not exist"),
    ("unknown patient", {"patient_id": 987654}, "patient_id", "does not exist"),
    ("hidden patient", {"patient_id": "B1"}, "patient_id", "does not exist"),
    ("already open", {"patient_id": "A1"}, "patient_id", "already has an open episode"),
    ("bad source", {"referral_source": "pigeon"}, "referral_source", "primary-care"),
]


@pytest.mark.parametrize(
    ("case", "change", "field", "words"), EPISODE_CASES, ids=[c[0] for c in EPISODE_CASES]
)
def test_bad_episode_input_names_the_field(
    network: Network, case: str, change: dict[str, Any], field: str, words: str
) -> None:
    client = Client()
    body = _valid_episode(network) | {"patient_id": _new_patient(client, network)}
    for key, value in change.items():
        if value in {"A1", "B1"}:
            value = network.patients[value.lower()].pk
        body[key] = value
    before = _snapshot()
    response = _post(client, network, "/api/v1/episodes", body, role="clinician")
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    assert _snapshot() == before


def test_roles_that_cannot_register_are_refused(network: Network) -> None:
    before = _snapshot()
    response = _post(Client(), network, "/api/v1/patients", _valid_patient(network), role="peer")
    assert response.status_code == 403
    assert _snapshot() == before
