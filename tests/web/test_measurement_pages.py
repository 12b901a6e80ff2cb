"""Questionnaire and progress-chart pages through Django's test client."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.measurement.services import assessment_record
from tests.conftest import Network


def _client(network: Network, who: str) -> Client:
    client = Client()
    client.force_login(network.users[who])
    return client


def _answers(values: list[object]) -> dict[str, str]:
    """Form data for an instrument whose items are numbered 1…n (None = left blank)."""
    return {f"item_{i}": "" if v is None else str(v) for i, v in enumerate(values, start=1)}


def _form_url(network: Network, patient: str, code: str) -> str:
    return f"/patients/{network.patients[patient].pk}/assessments/new/{code}/"


def test_clinician_form_is_in_the_patients_language(network: Network) -> None:
    client = _client(network, "clinician")  # a1 prefers Spanish
    page = client.get(_form_url(network, "a1", "PHQ-9")).content.decode()
    assert "Poco interés o placer en hacer cosas" in page
    assert "Casi todos los días" in page
    assert 'lang="es"' in page
    english = client.get(_form_url(network, "a1", "PHQ-9") + "?lang=en").content.decode()
    assert "Little interest or pleasure in doing things" in english
    assert "Poco interés" not in english


def test_clinician_records_a_phq9_and_lands_on_the_chart(network: Network) -> None:
    client = _client(network, "clinician")
    when = timezone.localtime(timezone.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    # 1+2+1+2+1+2+1+2+0 = 12: moderate (10-14), a case (>= 10).
    data = _answers([1, 2, 1, 2, 1, 2, 1, 2, 0]) | {"taken_at": when}
    response = client.post(_form_url(network, "a1", "PHQ-9"), data)
    assert response.status_code == 302
    patient = network.patients["a1"]
    assert response["Location"] == f"/patients/{patient.pk}/progress/PHQ-9/"
    stored = Assessment.objects.get(patient=patient)
    assert (stored.total, stored.band, stored.caseness, stored.mode) == (
        12,
        "moderate",
        True,
        "clinician",
    )
    assert stored.answers == [1, 2, 1, 2, 1, 2, 1, 2, 0]
    assert timezone.localtime(stored.taken_at).strftime("%Y-%m-%dT%H:%M") == when
    assert AuditEvent.objects.filter(
        action="assessment.recorded", patient_id=patient.pk, actor=network.users["clinician"]
    ).exists()
    chart = client.get(response["Location"]).content.decode()
    assert "Saved: PHQ-9 total 12 (Moderate)." in chart
    assert 'data-total="12"' in chart


def test_too_many_missing_items_marks_them_and_stores_nothing(network: Network) -> None:
    client = _client(network, "chw")
    # Items 2, 5 and 7 blank: the PHQ-9 scores with at most 2 missing.
    data = _answers([1, None, 1, 2, None, 2, None, 2, 0]) | {"taken_at": "2026-11-20T10:00"}
    response = client.post(_form_url(network, "a1", "PHQ-9") + "?lang=en", data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "at most 2 may be left out" in page
    marked = re.findall(r'<fieldset class="item has-error" data-item="(\w+)"', page)
    assert marked == ["2", "5", "7"]
    assert not Assessment.objects.exists()
    # The answers given are kept in the form.
    assert 'value="2" id="id_item_4_2" checked' in page or re.search(
        r'name="item_4" value="2"[^>]*checked', page
    )


def test_a_value_not_offered_is_refused_by_name(network: Network) -> None:
    client = _client(network, "clinician")
    data = _answers([1, 7, 1, 2, 1, 2, 1, 2, 0]) | {"taken_at": "2026-11-20T10:00"}
    response = client.post(_form_url(network, "a1", "PHQ-9"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'<fieldset class="item has-error" data-item="2"', page)
    assert not Assessment.objects.exists()


def test_future_time_is_refused(network: Network) -> None:
    client = _client(network, "clinician")
    later = timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    data = _answers([0] * 9) | {"taken_at": later}
    response = client.post(_form_url(network, "a1", "PHQ-9"), data)
    assert response.status_code == 200
    assert "is in the future" in response.content.decode()
    assert not Assessment.objects.exists()


def test_patient_answers_in_the_portal_with_not_applicable(network: Network) -> None:
    client = _client(network, "patient")
    client.cookies["django_language"] = "es"
    url = _form_url(network, "a1", "PHQ-15")
    page = client.get(url).content.decode()
    assert "Dolor de estómago" in page
    assert 'name="taken_at"' not in page  # the time is the time of answering
    # 15 items 0-2; item 4 (menstrual problems) not applicable. Sum of the rest = 14.
    values: list[object] = [1, 1, 1, "na", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    response = client.post(url, _answers(values))
    assert response.status_code == 302
    stored = Assessment.objects.get(patient=network.patients["a1"], instrument="PHQ-15")
    assert (stored.total, stored.band, stored.mode) == (14, "medium", "portal")
    assert stored.answers[3] == "na"
    assert abs(stored.taken_at - timezone.now()) < timedelta(minutes=1)


def test_patient_sees_a_safety_message_after_item_9(network: Network) -> None:
    client = _client(network, "patient")
    response = client.post(_form_url(network, "a1", "PHQ-9"), _answers([0] * 8 + [1]))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "call your local emergency number" in page
    assert Assessment.objects.get().safety == ["item-9"]


@pytest.mark.parametrize(
    ("who", "patient"),
    [
        ("patient", "a2"),  # another patient's record
        ("clinician_b", "a1"),  # out of the clinician's sites
        ("coordinator", "a1"),  # coordinators do not record assessments
        ("peer", "a1"),  # peers never see scores
        ("manager", "a1"),
    ],
)
def test_who_may_not_open_the_form(network: Network, who: str, patient: str) -> None:
    client = _client(network, who)
    url = _form_url(network, patient, "PHQ-9")
    assert client.get(url).status_code == 404
    assert client.post(url, _answers([0] * 9)).status_code == 404
    assert not Assessment.objects.exists()


def test_unknown_instrument_is_404(network: Network) -> None:
    assert _client(network, "clinician").get(_form_url(network, "a1", "NOPE")).status_code == 404


def _record(network: Network, totals_answers: list[list[int]]) -> None:
    now = timezone.now()
    for k, answers in enumerate(totals_answers):
        assessment_record(
            actor=network.users["clinician"],
            patient_id=network.patients["a1"].pk,
            instrument_code="PHQ-9",
            answers=answers,
            taken_at=now - timedelta(days=28 * (len(totals_answers) - k)),
            mode="clinician",
            now=now,
        )


def test_progress_chart_draws_bands_caseness_and_points(network: Network) -> None:
    # Totals 18, 11, 5 (hand-summed): moderately severe → moderate → mild.
    _record(network, [[2, 2, 2, 2, 2, 2, 2, 2, 2], [2, 2, 1, 1, 1, 1, 1, 1, 1], [1] * 5 + [0] * 4])
    client = _client(network, "clinician")
    client.cookies["django_language"] = "en"
    page = client.get(f"/patients/{network.patients['a1'].pk}/progress/PHQ-9/").content.decode()
    # Two layouts of one chart: wide (screens, paper) and narrow (phones).
    wide, narrow = re.findall(r"<svg class=\"chart-(wide|narrow)\"(.*?)</svg>", page, re.S)
    assert (wide[0], narrow[0]) == ("wide", "narrow")
    for _, svg in (wide, narrow):
        assert re.findall(r'<rect class="band band-\d" data-band="([\w-]+)"', svg) == [
            "minimal",
            "mild",
            "moderate",
            "moderately-severe",
            "severe",
        ]
        assert re.findall(r'<g class="point[^"]*" data-total="(\d+)"', svg) == ["18", "11", "5"]
        assert 'data-caseness="10"' in svg
    # Table newest first, with reliable change against the previous score (threshold 6).
    rows = re.findall(r'<tr data-total="(\d+)">', page)
    assert rows == ["5", "11", "18"]
    assert "+0" not in page
    assert '-6 · <span class="change-improved">reliable improvement' in page
    assert '-7 · <span class="change-improved">reliable improvement' in page


def test_spanish_chart_keeps_svg_numbers_machine_readable(network: Network) -> None:
    """Coordinates are numbers for the browser, not text for a reader: a Spanish page must
    not write 12,5 where the SVG needs 12.5."""
    _record(network, [[2] * 9, [1] * 9, [0] * 9])
    client = _client(network, "clinician")
    client.cookies["django_language"] = "es"
    page = client.get(f"/patients/{network.patients['a1'].pk}/progress/PHQ-9/").content.decode()
    svgs = re.findall(r"<svg class=\"chart-.*?</svg>", page, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        numbers = re.findall(r'\s(?:x|y|x1|y1|x2|y2|cx|cy|width|height)="([^"]*)"', svg)
        assert numbers
        assert all(re.fullmatch(r"-?\d+(\.\d+)?", n) for n in numbers), numbers
        points = re.search(r'points="([^"]*)"', svg)
        assert points is not None
        assert re.fullmatch(r"[\d.]+,[\d.]+( [\d.]+,[\d.]+)*", points.group(1))


def test_detail_page_summarises_measures(network: Network) -> None:
    _record(network, [[2] * 9, [1] * 9])
    client = _client(network, "clinician")
    client.cookies["django_language"] = "en"
    page = client.get(f"/patients/{network.patients['a1'].pk}/").content.decode()
    row = re.search(r'<tr data-instrument="PHQ-9">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "9 · Mild" in row.group(1)
    assert "<td>2</td>" in row.group(1)
    assert 'data-testid="record-GAD-7"' in page


def test_peer_cannot_see_the_chart_or_measures(network: Network) -> None:
    _record(network, [[1] * 9])
    client = _client(network, "peer")
    assert client.get(f"/patients/{network.patients['a1'].pk}/progress/PHQ-9/").status_code == 404
    page = client.get(f"/patients/{network.patients['a1'].pk}/").content.decode()
    assert 'data-testid="measures"' not in page


def test_chart_reads_are_audited(network: Network) -> None:
    _record(network, [[1] * 9])
    client = _client(network, "clinician")
    client.get(f"/patients/{network.patients['a1'].pk}/progress/PHQ-9/")
    assert AuditEvent.objects.filter(
        action="assessment.listed", patient_id=network.patients["a1"].pk
    ).exists()
