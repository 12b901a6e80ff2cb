"""The registry page and deciding on recommendations from the patient page."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.apps.patients.models import StepChange
from stepwell.apps.stepping.models import Recommendation
from stepwell.apps.stepping.services import episodes_review_all
from tests.conftest import Network, open_episode, record_phq9, register


def _client(network: Network, who: str = "clinician") -> Client:
    client = Client()
    client.force_login(network.users[who])
    client.cookies["django_language"] = "en"
    return client


def _not_improving(network: Network) -> int:
    episode = network.patients["a1"].episodes.get()
    StepChange.objects.filter(episode=episode).update(
        changed_at=timezone.now() - timedelta(days=56)
    )
    for days, answers in ((56, [2, 2, 2, 2, 2, 2, 1, 1, 0]), (0, [2, 2, 2, 2, 2, 1, 1, 1, 0])):
        record_phq9(network, "a1", answers, days_ago=days)
    now = timezone.now()
    episodes_review_all(now=now)
    return episode.pk


def test_registry_shows_flags_with_reasons_and_filters(network: Network) -> None:
    episode_id = _not_improving(network)
    client = _client(network)
    page = client.get("/registry/").content.decode()
    assert "Flags by protocol stepwell-default 1.0." in page
    row = re.search(rf'<tr data-episode="{episode_id}">(.*?)</tr>', page, re.S)
    assert row is not None
    assert 'data-flag="not-improving"' in row.group(1)
    assert "PHQ-9 14 → 13 after 8 weeks at step 2" in row.group(1)
    assert "(v1.0)" in row.group(1)
    assert f'href="/patients/{network.patients["a1"].pk}/"' in row.group(1)
    filtered = client.get("/registry/?flag=not-improving").content.decode()
    assert re.findall(r'<tr data-episode="(\d+)">', filtered) == [str(episode_id)]
    # htmx asks for the table alone.
    partial = client.get("/registry/?flag=not-improving", headers={"HX-Request": "true"})
    assert b"<html" not in partial.content
    assert f'data-episode="{episode_id}"'.encode() in partial.content


def test_registry_in_spanish(network: Network) -> None:
    _not_improving(network)
    client = _client(network)
    client.cookies["django_language"] = "es"
    page = client.get("/registry/").content.decode()
    assert "PHQ-9 14 → 13 tras 8 semanas en el escalón 2" in page


def test_registry_is_not_for_peers_or_managers(network: Network) -> None:
    for who in ("peer", "manager", "patient"):
        assert _client(network, who).get("/registry/").status_code == 404


def test_registry_page_query_count_is_constant(network: Network) -> None:
    client = _client(network)

    def queries() -> int:
        episodes_review_all(now=timezone.now())
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/registry/").status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    coordinator = network.users["coordinator"]
    for k in range(10):
        patient = register(coordinator, network.site_a, f"More{k}", "Testwell")
        open_episode(coordinator, patient, network.site_a, step=1 + k % 4)
    assert queries() == before


def test_accept_from_the_patient_page(network: Network) -> None:
    _not_improving(network)
    client = _client(network)
    patient = network.patients["a1"]
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert 'data-action="step-up"' in page
    assert "Consider step 3" in page
    rec = Recommendation.objects.get(episode__patient=patient, status="open")
    episode = rec.episode
    response = client.post(
        f"/episodes/{episode.pk}/step-decisions/",
        # As the page's form sends it: the override's step chooser comes along.
        {"recommendation_id": rec.pk, "decision": "accept", "to_step": "2", "reason": ""},
    )
    assert response.status_code == 302
    episode.refresh_from_db()
    assert episode.current_step == 3
    after = client.get(response["Location"]).content.decode()
    assert "Recommendation accepted" in after


def test_override_without_reason_shows_the_error_and_changes_nothing(network: Network) -> None:
    _not_improving(network)
    client = _client(network)
    rec = Recommendation.objects.get(episode__patient=network.patients["a1"], status="open")
    response = client.post(
        f"/episodes/{rec.episode_id}/step-decisions/",
        {"recommendation_id": rec.pk, "decision": "override", "to_step": "2", "reason": ""},
        HTTP_REFERER=f"/patients/{network.patients['a1'].pk}/",
        follow=True,
    )
    assert "reason: overriding a recommendation needs a reason" in response.content.decode()
    rec.refresh_from_db()
    assert rec.status == "open"


def test_review_now_button(network: Network) -> None:
    client = _client(network)
    episode = network.patients["a2"].episodes.get()
    response = client.post(f"/episodes/{episode.pk}/review/")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "No baseline on PHQ-9, GAD-7, PHQ-15 yet" in page
    # Coordinators see recommendations but do not decide.
    coordinator = _client(network, "coordinator")
    view = coordinator.get(f"/patients/{network.patients['a2'].pk}/").content.decode()
    assert "No baseline on PHQ-9" in view
    assert 'data-testid="accept"' not in view
