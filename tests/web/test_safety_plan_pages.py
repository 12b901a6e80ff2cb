"""Safety-plan pages through Django's test client: the edit form makes versions, the printed
copy carries the entries and crisis numbers in the patient's language."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.patients.models import Patient
from stepwell.apps.safety.models import SafetyPlan
from stepwell.apps.safety.plans import safety_plan_save
from tests.conftest import NOW, Network


def _client(network: Network, who: str) -> Client:
    client = Client()
    client.force_login(network.users[who])
    return client


def _page(network: Network, patient: str) -> str:
    return f"/patients/{network.patients[patient].pk}/safety-plan/"


def _print(network: Network, patient: str) -> str:
    return _page(network, patient) + "print/"


def _form(**sections: str) -> dict[str, str]:
    fields = (
        "warning_signs",
        "coping_strategies",
        "distraction_people_places",
        "people_to_ask_for_help",
        "professionals_and_crisis_lines",
        "making_environment_safe",
        "reasons_for_living",
    )
    return {code: sections.get(code, "") for code in fields}


def _saved(network: Network, patient: str = "a1") -> SafetyPlan:
    return safety_plan_save(
        actor=network.users["clinician"],
        patient_id=network.patients[patient].pk,
        sections={
            "warning_signs": ["Not sleeping for days"],
            "people_to_ask_for_help": ["My sister Rosa, 555-0134"],
            "reasons_for_living": ["My daughter", "The garden"],
        },
        now=NOW,
    )


def _prefers(network: Network, patient: str, language: str) -> None:
    Patient.objects.filter(pk=network.patients[patient].pk).update(preferred_language=language)


def test_the_care_team_writes_the_plan_through_the_form(network: Network) -> None:
    client = _client(network, "clinician")
    empty = client.get(_page(network, "a1"))
    assert empty.status_code == 200
    html = empty.content.decode()
    assert 'data-testid="no-plan"' in html
    assert 'data-testid="plan-form"' in html
    assert 'data-line="emergency"' in html
    assert 'href="tel:911"' in html

    data = _form(
        warning_signs="Not sleeping\r\n\r\n  Staying in bed  \r\n",
        reasons_for_living="My daughter",
    )
    response = client.post(_page(network, "a1"), data)
    assert response.status_code == 302
    assert response["Location"] == _page(network, "a1")
    plan = SafetyPlan.objects.get(patient=network.patients["a1"])
    assert plan.version == 1
    assert plan.sections["warning_signs"] == ["Not sleeping", "Staying in bed"]
    assert plan.sections["coping_strategies"] == []
    assert plan.created_by == network.users["clinician"]
    assert AuditEvent.objects.filter(action="safety_plan.saved", object_id=str(plan.pk)).exists()

    page = client.get(response["Location"]).content.decode()
    assert "Safety plan saved as version 1." in page
    assert "<li>Staying in bed</li>" in page
    # The form comes back filled with the plan, one entry per line.
    assert "Not sleeping\nStaying in bed</textarea>" in page

    client.post(_page(network, "a1"), data | {"coping_strategies": "Walk to the river"})
    assert list(
        SafetyPlan.objects.filter(patient=network.patients["a1"]).values_list("version", flat=True)
    ) == [2, 1]
    history = client.get(_page(network, "a1")).content.decode()
    assert 'data-testid="plan-history"' in history
    assert history.count("<tr><td>") == 2


def test_form_problems_name_the_line_and_store_nothing(network: Network) -> None:
    client = _client(network, "coordinator")
    too_long = "ok\n" + "x" * 501
    response = client.post(_page(network, "a1"), _form(warning_signs=too_long))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Line 2 is 501 characters long; at most 500." in html
    many = "\n".join(f"person {n}" for n in range(21))
    html = client.post(_page(network, "a1"), _form(people_to_ask_for_help=many)).content.decode()
    assert "21 entries; at most 20. Put one entry per line." in html
    assert not SafetyPlan.objects.exists()


def test_the_patient_sees_their_plan_without_a_form_and_cannot_post(network: Network) -> None:
    _saved(network)
    client = _client(network, "patient")
    home = client.get(f"/patients/{network.patients['a1'].pk}/").content.decode()
    assert 'data-testid="safety-plan-link"' in home
    html = client.get(_page(network, "a1")).content.decode()
    assert "<li>My sister Rosa, 555-0134</li>" in html
    assert 'data-testid="plan-form"' not in html
    assert 'data-testid="plan-history"' not in html
    response = client.post(_page(network, "a1"), _form(warning_signs="changed"))
    assert response.status_code == 404
    assert SafetyPlan.objects.count() == 1
    assert client.get(_page(network, "a2")).status_code == 404


def test_peers_and_staff_out_of_scope_get_404(network: Network) -> None:
    _saved(network)
    for who in ("peer", "clinician_b", "manager"):
        client = _client(network, who)
        assert client.get(_page(network, "a1")).status_code == 404, who
        assert client.get(_print(network, "a1")).status_code == 404, who
        assert client.post(_page(network, "a1"), _form(warning_signs="x")).status_code == 404
    assert SafetyPlan.objects.count() == 1
    peer_view = _client(network, "peer").get(f"/patients/{network.patients['a1'].pk}/")
    assert 'data-testid="safety-plan-link"' not in peer_view.content.decode()


def test_print_page_has_the_entries_and_crisis_numbers_and_no_navigation(
    network: Network,
) -> None:
    _saved(network)
    _prefers(network, "a1", "en")
    response = _client(network, "clinician").get(_print(network, "a1"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "For Ana" in html  # the given name only: it is the patient's own document
    assert "Testwell" not in html
    assert "<li>Not sleeping for days</li>" in html
    assert "<li>The garden</li>" in html
    assert "Emergency services (police, ambulance, fire)" in html
    assert 'href="tel:911"' in html
    assert 'href="tel:988"' in html
    assert "@media print" in html
    assert 'class="bar"' not in html  # none of the site's navigation
    assert "Log out" not in html
    assert AuditEvent.objects.filter(
        action="safety_plan.printed", patient_id=network.patients["a1"].pk
    ).exists()


def test_print_page_is_in_spanish_for_a_spanish_speaking_patient(network: Network) -> None:
    _saved(network)  # a1 prefers Spanish; the clinician's interface is English
    response = _client(network, "clinician").get(_print(network, "a1"))
    assert response.status_code == 200
    assert response["Content-Language"] == "es"
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "Servicios de emergencia (policía, ambulancia, bomberos)" in html
    assert "24 horas, todos los días" in html
    assert "23 de noviembre de 2026" in html  # the version's date, in Spanish
    assert "<li>My daughter</li>" in html  # the patient's own words, as written
    assert "Emergency services" not in html
    english = _client(network, "clinician").get(_print(network, "a1") + "?lang=en")
    assert '<html lang="en">' in english.content.decode()
    assert "Emergency services" in english.content.decode()


def test_the_patient_prints_their_own_plan(network: Network) -> None:
    client = _client(network, "patient")
    empty = client.get(_print(network, "a1"))
    assert empty.status_code == 200  # no plan yet: blank lines to fill in, and the numbers
    assert 'class="write-here"' in empty.content.decode()
    assert "Servicios de emergencia" in empty.content.decode()
    _saved(network)
    assert "<li>The garden</li>" in client.get(_print(network, "a1")).content.decode()


def test_the_page_costs_the_same_queries_whatever_the_number_of_versions(
    network: Network,
) -> None:
    client = _client(network, "clinician")
    _saved(network)
    with CaptureQueriesContext(connection) as one:
        assert client.get(_page(network, "a1")).status_code == 200
    for _ in range(4):
        _saved(network)
    with CaptureQueriesContext(connection) as five:
        html = client.get(_page(network, "a1")).content.decode()
    assert html.count("<tr><td>") == 5
    assert len(five) == len(one)
