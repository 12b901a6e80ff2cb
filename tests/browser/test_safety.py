"""A peer's concern in real Chromium: the peer raises it on the patient's page, the on-call
clinician finds it in their safety tasks, acknowledges it and records the risk screen; the
peer sees only that a clinician is on it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from stepwell.apps.safety.models import EscalationTask
from tests.browser.test_journeys import SHOTS, _login
from tests.conftest import Cover, Network

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _task() -> EscalationTask:
    try:
        return EscalationTask.objects.select_related("owner", "event").get()
    finally:
        connection.close()  # a context-local connection while Playwright runs


def test_peer_concern_reaches_the_on_call_clinician(
    network: Network, cover: Cover, live_server: Any, page: Any
) -> None:
    patient_id = network.patients["a1"].pk
    _login(page, live_server.url, "peer-a")
    page.goto(f"{live_server.url}/patients/{patient_id}/")
    page.get_by_text("Raise a safety concern").click()
    page.get_by_test_id("concern-text").fill("Said at group she has been giving her things away")
    page.get_by_test_id("concern-urgency").select_option("urgent")
    with page.expect_navigation():
        page.get_by_test_id("concern-submit").click()
    assert "sent to the clinician on call" in page.content()
    assert page.get_by_test_id("own-concerns").locator("li").get_attribute("data-status") == "open"
    task = _task()
    assert (task.owner.username, task.severity) == ("clin-a", "high")

    page.context.clear_cookies()
    _login(page, live_server.url, "clin-a")
    with page.expect_navigation():
        page.get_by_test_id("nav-safety").click()
    row = page.locator(f"tr[data-task='{task.pk}']")
    assert "Concern raised by a peer or CHW" in row.inner_text()
    with page.expect_navigation():
        row.get_by_role("link").first.click()
    assert "giving her things away" in page.get_by_test_id("concern-note").inner_text()
    with page.expect_navigation():
        page.get_by_test_id("acknowledge").click()
    assert page.get_by_test_id("task-status").inner_text() == "Acknowledged"
    form = page.get_by_test_id("assess-form")
    for code in ("wish-dead", "thoughts"):
        form.locator(f"input[name='screen-{code}'][value='yes']").check()
    for code in ("method", "intent", "plan", "behaviour-recent", "behaviour-ever"):
        form.locator(f"input[name='screen-{code}'][value='no']").check()
    # Lower than the screen indicates (low): refused, naming the field.
    page.get_by_test_id("risk-level-select").select_option("none")
    with page.expect_navigation():
        page.get_by_test_id("assess").click()
    assert "risk_level" in page.content()
    assert "lower than the screen indicates" in page.content()
    form = page.get_by_test_id("assess-form")
    for code in ("wish-dead", "thoughts"):
        form.locator(f"input[name='screen-{code}'][value='yes']").check()
    for code in ("method", "intent", "plan", "behaviour-recent", "behaviour-ever"):
        form.locator(f"input[name='screen-{code}'][value='no']").check()
    page.get_by_test_id("risk-level-select").select_option("low")
    with page.expect_navigation():
        page.get_by_test_id("assess").click()
    assert page.get_by_test_id("risk-level").inner_text() == "Low risk"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "safety-task.png"), full_page=True)
    # The banner stays on the record until the task is resolved.
    page.goto(f"{live_server.url}/patients/{patient_id}/")
    assert page.get_by_test_id("safety-banner").is_visible()

    page.context.clear_cookies()
    _login(page, live_server.url, "peer-a")
    page.goto(f"{live_server.url}/patients/{patient_id}/")
    concerns = page.get_by_test_id("own-concerns").inner_text()
    assert "a clinician is on it" in concerns
    assert "Low risk" not in page.content()
    assert page.get_by_test_id("safety-banner").count() == 0
