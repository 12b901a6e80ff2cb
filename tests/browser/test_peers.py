"""The peer programme in real Chromium: a peer on a phone logs an encounter (a barrier and a
concern) on one screen; a supervisor runs matching and approves the proposal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from stepwell.apps.coordination.models import Barrier
from stepwell.apps.peers.models import PeerEncounter, PeerMatch
from stepwell.apps.peers.services import PreferenceInput, peer_request_open
from stepwell.apps.safety.models import EscalationTask
from tests.apps.test_peer_programme import _active_peer, _supervise
from tests.browser.test_journeys import SHOTS, _login
from tests.conftest import Cover, Network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A page the size of a phone screen (request it after the data fixtures)."""
    context = chromium.new_context(
        locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def waiting(network: Network) -> int:
    """An eligible peer (active, certified, supervised) and patient a2 waiting for one."""
    now = timezone.now()
    ready = _active_peer(network, "peer-ready")
    _supervise(network, ready, now.date() - timedelta(days=3))
    peer_request_open(
        actor=network.users["coordinator"],
        patient_id=network.patients["a2"].pk,
        preferences=PreferenceInput(lived_experience=["chronic-pain"]),
        now=now,
    )
    return ready


def _stored(patient_id: int) -> tuple[list[tuple[str, str]], int, int]:
    try:
        barriers = list(Barrier.objects.filter(patient_id=patient_id).values_list("kind", "source"))
        return (
            barriers,
            PeerEncounter.objects.filter(patient_id=patient_id).count(),
            EscalationTask.objects.filter(patient_id=patient_id).count(),
        )
    finally:
        connection.close()  # a context-local connection while Playwright runs


def test_a_peer_logs_an_encounter_on_a_phone(
    network: Network, cover: Cover, live_server: Any, phone: Any
) -> None:
    page = phone
    patient = network.patients["a1"]
    _login(page, live_server.url, "peer-a")
    with page.expect_navigation():
        page.get_by_test_id("nav-peer-home").click()
    card = page.locator(f"li[data-patient='{patient.pk}']")
    assert "Ana Testwell" in card.inner_text()
    assert "none yet" in card.get_by_test_id("last-contact").inner_text()
    with page.expect_navigation():
        card.get_by_test_id("log-encounter").click()

    form = page.get_by_test_id("encounter-form")
    # One screen: nothing wider than the phone, a single form to fill in and send.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    form.locator("fieldset[data-field=modality]").get_by_label("Phone call").check()
    form.get_by_label("Minutes").fill("25")
    form.locator("fieldset[data-field=topics]").get_by_label("Coping", exact=True).check()
    form.locator("fieldset[data-field=mood_before]").get_by_label("Low", exact=True).check()
    form.locator("fieldset[data-field=mood_after]").get_by_label("Good", exact=True).check()
    form.locator("fieldset[data-field=barriers]").get_by_label("Transport").check()
    form.get_by_label("A worry about their safety? (optional)").fill(
        "Said she has been giving her things away"
    )
    form.get_by_label("How urgent?").select_option("urgent")
    next_week = (timezone.localdate() + timedelta(days=7)).isoformat()
    form.get_by_label("Next contact").fill(next_week)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "peer-encounter-phone.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_test_id("encounter-submit").click()

    assert page.url.endswith("/peer/")
    notices = page.locator(".notice").all_inner_texts()
    assert "Encounter recorded." in notices
    assert "Passed to the care coordinator: Transport." in notices
    assert any("the care team has been alerted" in n for n in notices)
    card = page.locator(f"li[data-patient='{patient.pk}']")
    assert "none yet" not in card.get_by_test_id("last-contact").inner_text()
    assert "not planned" not in card.get_by_test_id("next-contact").inner_text()
    page.screenshot(path=str(SHOTS / "peer-home-phone.png"), full_page=True)
    assert _stored(patient.pk) == ([("transport", "peer-encounter")], 1, 1)


def test_a_supervisor_approves_a_proposal(
    network: Network, waiting: int, live_server: Any, page: Any
) -> None:
    a2 = network.patients["a2"]
    _login(page, live_server.url, "super-a")
    with page.expect_navigation():
        page.get_by_test_id("nav-peer-supervision").click()
    assert page.locator(f"tr[data-peer='{waiting}']").is_visible()
    with page.expect_navigation():
        page.get_by_test_id("run-matching").click()
    assert page.get_by_test_id("run-status").get_attribute("data-status") == "proposed"
    pair = page.locator(f"tr[data-patient='{a2.pk}']")
    assert a2.record_number in pair.inner_text()
    assert pair.get_by_test_id("pair-peer").input_value() == str(waiting)
    with page.expect_navigation():
        page.get_by_test_id("approve").click()
    assert page.get_by_test_id("run-status").get_attribute("data-status") == "approved"
    pair = page.locator(f"tr[data-patient='{a2.pk}']")
    assert pair.get_by_test_id("pair-matched").inner_text() == "Matched"
    load = page.locator(f"tr[data-peer='{waiting}']").get_by_test_id("load").inner_text()
    assert load.startswith("1/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "peer-supervision.png"), full_page=True)
    try:
        assert PeerMatch.objects.filter(patient=a2, peer_id=waiting, status="active").exists()
    finally:
        connection.close()
