"""Care coordination over HTTP: barrier actions, goals, referrals, appointments, travel, the
journey, the coordinator's home, failed reminders — each with who may and may not, and bad
input naming the field with nothing stored — and the SMS gateway's webhook (opt-out and
back in, short-score replies, unknown numbers and garbage, duplicates, the shared secret,
the text kept nowhere)."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.coordination import services
from stepwell.apps.coordination.content import coordination_rules
from stepwell.apps.coordination.models import (
    Appointment,
    Barrier,
    BarrierAction,
    Goal,
    GoalRating,
    InboundMessage,
    Referral,
    Reminder,
)
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.outbox.models import Notification
from stepwell.apps.patients.models import Patient
from tests.conftest import Network, make_site, make_user, token_for

# --- helpers --------------------------------------------------------------------------------

_TOKENS: dict[int, str] = {}


def _h(client: Client, network: Network, who: str) -> dict[str, str]:
    user = network.users[who]
    if user.pk not in _TOKENS:
        _TOKENS[user.pk] = token_for(client, user)
    return {"Authorization": f"Bearer {_TOKENS[user.pk]}"}


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    _TOKENS.clear()


def _post(client: Client, url: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


def _fields(response: Any) -> set[str]:
    """The fields a 422 names."""
    assert response.status_code == 422, response.content
    return {e["field"] for e in response.json()["errors"]}


def _barrier(network: Network, patient: str = "a1", kind: str = "transport") -> Barrier:
    return services.barrier_record(
        actor=network.users["coordinator"],
        patient_id=network.patients[patient].pk,
        kind=kind,
        source="coordinator",
        note="",
        now=timezone.now(),
    )


def _iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


# --- barriers -------------------------------------------------------------------------------


def test_an_action_on_a_barrier_closes_it_and_is_audited(
    network: Network, api_client: Client
) -> None:
    barrier = _barrier(network)
    headers = _h(api_client, network, "coordinator")
    response = _post(
        api_client,
        f"/api/v1/barriers/{barrier.pk}/actions",
        {"action": "ride-or-voucher", "status": "resolved", "note": "Bus pass arranged."},
        headers,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["id"], body["status"], body["action"]) == (
        barrier.pk,
        "resolved",
        "ride-or-voucher",
    )
    assert body["closed_at"] is not None
    assert BarrierAction.objects.filter(barrier=barrier, status="resolved").count() == 1
    assert AuditEvent.objects.filter(action="barrier.acted", object_id=str(barrier.pk)).exists()
    # Closed: off the coordinator's open list (GET /barriers, in api/peers.py).
    listed = api_client.get("/api/v1/barriers", headers=headers).json()
    assert barrier.pk not in {row["id"] for row in listed}
    # Reopened by setting it open again.
    again = _post(api_client, f"/api/v1/barriers/{barrier.pk}/actions", {"status": "open"}, headers)
    assert again.status_code == 201
    assert again.json()["closed_at"] is None


def test_barrier_actions_who_may_and_bad_input(network: Network, api_client: Client) -> None:
    barrier = _barrier(network)
    url = f"/api/v1/barriers/{barrier.pk}/actions"
    ok = {"action": "home-visit", "status": "in_progress"}
    assert _post(api_client, url, ok, _h(api_client, network, "peer")).status_code == 403
    assert _post(api_client, url, ok, _h(api_client, network, "manager")).status_code == 403
    # A coordinator of site B does not see a1: as if the barrier did not exist.
    hidden = _post(api_client, url, ok, _h(api_client, network, "coordinator_b"))
    assert hidden.status_code == 404
    assert hidden.json() == {"detail": "not found"}
    missing = _post(
        api_client, "/api/v1/barriers/999999/actions", ok, _h(api_client, network, "chw")
    )
    assert missing.status_code == 404
    chw = _h(api_client, network, "chw")
    assert _fields(_post(api_client, url, {"status": "fixed"}, chw)) == {"status"}
    assert _fields(_post(api_client, url, {"action": "magic", "status": "open"}, chw)) == {"action"}
    assert _fields(_post(api_client, url, {"status": "open"}, chw)) == {"action"}  # no change
    assert _fields(_post(api_client, url, {"status": "open", "extra": 1}, chw)) == {"extra"}
    assert not BarrierAction.objects.exists()
    barrier.refresh_from_db()
    assert (barrier.status, barrier.action) == ("open", "")


# --- goals ----------------------------------------------------------------------------------


def test_goals_are_set_rated_and_read_back(network: Network, api_client: Client) -> None:
    a1 = network.patients["a1"]
    url = f"/api/v1/patients/{a1.pk}/goals"
    made = _post(
        api_client,
        url,
        {"text": "  Walk to the   market  "},
        _h(api_client, network, "coordinator"),
    )
    assert made.status_code == 201, made.content
    goal = made.json()
    assert (goal["text"], goal["closed"], goal["ratings"]) == ("Walk to the market", False, [])
    # The patient rates their own goal.
    rated = _post(
        api_client,
        f"/api/v1/goals/{goal['id']}/ratings",
        {"rating": 4},
        _h(api_client, network, "patient"),
    )
    assert rated.status_code == 201, rated.content
    assert (rated.json()["goal_id"], rated.json()["rating"]) == (goal["id"], 4)
    earlier = _post(
        api_client,
        f"/api/v1/goals/{goal['id']}/ratings",
        {"rating": 2, "rated_at": _iso(-timedelta(days=7))},
        _h(api_client, network, "clinician"),
    )
    assert earlier.status_code == 201, earlier.content
    for who in ("patient", "clinician", "coordinator"):
        listed = api_client.get(url, headers=_h(api_client, network, who))
        assert listed.status_code == 200, (who, listed.content)
        [row] = listed.json()
        assert [r["rating"] for r in row["ratings"]] == [2, 4]  # oldest first
    assert AuditEvent.objects.filter(action="goals.viewed", patient_id=a1.pk).count() == 3


def test_goals_who_may_and_bad_input(network: Network, api_client: Client) -> None:
    a1, b1 = network.patients["a1"], network.patients["b1"]
    coord = _h(api_client, network, "coordinator")
    # Outside scope: 404, reading or writing.
    assert api_client.get(f"/api/v1/patients/{b1.pk}/goals", headers=coord).status_code == 404
    assert (
        _post(api_client, f"/api/v1/patients/{b1.pk}/goals", {"text": "x"}, coord).status_code
        == 404
    )
    # The matched peer sees a1's contact fields, not her goals; and may not set one.
    peer = _h(api_client, network, "peer")
    assert api_client.get(f"/api/v1/patients/{a1.pk}/goals", headers=peer).status_code == 404
    assert (
        _post(api_client, f"/api/v1/patients/{a1.pk}/goals", {"text": "x"}, peer).status_code == 403
    )
    url = f"/api/v1/patients/{a1.pk}/goals"
    assert _fields(_post(api_client, url, {"text": "   "}, coord)) == {"text"}
    assert _fields(_post(api_client, url, {"text": "x" * 301}, coord)) == {"text"}
    assert not Goal.objects.exists()

    goal = _post(api_client, url, {"text": "Sleep through the night"}, coord).json()
    rate = f"/api/v1/goals/{goal['id']}/ratings"
    assert _fields(_post(api_client, rate, {"rating": 11}, coord)) == {"rating"}
    assert _fields(_post(api_client, rate, {"rating": -1}, coord)) == {"rating"}
    assert _fields(_post(api_client, rate, {"rating": "lots"}, coord)) == {"rating"}
    naive = (timezone.now() - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert _fields(_post(api_client, rate, {"rating": 3, "rated_at": naive}, coord)) == {"rated_at"}
    future = {"rating": 3, "rated_at": _iso(timedelta(days=2))}
    assert _fields(_post(api_client, rate, future, coord)) == {"rated_at"}
    assert _post(api_client, rate, {"rating": 3}, peer).status_code == 403
    assert (
        _post(api_client, rate, {"rating": 3}, _h(api_client, network, "coordinator_b")).status_code
        == 404
    )
    assert not GoalRating.objects.exists()


# --- referrals ------------------------------------------------------------------------------


def test_a_referral_is_sent_accepted_scheduled_and_seen(
    network: Network, api_client: Client
) -> None:
    a1 = network.patients["a1"]
    coord_a, coord_b = (
        _h(api_client, network, "coordinator"),
        _h(api_client, network, "coordinator_b"),
    )
    # Site B cannot see a1 before it accepts.
    assert api_client.get(f"/api/v1/patients/{a1.pk}", headers=coord_b).status_code == 404
    sent = _post(
        api_client,
        "/api/v1/referrals",
        {
            "patient_id": a1.pk,
            "to_site_id": network.site_b.pk,
            "reason": "Specialist assessment of chronic pain.",
            "urgency": "urgent",
        },
        coord_a,
    )
    assert sent.status_code == 201, sent.content
    ref = sent.json()
    assert (ref["status"], ref["from_site_id"], ref["to_site_id"]) == (
        "sent",
        network.site_a.pk,
        network.site_b.pk,
    )
    assert _hours(ref["deadline_at"], ref["sent_at"]) == 48  # urgent: access.yaml

    mine = api_client.get("/api/v1/referrals", headers=coord_a).json()
    assert [(r["id"], r["incoming"]) for r in mine] == [(ref["id"], False)]
    theirs = api_client.get("/api/v1/referrals?urgent=true", headers=coord_b).json()
    assert [(r["id"], r["incoming"], r["record_number"]) for r in theirs] == [
        (ref["id"], True, a1.record_number)
    ]
    other = network.patients["a2"].pk
    assert api_client.get(f"/api/v1/referrals?patient={other}", headers=coord_a).json() == []

    url = f"/api/v1/referrals/{ref['id']}/status"
    accepted = _post(api_client, url, {"status": "accepted"}, coord_b)
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["accepted_at"] is not None
    assert AuditEvent.objects.filter(action="referral.access_granted", patient_id=a1.pk).exists()
    # Accepting let site B's care team see the patient.
    assert api_client.get(f"/api/v1/patients/{a1.pk}", headers=coord_b).status_code == 200

    when = _iso(timedelta(days=3))
    scheduled = _post(api_client, url, {"status": "scheduled", "scheduled_for": when}, coord_b)
    assert scheduled.status_code == 200, scheduled.content
    assert scheduled.json()["scheduled_for"] is not None
    seen = _post(api_client, url, {"status": "seen"}, coord_b)
    assert seen.status_code == 200
    assert seen.json()["seen_at"] is not None
    # Seen: no longer open, listed with ?open=false.
    assert api_client.get("/api/v1/referrals", headers=coord_a).json() == []
    closed = api_client.get("/api/v1/referrals?open=false", headers=coord_a).json()
    assert [(r["id"], r["status"]) for r in closed] == [(ref["id"], "seen")]


def _hours(later: str, earlier: str) -> float:
    delta = datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
    return delta.total_seconds() / 3600


def test_referrals_who_may_and_bad_input(network: Network, api_client: Client) -> None:
    a1, b1 = network.patients["a1"], network.patients["b1"]
    coord_a = _h(api_client, network, "coordinator")
    good = {
        "patient_id": a1.pk,
        "to_site_id": network.site_b.pk,
        "reason": "Needs a specialist.",
        "urgency": "routine",
    }
    assert (
        _post(api_client, "/api/v1/referrals", good, _h(api_client, network, "chw")).status_code
        == 403
    )
    assert (
        _post(api_client, "/api/v1/referrals", good, _h(api_client, network, "peer")).status_code
        == 403
    )
    outside = _post(api_client, "/api/v1/referrals", good | {"patient_id": b1.pk}, coord_a)
    assert outside.status_code == 404
    assert _fields(_post(api_client, "/api/v1/referrals", good | {"urgency": "asap"}, coord_a)) == {
        "urgency"
    }
    assert _fields(
        _post(api_client, "/api/v1/referrals", good | {"to_site_id": 999999}, coord_a)
    ) == {"to_site_id"}
    same_site = good | {"to_site_id": network.site_a.pk}
    assert _fields(_post(api_client, "/api/v1/referrals", same_site, coord_a)) == {"to_site_id"}
    not_mine = good | {"from_site_id": 999999}
    assert _fields(_post(api_client, "/api/v1/referrals", not_mine, coord_a)) == {"from_site_id"}
    assert _fields(_post(api_client, "/api/v1/referrals", good | {"reason": " "}, coord_a)) == {
        "reason"
    }
    assert not Referral.objects.exists()
    # Lists are for the care team: a peer is told nothing exists.
    assert (
        api_client.get("/api/v1/referrals", headers=_h(api_client, network, "peer")).status_code
        == 404
    )
    assert _fields(api_client.get("/api/v1/referrals?patient=abc", headers=coord_a)) == {"patient"}

    ref = _post(api_client, "/api/v1/referrals", good, coord_a).json()
    url = f"/api/v1/referrals/{ref['id']}/status"
    coord_b = _h(api_client, network, "coordinator_b")
    assert _fields(_post(api_client, url, {"status": "done"}, coord_b)) == {"status"}
    # Only the receiving site accepts; the sender may cancel, saying why.
    assert _fields(_post(api_client, url, {"status": "accepted"}, coord_a)) == {"status"}
    assert _fields(_post(api_client, url, {"status": "cancelled"}, coord_a)) == {"note"}
    assert _fields(_post(api_client, url, {"status": "seen"}, coord_b)) == {
        "status"
    }  # not from sent
    _post(api_client, url, {"status": "accepted"}, coord_b)
    naive = (timezone.now() + timedelta(days=2)).replace(tzinfo=None).isoformat()
    assert _fields(
        _post(api_client, url, {"status": "scheduled", "scheduled_for": naive}, coord_b)
    ) == {"scheduled_for"}
    assert _fields(_post(api_client, url, {"status": "scheduled"}, coord_b)) == {"scheduled_for"}
    assert Referral.objects.get().status == "accepted"
    # A coordinator of neither site: as if it did not exist.
    network.users["coordinator_c"] = make_user("coord-c", "coordinator", make_site("c"))
    stranger = _h(api_client, network, "coordinator_c")
    assert _post(api_client, url, {"status": "seen"}, stranger).status_code == 404
    assert (
        _post(api_client, url, {"status": "seen"}, _h(api_client, network, "chw")).status_code
        == 403
    )


# --- appointments ---------------------------------------------------------------------------


def _book(client: Client, network: Network, who: str = "coordinator", **body: Any) -> Any:
    payload = {
        "patient_id": network.patients["a1"].pk,
        "modality": "video",
        "starts_at": _iso(timedelta(days=3)),
    } | body
    return _post(client, "/api/v1/appointments", payload, _h(client, network, who))


def test_appointments_are_booked_listed_and_attendance_recorded(
    network: Network, api_client: Client
) -> None:
    a1 = network.patients["a1"]
    Patient.objects.filter(pk=a1.pk).update(consent_sms=True, phone="+15550111")
    # 15:00 local three days ahead: neither reminder falls in the quiet hours.
    zone = coordination_rules().default.zone
    day = timezone.localtime(timezone.now(), zone).date() + timedelta(days=3)
    starts = datetime.combine(day, time(15, 0), zone).isoformat()
    booked = _book(api_client, network, minutes=30, starts_at=starts)
    assert booked.status_code == 201, booked.content
    appt = booked.json()
    assert (appt["patient_id"], appt["modality"], appt["minutes"], appt["attendance"]) == (
        a1.pk,
        "video",
        30,
        "",
    )
    # Reminders planned with it (48 h and 2 h before; the patient consented to SMS).
    assert Reminder.objects.filter(appointment_id=appt["id"], status="planned").count() == 2
    at_site = _book(
        api_client,
        network,
        modality="in-person",
        site_id=network.site_a.pk,
        starts_at=_iso(-timedelta(hours=2)),
    )
    assert at_site.status_code == 201, at_site.content

    coord = _h(api_client, network, "coordinator")
    frm, to = _iso(-timedelta(days=1)), _iso(timedelta(days=7))
    listed = api_client.get("/api/v1/appointments", {"from": frm, "to": to}, headers=coord)
    assert listed.status_code == 200, listed.content
    rows = listed.json()
    assert [r["id"] for r in rows] == [at_site.json()["id"], appt["id"]]  # by time
    assert rows[1]["modality_label"] == "Video call"
    assert rows[0]["place"] == network.site_a.name
    other = str(network.patients["a2"].pk)
    only_a2 = api_client.get(
        "/api/v1/appointments", {"from": frm, "to": to, "patient": other}, headers=coord
    )
    assert only_a2.json() == []
    # Site B's coordinator does not see a1's appointments.
    assert (
        api_client.get(
            "/api/v1/appointments",
            {"from": frm, "to": to},
            headers=_h(api_client, network, "coordinator_b"),
        ).json()
        == []
    )

    # The future one is cancelled (its reminders dropped); the past one attended.
    cancel = _post(
        api_client,
        f"/api/v1/appointments/{appt['id']}/attendance",
        {"attendance": "cancelled-patient", "cancellation_reason": "transport"},
        coord,
    )
    assert cancel.status_code == 200, cancel.content
    assert cancel.json()["cancellation_reason"] == "transport"
    assert not Reminder.objects.filter(appointment_id=appt["id"], status="planned").exists()
    seen = _post(
        api_client,
        f"/api/v1/appointments/{at_site.json()['id']}/attendance",
        {"attendance": "attended"},
        _h(api_client, network, "chw"),
    )
    assert seen.status_code == 200
    assert seen.json()["attendance"] == "attended"
    assert AuditEvent.objects.filter(action="appointment.attendance").count() == 2


def test_appointments_who_may_and_bad_input(network: Network, api_client: Client) -> None:
    assert _book(api_client, network, "peer").status_code == 403
    assert _book(api_client, network, "manager").status_code == 403
    assert _book(api_client, network, "coordinator_b").status_code == 404
    assert _fields(_book(api_client, network, modality="teleport")) == {"modality"}
    naive = (timezone.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert _fields(_book(api_client, network, starts_at=naive)) == {"starts_at"}
    assert _fields(_book(api_client, network, starts_at=_iso(timedelta(days=400)))) == {"starts_at"}
    assert _fields(_book(api_client, network, minutes=2)) == {"minutes"}
    assert _fields(_book(api_client, network, modality="in-person")) == {"site_id"}  # where?
    assert _fields(_book(api_client, network, site_id=999999)) == {"site_id"}
    assert _fields(_book(api_client, network, staff_id=network.users["patient"].pk)) == {"staff_id"}
    assert not Appointment.objects.exists()

    appt = _book(api_client, network).json()
    url = f"/api/v1/appointments/{appt['id']}/attendance"
    coord = _h(api_client, network, "coordinator")
    assert _fields(_post(api_client, url, {"attendance": "maybe"}, coord)) == {"attendance"}
    wrong_reason = {"attendance": "cancelled-patient", "cancellation_reason": "aliens"}
    assert _fields(_post(api_client, url, wrong_reason, coord)) == {"cancellation_reason"}
    reason_without_cancel = {"attendance": "did-not-attend", "cancellation_reason": "work"}
    assert _fields(_post(api_client, url, reason_without_cancel, coord)) == {
        "cancellation_reason",
        "attendance",  # and it has not started yet
    }
    # Not started yet: only a cancellation may be recorded.
    assert _fields(_post(api_client, url, {"attendance": "attended"}, coord)) == {"attendance"}
    assert (
        _post(
            api_client, url, {"attendance": "attended"}, _h(api_client, network, "peer")
        ).status_code
        == 403
    )
    assert (
        _post(
            api_client, url, {"attendance": "attended"}, _h(api_client, network, "coordinator_b")
        ).status_code
        == 404
    )
    assert Appointment.objects.get().attendance == ""

    frm, to = _iso(-timedelta(days=1)), _iso(timedelta(days=7))
    assert _fields(
        api_client.get("/api/v1/appointments", {"from": naive, "to": to}, headers=coord)
    ) == {"from"}
    assert _fields(
        api_client.get("/api/v1/appointments", {"from": to, "to": frm}, headers=coord)
    ) == {"to"}
    assert _fields(api_client.get("/api/v1/appointments", {"to": to}, headers=coord)) == {"from"}
    peer = _h(api_client, network, "peer")
    assert (
        api_client.get("/api/v1/appointments", {"from": frm, "to": to}, headers=peer).status_code
        == 404
    )


def test_list_endpoints_query_counts_do_not_grow_with_rows(
    network: Network, api_client: Client
) -> None:
    coord = _h(api_client, network, "coordinator")
    frm, to = _iso(-timedelta(days=1)), _iso(timedelta(days=30))

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            a = api_client.get("/api/v1/appointments", {"from": frm, "to": to}, headers=coord)
            r = api_client.get("/api/v1/referrals", headers=coord)
        assert a.status_code == r.status_code == 200
        return len(ctx.captured_queries)

    def add(patient: str, days: int) -> None:
        pid = network.patients[patient].pk
        assert (
            _book(
                api_client, network, patient_id=pid, starts_at=_iso(timedelta(days=days))
            ).status_code
            == 201
        )
        body = {
            "patient_id": pid,
            "to_site_id": network.site_b.pk,
            "reason": "x",
            "urgency": "routine",
        }
        assert _post(api_client, "/api/v1/referrals", body, coord).status_code == 201

    add("a1", 2)
    one = count()
    add("a2", 3)
    add("b2", 4)
    add("a1", 5)
    assert count() == one


# --- travel, journey, home, failed reminders ------------------------------------------------


def test_travel_advice_for_a_visible_patient(network: Network, api_client: Client) -> None:
    a1 = network.patients["a1"]
    Patient.objects.filter(pk=a1.pk).update(home_latitude=37.6, home_longitude=-105.2)
    url = f"/api/v1/patients/{a1.pk}/travel"
    response = api_client.get(url, headers=_h(api_client, network, "coordinator"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert [o["site_id"] for o in body["options"]] == [network.site_a.pk, network.site_b.pk]
    assert all(o["minutes"] > 0 and o["road_km"] > 0 for o in body["options"])
    assert body["reason"] in {"within-limit", "travel-over-limit"}
    assert body["over_limit"] == (body["reason"] == "travel-over-limit")
    assert api_client.get(url, headers=_h(api_client, network, "coordinator_b")).status_code == 404
    assert api_client.get(url, headers=_h(api_client, network, "peer")).status_code == 404


def test_the_journey_lists_an_episode_and_filters_by_kind(
    network: Network, api_client: Client
) -> None:
    a1 = network.patients["a1"]
    episode = a1.episodes.get()
    _barrier(network)
    url = f"/api/v1/episodes/{episode.pk}/journey"
    coord = _h(api_client, network, "coordinator")
    everything = api_client.get(url + "?lang=en", headers=coord)
    assert everything.status_code == 200, everything.content
    body = everything.json()
    assert (body["episode_id"], body["patient_id"], body["record_number"]) == (
        episode.pk,
        a1.pk,
        a1.record_number,
    )
    kinds = [e["kind"] for e in body["entries"]]
    assert {"referral", "contact", "step", "barrier"} <= set(kinds)
    assert kinds[0] == "referral"
    times = [e["at"] for e in body["entries"]]
    assert times == sorted(times)

    only = api_client.get(url + "?kind=step&kind=barrier", headers=coord).json()
    assert only["kinds"] == ["step", "barrier"]
    assert {e["kind"] for e in only["entries"]} == {"step", "barrier"}

    bad = api_client.get(url + "?kind=step&kind=horoscope", headers=coord)
    assert _fields(bad) == {"kind"}
    assert "horoscope" in bad.json()["errors"][0]["message"]
    assert AuditEvent.objects.filter(action="journey.viewed", patient_id=a1.pk).count() == 2
    for who in ("coordinator_b", "peer", "patient", "manager"):
        assert api_client.get(url, headers=_h(api_client, network, who)).status_code == 404, who
    assert api_client.get("/api/v1/episodes/999999/journey", headers=coord).status_code == 404


def test_the_coordinators_home_and_failed_reminders(network: Network, api_client: Client) -> None:
    a1 = network.patients["a1"]
    barrier = _barrier(network)
    now = timezone.now()
    Reminder.objects.create(
        key="test:no-address",
        kind="check-in",
        patient=a1,
        channel="sms",
        send_at=now - timedelta(hours=1),
        status="no-address",
        created_at=now - timedelta(days=1),
        handled_at=now - timedelta(hours=1),
    )
    coord = _h(api_client, network, "coordinator")
    home = api_client.get("/api/v1/coordination/home?lang=en", headers=coord)
    assert home.status_code == 200, home.content
    body = home.json()
    assert set(body) == {"appointments_today", "barriers", "urgent_referrals", "failed_reminders"}
    assert [b["id"] for b in body["barriers"]] == [barrier.pk]
    assert body["barriers"][0]["kind_label"] == "Transport"
    assert [(f["patient_id"], f["status"]) for f in body["failed_reminders"]] == [
        (a1.pk, "no-address")
    ]
    failed = api_client.get("/api/v1/reminders/failed", headers=coord)
    assert failed.status_code == 200
    assert [f["record_number"] for f in failed.json()] == [a1.record_number]
    # Site B's coordinator sees none of it; a peer or a patient is told nothing exists.
    other = api_client.get(
        "/api/v1/coordination/home", headers=_h(api_client, network, "coordinator_b")
    )
    assert other.status_code == 200
    assert other.json()["barriers"] == other.json()["failed_reminders"] == []
    for who in ("peer", "patient"):
        headers = _h(api_client, network, who)
        assert api_client.get("/api/v1/coordination/home", headers=headers).status_code == 404
        assert api_client.get("/api/v1/reminders/failed", headers=headers).status_code == 404
    assert api_client.get("/api/v1/coordination/home").status_code == 401


# --- the SMS webhook ------------------------------------------------------------------------

SECRET = "test-webhook-secret-0123456789"
A1_PHONE = "+15550111"
A2_PHONE = "+15550122"
UNKNOWN_PHONE = "+15559999"


@pytest.fixture
def sms(network: Network, settings: Any) -> Network:
    """The webhook configured; each patient with their own number, a1 and a2 consenting."""
    settings.STEPWELL_SMS_WEBHOOK_SECRET = SECRET
    for n, (name, patient) in enumerate(sorted(network.patients.items())):
        Patient.objects.filter(pk=patient.pk).update(
            phone=f"+1555011{n}"
            if name not in ("a1", "a2")
            else {"a1": A1_PHONE, "a2": A2_PHONE}[name],
            consent_sms=name in ("a1", "a2"),
        )
    return network


_COUNTER = iter(range(1_000_000))


def _sms(
    client: Client,
    body: str,
    number: str = A1_PHONE,
    message_id: str | None = None,
    secret: str | None = SECRET,
) -> Any:
    payload = {
        "message_id": message_id or f"SM{next(_COUNTER):08d}",
        "from": number,
        "body": body,
    }
    headers = {"X-Stepwell-Webhook-Secret": secret} if secret is not None else {}
    return client.post(
        "/api/v1/sms/inbound", payload, content_type="application/json", headers=headers
    )


def _outcome(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"outcome", "reply_queued", "duplicate"}
    return body


def _prompt(patient: Patient, hours_ago: float = 2) -> Reminder:
    """A check-in prompt sent to the patient by SMS ``hours_ago``."""
    sent = timezone.now() - timedelta(hours=hours_ago)
    return Reminder.objects.create(
        key=f"check-in:test:{patient.pk}:{hours_ago}",
        kind="check-in",
        patient=patient,
        channel="sms",
        send_at=sent,
        status="queued",
        created_at=sent - timedelta(hours=1),
        handled_at=sent,
    )


def _replies_to(number: str) -> list[str]:
    return list(
        Notification.objects.filter(address=number, channel="sms", ref_type="inbound-sms")
        .order_by("id")
        .values_list("body", flat=True)
    )


@pytest.mark.parametrize("word", ["STOP", "baja", "  ¡Bája! ", "Stop."])
def test_an_opt_out_turns_sms_off_audited_and_confirmed(
    sms: Network, api_client: Client, word: str
) -> None:
    a1 = sms.patients["a1"]
    result = _outcome(_sms(api_client, word))
    assert result == {"outcome": "opted-out", "reply_queued": True, "duplicate": False}
    assert Patient.objects.get(pk=a1.pk).consent_sms is False
    event = AuditEvent.objects.get(action="patient.sms_opted_out")
    assert (event.patient_id, event.actor_id) == (a1.pk, None)
    # a1 reads Spanish: the confirmation says how to opt back in.
    [reply] = _replies_to(A1_PHONE)
    assert "ALTA" in reply
    # Other patients untouched.
    assert Patient.objects.get(pk=sms.patients["a2"].pk).consent_sms is True


def test_start_turns_sms_back_on(sms: Network, api_client: Client) -> None:
    a1 = sms.patients["a1"]
    _outcome(_sms(api_client, "STOP"))
    # Opted out: something else gets no reply (carriers allow only the confirmation).
    assert _outcome(_sms(api_client, "hola")) == {
        "outcome": "not-understood",
        "reply_queued": False,
        "duplicate": False,
    }
    again = _outcome(_sms(api_client, "START"))
    assert (again["outcome"], again["reply_queued"]) == ("opted-in", True)
    assert Patient.objects.get(pk=a1.pk).consent_sms is True
    assert AuditEvent.objects.filter(action="patient.sms_opted_in", patient_id=a1.pk).count() == 1
    assert len(_replies_to(A1_PHONE)) == 2


def test_a_short_score_reply_to_a_prompt_is_recorded(sms: Network, api_client: Client) -> None:
    a1 = sms.patients["a1"]
    prompt = _prompt(a1)
    result = _outcome(_sms(api_client, "PHQ2 1 2"))
    assert result == {"outcome": "recorded", "reply_queued": True, "duplicate": False}
    assessment = Assessment.objects.get()
    assert (assessment.patient_id, assessment.instrument, assessment.mode, assessment.total) == (
        a1.pk,
        "PHQ-2",
        "sms",
        3,
    )
    assert assessment.answers == [1, 2]
    prompt.refresh_from_db()
    assert prompt.answered_at is not None
    message = InboundMessage.objects.get()
    assert (message.outcome, message.assessment_id) == ("recorded", assessment.pk)
    assert list(message.patients.values_list("id", flat=True)) == [a1.pk]
    assert AuditEvent.objects.filter(
        action="assessment.recorded", patient_id=a1.pk, object_id=str(assessment.pk)
    ).exists()
    assert _replies_to(A1_PHONE) == ["Gracias, recibimos sus respuestas."]


@pytest.mark.parametrize("reply", ["PHQ2 3", "PHQ2 5 5", "PHQ2 1 2 3"])
def test_a_short_score_that_does_not_fit_records_nothing(
    sms: Network, api_client: Client, reply: str
) -> None:
    prompt = _prompt(sms.patients["a1"])
    result = _outcome(_sms(api_client, reply))
    assert (result["outcome"], result["reply_queued"]) == ("not-recorded", True)
    assert not Assessment.objects.exists()
    prompt.refresh_from_db()
    assert prompt.answered_at is None
    [reply_text] = _replies_to(A1_PHONE)
    assert reply_text.startswith("Disculpe, no entendimos")


def test_an_unknown_number_gets_the_neutral_reply_and_no_link(
    sms: Network, api_client: Client
) -> None:
    result = _outcome(_sms(api_client, "PHQ2 1 2", number="+1 (555) 999-9"))
    assert result == {"outcome": "unknown-number", "reply_queued": True, "duplicate": False}
    message = InboundMessage.objects.get()
    assert not message.patients.exists()
    assert message.assessment_id is None
    [reply] = _replies_to(UNKNOWN_PHONE)
    assert reply == "This number is not registered with us. Nothing was recorded."
    assert not Assessment.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="patient.sms").exists()


@pytest.mark.parametrize(
    "garbage",
    [
        "🙂🙂🙂",
        "x" * 2000,
        "",
        "\x00\x01\x02\ufffd\ufffe\udcff binary?",
        "PHQ2 uno dos",
        "STOP please stop texting me",
        "<script>alert(1)</script>",
    ],
    ids=["emoji", "2000-chars", "empty", "binary", "words", "sentence", "html"],
)
def test_garbage_gets_an_outcome_never_a_crash(
    sms: Network, api_client: Client, garbage: str
) -> None:
    _prompt(sms.patients["a1"])
    result = _outcome(_sms(api_client, garbage))
    assert (result["outcome"], result["reply_queued"]) == ("not-understood", True)
    assert not Assessment.objects.exists()
    assert Patient.objects.get(pk=sms.patients["a1"].pk).consent_sms is True
    assert InboundMessage.objects.get().detail in {
        "empty",
        "too-long",
        "unknown-keyword",
        "bad-number",
    }


def test_the_same_message_twice_is_handled_once(sms: Network, api_client: Client) -> None:
    _prompt(sms.patients["a1"])
    first = _outcome(_sms(api_client, "PHQ2 1 2", message_id="SMdup"))
    second = _outcome(_sms(api_client, "PHQ2 1 2", message_id="SMdup"))
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert second["outcome"] == "recorded"
    assert Assessment.objects.count() == 1
    assert InboundMessage.objects.count() == 1
    assert len(_replies_to(A1_PHONE)) == 1


def test_a_shared_number_opts_out_everyone_and_records_no_guess(
    sms: Network, api_client: Client
) -> None:
    a1, a2 = sms.patients["a1"], sms.patients["a2"]
    Patient.objects.filter(pk=a2.pk).update(phone=A1_PHONE)
    # No recent prompt to tell whose answer it is: nothing recorded on a guess.
    _prompt(a1, hours_ago=24 * 8)  # too long ago to count
    result = _outcome(_sms(api_client, "PHQ2 1 2"))
    assert result["outcome"] == "not-recorded"
    assert not Assessment.objects.exists()
    # With a recent prompt to a2, the answer is a2's.
    _prompt(a2)
    assert _outcome(_sms(api_client, "PHQ2 0 1"))["outcome"] == "recorded"
    assert Assessment.objects.get().patient_id == a2.pk
    # An answered prompt waits for no further reply: the next one is ambiguous again.
    assert _outcome(_sms(api_client, "PHQ2 3 3"))["outcome"] == "not-recorded"
    assert Assessment.objects.count() == 1

    assert _outcome(_sms(api_client, "STOP"))["outcome"] == "opted-out"
    assert not Patient.objects.filter(pk__in=[a1.pk, a2.pk], consent_sms=True).exists()
    assert set(
        AuditEvent.objects.filter(action="patient.sms_opted_out").values_list(
            "patient_id", flat=True
        )
    ) == {a1.pk, a2.pk}


def test_a_form_encoded_post_with_gateway_field_names(sms: Network, api_client: Client) -> None:
    form = {"MessageSid": "SMform1", "From": A1_PHONE, "Body": "Baja", "AccountSid": "AC1"}
    response = api_client.post(
        "/api/v1/sms/inbound",
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Stepwell-Webhook-Secret": SECRET},
    )
    assert _outcome(response)["outcome"] == "opted-out"
    # A multipart form is read the same way.
    multipart = form | {"MessageSid": "SMform2", "Body": "START"}
    again = api_client.post(
        "/api/v1/sms/inbound", multipart, headers={"X-Stepwell-Webhook-Secret": SECRET}
    )
    assert _outcome(again)["outcome"] == "opted-in"
    assert set(InboundMessage.objects.values_list("provider_id", flat=True)) == {
        "SMform1",
        "SMform2",
    }


def test_the_webhook_needs_the_secret(sms: Network, api_client: Client, settings: Any) -> None:
    for secret in ("wrong", "", None, SECRET + "x", "sécret"):
        response = _sms(api_client, "STOP", secret=secret)
        assert response.status_code == 401, secret
        assert "STOP" not in response.content.decode()
    # A user's token is no substitute.
    token = _h(api_client, sms, "coordinator")
    response = api_client.post(
        "/api/v1/sms/inbound",
        {"message_id": "SMtok", "from": A1_PHONE, "body": "STOP"},
        content_type="application/json",
        headers=token,
    )
    assert response.status_code == 401
    assert not InboundMessage.objects.exists()
    assert Patient.objects.get(pk=sms.patients["a1"].pk).consent_sms is True
    settings.STEPWELL_SMS_WEBHOOK_SECRET = ""
    off = _sms(api_client, "STOP")
    assert off.status_code == 503
    assert off.json()["detail"] == "inbound SMS is not configured"


def test_a_request_the_gateway_should_not_send_names_the_field(
    sms: Network, api_client: Client
) -> None:
    marker = "PRIVATE-marker-text"
    headers = {"X-Stepwell-Webhook-Secret": SECRET}

    def post(payload: Any) -> Any:
        return api_client.post(
            "/api/v1/sms/inbound", payload, content_type="application/json", headers=headers
        )

    no_id = post({"from": A1_PHONE, "body": marker})
    assert _fields(no_id) == {"message_id"}
    assert marker not in no_id.content.decode()
    assert _fields(post({"message_id": "SM1", "from": "call me maybe", "body": marker})) == {"from"}
    assert _fields(post({"message_id": "SM1", "body": marker})) == {"from"}
    assert _fields(post({"message_id": "SM1", "from": A1_PHONE, "body": [marker]})) == {"body"}
    assert _fields(post({"message_id": "x" * 101, "from": A1_PHONE, "body": "STOP"})) == {
        "message_id"
    }
    assert _fields(post(["not", "an", "object"])) == {"json"}
    assert _fields(
        api_client.post(
            "/api/v1/sms/inbound", "{nope", content_type="application/json", headers=headers
        )
    ) == {"json"}
    # Numeric ids and numbers (some gateways send them so) are read as text.
    assert (
        _outcome(post({"message_id": 12345, "from": 15550111, "body": "STOP"}))["outcome"]
        == "opted-out"
    )
    assert not InboundMessage.objects.exclude(provider_id="12345").exists()


def test_the_text_is_kept_nowhere_and_logged_nowhere(
    sms: Network, api_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    _prompt(sms.patients["a1"])
    secret_words = "I feel hopeless zebra-7731"
    with caplog.at_level(logging.DEBUG):
        responses = [
            _sms(api_client, secret_words),
            _sms(api_client, "PHQ2 1 2"),
            _sms(api_client, "STOP zebra-7731"),
            _sms(api_client, secret_words, number=UNKNOWN_PHONE),
        ]
    assert [_outcome(r)["outcome"] for r in responses] == [
        "not-understood",
        "recorded",
        "not-understood",
        "unknown-number",
    ]
    assert all("zebra" not in r.content.decode() for r in responses)
    assert "zebra" not in caplog.text
    assert "hopeless" not in caplog.text
    # Every stored field of every inbound message, audit event and queued reply.
    field_names = [f.attname for f in InboundMessage._meta.concrete_fields]
    assert set(field_names) == {
        "id",
        "provider_id",
        "received_at",
        "outcome",
        "detail",
        "assessment_id",
        "reply_id",
    }
    for row in InboundMessage.objects.values_list(*field_names):
        assert all("zebra" not in str(v) and "hopeless" not in str(v) for v in row)
    for event in AuditEvent.objects.all():
        assert "zebra" not in f"{event.details} {event.reason}"
    assert not Notification.objects.filter(body__contains="zebra").exists()
