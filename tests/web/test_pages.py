"""Server-rendered pages through Django's test client."""

from __future__ import annotations

from django.test import Client

from stepwell.apps.access.models import BreakGlassGrant
from stepwell.apps.audit.models import AuditEvent
from tests.conftest import PASSWORD, Network


def test_login_page_and_redirect_home(network: Network) -> None:
    client = Client()
    assert client.get("/").status_code == 302
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post("/accounts/login/", {"username": "coord-a", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert network.patients["a1"].record_number in home.content.decode()


def test_wrong_password_shows_an_error(network: Network) -> None:
    page = Client().post("/accounts/login/", {"username": "coord-a", "password": "nope"})
    assert page.status_code == 200
    assert b"Wrong user name or password." in page.content


def test_patient_home_is_their_own_record(network: Network) -> None:
    client = Client()
    client.force_login(network.users["patient"])
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{network.patients['a1'].pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Testwell" in page
    assert "Baseline in the moderate range." in page


def test_htmx_filter_returns_the_table_alone(network: Network) -> None:
    client = Client()
    client.force_login(network.users["clinician"])
    response = client.get("/patients/?step=4", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert network.patients["b2"].record_number in html
    assert network.patients["a1"].record_number not in html


def test_bad_filter_values_are_ignored_not_errors(network: Network) -> None:
    client = Client()
    client.force_login(network.users["clinician"])
    response = client.get("/patients/?step=9&site=abc&page=-1")
    assert response.status_code == 200
    assert network.patients["a1"].record_number in response.content.decode()


def test_spanish_pages(network: Network) -> None:
    client = Client()
    client.force_login(network.users["coordinator"])
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    html = client.get("/").content.decode()
    assert '<html lang="es">' in html
    assert "Pacientes de mis sedes" in html
    assert "Cerrar sesión" in html


def test_supervisor_home_lists_peers_without_patients(network: Network) -> None:
    client = Client()
    client.force_login(network.users["peer_supervisor"])
    html = client.get("/").content.decode()
    assert "peer-a" in html or "Peers I supervise" in html
    for patient in network.patients.values():
        assert patient.record_number not in html


def test_break_glass_page_opens_the_record_and_records_why(network: Network) -> None:
    client = Client()
    client.force_login(network.users["admin"])
    b1 = network.patients["b1"]
    assert client.get(f"/patients/{b1.pk}/").status_code == 404
    short = client.post("/break-glass/", {"record_number": b1.record_number, "reason": "x"})
    assert short.status_code == 200
    assert b"at least 10 characters" in short.content
    assert not BreakGlassGrant.objects.exists()
    reason = "Night call from the emergency department about this patient."
    response = client.post("/break-glass/", {"record_number": b1.record_number, "reason": reason})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"break-the-glass" in page.content
    assert AuditEvent.objects.filter(
        action="patient.viewed", patient=b1, via_break_glass=True, reason=reason
    ).exists()


def test_peers_cannot_break_the_glass(network: Network) -> None:
    client = Client()
    client.force_login(network.users["peer"])
    assert client.get("/break-glass/").status_code == 404


def test_healthz_needs_no_login(network: Network) -> None:
    assert Client().get("/healthz").json()["status"] == "ok"


def test_api_docs_and_openapi_are_served(network: Network) -> None:
    client = Client()
    schema = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/patients",
        "/api/v1/patients/{patient_id}",
        "/api/v1/episodes",
        "/api/v1/patients/{patient_id}/episodes",
        "/api/v1/auth/token",
    ):
        assert path in schema["paths"], path
    assert client.get("/api/v1/docs").status_code == 200


def test_logging_in_switches_to_the_users_language(network: Network) -> None:
    user = network.users["chw"]
    user.preferred_language = "es"
    user.save()
    client = Client()
    response = client.post("/accounts/login/", {"username": "chw-a", "password": PASSWORD})
    assert response.cookies["django_language"].value == "es"
    assert "Cerrar sesión" in client.get("/").content.decode()
