"""List endpoints and pages cost the same number of queries for 3 patients or 40."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import Network, open_episode, register, token_for


def _add_patients(network: Network, count: int) -> None:
    coord = network.users["coordinator"]
    for i in range(count):
        patient = register(coord, network.site_a, f"Extra{i}", "Placeholder")
        open_episode(coord, patient, network.site_a, step=1 + i % 4)


def _count(fn) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        response = fn()
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_patient_list_endpoint_query_count_is_constant(network: Network) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users['clinician'])}"}

    def call():  # type: ignore[no-untyped-def]
        return client.get("/api/v1/patients?limit=200", headers=headers)

    small = _count(call)
    _add_patients(network, 40)
    large = _count(call)
    assert client.get("/api/v1/patients?limit=200", headers=headers).json()["count"] == 44
    assert small == large
    assert large <= 8  # token, scope, count, page, audit insert: no per-patient queries


def test_patient_list_page_query_count_is_constant(network: Network) -> None:
    client = Client()
    client.force_login(network.users["coordinator"])
    small = _count(lambda: client.get("/patients/"))
    _add_patients(network, 40)
    large = _count(lambda: client.get("/patients/"))
    assert small == large


def test_peer_list_query_count_is_constant(network: Network) -> None:
    from stepwell.apps.peers.models import PeerMatch
    from tests.conftest import NOW

    client = Client()
    headers = {"Authorization": f"Bearer {token_for(client, network.users['peer'])}"}
    small = _count(lambda: client.get("/api/v1/patients", headers=headers))
    _add_patients(network, 20)
    for p in network.site_a.patients.filter(given_name__startswith="Extra"):
        PeerMatch.objects.create(
            peer=network.users["peer"], patient=p, status="active", created_at=NOW, approved_at=NOW
        )
    large = _count(lambda: client.get("/api/v1/patients", headers=headers))
    assert small == large
