"""The reminder pipeline (issue 8, acceptance 1): language, quiet hours on an injected clock,
opt-out, stale reminders dropped, gateway failures retried and shown to coordinators, and no
duplicate send after a worker restart — through the real services, worker pass, job
library (django-tasks-db) and outbox, on the real database."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from django.conf import settings as django_settings
from django_tasks_db.models import DBTaskResult

from stepwell.apps.coordination.models import Appointment, Reminder, ReminderStatus
from stepwell.apps.coordination.reminders import check_ins_plan, reminders_send_due
from stepwell.apps.coordination.selectors import reminders_failed
from stepwell.apps.coordination.services import appointment_attendance, appointment_book
from stepwell.apps.jobs.models import JobSlot
from stepwell.apps.jobs.schedule import jobs_enqueue_due, jobs_run_ready
from stepwell.apps.outbox.models import DeliveryStatus, Notification
from stepwell.apps.patients.models import Patient
from stepwell.apps.safety.worker import worker_tick
from tests.conftest import Network, RecordingGateway

CHICAGO = ZoneInfo("America/Chicago")  # the region's zone in content/coordination/access.yaml


def _templates() -> dict[str, Any]:
    path = Path(django_settings.CONTENT_DIR) / "coordination" / "messages.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data.get("templates", data)


def _fixed_prefix(text: str) -> str:
    """The template's words before its first placeholder."""
    return text.split("{", 1)[0].strip()


@pytest.fixture
def gateway(settings: Any) -> type[RecordingGateway]:
    settings.STEPWELL_SMS_GATEWAY = "tests.conftest.RecordingGateway"
    settings.STEPWELL_EMAIL_GATEWAY = "tests.conftest.RecordingGateway"
    RecordingGateway.sent = []
    RecordingGateway.failing = False
    return RecordingGateway


def _sms_patient(network: Network, name: str, language: str, phone: str) -> Patient:
    patient = network.patients[name]
    Patient.objects.filter(pk=patient.pk).update(
        preferred_channel="sms", consent_sms=True, preferred_language=language, phone=phone
    )
    patient.refresh_from_db()
    return patient


def _local(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=CHICAGO)


def _book(network: Network, patient: Patient, starts_at: datetime, now: datetime) -> Appointment:
    return appointment_book(
        actor=network.users["coordinator"],
        patient_id=patient.pk,
        modality="phone",
        starts_at=starts_at,
        now=now,
    )


def test_reminders_go_in_the_patients_language(network: Network, gateway: Any) -> None:
    es = _sms_patient(network, "a1", "es", "+15550100001")
    en = _sms_patient(network, "a2", "en", "+15550100002")
    booked = _local(2026, 12, 1, 9)
    starts = _local(2026, 12, 4, 14)
    for p in (es, en):
        _book(network, p, starts, booked)
    worker_tick(now=starts - timedelta(hours=47, minutes=59))
    bodies = {m.address: m.body for m in gateway.sent}
    template = _templates()["appointment-reminder"]["sms"]
    assert bodies["+15550100001"].startswith(_fixed_prefix(template["es"]))
    assert bodies["+15550100002"].startswith(_fixed_prefix(template["en"]))
    assert "Testwell" not in bodies["+15550100001"]  # no patient names in a text message


def test_reminder_in_quiet_hours_waits_for_morning_and_one_after_the_start_is_not_planned(
    network: Network, gateway: Any
) -> None:
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    booked = _local(2026, 12, 1, 9)
    # 07:30: the 2-hour reminder (05:30) falls in the quiet hours (21:00-08:00); their end,
    # 08:00, is after the start, so that reminder is never planned.
    appointment = _book(network, patient, _local(2026, 12, 5, 7, 30), booked)
    planned = list(Reminder.objects.filter(appointment=appointment))
    assert [r.key.rsplit(":", 1)[1] for r in planned] == ["48h"]
    # 48 h before is 07:30 on the 3rd, also in quiet hours: moved to 08:00 local.
    assert planned[0].send_at.astimezone(CHICAGO) == _local(2026, 12, 3, 8, 0)
    assert worker_tick(now=_local(2026, 12, 3, 7, 59)).sent == 0
    assert worker_tick(now=_local(2026, 12, 3, 8, 0)).sent == 1


def test_quiet_hours_hold_even_when_the_worker_comes_back_at_night(
    network: Network, gateway: Any
) -> None:
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    appointment = _book(network, patient, _local(2026, 12, 10, 15), _local(2026, 12, 1, 9))
    # The worker was down from before the 48-h reminder (15:00 on the 8th) until 23:00.
    report = reminders_send_due(now=_local(2026, 12, 8, 23))
    assert report.postponed == 1
    assert report.queued == 0
    reminder = Reminder.objects.get(appointment=appointment, key__endswith=":48h")
    assert reminder.send_at.astimezone(CHICAGO) == _local(2026, 12, 9, 8, 0)
    assert not gateway.sent
    worker_tick(now=_local(2026, 12, 9, 8, 1))
    assert len(gateway.sent) == 1


def test_quiet_hours_follow_the_clock_change(network: Network, gateway: Any) -> None:
    """On the night clocks go back (1 November 2026 in Chicago), 08:00 local is 14:00 UTC,
    not 13:00 as the night before."""
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    appointment = _book(network, patient, _local(2026, 11, 3, 7, 0), _local(2026, 10, 25, 9))
    reminder = Reminder.objects.get(appointment=appointment)
    assert reminder.send_at == datetime(2026, 11, 1, 14, 0, tzinfo=ZoneInfo("UTC"))


def test_opted_out_patient_gets_nothing(network: Network, gateway: Any) -> None:
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    appointment = _book(network, patient, _local(2026, 12, 4, 14), _local(2026, 12, 1, 9))
    Patient.objects.filter(pk=patient.pk).update(consent_sms=False)
    worker_tick(now=_local(2026, 12, 4, 13))
    assert not gateway.sent
    statuses = set(
        Reminder.objects.filter(appointment=appointment).values_list("status", flat=True)
    )
    assert statuses == {ReminderStatus.OPTED_OUT}
    assert not Notification.objects.filter(ref_type="reminder").exists()


def test_patient_without_consent_or_channel_gets_no_reminders_planned(network: Network) -> None:
    patient = network.patients["a2"]
    Patient.objects.filter(pk=patient.pk).update(preferred_channel="phone", consent_sms=True)
    appointment = _book(network, patient, _local(2026, 12, 4, 14), _local(2026, 12, 1, 9))
    assert not Reminder.objects.filter(appointment=appointment).exists()


def test_stale_reminders_are_never_sent(network: Network, gateway: Any) -> None:
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    starts = _local(2026, 12, 4, 14)
    appointment = _book(network, patient, starts, _local(2026, 12, 1, 9))
    # The worker was down until after the appointment began.
    worker_tick(now=starts + timedelta(minutes=5))
    assert not gateway.sent
    statuses = list(
        Reminder.objects.filter(appointment=appointment).values_list("status", flat=True)
    )
    assert statuses == [ReminderStatus.STALE, ReminderStatus.STALE]


def test_a_cancelled_appointment_drops_its_reminders(network: Network, gateway: Any) -> None:
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    appointment = _book(network, patient, _local(2026, 12, 4, 14), _local(2026, 12, 1, 9))
    appointment_attendance(
        actor=network.users["coordinator"],
        appointment_id=appointment.pk,
        attendance="cancelled-patient",
        cancellation_reason="transport",
        now=_local(2026, 12, 1, 10),
    )
    worker_tick(now=_local(2026, 12, 4, 13))
    assert not gateway.sent
    assert set(
        Reminder.objects.filter(appointment=appointment).values_list("status", flat=True)
    ) == {ReminderStatus.CANCELLED}


def test_gateway_failure_is_retried_and_shown_to_the_coordinator(
    network: Network, gateway: Any
) -> None:
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    appointment = _book(network, patient, _local(2026, 12, 4, 14), _local(2026, 12, 1, 9))
    due = _local(2026, 12, 2, 14)
    gateway.failing = True
    report = worker_tick(now=due)
    assert report.failed == 1
    assert report.sent == 0
    note = Notification.objects.get(ref_type="reminder")
    assert note.status == DeliveryStatus.PENDING
    assert note.attempts == 1
    assert "ConnectionError" in note.last_error
    failures = reminders_failed(user=network.users["coordinator"], now=due)
    assert [(f.patient_id, f.channel) for f in failures] == [(patient.pk, "sms")]
    assert "gateway timed out" in failures[0].error
    # Not shown to a coordinator of another site.
    assert reminders_failed(user=network.users["coordinator_b"], now=due) == []
    gateway.failing = False
    assert note.next_attempt_at > due  # retried later, with the outbox's back-off
    assert worker_tick(now=note.next_attempt_at - timedelta(seconds=1)).sent == 0
    assert worker_tick(now=note.next_attempt_at).sent == 1
    assert reminders_failed(user=network.users["coordinator"], now=due) == []
    assert Reminder.objects.filter(appointment=appointment, status="queued").count() == 1


def test_no_duplicate_send_after_worker_restart(
    network: Network, settings: Any, tmp_path: Path
) -> None:
    """Each step of a pass can be cut short by a crash; whatever the point, the patient
    gets each reminder once."""
    settings.STEPWELL_SMS_GATEWAY = "stepwell.apps.outbox.gateways.FileGateway"
    settings.STEPWELL_OUTBOX_DIR = tmp_path
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    _book(network, patient, _local(2026, 12, 4, 14), _local(2026, 12, 1, 9))
    now = _local(2026, 12, 2, 14, 0)
    # Two workers start in the same minute: the job is queued once.
    assert jobs_enqueue_due(now=now) == ["reminders-send", "check-ins-prompt", "referrals-overdue"]
    assert jobs_enqueue_due(now=now + timedelta(seconds=20)) == []
    assert JobSlot.objects.filter(job="reminders-send").count() == 1
    # The worker dies while running it: the task stays "running" ...
    task = DBTaskResult.objects.get(task_path__endswith="reminders_send")
    DBTaskResult.objects.filter(pk=task.pk).update(status="RUNNING")
    # ... and after a restart the next minute's run hands the reminder over once.
    worker_tick(now=now + timedelta(minutes=1))
    # A crash between the gateway's send and "marked sent": the claim expires, it is sent
    # again with the same key, and the file gateway delivers it once.
    note = Notification.objects.get(ref_type="reminder")
    assert note.status == DeliveryStatus.SENT
    Notification.objects.filter(pk=note.pk).update(status="claimed", claimed_at=now)
    worker_tick(now=now + timedelta(hours=1))
    worker_tick(now=now + timedelta(hours=2))
    lines = (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert Reminder.objects.filter(patient=patient, status="queued").count() == 1
    # Running the same job again for the same moment hands nothing over twice.
    assert reminders_send_due(now=now + timedelta(minutes=1)).queued == 0


def test_jobs_run_through_the_job_library(network: Network, gateway: Any) -> None:
    now = _local(2026, 12, 2, 14)
    jobs_enqueue_due(now=now)
    assert DBTaskResult.objects.filter(status="READY").count() == 3
    assert jobs_run_ready() == 3
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_check_in_prompts_follow_the_step_cadence(network: Network, gateway: Any) -> None:
    patient = _sms_patient(network, "a1", "en", "+15550100001")
    _sms_patient(network, "a2", "en", "+15550100002")
    opened = patient.episodes.get().created_at
    # Step 2's cadence has not passed the day after the episode opened; 60 days later it has.
    assert check_ins_plan(now=opened + timedelta(days=1)) == 0
    now = opened + timedelta(days=60)
    assert check_ins_plan(now=now) == 2  # no contact since the episode opened
    assert check_ins_plan(now=now + timedelta(hours=1)) == 0  # planned already
    prompt = Reminder.objects.get(patient=patient, kind="check-in")
    local = prompt.send_at.astimezone(CHICAGO)
    assert (local.hour, local.minute) == (10, 0)  # the region's check-in hour
    worker_tick(now=prompt.send_at)
    sent = [m for m in gateway.sent if m.address == "+15550100001"]
    assert len(sent) == 1
    assert f"/patients/{patient.pk}/assessments/new/PHQ-2/" in sent[0].body
