"""The peer programme's pages: the peer's own home and encounter form, the supervisor's page
(peers, matching proposals to approve, encounters to review)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.coordination.models import Barrier
from stepwell.apps.peers.models import MatchingRun, PeerEncounter, PeerMatch, SupervisionSession
from stepwell.apps.peers.services import (
    EncounterInput,
    PreferenceInput,
    peer_encounter_record,
    peer_request_open,
)
from stepwell.apps.safety.models import EscalationTask
from tests.apps.test_peer_programme import _active_peer, _supervise
from tests.conftest import Network, register

pytestmark = pytest.mark.django_db


def _client(network: Network, who: str) -> Client:
    client = Client()
    client.force_login(network.users[who])
    return client


def _form_post(network: Network, **overrides: Any) -> dict[str, Any]:
    """What the encounter form sends, with a fresh client_uuid as the page makes one."""
    data: dict[str, Any] = {
        "client_uuid": str(uuid.uuid4()),
        "modality": "phone",
        "minutes": "20",
        "topics": ["coping", "medication-routine"],
        "mood_before": "2",
        "mood_after": "4",
        "note": "Talked through the week.",
        "barriers": [],
        "concern": "",
        "concern_urgency": "soon",
        "next_contact_on": (timezone.localdate() + timedelta(days=7)).isoformat(),
        "occurred_at": "",
    }
    data.update(overrides)
    return data


def _encounter_url(network: Network, patient: str = "a1") -> str:
    return f"/peer/patients/{network.patients[patient].pk}/encounter/"


def _encounter(network: Network, patient_id: int, **extra: Any) -> PeerEncounter:
    now = timezone.now()
    return peer_encounter_record(
        actor=network.users["peer"],
        patient_id=patient_id,
        encounter=EncounterInput(
            occurred_at=now - timedelta(hours=2),
            modality="phone",
            minutes=15,
            topics=["coping"],
            **extra,
        ),
        now=now,
    ).encounter


# --- the peer's home --------------------------------------------------------------------------


def test_the_peer_home_lists_only_matched_patients_with_contact_details(
    network: Network,
) -> None:
    a1 = network.patients["a1"]
    _encounter(network, a1.pk, next_contact_on=timezone.localdate() + timedelta(days=3))
    response = _client(network, "peer").get("/peer/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ana Testwell" in html
    assert "+15550100" in html
    assert "Spanish" in html  # the preferred language, in words
    assert f"/peer/patients/{a1.pk}/encounter/" in html
    assert f"/patients/{a1.pk}/concerns/" in html
    # Only proposed, not approved: not the peer's patient.
    assert network.patients["a2"].record_number not in html
    assert "Mockford" not in html
    assert AuditEvent.objects.filter(action="peer_patients.listed", patient_id=a1.pk).exists()


def test_the_peer_home_speaks_spanish(network: Network) -> None:
    client = _client(network, "peer")
    client.cookies["django_language"] = "es"
    html = client.get("/peer/").content.decode()
    assert "Español" in html  # the patient's language, said in Spanish
    form = client.get(_encounter_url(network)).content.decode()
    assert "Muy mal" in form  # the mood scale and vocabularies in the reader's language
    assert "Llamada telefónica" in form
    assert "Transporte" in form


def test_the_peer_home_is_for_peers_only(network: Network) -> None:
    for who in ("clinician", "peer_supervisor", "coordinator", "patient", "admin"):
        assert _client(network, who).get("/peer/").status_code == 404, who
    anonymous = Client().get("/peer/")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]


def test_a_concern_raised_from_the_peer_home_comes_back_to_it(network: Network) -> None:
    client = _client(network, "peer")
    response = client.post(
        f"/patients/{network.patients['a1'].pk}/concerns/",
        {"text": "Has not answered for a week", "urgency": "soon", "next": "peer-home"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/peer/"
    assert "sent to the clinician on call" in response.content.decode()
    assert EscalationTask.objects.filter(patient=network.patients["a1"]).exists()


# --- the encounter form -----------------------------------------------------------------------


def test_the_encounter_form_is_one_page_with_a_server_made_client_uuid(
    network: Network,
) -> None:
    client = _client(network, "peer")
    html = client.get(_encounter_url(network)).content.decode()
    for name in (
        "modality",
        "minutes",
        "topics",
        "mood_before",
        "mood_after",
        "note",
        "barriers",
        "concern",
        "concern_urgency",
        "next_contact_on",
    ):
        assert f'name="{name}"' in html, name
    assert "Very low" in html  # the mood labels, not numbers
    assert "Very good" in html
    assert "Transport" in html  # the barrier vocabulary
    made = re.search(r'name="client_uuid" value="([0-9a-f-]{36})"', html)
    assert made is not None
    again = client.get(_encounter_url(network)).content.decode()
    assert made.group(1) not in again  # a new form, a new encounter


def test_the_encounter_form_is_only_for_the_matched_peer(network: Network) -> None:
    assert _client(network, "peer").get(_encounter_url(network, "a2")).status_code == 404
    assert _client(network, "peer_unmatched").get(_encounter_url(network)).status_code == 404
    for who in ("clinician", "coordinator", "peer_supervisor", "patient"):
        assert _client(network, who).get(_encounter_url(network)).status_code == 404, who
    # Sending the form anyway is refused, and nothing is stored.
    assert (
        _client(network, "peer").post(_encounter_url(network, "a2"), _form_post(network))
    ).status_code == 404
    assert _client(network, "clinician").post(
        _encounter_url(network), _form_post(network)
    ).status_code in (403, 404)
    assert not PeerEncounter.objects.exists()


def test_logging_an_encounter_with_a_barrier_and_a_concern(network: Network) -> None:
    client = _client(network, "peer")
    patient = network.patients["a1"]
    response = client.post(
        _encounter_url(network),
        _form_post(
            network,
            barriers=["transport"],
            concern="Said she sees no way out lately",
            concern_urgency="urgent",
        ),
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/peer/"
    html = response.content.decode()
    assert "Encounter recorded." in html
    assert "Passed to the care coordinator: Transport." in html
    assert "the care team has been alerted" in html
    encounter = PeerEncounter.objects.get()
    assert (encounter.patient_id, encounter.minutes, encounter.mood_after) == (patient.pk, 20, 4)
    assert encounter.topics == ["coping", "medication-routine"]
    barrier = Barrier.objects.get()
    assert (barrier.patient_id, barrier.kind, barrier.source) == (
        patient.pk,
        "transport",
        "peer-encounter",
    )
    task = EscalationTask.objects.get(patient=patient)
    assert task.status == "open"
    # The home shows the contact just made and the next one planned.
    assert encounter.next_contact_on is not None
    home = client.get("/peer/").content.decode()
    assert "none yet" not in home
    assert "not planned" not in home


def test_a_double_submit_records_once(network: Network) -> None:
    client = _client(network, "peer")
    data = _form_post(network, concern="Worried about her", concern_urgency="soon")
    client.post(_encounter_url(network), data)
    again = client.post(_encounter_url(network), data, follow=True)
    assert "already recorded" in again.content.decode()
    assert PeerEncounter.objects.count() == 1
    assert EscalationTask.objects.count() == 1


def test_bad_input_shows_the_field_error_and_stores_nothing(network: Network) -> None:
    client = _client(network, "peer")
    response = client.post(
        _encounter_url(network),
        _form_post(network, minutes="0", topics=[], barriers=["transport"]),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="error-minutes"' in html
    assert "0 is not between 1 and" in html
    assert 'data-testid="error-topics"' in html
    # What was ticked stays ticked.
    assert re.search(r'<input[^>]*value="transport"[^>]*checked', html) is not None
    assert not PeerEncounter.objects.exists()
    assert not Barrier.objects.exists()
    past = (timezone.localdate() - timedelta(days=2)).isoformat()
    html = client.post(_encounter_url(network), _form_post(network, next_contact_on=past))
    assert 'data-testid="error-next_contact_on"' in html.content.decode()
    assert not PeerEncounter.objects.exists()


def test_the_peer_home_costs_the_same_queries_whatever_the_number_of_patients(
    network: Network,
) -> None:
    client = _client(network, "peer")
    _encounter(network, network.patients["a1"].pk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/peer/").status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    for k in range(3):
        patient = register(network.users["coordinator"], network.site_a, f"More{k}", "Testwell")
        PeerMatch.objects.create(
            peer=network.users["peer"],
            patient=patient,
            status="active",
            created_at=timezone.now(),
            approved_by=network.users["peer_supervisor"],
            approved_at=timezone.now(),
        )
        _encounter(network, patient.pk)
    html = client.get("/peer/").content.decode()
    assert html.count('class="card peer-patient"') == 4
    assert queries() == before


# --- the supervisor's page --------------------------------------------------------------------


def _waiting_patient_and_eligible_peer(network: Network) -> int:
    """An active, certified, supervised peer and patient a2 waiting for one."""
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


def test_the_supervision_page_shows_peers_with_certification_and_supervision(
    network: Network,
) -> None:
    ready = _waiting_patient_and_eligible_peer(network)
    response = _client(network, "peer_supervisor").get("/peers/supervision/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="peers-table"' in html
    assert f'data-peer="{ready}"' in html
    assert "Can take new matches" in html
    # peer-a: no profile, never certified or supervised: the reasons in words, overdue.
    row = re.search(
        rf'<tr data-peer="{network.users["peer"].pk}" class="overdue">(.*?)</tr>', html, re.S
    )
    assert row is not None
    assert "not certified" in row.group(1)
    assert "overdue" in row.group(1)
    assert 'data-testid="run-matching"' in html
    assert "No matching run yet." in html


def test_the_supervision_page_is_for_programme_staff(network: Network) -> None:
    for who in ("peer", "clinician", "chw", "patient", "manager"):
        assert _client(network, who).get("/peers/supervision/").status_code == 404, who
    assert _client(network, "admin").get("/peers/supervision/").status_code == 200
    # A coordinator runs matching but neither approves nor reviews encounters.
    html = _client(network, "coordinator").get("/peers/supervision/").content.decode()
    assert 'data-testid="run-matching"' in html
    assert 'data-testid="reviews"' not in html
    assert _client(network, "peer").post("/peers/supervision/runs/").status_code == 403
    assert not MatchingRun.objects.exists()


def test_approving_through_the_form_creates_the_matches(network: Network) -> None:
    ready = _waiting_patient_and_eligible_peer(network)
    a2 = network.patients["a2"]
    client = _client(network, "peer_supervisor")
    response = client.post("/peers/supervision/runs/", follow=True)
    assert response.redirect_chain[-1][0] == "/peers/supervision/"
    html = response.content.decode()
    run = MatchingRun.objects.get()
    assert f'action="/peers/supervision/runs/{run.pk}/approve/"' in html
    assert a2.record_number in html
    assert "Mockford" not in html  # record numbers only
    # The pair's reasons in words (the optimiser's sentences).
    pair = re.search(rf'<tr data-patient="{a2.pk}">(.*?)</tr>', html, re.S)
    assert pair is not None
    assert "<li>" in pair.group(1)
    assert not PeerMatch.objects.filter(patient=a2, status="active").exists()
    approved = client.post(
        f"/peers/supervision/runs/{run.pk}/approve/",
        {f"was-{a2.pk}": str(ready), f"peer-{a2.pk}": str(ready)},
        follow=True,
    )
    assert "Proposal approved" in approved.content.decode()
    match = PeerMatch.objects.get(patient=a2, status="active")
    assert match.peer_id == ready
    assert 'data-testid="pair-matched"' in approved.content.decode()
    # Approved once: a second send is refused with the reason.
    again = client.post(f"/peers/supervision/runs/{run.pk}/approve/", {}, follow=True)
    assert "not awaiting approval" in again.content.decode()


def test_approving_can_leave_a_patient_waiting(network: Network) -> None:
    ready = _waiting_patient_and_eligible_peer(network)
    a2 = network.patients["a2"]
    client = _client(network, "peer_supervisor")
    client.post("/peers/supervision/runs/")
    run = MatchingRun.objects.get()
    client.post(
        f"/peers/supervision/runs/{run.pk}/approve/",
        {f"was-{a2.pk}": str(ready), f"peer-{a2.pk}": "none"},
    )
    assert MatchingRun.objects.get().status == "approved"
    assert not PeerMatch.objects.filter(patient=a2, status="active").exists()


def test_a_coordinator_may_not_approve(network: Network) -> None:
    _waiting_patient_and_eligible_peer(network)
    client = _client(network, "coordinator")
    client.post("/peers/supervision/runs/")
    run = MatchingRun.objects.get()
    assert 'data-testid="approve-form"' not in client.get("/peers/supervision/").content.decode()
    assert client.post(f"/peers/supervision/runs/{run.pk}/approve/").status_code == 403
    assert MatchingRun.objects.get().status == "proposed"


def test_encounters_to_review_and_recording_the_session(network: Network) -> None:
    a1 = network.patients["a1"]
    encounter = _encounter(network, a1.pk, barriers=["transport"], note="Bus strike")
    client = _client(network, "peer_supervisor")
    html = client.get("/peers/supervision/").content.decode()
    row = re.search(rf'<tr data-encounter="{encounter.pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert a1.record_number in row.group(1)
    assert "Testwell" not in html  # the patient by record number only
    assert "Transport" in row.group(1)
    assert "Bus strike" in row.group(1)
    assert AuditEvent.objects.filter(action="peer_encounters.listed", patient_id=a1.pk).exists()
    response = client.post(
        "/peers/supervision/sessions/",
        {
            "attendee_ids": [network.users["peer"].pk],
            "format": "individual-tele",
            "held_on": timezone.localdate().isoformat(),
            "minutes": "45",
            "topics": "Transport barriers",
            "actions": "",
            "encounter_ids": [encounter.pk],
        },
        follow=True,
    )
    assert "Supervision session recorded." in response.content.decode()
    session = SupervisionSession.objects.get()
    assert list(session.encounters_reviewed.values_list("id", flat=True)) == [encounter.pk]
    assert f'data-encounter="{encounter.pk}"' not in response.content.decode()
    bad = client.post(
        "/peers/supervision/sessions/",
        {"format": "individual-tele", "held_on": "", "minutes": "45"},
        follow=True,
    )
    assert "held_on:" in bad.content.decode()


def test_the_supervision_page_costs_the_same_queries_whatever_the_sizes(
    network: Network,
) -> None:
    _waiting_patient_and_eligible_peer(network)
    client = _client(network, "peer_supervisor")
    client.post("/peers/supervision/runs/")
    _encounter(network, network.patients["a1"].pk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/peers/supervision/").status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    for k in range(3):
        _active_peer(network, f"peer-more-{k}")
        _encounter(network, network.patients["a1"].pk, barriers=["cost"])
    html = client.get("/peers/supervision/").content.decode()
    assert html.count("data-encounter=") == 4
    assert queries() == before


# --- the record's peer-support section ---------------------------------------------------------


def test_the_care_team_reads_peer_encounters_in_the_record_apart_from_clinical_notes(
    network: Network,
) -> None:
    a1 = network.patients["a1"]
    _encounter(network, a1.pk, note="Walked to the market together.", barriers=["transport"])
    page = _client(network, "clinician").get(f"/patients/{a1.pk}/")
    html = page.content.decode()
    assert 'data-testid="peer-encounters"' in html
    assert "Walked to the market together." in html
    assert "Transport" in html  # the barrier in words
    assert "Phone call" in html  # the modality in words
    assert AuditEvent.objects.filter(
        action="peer_encounters.viewed", patient_id=a1.pk, actor_id=network.users["clinician"].pk
    ).exists()
    # The matched peer reads what they documented; the patient's own page has no such section.
    peer_page = _client(network, "peer").get(f"/patients/{a1.pk}/").content.decode()
    assert "Walked to the market together." in peer_page
    own = _client(network, "patient").get(f"/patients/{a1.pk}/").content.decode()
    assert 'data-testid="peer-encounters"' not in own
    # Another peer never reaches the record at all.
    assert _client(network, "peer_unmatched").get(f"/patients/{a1.pk}/").status_code == 404


def test_a_barrier_from_an_encounter_is_on_the_coordinators_barrier_page(
    network: Network,
) -> None:
    a1 = network.patients["a1"]
    _encounter(network, a1.pk, barriers=["transport"])
    coordinator = _client(network, "coordinator")
    html = coordinator.get("/barriers/").content.decode()
    assert 'data-testid="barrier-row"' in html
    assert a1.record_number in html
    assert "Transport" in html
    assert "Peer encounter" in html
    # A coordinator of another site does not see site A's patient; peers have no list.
    other = _client(network, "coordinator_b").get("/barriers/").content.decode()
    assert a1.record_number not in other
    assert _client(network, "peer").get("/barriers/").status_code == 404


def test_the_barrier_lists_cost_the_same_queries_whatever_their_length(network: Network) -> None:
    from tests.conftest import token_for

    page = _client(network, "coordinator")
    api = Client()
    headers = {"Authorization": f"Bearer {token_for(api, network.users['coordinator'])}"}

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as web:
            assert page.get("/barriers/").status_code == 200
        with CaptureQueriesContext(connection) as rest:
            assert api.get("/api/v1/barriers", headers=headers).status_code == 200
        return len(web.captured_queries), len(rest.captured_queries)

    _encounter(network, network.patients["a1"].pk, barriers=["transport"])
    before = queries()
    _encounter(network, network.patients["a1"].pk, barriers=["cost", "distance"])
    _encounter(network, network.patients["a1"].pk, barriers=["language"])
    assert page.get("/barriers/").content.decode().count('data-testid="barrier-row"') == 4
    assert queries() == before


def test_opening_the_encounter_form_is_an_audited_read(network: Network) -> None:
    a1 = network.patients["a1"]
    assert _client(network, "peer").get(_encounter_url(network)).status_code == 200
    assert AuditEvent.objects.filter(
        action="peer_patient.viewed", patient_id=a1.pk, actor_id=network.users["peer"].pk
    ).exists()
