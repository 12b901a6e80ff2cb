"""The peer programme over HTTP: proposals grant nothing until approved, ineligible peers
are excluded with the reason in words, encounters reach the coordinator and the on-call
clinician, bad input names the field, and the wrong role is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.apps.accounts.models import User
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.models import MatchingRun, PeerMatch, TrainingCompletion
from stepwell.apps.safety.models import EscalationTask
from tests.apps.test_peer_programme import _active_peer, _supervise
from tests.conftest import Cover, Network, token_for


def _auth(client: Client, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, user)}"}


def _h(client: Client, network: Network, who: str) -> dict[str, str]:
    return _auth(client, network.users[who])


def _post(client: Client, url: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


def _fields(response: Any) -> set[str]:
    """The fields a 422 names (``topics[0]`` → ``topics``)."""
    assert response.status_code == 422, response.content
    return {e["field"].split("[")[0] for e in response.json()["errors"]}


def _wait(client: Client, network: Network, patient: str = "a2", **prefs: Any) -> Any:
    response = _post(
        client,
        f"/api/v1/patients/{network.patients[patient].pk}/peer-request",
        {"lived_experience": ["chronic-pain"]} | prefs,
        _h(client, network, "coordinator"),
    )
    assert response.status_code == 200, response.content
    return response


def _run(client: Client, network: Network, who: str = "peer_supervisor") -> int:
    response = _post(client, "/api/v1/matching/runs", {}, _h(client, network, who))
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def _ready_peer(network: Network, username: str = "peer-ready") -> User:
    """A peer who may take a match: profile, certified, active, supervised last week."""
    peer_id = _active_peer(network, username)
    _supervise(network, peer_id, timezone.now().date() - timedelta(days=7))
    return User.objects.get(pk=peer_id)


def _encounter(**body: Any) -> dict[str, Any]:
    return {
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "modality": "phone",
        "minutes": 25,
        "topics": ["coping"],
        "mood_before": 2,
        "mood_after": 3,
    } | body


# --- access follows approval ---------------------------------------------------------------


def test_a_proposal_grants_nothing_until_a_supervisor_approves_it(
    network: Network, api_client: Client
) -> None:
    peer = _ready_peer(network)
    a2 = network.patients["a2"]
    _wait(api_client, network)
    run_id = _run(api_client, network)

    run = api_client.get(
        f"/api/v1/matching/runs/{run_id}?lang=en", headers=_h(api_client, network, "coordinator")
    ).json()
    assert run["status"] == "proposed"
    assert run["solver_status"]
    assert isinstance(run["total_cost"], int)
    assert run["greedy_cost"] is not None
    [pair] = run["proposals"]
    assert (pair["patient_id"], pair["record_number"], pair["peer_id"]) == (
        a2.pk,
        a2.record_number,
        peer.pk,
    )
    assert pair["peer_name"] == peer.username
    # Reading the run shows patients: audited per patient, for the reader.
    assert AuditEvent.objects.filter(
        action="matching_run.read", patient_id=a2.pk, actor_id=network.users["coordinator"].pk
    ).exists()
    assert pair["reasons"]
    assert all(r["code"] and r["text"] for r in pair["reasons"])
    texts = {r["code"]: r["text"] for r in pair["reasons"]}
    assert texts["pair-language"] == "both speak Spanish"
    assert texts["pair-experience"] == "shared experience of chronic pain"

    # The proposed peer cannot see or document the patient yet.
    mine = _auth(api_client, peer)
    assert api_client.get(f"/api/v1/patients/{a2.pk}", headers=mine).status_code == 404
    early = _post(api_client, f"/api/v1/patients/{a2.pk}/peer-encounters", _encounter(), mine)
    assert early.status_code == 404

    approved = _post(
        api_client,
        f"/api/v1/matching/runs/{run_id}/approve",
        None,
        _h(api_client, network, "peer_supervisor"),
    )
    assert approved.status_code == 200, approved.content
    assert [(m["patient_id"], m["peer_id"]) for m in approved.json()["matches"]] == [
        (a2.pk, peer.pk)
    ]

    seen = api_client.get(f"/api/v1/patients/{a2.pk}", headers=mine)
    assert seen.status_code == 200
    body = seen.json()
    # Peer fields only; a2 did not consent to share the rest with her peer.
    assert body["view"] == "peer"
    assert (body["given_name"], body["record_number"]) == ("Bea", a2.record_number)
    assert body["birth_date"] is None
    assert body["sex"] is None
    assert body["email"] is None
    assert body["current_step"] is None
    assert body["site"] is None
    assert body["home_latitude"] is None
    # ... unlike a1, who consented: her peer sees her step and site too.
    a1 = api_client.get(
        f"/api/v1/patients/{network.patients['a1'].pk}", headers=_h(api_client, network, "peer")
    ).json()
    assert a1["current_step"] == 2
    assert a1["site"]["id"] == network.site_a.pk
    assert a1["birth_date"] is None

    # The peer may now document the encounter; a second approval is refused.
    ok = _post(api_client, f"/api/v1/patients/{a2.pk}/peer-encounters", _encounter(), mine)
    assert ok.status_code == 201, ok.content
    again = _post(
        api_client,
        f"/api/v1/matching/runs/{run_id}/approve",
        {},
        _h(api_client, network, "peer_supervisor"),
    )
    assert _fields(again) == {"run_id"}


def test_a_rematch_ends_the_match_and_the_access(network: Network, api_client: Client) -> None:
    a1 = network.patients["a1"]
    coordinator = _h(api_client, network, "coordinator")
    url = f"/api/v1/patients/{a1.pk}/rematch"
    assert _fields(_post(api_client, url, {"reason": "dragons"}, coordinator)) == {"reason"}
    made = _post(api_client, url, {"reason": "schedule", "note": "works nights now"}, coordinator)
    assert made.status_code == 201, made.content
    assert made.json()["previous_peer_id"] == network.users["peer"].pk
    peer = _h(api_client, network, "peer")
    assert api_client.get(f"/api/v1/patients/{a1.pk}", headers=peer).status_code == 404
    # No active match left to end.
    assert _fields(_post(api_client, url, {"reason": "schedule"}, coordinator)) == {"patient_id"}


def test_approval_can_leave_a_patient_waiting(network: Network, api_client: Client) -> None:
    _ready_peer(network)
    _wait(api_client, network)
    run_id = _run(api_client, network)
    a2 = network.patients["a2"].pk
    response = _post(
        api_client,
        f"/api/v1/matching/runs/{run_id}/approve",
        {"changes": [{"patient_id": a2, "peer_id": None}]},
        _h(api_client, network, "peer_supervisor"),
    )
    assert response.status_code == 200, response.content
    assert response.json()["matches"] == []
    assert not PeerMatch.objects.filter(patient_id=a2, status="active").exists()


# --- eligibility ---------------------------------------------------------------------------


def test_ineligible_peers_are_excluded_from_a_run_with_the_reason_in_words(
    network: Network, api_client: Client
) -> None:
    today = timezone.now().date()
    ready = _ready_peer(network)
    lapsed = User.objects.get(pk=_active_peer(network, "peer-lapsed"))
    _supervise(network, lapsed.pk, today - timedelta(days=45))
    expired = _ready_peer(network, "peer-expired")
    # Certification lapses with time: the crisis module, passed long ago, is valid a year.
    TrainingCompletion.objects.filter(user=expired, module="crisis-protocol").update(
        completed_on=today - timedelta(days=400)
    )
    _wait(api_client, network)
    run_id = _run(api_client, network)

    supervisor = _h(api_client, network, "peer_supervisor")
    run = api_client.get(f"/api/v1/matching/runs/{run_id}?lang=en", headers=supervisor).json()
    excluded = {x["peer_id"]: x for x in run["excluded_peers"]}
    assert set(excluded) == {lapsed.pk, expired.pk}
    assert [p["peer_id"] for p in run["proposals"]] == [ready.pk]
    assert run["excluded_count"] == 2

    lapsed_why = {r["code"]: r["text"] for r in excluded[lapsed.pk]["reasons"]}
    assert lapsed_why["supervision-overdue"].startswith("Supervision overdue: last session on")
    assert "45 days ago" in lapsed_why["supervision-overdue"]
    expired_why = {r["code"]: r for r in excluded[expired.pk]["reasons"]}
    module_title = peer_content().peer_curriculum.module("crisis-protocol").title["en"]
    assert expired_why["certification-expired"]["text"].startswith(
        f"Certification in “{module_title}” expired on"
    )
    assert expired_why["certification-expired"]["params"]["module"] == "crisis-protocol"

    # In Spanish on request.
    es = api_client.get(f"/api/v1/matching/runs/{run_id}?lang=es", headers=supervisor).json()
    es_texts = [r["text"] for x in es["excluded_peers"] for r in x["reasons"]]
    assert any(t.startswith("Supervisión atrasada") for t in es_texts)

    # The supervisor's list of peers says the same.
    peers = {p["id"]: p for p in api_client.get("/api/v1/peers?lang=en", headers=supervisor).json()}
    assert peers[ready.pk]["eligible"] is True
    assert peers[ready.pk]["certified"] is True
    assert peers[lapsed.pk]["eligible"] is False
    assert [r["code"] for r in peers[lapsed.pk]["ineligible"]] == ["supervision-overdue"]
    assert peers[expired.pk]["certified"] is False
    assert "crisis-protocol" in peers[expired.pk]["lacking"]
    # The network's peers have no profile yet: applicants, never supervised.
    assert peers[network.users["peer"].pk]["state"] == "applicant"


def test_a_peer_is_trained_certified_and_supervised_over_http(
    network: Network, api_client: Client
) -> None:
    supervisor = _h(api_client, network, "peer_supervisor")
    peer = network.users["peer_unmatched"]
    base = f"/api/v1/peers/{peer.pk}"
    profile = {
        "languages": ["es"],
        "lived_experience": ["migration"],
        "gender": "man",
        "modalities": ["phone"],
        "availability": ["mon-evening"],
        "max_patients": 2,
    }
    # Enrolled through POST /api/v1/peers, once; later edits go to the profile.
    saved = _post(api_client, "/api/v1/peers", {"peer_id": peer.pk, **profile}, supervisor)
    assert saved.status_code == 201, saved.content
    assert saved.json()["state"] == "applicant"
    again = _post(api_client, "/api/v1/peers", {"peer_id": peer.pk, **profile}, supervisor)
    assert _fields(again) == {"peer_id"}
    assert _post(api_client, f"{base}/profile", profile, supervisor).status_code == 200
    assert _post(api_client, f"{base}/state", {"state": "in_training"}, supervisor).json()[
        "state"
    ] == ("in_training")
    # Certification needs every required module first.
    early = _post(api_client, f"{base}/state", {"state": "certified"}, supervisor)
    assert _fields(early) == {"state"}
    curriculum = peer_content().peer_curriculum
    today = timezone.now().date()
    for module in curriculum.required:
        done = _post(
            api_client,
            "/api/v1/training",
            {
                "user_id": peer.pk,
                "curriculum": curriculum.code,
                "module": module.code,
                "completed_on": (today - timedelta(days=3)).isoformat(),
                "passed": True,
            },
            supervisor,
        )
        assert done.status_code == 201, done.content
    for state in ("certified", "active"):
        moved = _post(api_client, f"{base}/state", {"state": state, "reason": "ok"}, supervisor)
        assert moved.status_code == 200, moved.content
    session = _post(
        api_client,
        "/api/v1/supervision-sessions",
        {
            "format": "individual-tele",
            "held_on": today.isoformat(),
            "minutes": 60,
            "attendee_ids": [peer.pk],
            "topics": "boundaries",
        },
        supervisor,
    )
    assert session.status_code == 201, session.content
    row = next(
        p for p in api_client.get("/api/v1/peers", headers=supervisor).json() if p["id"] == peer.pk
    )
    assert (row["state"], row["certified"], row["eligible"]) == ("active", True, True)
    assert row["last_supervision"] == today.isoformat()
    # The peer may edit their own profile, not anybody else's, and not their status.
    own = _h(api_client, network, "peer_unmatched")
    assert _post(api_client, f"{base}/profile", profile, own).status_code == 200
    other = f"/api/v1/peers/{network.users['peer'].pk}/profile"
    assert _post(api_client, other, profile, own).status_code == 403
    assert _post(api_client, f"{base}/state", {"state": "paused"}, own).status_code == 403


# --- encounters ----------------------------------------------------------------------------


def test_an_encounter_barrier_reaches_the_coordinator_and_a_concern_the_on_call_clinician(
    network: Network, cover: Cover, api_client: Client
) -> None:
    a1 = network.patients["a1"]
    url = f"/api/v1/patients/{a1.pk}/peer-encounters"
    body = _encounter(
        barriers=["transport"],
        concern="Said she sees no way out lately",
        concern_urgency="urgent",
        note="Talked about the bus timetable.",
        next_contact_on=(timezone.now().date() + timedelta(days=7)).isoformat(),
        client_uuid=str(uuid4()),
    )
    first = _post(api_client, url, body, _h(api_client, network, "peer"))
    assert first.status_code == 201, first.content
    recorded = first.json()
    assert recorded["created"] is True
    assert len(recorded["barrier_ids"]) == 1
    assert recorded["safety_event_id"]

    barriers = api_client.get(
        "/api/v1/barriers?lang=es", headers=_h(api_client, network, "coordinator")
    ).json()
    assert [
        (b["id"], b["patient_id"], b["kind"], b["kind_label"], b["source"]) for b in barriers
    ] == [(recorded["barrier_ids"][0], a1.pk, "transport", "Transporte", "peer-encounter")]

    task = EscalationTask.objects.get(event_id=recorded["safety_event_id"])
    assert task.owner == cover.on_call
    tasks = api_client.get(
        "/api/v1/safety/tasks?mine=true", headers=_h(api_client, network, "clinician")
    ).json()
    assert [t["id"] for t in tasks["results"]] == [task.pk]

    # A retried send (same client_uuid) records nothing new and answers the same.
    again = _post(api_client, url, body, _h(api_client, network, "peer"))
    assert again.status_code == 200, again.content
    assert again.json() == recorded | {"created": False}
    assert EscalationTask.objects.count() == 1


ENCOUNTER_PROBLEMS = [
    ({"modality": "telepathy"}, "modality"),
    ({"barriers": ["dragons"]}, "barriers"),
    ({"topics": ["astrology"]}, "topics"),
    ({"minutes": 0}, "minutes"),
    ({"mood_before": 9}, "mood_before"),
    ({"occurred_at": "2099-01-01T10:00:00+00:00"}, "occurred_at"),
    ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),  # no time zone
    ({"concern": "worried", "concern_urgency": "whenever"}, "concern_urgency"),
    ({"next_contact_on": "2020-01-01"}, "next_contact_on"),
    ({"concern": "x" * 2001}, "concern"),
    ({"client_uuid": "not-a-uuid"}, "client_uuid"),
    ({"diagnosis": "depression"}, "diagnosis"),  # peers record no clinical fields
]


@pytest.mark.parametrize(("change", "field"), ENCOUNTER_PROBLEMS)
def test_bad_encounters_name_the_field(
    network: Network, api_client: Client, change: dict[str, Any], field: str
) -> None:
    response = _post(
        api_client,
        f"/api/v1/patients/{network.patients['a1'].pk}/peer-encounters",
        _encounter(**change),
        _h(api_client, network, "peer"),
    )
    assert field in _fields(response)
    assert not network.patients["a1"].peer_encounters.exists()


def test_bad_programme_input_names_the_field(network: Network, api_client: Client) -> None:
    supervisor = _h(api_client, network, "peer_supervisor")
    coordinator = _h(api_client, network, "coordinator")
    peer = network.users["peer_unmatched"].pk
    future = (timezone.now().date() + timedelta(days=2)).isoformat()
    profile = {"languages": ["xx"], "gender": "woman", "modalities": ["phone"], "availability": []}
    cases: list[tuple[str, Any, dict[str, str], str]] = [
        (f"/api/v1/peers/{peer}/profile", profile, supervisor, "languages"),
        (f"/api/v1/peers/{peer}/state", {"state": "active"}, supervisor, "peer_id"),  # no profile
        (
            "/api/v1/training",
            {
                "user_id": peer,
                "curriculum": "peer-supporter",
                "module": "crisis-protocol",
                "completed_on": future,
                "passed": True,
            },
            supervisor,
            "completed_on",
        ),
        (
            "/api/v1/training",
            {
                "user_id": peer,
                "curriculum": "peer-supporter",
                "module": "juggling",
                "completed_on": "2026-01-05",
                "passed": True,
            },
            supervisor,
            "module",
        ),
        (
            "/api/v1/supervision-sessions",
            {"format": "seance", "held_on": "2026-01-05", "minutes": 60, "attendee_ids": [peer]},
            supervisor,
            "format",
        ),
        (
            f"/api/v1/patients/{network.patients['a2'].pk}/peer-request",
            {"gender_preference": "robot"},
            coordinator,
            "gender_preference",
        ),
        (
            f"/api/v1/patients/{network.patients['a2'].pk}/peer-request",
            {"modalities": ["carrier-pigeon"]},
            coordinator,
            "modalities",
        ),
        (  # b2 is treated at site A but never consented to peer support
            f"/api/v1/patients/{network.patients['b2'].pk}/peer-request",
            {},
            coordinator,
            "patient_id",
        ),
        (
            "/api/v1/peer-groups",
            {
                "name": "Tuesday circle",
                "kind": "book-club",
                "site_id": network.site_a.pk,
                "schedule": "Tuesdays 18:00",
                "facilitator_ids": [network.users["peer"].pk],
            },
            supervisor,
            "kind",
        ),
        (
            "/api/v1/peer-groups",
            {
                "name": "Tuesday circle",
                "kind": "peer-support-group",
                "site_id": network.site_b.pk,
                "schedule": "Tuesdays 18:00",
                "facilitator_ids": [network.users["peer"].pk],
            },
            supervisor,
            "site_id",
        ),
    ]
    for url, body, headers, field in cases:
        assert field in _fields(_post(api_client, url, body, headers)), (url, body)


def test_bad_approval_changes_name_the_field(network: Network, api_client: Client) -> None:
    _ready_peer(network)
    lapsed = _active_peer(network, "peer-lapsed")  # never supervised
    _wait(api_client, network)
    run_id = _run(api_client, network)
    url = f"/api/v1/matching/runs/{run_id}/approve"
    supervisor = _h(api_client, network, "peer_supervisor")
    a2, b1 = network.patients["a2"].pk, network.patients["b1"].pk
    for changes in (
        [{"patient_id": b1, "peer_id": None}],  # not in the run
        [{"patient_id": a2, "peer_id": lapsed}],  # not eligible
        [{"patient_id": a2, "peer_id": None}, {"patient_id": a2, "peer_id": None}],
    ):
        assert _fields(_post(api_client, url, {"changes": changes}, supervisor)) == {"changes"}
    edited = _post(
        api_client, url, {"changes": [{"patient_id": a2, "peer_id": lapsed}]}, supervisor
    )
    assert "supervision" in edited.json()["errors"][0]["message"].lower()
    assert MatchingRun.objects.get(pk=run_id).status == "proposed"


# --- roles ---------------------------------------------------------------------------------


def test_the_wrong_role_is_refused(network: Network, api_client: Client) -> None:
    _ready_peer(network)
    _wait(api_client, network)
    run_id = _run(api_client, network, who="coordinator")
    run_url = f"/api/v1/matching/runs/{run_id}"

    def h(who: str) -> dict[str, str]:
        return _h(api_client, network, who)

    # A peer cannot run matching, nor can a clinician; neither reads a run.
    assert _post(api_client, "/api/v1/matching/runs", {}, h("peer")).status_code == 403
    assert _post(api_client, "/api/v1/matching/runs", {}, h("clinician")).status_code == 403
    assert api_client.get(run_url, headers=h("peer")).status_code == 404
    assert api_client.get(run_url, headers=h("clinician")).status_code == 404
    # Programme staff of another site do not know the run exists.
    assert api_client.get(run_url, headers=h("coordinator_b")).status_code == 404
    assert api_client.get(run_url, headers=h("coordinator")).status_code == 200
    assert api_client.get(run_url, headers=h("peer_supervisor")).status_code == 200
    assert api_client.get(run_url, headers=h("admin")).status_code == 200
    # Only a peer supervisor (or an admin) approves: not a clinician, not the coordinator.
    assert _post(api_client, f"{run_url}/approve", {}, h("clinician")).status_code == 403
    assert _post(api_client, f"{run_url}/approve", {}, h("coordinator")).status_code == 403
    assert _post(api_client, f"{run_url}/approve", {}, h("peer")).status_code == 403
    assert MatchingRun.objects.get(pk=run_id).status == "proposed"
    assert api_client.get("/api/v1/matching/runs/999999", headers=h("admin")).status_code == 404
    # Peers see neither the programme's list of peers nor the coordinator's barriers.
    assert api_client.get("/api/v1/peers", headers=h("peer")).status_code == 404
    assert api_client.get("/api/v1/barriers", headers=h("peer")).status_code == 404
    # Only peers document peer encounters; only the care team puts patients on the list.
    encounter = f"/api/v1/patients/{network.patients['a1'].pk}/peer-encounters"
    assert _post(api_client, encounter, _encounter(), h("clinician")).status_code == 403
    request = f"/api/v1/patients/{network.patients['a2'].pk}/peer-request"
    assert _post(api_client, request, {}, h("peer")).status_code == 403
    assert _post(api_client, request, {}, h("coordinator_b")).status_code == 404
    # A clinician records no supervision; a peer records no training.
    supervision = {"format": "group-tele", "held_on": "2026-01-05", "minutes": 60}
    assert (
        _post(
            api_client,
            "/api/v1/supervision-sessions",
            supervision | {"attendee_ids": [network.users["peer"].pk]},
            h("clinician"),
        ).status_code
        == 403
    )
    training = {
        "user_id": network.users["peer"].pk,
        "curriculum": "peer-supporter",
        "module": "crisis-protocol",
        "completed_on": "2026-01-05",
        "passed": True,
    }
    assert _post(api_client, "/api/v1/training", training, h("peer")).status_code == 403
    # The supervisor of site A does not manage peers of other sites (or unknown ones).
    assert (
        _post(api_client, "/api/v1/peers/999999/state", {"state": "paused"}, h("peer_supervisor"))
    ).status_code == 404


# --- groups --------------------------------------------------------------------------------


def test_a_group_is_created_filled_and_meets(network: Network, api_client: Client) -> None:
    supervisor = _h(api_client, network, "peer_supervisor")
    a1, a2, b1 = (network.patients[n].pk for n in ("a1", "a2", "b1"))
    made = _post(
        api_client,
        "/api/v1/peer-groups",
        {
            "name": "Tuesday circle",
            "kind": "peer-support-group",
            "site_id": network.site_a.pk,
            "schedule": "Tuesdays 18:00, fortnightly",
            "facilitator_ids": [network.users["peer"].pk],
        },
        supervisor,
    )
    assert made.status_code == 201, made.content
    group = made.json()
    assert group["facilitator_ids"] == [network.users["peer"].pk]
    assert group["member_ids"] == []
    members = f"/api/v1/peer-groups/{group['id']}/members"

    def put(body: Any, headers: dict[str, str]) -> Any:
        return api_client.put(members, body, content_type="application/json", headers=headers)

    # The roster is set by the care team or a facilitator, for patients they see (the
    # supervisor sees no patient records) who consented to peer support.
    assert _fields(put({"patient_ids": [a1]}, supervisor)) == {"patient_ids"}
    peer = _h(api_client, network, "peer")
    assert _fields(put({"patient_ids": [a1, b1]}, peer)) == {"patient_ids"}
    filled = put({"patient_ids": [a1]}, peer)
    assert filled.status_code == 200, filled.content
    assert filled.json()["member_ids"] == [a1]

    sessions = f"/api/v1/peer-groups/{group['id']}/sessions"
    held = (timezone.now() - timedelta(hours=2)).isoformat()
    met = _post(api_client, sessions, {"held_at": held, "attended_ids": [a1], "note": "ok"}, peer)
    assert met.status_code == 201, met.content
    assert met.json()["attended_ids"] == [a1]
    assert _fields(_post(api_client, sessions, {"held_at": held, "attended_ids": [a2]}, peer)) == {
        "attended_ids"
    }
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert _fields(_post(api_client, sessions, {"held_at": future}, peer)) == {"held_at"}
    # Someone who neither facilitates nor runs the programme there: no such group.
    other = _h(api_client, network, "peer_unmatched")
    assert _post(api_client, sessions, {"held_at": held}, other).status_code == 404
    assert put({"patient_ids": []}, other).status_code == 404


# --- query counts --------------------------------------------------------------------------


def _queries(client: Client, url: str, headers: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_peer_list_and_run_cost_the_same_queries_for_more_peers(
    network: Network, api_client: Client
) -> None:
    supervisor = _h(api_client, network, "peer_supervisor")
    _ready_peer(network, "peer-one")
    _active_peer(network, "peer-lapsed")  # excluded: never supervised
    _wait(api_client, network)
    first = _run(api_client, network)
    small = (
        _queries(api_client, "/api/v1/peers", supervisor),
        _queries(api_client, f"/api/v1/matching/runs/{first}", supervisor),
    )
    for n in range(4):
        _ready_peer(network, f"peer-more-{n}")
        _active_peer(network, f"peer-lapsed-{n}")  # excluded: never supervised
    _wait(api_client, network, "a1")
    MatchingRun.objects.filter(pk=first).update(status="superseded")
    second = _run(api_client, network)
    large = (
        _queries(api_client, "/api/v1/peers", supervisor),
        _queries(api_client, f"/api/v1/matching/runs/{second}", supervisor),
    )
    assert small == large
