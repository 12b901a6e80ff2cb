"""Care-journey pages through Django's test client: referrals between sites (acceptance
opens the record to the receiving site), goals rated 0 to 10 with their chart, the episode's
journey timeline (in order, filtered, printable), and 404s outside the patient's scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stepwell.apps.accounts.models import SiteMembership
from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.coordination.models import Goal, GoalRating, Referral
from stepwell.apps.coordination.services import barrier_record, goal_create, referral_send
from stepwell.apps.patients.models import Episode
from tests.conftest import Network, make_site, record_phq9

REASON = "Specialist assessment for persistent pain and low mood"


def _client(network: Network, who: str) -> Client:
    client = Client()
    client.force_login(network.users[who])
    return client


def _pid(network: Network, patient: str = "a1") -> int:
    return network.patients[patient].pk


def _record(network: Network, patient: str = "a1") -> str:
    return f"/patients/{_pid(network, patient)}/"


def _episode_id(network: Network, patient: str = "a1") -> int:
    return Episode.objects.get(patient=network.patients[patient]).pk


def _send(
    network: Network, patient: str = "a1", urgency: str = "routine", days_ago: float = 0
) -> Referral:
    return referral_send(
        actor=network.users["clinician"],
        patient_id=_pid(network, patient),
        to_site_id=network.site_b.pk,
        reason=REASON,
        urgency=urgency,
        now=timezone.now() - timedelta(days=days_ago),
    )


def _act(client: Client, referral: Referral, status: str, **fields: str) -> str:
    """Post one action from the referrals page; the page it lands on, with its messages."""
    response = client.post(f"/referrals/{referral.pk}/", {"status": status, **fields}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [("/referrals/", 302)]
    return response.content.decode()


# --- referrals -----------------------------------------------------------------------------


def test_a_referral_accepted_through_the_pages_opens_the_record_to_the_receiving_site(
    network: Network,
) -> None:
    """Site A refers through the form; site B cannot open the record, sees the referral,
    accepts it (audited ``referral.access_granted``) and can then open the record."""
    clin_a, clin_b = _client(network, "clinician"), _client(network, "clinician_b")
    record = clin_a.get(_record(network)).content.decode()
    assert 'data-testid="refer-link"' in record
    form = clin_a.get(f"{_record(network)}referrals/new/")
    assert form.status_code == 200
    assert 'data-testid="referral-form"' in form.content.decode()
    sent = clin_a.post(
        f"{_record(network)}referrals/new/",
        {"to_site": network.site_b.pk, "urgency": "urgent", "reason": REASON},
    )
    assert sent.status_code == 302
    assert sent["Location"] == f"{_record(network)}#journey"
    referral = Referral.objects.get(patient=network.patients["a1"])
    assert (referral.status, referral.from_site, referral.to_site, referral.urgency) == (
        "sent",
        network.site_a,
        network.site_b,
        "urgent",
    )

    assert clin_b.get(_record(network)).status_code == 404
    page = clin_b.get("/referrals/").content.decode()
    incoming = page.split('data-testid="referrals-incoming"')[1].split("</table>")[0]
    assert f'data-referral="{referral.pk}"' in incoming
    assert network.patients["a1"].record_number in incoming
    assert REASON in incoming
    assert 'data-testid="referral-accepted"' in incoming
    assert f'href="{_record(network)}"' not in incoming  # no link before acceptance
    outgoing = clin_a.get("/referrals/").content.decode()
    assert 'data-testid="referral-cancelled"' in outgoing
    assert 'data-testid="referral-accepted"' not in outgoing  # the sender may only cancel

    landed = _act(clin_b, referral, "accepted")
    assert f"Referral {referral.pk}: Accepted." in landed
    referral.refresh_from_db()
    assert referral.status == "accepted"
    assert referral.accepted_by == network.users["clinician_b"]
    granted = AuditEvent.objects.get(action="referral.access_granted")
    assert granted.object_type == "site"
    assert granted.object_id == str(network.site_b.pk)
    assert granted.patient_id == _pid(network)
    assert granted.actor == network.users["clinician_b"]

    opened = clin_b.get(_record(network))
    assert opened.status_code == 200
    assert f'href="{_record(network)}"' in clin_b.get("/referrals/").content.decode()


def test_scheduling_reads_the_time_in_the_receiving_sites_zone(network: Network) -> None:
    referral = _send(network)
    clin_b = _client(network, "clinician_b")
    _act(clin_b, referral, "accepted")
    page = clin_b.get("/referrals/").content.decode()
    assert 'type="datetime-local" name="scheduled_for"' in page
    assert "America/Chicago" in page
    _act(clin_b, referral, "scheduled", scheduled_for="2027-01-12T09:30")
    referral.refresh_from_db()
    assert referral.status == "scheduled"
    # 09:30 in Chicago in January (CST, UTC-6).
    assert referral.scheduled_for == datetime(2027, 1, 12, 15, 30, tzinfo=UTC)
    # A wall time the clocks skip (2:30 on the day DST starts) is refused by name.
    landed = _act(clin_b, referral, "scheduled", scheduled_for="2027-03-14T02:30")
    assert "scheduled_for: 2027-03-14T02:30 does not exist in America/Chicago" in landed
    assert "scheduled_for: nonsense is not a date and time" in _act(
        clin_b, referral, "scheduled", scheduled_for="nonsense"
    )
    referral.refresh_from_db()
    assert referral.scheduled_for == datetime(2027, 1, 12, 15, 30, tzinfo=UTC)
    _act(clin_b, referral, "seen")
    referral.refresh_from_db()
    assert referral.status == "seen"
    assert referral.seen_at is not None


def test_declining_without_a_note_names_the_note_and_changes_nothing(network: Network) -> None:
    referral = _send(network)
    clin_b = _client(network, "clinician_b")
    landed = _act(clin_b, referral, "declined", note="  ")
    assert "note: say why the referral is declined" in landed
    referral.refresh_from_db()
    assert (referral.status, referral.closed_at, referral.status_note) == ("sent", None, "")
    assert not AuditEvent.objects.filter(action="referral.updated").exists()
    assert clin_b.get(_record(network)).status_code == 404

    _act(clin_b, referral, "declined", note="No capacity this month; try site C")
    referral.refresh_from_db()
    assert referral.status == "declined"
    assert referral.status_note == "No capacity this month; try site C"
    assert clin_b.get(_record(network)).status_code == 404  # declining grants nothing


def test_the_sending_site_may_only_cancel_and_must_say_why(network: Network) -> None:
    referral = _send(network)
    clin_a = _client(network, "clinician")
    assert "status: only the receiving site may do this" in _act(clin_a, referral, "accepted")
    assert "note: say why the referral is cancelled" in _act(clin_a, referral, "cancelled")
    _act(clin_a, referral, "cancelled", note="Patient moved away")
    referral.refresh_from_db()
    assert referral.status == "cancelled"
    assert 'data-testid="no-outgoing"' in clin_a.get("/referrals/").content.decode()
    closed = clin_a.get("/referrals/?closed=1").content.decode()
    assert f'data-referral="{referral.pk}"' in closed
    assert 'data-testid="referral-cancelled"' not in closed  # nothing left to do


def test_an_overdue_referral_is_marked_and_shows_its_wait(network: Network) -> None:
    late = _send(network, "a1", urgency="urgent", days_ago=3)  # 48 hours to accept
    on_time = _send(network, "a2", urgency="routine", days_ago=3)  # 14 days
    page = _client(network, "clinician_b").get("/referrals/").content.decode()
    rows = dict(re.findall(r'data-referral="(\d+)"(.*?)</tr>', page, re.DOTALL))
    assert 'data-overdue="1"' in rows[str(late.pk)]
    assert "OVERDUE" in rows[str(late.pk)]
    assert "3 days" in rows[str(late.pk)]
    assert "OVERDUE" not in rows[str(on_time.pk)]
    # The sending site sees it too.
    assert "OVERDUE" in _client(network, "clinician").get("/referrals/").content.decode()


def test_the_refer_form_shows_problems_by_field_and_sends_nothing(network: Network) -> None:
    clin_a = _client(network, "clinician")
    url = f"{_record(network)}referrals/new/"
    same = clin_a.post(url, {"to_site": network.site_a.pk, "urgency": "routine", "reason": "x"})
    assert same.status_code == 200
    html = same.content.decode()
    assert 'data-testid="error-to_site"' in html
    assert "to_site: a referral goes to another site" in html
    empty = clin_a.post(url, {"to_site": network.site_b.pk, "urgency": "routine", "reason": ""})
    assert 'data-testid="error-reason"' in empty.content.decode()
    assert not Referral.objects.exists()


def test_referrals_page_query_count_is_constant(network: Network) -> None:
    _send(network, "a1")
    client = _client(network, "clinician_b")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/referrals/").status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    for patient in ("a2", "b2", "b3"):
        _send(network, patient)
    assert client.get("/referrals/").content.decode().count('data-testid="referral-row"') == 4
    assert queries() == before


def test_who_may_act_on_referrals(network: Network) -> None:
    _send(network)
    chw = _client(network, "chw").get("/referrals/")
    assert chw.status_code == 200
    assert '<form method="post" action="/referrals/' not in chw.content.decode()
    # Managers see aggregates only, even with a site membership; admins no patients at all.
    SiteMembership.objects.create(user=network.users["manager"], site=network.site_b)
    SiteMembership.objects.create(user=network.users["admin"], site=network.site_b)
    for who in ("peer", "patient", "manager", "admin"):
        assert _client(network, who).get("/referrals/").status_code == 404, who
    nav = _client(network, "clinician").get("/").content.decode()
    assert 'data-testid="nav-referrals"' in nav


# --- goals ---------------------------------------------------------------------------------


def test_goals_are_added_rated_and_charted_on_the_record(network: Network) -> None:
    client = _client(network, "clinician")
    added = client.post(f"{_record(network)}goals/", {"text": "  Walk to the   market  "})
    assert added.status_code == 302
    assert added["Location"] == f"{_record(network)}#goals"
    goal = Goal.objects.get(patient=network.patients["a1"])
    assert goal.text == "Walk to the market"

    rate = f"/goals/{goal.pk}/ratings/"
    assert client.post(rate, {"rating": "7", "patient_id": _pid(network)}).status_code == 302
    bad = client.post(rate, {"rating": "11", "patient_id": _pid(network)}, follow=True)
    assert "rating: 11 is not a whole number from 0 to 10" in bad.content.decode()
    words = client.post(rate, {"rating": "seven", "patient_id": _pid(network)}, follow=True)
    assert "rating: &#x27;seven&#x27; is not a whole number from 0 to 10" in (
        words.content.decode()
    )
    assert list(GoalRating.objects.values_list("rating", flat=True)) == [7]
    GoalRating.objects.create(
        goal=goal,
        rating=3,
        rated_at=timezone.now() - timedelta(days=14),
        recorded_by=network.users["clinician"],
    )

    page = client.get(_record(network)).content.decode()
    section = page.split('data-testid="goals"')[1]
    assert "Walk to the market" in section
    assert 'data-testid="goal-latest" data-rating="7"' in section
    assert f'data-testid="goal-chart" data-goal="{goal.pk}"' in section
    assert re.findall(r'<g class="point" data-rating="(\d+)"', section) == ["3", "7"]
    (points,) = re.findall(r'<polyline class="trend" points="([^"]*)"', section)
    assert len(points.split()) == 2
    assert 'data-testid="goal-rate-form"' in section


def test_the_goal_chart_keeps_svg_numbers_in_spanish(network: Network) -> None:
    goal = goal_create(
        actor=network.users["clinician"],
        patient_id=_pid(network),
        text="Volver a trabajar",
        now=timezone.now(),
    )
    client = _client(network, "clinician")
    client.post(f"/goals/{goal.pk}/ratings/", {"rating": "5"})
    client.cookies["django_language"] = "es"
    page = client.get(_record(network)).content.decode()
    (points,) = re.findall(r'<polyline class="trend" points="([^"]*)"', page)
    assert re.fullmatch(r"\d+(\.\d+)?,\d+(\.\d+)?", points), points


def test_the_patient_sets_their_own_goals_and_a_peer_may_not(network: Network) -> None:
    patient = _client(network, "patient")
    assert patient.post(f"{_record(network)}goals/", {"text": "Sleep through"}).status_code == 302
    page = patient.get(_record(network)).content.decode()
    assert "Sleep through" in page
    assert 'data-testid="journey-link"' not in page  # the journey is the care team's view
    assert 'data-testid="patient-referrals"' not in page
    peer = _client(network, "peer")
    assert 'data-testid="goals"' not in peer.get(_record(network)).content.decode()
    assert peer.post(f"{_record(network)}goals/", {"text": "x"}).status_code == 403
    empty = patient.post(f"{_record(network)}goals/", {"text": "   "}, follow=True)
    assert "text: say what matters" in empty.content.decode()
    assert Goal.objects.count() == 1


# --- the journey timeline ----------------------------------------------------------------


def _history(network: Network) -> None:
    """An assessment five days ago, a referral three days ago, a barrier yesterday."""
    now = timezone.now()
    record_phq9(network, "a1", [2, 2, 1, 1, 1, 1, 1, 1, 0], days_ago=5)
    _send(network, "a1", days_ago=3)
    barrier_record(
        actor=network.users["coordinator"],
        patient_id=_pid(network),
        kind="transport",
        source="coordinator",
        note="",
        now=now - timedelta(days=1),
    )


def _entries(html: str) -> list[tuple[str, datetime]]:
    return [
        (kind, datetime.fromisoformat(at))
        for kind, at in re.findall(r'<li data-kind="([a-z]+)" data-at="([^"]+)"', html)
    ]


def test_the_journey_lists_entries_of_every_kind_in_time_order(network: Network) -> None:
    _history(network)
    client = _client(network, "clinician")
    record = client.get(_record(network)).content.decode()
    url = f"/episodes/{_episode_id(network)}/journey/"
    assert 'data-testid="journey-link"' in record
    assert f'href="{url}"' in record
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    entries = _entries(html)
    kinds = [k for k, _at in entries]
    assert [at for _k, at in entries] == sorted(at for _k, at in entries)
    assert kinds[:2] == ["referral", "contact"]  # the episode's referral and first contact
    assert {"assessment", "step", "barrier"} <= set(kinds)
    # The three recent entries in the order they happened.
    titles = re.findall(r"<strong>([^<]+)</strong>", html.split('data-testid="journey"')[1])
    assert titles.index("PHQ-9: 10 (moderate)") < titles.index("Referred to Site b (Routine)")
    assert titles.index("Referred to Site b (Routine)") < titles.index("Barrier: Transport")
    assert "America/Chicago" in html
    assert "@media print" in html
    assert "form.journey-filter" in html
    assert 'data-testid="print"' in html
    AuditEvent.objects.get(action="journey.viewed", object_id=str(_episode_id(network)))


def test_the_journey_filter_keeps_only_the_chosen_kinds(network: Network) -> None:
    _history(network)
    url = f"/episodes/{_episode_id(network)}/journey/"
    html = _client(network, "clinician").get(f"{url}?kind=assessment&kind=barrier")
    kinds = {k for k, _at in _entries(html.content.decode())}
    assert kinds == {"assessment", "barrier"}
    assert 'value="assessment" checked' in html.content.decode()
    assert 'value="step">' in html.content.decode()  # not chosen: unchecked


def test_an_unknown_kind_is_a_400_naming_it(network: Network) -> None:
    url = f"/episodes/{_episode_id(network)}/journey/?kind=assessment&kind=gossip"
    response = _client(network, "clinician").get(url)
    assert response.status_code == 400
    assert "gossip" in response.content.decode()
    assert not AuditEvent.objects.filter(action="journey.viewed").exists()


def test_a_discharged_episode_keeps_its_last_days_journey(network: Network) -> None:
    """The journey of a discharged episode runs to the end of the discharge day."""
    _history(network)
    yesterday = timezone.localdate(timezone.now(), ZoneInfo("America/Chicago")) - timedelta(1)
    Episode.objects.filter(pk=_episode_id(network)).update(
        status="discharged", discharge_date=yesterday, discharge_reason="recovered"
    )
    client = _client(network, "clinician")
    html = client.get(f"/episodes/{_episode_id(network)}/journey/").content.decode()
    kinds = [k for k, _at in _entries(html)]
    assert "barrier" in kinds  # raised yesterday, the day of discharge
    assert "discharge" in kinds
    # The record links the latest episode's journey when none is open.
    record = client.get(_record(network)).content.decode()
    assert f'href="/episodes/{_episode_id(network)}/journey/"' in record


# --- outside the patient's scope -----------------------------------------------------------


@pytest.mark.parametrize("who", ["clinician_b", "coordinator_b"])
def test_every_page_is_404_outside_the_patients_scope(network: Network, who: str) -> None:
    goal = goal_create(
        actor=network.users["clinician"], patient_id=_pid(network), text="Walk", now=timezone.now()
    )
    site_c = make_site("c", lat=38.2)
    elsewhere = referral_send(
        actor=network.users["clinician"],
        patient_id=_pid(network),
        to_site_id=site_c.pk,
        reason=REASON,
        urgency="routine",
        now=timezone.now(),
    )
    client = _client(network, who)
    record = _record(network)
    assert client.get(record).status_code == 404
    assert client.get(f"{record}referrals/new/").status_code == 404
    refer = {"to_site": site_c.pk, "urgency": "routine", "reason": REASON}
    assert client.post(f"{record}referrals/new/", refer).status_code == 404
    assert client.post(f"{record}goals/", {"text": "x"}).status_code == 404
    assert client.post(f"/goals/{goal.pk}/ratings/", {"rating": "5"}).status_code == 404
    assert client.get(f"/episodes/{_episode_id(network)}/journey/").status_code == 404
    assert client.post(f"/referrals/{elsewhere.pk}/", {"status": "accepted"}).status_code == 404
    assert f'data-referral="{elsewhere.pk}"' not in client.get("/referrals/").content.decode()
    assert Referral.objects.get(pk=elsewhere.pk).status == "sent"
    assert GoalRating.objects.count() == 0
    assert Goal.objects.count() == 1
    assert Referral.objects.count() == 1


def test_the_patient_and_peers_get_no_journey(network: Network) -> None:
    url = f"/episodes/{_episode_id(network)}/journey/"
    for who in ("patient", "peer", "manager"):
        assert _client(network, who).get(url).status_code == 404, who
    assert _client(network, "peer").get(f"{_record(network)}referrals/new/").status_code == 404
