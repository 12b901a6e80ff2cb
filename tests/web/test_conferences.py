"""Case conferences: candidates from the protocol, planning, attendance, recorded decisions
that become part of the record."""

from __future__ import annotations

import re
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.patients.models import Episode, StepChange
from stepwell.apps.stepping.models import (
    CaseConference,
    ConferenceItem,
    Recommendation,
    StepDecision,
)
from stepwell.apps.stepping.services import episodes_review_all
from tests.conftest import Network, record_phq9


def _client(network: Network, who: str) -> Client:
    client = Client()
    client.force_login(network.users[who])
    client.cookies["django_language"] = "en"
    return client


def _step3_not_responding(network: Network) -> Episode:
    """a1 at step 3 for 60 days, PHQ-9 18 → 16: the protocol asks for a case conference."""
    episode = network.patients["a1"].episodes.get()
    Episode.objects.filter(pk=episode.pk).update(current_step=3)
    StepChange.objects.filter(episode=episode).update(
        to_step=3, changed_at=timezone.now() - timedelta(days=60)
    )
    for days, answers in ((60, [2] * 9), (1, [2] * 7 + [1, 1])):
        record_phq9(network, "a1", answers, days_ago=days)
    now = timezone.now()
    episodes_review_all(now=now)
    episode.refresh_from_db()
    return episode


def _plan(network: Network, who: str = "coordinator") -> tuple[Client, CaseConference]:
    rec = Recommendation.objects.get(action="case-conference", status="open")
    client = _client(network, who)
    response = client.post(
        "/conferences/",
        {
            "title": "Tuesday MDT",
            "scheduled_for": "2026-11-24T14:00",
            "site_id": network.site_a.pk,
            "recommendation_ids": [rec.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client, CaseConference.objects.get()


def test_candidates_come_from_the_protocol(network: Network) -> None:
    episode = _step3_not_responding(network)
    page = _client(network, "coordinator").get("/conferences/").content.decode()
    row = re.search(rf'<tr data-episode="{episode.pk}">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "Not responding after 8 weeks at step 3: refer to a case conference" in row.group(1)
    assert "PHQ-9 18 → 16 after 8 weeks at step 3" in row.group(1)


def test_plan_attend_decide_and_it_is_in_the_record(network: Network) -> None:
    episode = _step3_not_responding(network)
    coordinator, conference = _plan(network)
    item = ConferenceItem.objects.get(conference=conference)
    assert item.episode_id == episode.pk
    assert [r["code"] for r in item.question] == [
        "case-conference-window",
        "no-reliable-improvement",
    ]
    # Once on a planned agenda, the patient is no longer a candidate.
    assert 'data-testid="no-candidates"' in coordinator.get("/conferences/").content.decode()

    attendees = [network.users["clinician"].pk, network.users["coordinator"].pk]
    coordinator.post(
        f"/conferences/{conference.pk}/attendance/",
        {"attendee_ids": attendees, "other_attendees": "Dr Visiting, psychiatry (video)"},
    )
    conference.refresh_from_db()
    assert conference.status == "held"
    assert sorted(u.pk for u in conference.attendees.all()) == sorted(attendees)

    # Coordinators organise; only clinicians record decisions.
    url = f"/conferences/{conference.pk}/items/{item.pk}/"
    assert coordinator.post(url, {"outcome": "x", "next_step": "4"}).status_code == 404
    clinician = _client(network, "clinician")
    missing = clinician.post(url, {"outcome": " ", "next_step": "4"}, follow=True)
    assert "outcome: say what the conference decided" in missing.content.decode()
    item.refresh_from_db()
    assert item.recorded_at is None

    clinician.post(
        url,
        {
            "outcome": "Refer to specialist psychosomatic care",
            "actions": "Coordinator books tele-psychiatry within 2 weeks",
            "next_step": "4",
        },
    )
    episode.refresh_from_db()
    assert episode.current_step == 4
    change = StepChange.objects.filter(episode=episode).latest("changed_at")
    assert change.reason == "Case conference 2026-11-24: Refer to specialist psychosomatic care"
    assert change.protocol_version == "stepwell-default 1.0"
    decision = StepDecision.objects.get(episode=episode)
    assert (decision.decision, decision.to_step) == ("accept", 4)
    assert Recommendation.objects.get(pk=item.recommendation_id).status == "accepted"
    assert AuditEvent.objects.filter(
        action="conference.decision_recorded", patient_id=episode.patient_id
    ).exists()
    record = clinician.get(f"/patients/{episode.patient_id}/").content.decode()
    assert 'data-testid="conference-outcomes"' in record
    assert "Refer to specialist psychosomatic care" in record
    detail = clinician.get(f"/conferences/{conference.pk}/").content.decode()
    assert "Coordinator books tele-psychiatry within 2 weeks" in detail


def test_planning_needs_patients_and_a_known_site(network: Network) -> None:
    _step3_not_responding(network)
    client = _client(network, "coordinator")
    page = client.post(
        "/conferences/",
        {"title": "MDT", "scheduled_for": "2026-11-24T14:00", "site_id": network.site_b.pk},
    ).content.decode()
    assert "site_id: " in page
    assert "recommendation_ids: choose at least one patient" in page
    assert not CaseConference.objects.exists()


def test_conferences_are_not_for_peers_or_other_sites(network: Network) -> None:
    _step3_not_responding(network)
    _, conference = _plan(network)
    assert _client(network, "peer").get("/conferences/").status_code == 404
    other = _client(network, "clinician_b")
    assert other.get(f"/conferences/{conference.pk}/").status_code == 404
