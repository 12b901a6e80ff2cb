"""The care team's morning in real Chromium on a tablet: the registry, a flag's reason, one
click to the patient, accept the recommendation."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from stepwell.apps.patients.models import Episode
from tests.browser.test_journeys import SHOTS, _login
from tests.conftest import Network
from tests.web.test_registry_pages import _not_improving

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def flagged(network: Network) -> int:
    return _not_improving(network)


def _step(episode_id: int) -> int:
    try:
        return Episode.objects.get(pk=episode_id).current_step
    finally:
        connection.close()  # a context-local connection while Playwright runs


def test_registry_to_decision_on_a_tablet(
    network: Network, flagged: int, live_server: Any, page: Any
) -> None:
    page.set_viewport_size(TABLET)
    _login(page, live_server.url, "clin-a")
    with page.expect_navigation():
        page.get_by_test_id("nav-registry").click()
    table = page.get_by_test_id("registry-table")
    assert table.locator("tbody tr").count() == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    page.locator("#id_flag").select_option("not-improving")
    page.wait_for_function(
        "document.querySelector('[data-testid=registry-count]').innerText.startsWith('1 ')"
    )
    row = page.locator(f"tr[data-episode='{flagged}']")
    assert "PHQ-9 14 → 13 after 8 weeks at step 2" in row.inner_text()
    assert "flag=not-improving" in page.url  # the filter is in the address, to share or reload
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "registry-tablet.png"), full_page=True)
    with page.expect_navigation():
        row.get_by_role("link").first.click()
    recommendation = page.get_by_test_id("recommendation").first
    assert recommendation.get_attribute("data-action") == "step-up"
    with page.expect_navigation():
        recommendation.get_by_test_id("accept").click()
    assert "Recommendation accepted" in page.content()
    assert _step(flagged) == 3
