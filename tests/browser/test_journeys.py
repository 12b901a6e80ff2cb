"""Key journeys of the foundation in real Chromium: log in, filter, open a record, switch
language, and see only what the role allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, Network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def test_clinician_filters_opens_a_record_and_switches_to_spanish(
    network: Network, live_server: Any, page: Any
) -> None:
    _login(page, live_server.url, "clin-a")
    table = page.get_by_test_id("patient-table")
    for name in ("a1", "a2", "b2", "b3"):
        assert network.patients[name].record_number in table.inner_text()
    assert network.patients["b1"].record_number not in page.content()

    # Filtering by step goes through htmx: only the table is replaced.
    page.get_by_label("Step").select_option("4")
    page.wait_for_function(
        "document.querySelector('[data-testid=patient-count]').innerText.startsWith('1 ')"
    )
    rows = page.locator("[data-testid=patient-table] tbody tr")
    assert rows.count() == 1
    assert network.patients["b2"].record_number in rows.first.inner_text()

    with page.expect_navigation():
        rows.first.get_by_role("link").click()
    assert page.get_by_test_id("patient-name").inner_text().startswith("Dario Fakeley")
    assert page.get_by_test_id("episode").count() == 1
    assert "Baseline in the moderate range." in page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "patient-detail-en.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_label("Language").select_option("es")
    assert page.locator("html").get_attribute("lang") == "es"
    assert "Episodios de atención" in page.content()
    page.screenshot(path=str(SHOTS / "patient-detail-es.png"), full_page=True)


def test_peer_sees_only_the_matched_patient(network: Network, live_server: Any, page: Any) -> None:
    _login(page, live_server.url, "peer-a")
    # A peer lands on their own home: the matched patients and next contacts.
    text = page.get_by_test_id("peer-patients").inner_text()
    assert network.patients["a1"].record_number in text
    for other in ("a2", "b1", "b2", "b3"):
        assert network.patients[other].record_number not in page.content()
    page.goto(f"{live_server.url}/patients/{network.patients['a2'].pk}/")
    assert page.get_by_test_id("not-found").is_visible()


def test_manager_sees_aggregates_only(network: Network, live_server: Any, page: Any) -> None:
    _login(page, live_server.url, "manager")
    summary = page.get_by_test_id("caseload-summary").inner_text()
    assert "Site a" in summary
    html = page.content()
    for patient in network.patients.values():
        assert patient.record_number not in html
        assert patient.family_name not in html
