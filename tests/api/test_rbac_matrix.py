"""PRODUCT.md §2 as a matrix: for every role, list and detail endpoints and pages return
exactly the patients that role may see, and nothing else (404, never 403, for a hidden one)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import Network, token_for

# role -> patients visible (by fixture name); None means "no patient list at all" (403).
EXPECTED: dict[str, set[str] | None] = {
    "clinician": {"a1", "a2", "b2", "b3"},  # sites + care team
    "clinician_b": {"b1", "b2", "b3"},
    "coordinator": {"a1", "a2", "b2"},  # registered at or treated at site A
    "coordinator_b": {"b1", "b2", "b3"},
    "chw": {"a1", "a2", "b2"},
    "peer": {"a1"},  # the active match only; the proposal for a2 grants nothing
    "peer_unmatched": set(),
    "patient": {"a1"},  # own record
    "peer_supervisor": None,
    "manager": None,
    "admin": set(),  # nothing without break-the-glass
}
ALL = ("a1", "a2", "b1", "b2", "b3")


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_api_list_and_detail_match_the_policy(network: Network, role: str) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users[role])}"}
    expected = EXPECTED[role]
    listing = client.get("/api/v1/patients?limit=200", headers=headers)
    if expected is None:
        assert listing.status_code == 403
        expected = set()
    else:
        assert listing.status_code == 200
        body = listing.json()
        assert {item["id"] for item in body["items"]} == network.ids(*expected)
        assert body["count"] == len(expected)
    for name in ALL:
        pid = network.patients[name].pk
        detail = client.get(f"/api/v1/patients/{pid}", headers=headers)
        episodes = client.get(f"/api/v1/patients/{pid}/episodes", headers=headers)
        if name in expected:
            assert detail.status_code == 200, (role, name)
            assert detail.json()["id"] == pid
            # Peers get no clinical history at all.
            assert episodes.status_code == (404 if role.startswith("peer") else 200)
        else:
            assert detail.status_code == 404, (role, name)
            assert detail.json() == {"detail": "not found"}
            assert episodes.status_code == 404


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_pages_match_the_policy(network: Network, role: str) -> None:
    client = Client()
    client.force_login(network.users[role])
    expected = EXPECTED[role] or set()
    for name in ALL:
        patient = network.patients[name]
        page = client.get(f"/patients/{patient.pk}/")
        assert page.status_code == (200 if name in expected else 404), (role, name)
    home = client.get("/", follow=True)
    assert home.status_code == 200
    html = home.content.decode()
    for name in ALL:
        shown = network.patients[name].record_number in html
        if role == "patient":
            continue  # the patient's home is their own record page, checked above
        assert shown == (name in expected), (role, name)


def test_peer_sees_only_consented_fields(network: Network) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users['peer'])}"}
    a1 = client.get(f"/api/v1/patients/{network.patients['a1'].pk}", headers=headers).json()
    assert a1["view"] == "peer"
    assert a1["given_name"] == "Ana"
    assert a1["current_step"] == 2  # a1 consented to share with the peer
    for hidden in ("birth_date", "sex", "gender", "email", "home_latitude", "episode_status"):
        assert a1[hidden] is None, hidden


def test_peer_without_sharing_consent_sees_contact_fields_only(network: Network) -> None:
    from stepwell.apps.patients.models import Patient

    Patient.objects.filter(pk=network.patients["a1"].pk).update(consent_share_with_peer=False)
    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users['peer'])}"}
    a1 = client.get(f"/api/v1/patients/{network.patients['a1'].pk}", headers=headers).json()
    assert a1["current_step"] is None
    assert a1["site"] is None
    assert a1["phone"] == "+15550100"


def test_manager_sees_aggregates_without_identifiers(network: Network) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users['manager'])}"}
    response = client.get("/api/v1/stats/caseload", headers=headers)
    assert response.status_code == 200
    body = response.json()
    # Five open episodes in the fixture, each alone in its site x step cell: all suppressed.
    assert {(c["site_name"], c["step"]) for c in body["cells"]} == {
        ("Site a", 1),
        ("Site a", 2),
        ("Site a", 4),
        ("Site b", 2),
        ("Site b", 3),
    }
    assert all(c["suppressed"] and c["patients"] is None for c in body["cells"])
    text = response.content.decode()
    client.force_login(network.users["manager"])
    text += client.get("/").content.decode()
    for patient in network.patients.values():
        for identifier in (patient.record_number, patient.given_name, patient.family_name):
            assert identifier not in text
    assert set(body["cells"][0]) == {"site_id", "site_name", "step", "patients", "suppressed"}


def test_other_roles_cannot_read_aggregates(network: Network) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users['clinician'])}"}
    assert client.get("/api/v1/stats/caseload", headers=headers).status_code == 403


# Peer programme: who may document a peer encounter for which patient, and who may propose
# and read matching runs. Only an active (approved) match lets a peer write; other roles
# never document peer encounters.
ENCOUNTER_WRITERS: dict[str, set[str]] = {"peer": {"a1"}}
MATCHING_STAFF = {"peer_supervisor", "coordinator", "coordinator_b", "admin"}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_peer_programme_endpoints_match_the_policy(network: Network, role: str) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users[role])}"}
    allowed = ENCOUNTER_WRITERS.get(role, set())
    body = {
        "occurred_at": "2026-01-05T10:00:00+00:00",
        "modality": "phone",
        "minutes": 15,
        "topics": ["coping"],
    }
    for name in ALL:
        pid = network.patients[name].pk
        made = client.post(
            f"/api/v1/patients/{pid}/peer-encounters",
            body,
            content_type="application/json",
            headers=headers,
        )
        if name in allowed:
            assert made.status_code == 201, (role, name, made.content)
        elif role.startswith("peer") and role != "peer_supervisor":
            assert made.status_code == 404, (role, name)  # hidden, not forbidden
        else:
            assert made.status_code == 403, (role, name)
    run = client.post("/api/v1/matching/runs", headers=headers)
    assert run.status_code == (201 if role in MATCHING_STAFF else 403), (role, run.content)
