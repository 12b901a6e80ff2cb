"""Safety signals → events → escalation tasks → notifications, through every capture path,
with the outbox's fault behaviour and escalation on an injected clock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from stepwell.apps.audit.models import AuditEvent
from stepwell.apps.measurement.models import Assessment
from stepwell.apps.measurement.services import assessment_record
from stepwell.apps.outbox.gateways import FileGateway, OutgoingMessage
from stepwell.apps.outbox.models import Notification
from stepwell.apps.outbox.services import claim_lease, outbox_claim
from stepwell.apps.safety import selectors
from stepwell.apps.safety.models import EscalationTask, SafetyEvent
from stepwell.apps.safety.services import concern_raise, crisis_text_screen
from stepwell.apps.safety.worker import worker_tick
from stepwell.apps.stepping.selectors import caseload
from tests.conftest import Cover, Network, RecordingGateway, record_phq9, token_for

PHQ9_ITEM9_3 = [0, 0, 0, 0, 0, 0, 0, 0, 3]


def _record_item9(network: Network, who: str = "clinician", value: int = 3) -> Assessment:
    now = timezone.now()
    return assessment_record(
        actor=network.users[who],
        patient_id=network.patients["a1"].pk,
        instrument_code="PHQ-9",
        answers=[0] * 8 + [value],
        taken_at=now,
        mode="clinician" if who != "patient" else "portal",
        now=now,
    )


def _one_task(network: Network) -> EscalationTask:
    events = SafetyEvent.objects.filter(patient=network.patients["a1"])
    assert events.count() == 1
    return EscalationTask.objects.get(event=events.get())


def test_item9_via_api_makes_one_event_and_one_owned_task_with_a_deadline(
    network: Network, cover: Cover, api_client: Client
) -> None:
    token = token_for(api_client, network.users["chw"])
    before = timezone.now()
    response = api_client.post(
        f"/api/v1/patients/{network.patients['a1'].pk}/assessments",
        {
            "instrument": "PHQ-9",
            "answers": PHQ9_ITEM9_3,
            "taken_at": before.isoformat(),
            "mode": "chw",
        },
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.content
    task = _one_task(network)
    assert task.event.source == "item-9"
    assert task.event.details["value"] == 3
    assert task.event.assessment_id == response.json()["id"]
    assert task.severity == "high"
    assert task.owner == cover.on_call
    assert task.owner_chain == [cover.on_call.pk, cover.fallback.pk]
    # Item 9 = 3 → one hour (protocol file), counted from when it was recorded.
    assert timedelta(minutes=59) < task.due_at - before < timedelta(minutes=61)
    queued = Notification.objects.filter(ref_type="safety-task", ref_id=task.pk)
    assert {(n.channel, n.address) for n in queued} == {
        ("sms", "+15550001"),
        ("email", "clin-a@example.org"),
    }
    # No patient data in what leaves the building: task number and link only.
    for n in queued:
        assert "Ana" not in n.body
        assert "Testwell" not in n.body
        assert f"/safety/tasks/{task.pk}/" in n.body
    assert AuditEvent.objects.filter(
        action="safety.event_raised", patient_id=task.patient_id
    ).exists()


def test_item9_via_the_questionnaire_page(network: Network, cover: Cover) -> None:
    client = Client()
    client.force_login(network.users["patient"])
    when = timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")
    data = {f"item_{i}": str(v) for i, v in enumerate([0] * 8 + [1], start=1)}
    response = client.post(
        f"/patients/{network.patients['a1'].pk}/assessments/new/PHQ-9/", data | {"taken_at": when}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    task = _one_task(network)
    assert task.severity == "routine"  # item 9 = 1: same working day
    assert task.due_at.astimezone(timezone.get_current_timezone()).time().hour == 17


def test_item9_via_the_csv_import(network: Network, cover: Cover, tmp_path: Path) -> None:
    from io import StringIO

    from django.core.management import call_command

    when = timezone.now().isoformat()
    rows = [
        "record_number,instrument,taken_at,mode,answers",
        f"{network.patients['a1'].record_number},PHQ-9,{when},clinician,0;0;0;0;0;0;0;0;2",
        f"{network.patients['a2'].record_number},PHQ-9,{when},clinician,1;1;1;1;1;1;1;1;0",
    ]
    path = tmp_path / "forms.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = StringIO()
    call_command("assessments", "import", str(path), "--as", "clin-a", stdout=out)
    assert "Imported 2 assessments" in out.getvalue()
    task = _one_task(network)
    assert (task.severity, task.owner) == ("moderate", cover.on_call)
    assert task.event.raised_by == network.users["clinician"]
    assert SafetyEvent.objects.count() == 1  # a2's item 9 = 0 raises nothing


def test_an_answer_of_zero_raises_nothing_and_a_retried_cause_raises_once(
    network: Network, cover: Cover
) -> None:
    _record_item9(network, value=0)
    assert not SafetyEvent.objects.exists()
    assessment = _record_item9(network, value=2)
    # The same cause reaching the service twice (a retry, a re-sync) is one event.
    from stepwell.apps.measurement.registry import instrument
    from stepwell.apps.safety.services import signals_from_assessment

    signals_from_assessment(assessment, instrument("PHQ-9"), actor=None, now=timezone.now())
    assert SafetyEvent.objects.count() == 1
    assert EscalationTask.objects.count() == 1


def test_event_is_in_the_same_transaction_as_the_assessment(
    network: Network, cover: Cover, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the task cannot be written, the assessment is not stored either: no item-9 answer
    ever sits in the database without its safety event."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("stepwell.apps.safety.services.owner_chain", broken)
    with pytest.raises(RuntimeError):
        _record_item9(network)
    assert not Assessment.objects.exists()
    assert not SafetyEvent.objects.exists()


def test_severe_worsening_raises_its_own_event(network: Network, cover: Cover) -> None:
    for days, answers in ((14, [1, 1, 1, 0, 0, 0, 0, 0, 0]), (0, [2, 2, 2, 2, 2, 1, 1, 1, 0])):
        record_phq9(network, "a1", answers, days_ago=days)
    event = SafetyEvent.objects.get()
    assert event.source == "severe-worsening"
    assert event.details == {"measure": "PHQ-9", "before": 3, "after": 13, "rise": 10}
    assert event.task.severity == "moderate"


def test_crisis_language_in_free_text_raises_an_event_without_copying_the_text(
    network: Network, cover: Cover
) -> None:
    patient = network.patients["a1"]
    assert (
        crisis_text_screen(
            patient=patient, text="Tired but ok today", key="m:1", now=timezone.now()
        )
        is None
    )
    event = crisis_text_screen(
        patient=patient,
        text="honestly I want to kill myself",
        key="message:7",
        now=timezone.now(),
    )
    assert event is not None
    assert event.source == "crisis-language"
    assert event.severity == "high"
    assert "honestly" not in json.dumps(event.details)
    assert event.note == ""
    negated = crisis_text_screen(
        patient=patient, text="I'm not going to hurt myself", key="message:8", now=timezone.now()
    )
    assert negated is not None
    assert negated.severity == "routine"


def test_nobody_on_call_and_no_fallback_still_makes_a_visible_task(network: Network) -> None:
    concern_raise(
        actor=network.users["peer"],
        patient_id=network.patients["a1"].pk,
        text="Said goodbye to everyone at group today",
        urgency="urgent",
        now=timezone.now(),
    )
    task = EscalationTask.objects.get()
    assert task.owner is None
    assert task.severity == "high"
    assert not Notification.objects.exists()
    seen = selectors.undelivered(user=network.users["admin"], now=timezone.now())
    assert [t.pk for t in seen.unowned_tasks] == [task.pk]
    # Every clinician at the site sees it in their list.
    assert [
        t.pk for t in selectors.safety_tasks(user=network.users["clinician"], now=timezone.now())
    ] == [task.pk]


# --- the outbox and the worker ---------------------------------------------------------


def test_worker_delivers_each_message_once(network: Network, cover: Cover) -> None:
    _record_item9(network)
    now = timezone.now()
    report = worker_tick(now=now)
    assert (report.sent, report.failed) == (2, 0)
    assert sorted(m.channel for m in RecordingGateway.sent) == ["email", "sms"]
    assert worker_tick(now=now + timedelta(minutes=1)).sent == 0
    assert len(RecordingGateway.sent) == 2
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_gateway_errors_leave_the_task_open_and_are_retried_and_shown(
    network: Network, cover: Cover
) -> None:
    _record_item9(network)
    task = EscalationTask.objects.get()
    RecordingGateway.failing = True
    now = timezone.now()
    report = worker_tick(now=now)
    assert report.failed == 2
    rows = Notification.objects.filter(ref_id=task.pk)
    assert {(n.status, n.attempts) for n in rows} == {("pending", 1)}
    assert all("ConnectionError: gateway timed out" in n.last_error for n in rows)
    task.refresh_from_db()
    assert task.status == "open"
    # Failures are visible: on the task page and on the admin's undelivered list.
    client = Client()
    client.force_login(network.users["clinician"])
    page = client.get(f"/safety/tasks/{task.pk}/").content.decode()
    assert "gateway timed out" in page
    assert "retrying" in page
    admin = Client()
    admin.force_login(network.users["admin"])
    listing = admin.get("/safety/undelivered/").content.decode()
    assert listing.count("gateway timed out") == 2
    assert "Testwell" not in listing  # the admin sees no patient names
    # Not retried before the back-off (1 minute) has passed, then delivered once.
    assert worker_tick(now=now + timedelta(seconds=30)).failed == 0
    RecordingGateway.failing = False
    assert worker_tick(now=now + timedelta(minutes=1, seconds=1)).sent == 2
    assert len(RecordingGateway.sent) == 2


def test_a_message_failing_every_attempt_ends_failed_and_an_admin_can_retry(
    network: Network, cover: Cover
) -> None:
    from stepwell.apps.safety.services import task_acknowledge

    _record_item9(network)
    # Acknowledged (by phone, say), so no escalation adds messages while time passes.
    task_acknowledge(
        actor=cover.on_call, task_id=EscalationTask.objects.get().pk, now=timezone.now()
    )
    RecordingGateway.failing = True
    now = timezone.now()
    for _ in range(8):
        now += timedelta(minutes=31)
        worker_tick(now=now)
    assert set(Notification.objects.values_list("status", "attempts")) == {("failed", 8)}
    admin = Client()
    admin.force_login(network.users["admin"])
    n = Notification.objects.filter(channel="sms").get()
    assert admin.post("/safety/undelivered/", {"notification": n.pk}).status_code == 302
    RecordingGateway.failing = False
    n.refresh_from_db()
    assert n.status == "pending"
    assert AuditEvent.objects.filter(action="notification.retried", object_id=str(n.pk)).exists()
    worker_tick(now=timezone.now() + timedelta(seconds=1))
    assert [m.channel for m in RecordingGateway.sent] == ["sms"]


def test_worker_killed_between_claimed_and_sent_delivers_once_after_restart(
    network: Network, cover: Cover
) -> None:
    _record_item9(network)
    now = timezone.now()
    claimed = outbox_claim(now=now)  # the worker claims, then dies before sending
    assert len(claimed) == 2
    assert set(Notification.objects.values_list("status", flat=True)) == {"claimed"}
    # A restarted worker does not take another's fresh claim (it might still be sending)…
    assert worker_tick(now=now + timedelta(seconds=10)).sent == 0
    # …but does once the claim's lease has run out.
    assert worker_tick(now=now + claim_lease() + timedelta(seconds=1)).sent == 2
    assert worker_tick(now=now + 2 * claim_lease() + timedelta(seconds=2)).sent == 0
    assert len(RecordingGateway.sent) == 2


def test_file_gateway_delivers_a_key_once_even_when_handed_it_twice(tmp_path: Path) -> None:
    """A crash after the gateway took a message but before it was marked sent makes the
    worker hand it over again; the key makes the second hand-over a no-op."""
    gateway = FileGateway(tmp_path)
    message = OutgoingMessage("safety-event:1:user:2:sms", "sms", "+1555", "", "Task 1")
    gateway.send(message)
    gateway.send(message)
    gateway.send(OutgoingMessage("safety-event:1:user:3:sms", "sms", "+1556", "", "Task 1"))
    lines = (tmp_path / "sms.jsonl").read_text().splitlines()
    assert [json.loads(line)["address"] for line in lines] == ["+1555", "+1556"]


def test_staff_without_a_phone_get_a_failed_sms_row_not_silence(
    network: Network, cover: Cover
) -> None:
    cover.on_call.phone = ""
    cover.on_call.save()
    _record_item9(network)
    sms = Notification.objects.get(channel="sms")
    assert (sms.status, sms.last_error) == ("failed", "no phone number on file")
    assert (
        sms in selectors.undelivered(user=network.users["admin"], now=timezone.now()).notifications
    )


@pytest.mark.django_db(transaction=True)
def test_database_restart_loses_nothing(
    network: Network, cover: Cover, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database connection dies under the worker (PostgreSQL: the server ends the
    session, as on a restart). The pass fails, the worker reconnects, nothing is lost.
    SQLite's test database lives in memory and would vanish with its connection, so there
    the failure is the driver's error raised once."""
    from django.db import OperationalError

    from stepwell.apps.safety.management.commands import worker

    _record_item9(network)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        import psycopg

        settings_dict = connection.settings_dict
        with psycopg.connect(
            host=settings_dict["HOST"] or "127.0.0.1",
            port=settings_dict["PORT"] or 5432,
            user=settings_dict["USER"],
            dbname=settings_dict["NAME"],
            autocommit=True,
        ) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
    else:
        real = worker.worker_tick
        calls = iter([OperationalError("disk I/O error")])

        def flaky(**kwargs: Any) -> Any:
            failure = next(calls, None)
            if failure is not None:
                raise failure
            return real(**kwargs)

        monkeypatch.setattr(worker, "worker_tick", flaky)
    assert worker.Command()._pass() is None  # the pass failed and the connection was dropped
    report = worker.Command()._pass()
    assert report is not None
    assert report.sent == 2
    assert EscalationTask.objects.count() == 1
    assert len(RecordingGateway.sent) == 2


# --- escalation on an injected clock ---------------------------------------------------


def test_overdue_unacknowledged_task_escalates_to_the_fallback_owner(
    network: Network, cover: Cover
) -> None:
    _record_item9(network)  # high: one hour
    task = EscalationTask.objects.get()
    due = task.due_at
    assert worker_tick(now=due - timedelta(minutes=1)).escalated == 0
    report = worker_tick(now=due + timedelta(minutes=1))
    assert report.escalated == 1
    task.refresh_from_db()
    assert (task.owner, task.owner_level) == (cover.fallback, 1)
    assert task.due_at == due + timedelta(minutes=61)  # escalated_within_minutes: 60
    to_fallback = Notification.objects.filter(recipient=cover.fallback)
    assert {n.channel for n in to_fallback} == {"sms", "email"}
    assert all("escalated" in n.subject for n in to_fallback)
    assert AuditEvent.objects.filter(
        action="safety.task_escalated", object_id=str(task.pk)
    ).exists()
    # At the end of the chain: stays with the last owner, listed as stuck for the admin.
    assert worker_tick(now=task.due_at + timedelta(minutes=1)).escalated == 0
    stuck = selectors.undelivered(
        user=network.users["admin"], now=task.due_at + timedelta(minutes=1)
    )
    assert [t.pk for t in stuck.stuck_tasks] == [task.pk]


def test_an_acknowledged_task_does_not_escalate(network: Network, cover: Cover) -> None:
    from stepwell.apps.safety.services import task_acknowledge

    _record_item9(network)
    task = EscalationTask.objects.get()
    task_acknowledge(actor=cover.on_call, task_id=task.pk, now=timezone.now())
    assert worker_tick(now=task.due_at + timedelta(hours=5)).escalated == 0
    task.refresh_from_db()
    assert task.owner == cover.on_call


# --- the registry and the banner -------------------------------------------------------


def test_risk_from_a_concern_survives_a_later_item9_of_zero(network: Network, cover: Cover) -> None:
    concern_raise(
        actor=network.users["peer"],
        patient_id=network.patients["a1"].pk,
        text="Talked about giving her things away",
        urgency="soon",
        now=timezone.now(),
    )
    _record_item9(network, value=0)
    now = timezone.now()
    page = caseload(user=network.users["clinician"], now=now, language="en", flag="safety-risk")
    assert [r.patient_id for r in page.rows] == [network.patients["a1"].pk]
    flag = next(f for f in page.rows[0].flags if f.code == "safety-risk")
    assert "1 unresolved safety task" in flag.reasons[0]
    # Sorted by flags, the patient at risk comes first.
    first = caseload(user=network.users["clinician"], now=now, language="en").rows[0]
    assert first.patient_id == network.patients["a1"].pk
    client = Client()
    client.force_login(network.users["clinician"])
    page_html = client.get(f"/patients/{network.patients['a1'].pk}/").content.decode()
    assert 'data-testid="safety-banner"' in page_html


def test_two_concerns_at_the_same_instant_are_two_tasks(network: Network, cover: Cover) -> None:
    now = timezone.now()
    for text in ("Missed group and not answering", "Her sister called worried"):
        concern_raise(
            actor=network.users["peer"],
            patient_id=network.patients["a1"].pk,
            text=text,
            urgency="soon",
            now=now,
        )
    assert sorted(EscalationTask.objects.values_list("event__note", flat=True)) == [
        "Her sister called worried",
        "Missed group and not answering",
    ]


def test_the_owner_sees_the_count_of_waiting_tasks_on_every_page(
    network: Network, cover: Cover
) -> None:
    client = Client()
    client.force_login(cover.on_call)
    assert 'data-testid="safety-count"' not in client.get("/registry/").content.decode()
    _record_item9(network)
    page = client.get("/registry/").content.decode()
    assert 'data-testid="safety-count" title="waiting for you">1</strong>' in page
    from stepwell.apps.safety.services import task_acknowledge

    task_acknowledge(
        actor=cover.on_call, task_id=EscalationTask.objects.get().pk, now=timezone.now()
    )
    assert 'data-testid="safety-count"' not in client.get("/registry/").content.decode()
