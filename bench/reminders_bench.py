"""Benchmark the reminder queue: messages planned, handed to the outbox and sent to the file
gateway for N patients.

Per database (SQLite and PostgreSQL, each fresh and migrated), in a child process:

1. Setup (not timed): a synthetic region of N patients (``stepwell seed``'s generator, the
   bulk path), every episode open, every patient reachable by SMS or e-mail with consent,
   and one appointment each in three days' time (bulk inserted).
2. ``plan_appointments``: ``reminders_plan_appointments`` for all of them (48 h and 2 h
   before, out of quiet hours) — what booking does one at a time.
3. ``plan_check_ins``: ``check_ins_plan`` (the hourly job) over every open episode.
4. ``hand_over``: ``reminders_send_due`` at the moment the check-ins and the 48-h
   reminders are due — rendered in each patient's language and queued in the outbox.
5. ``send``: ``outbox_deliver`` in batches until the queue is empty, into the file gateway
   (one JSON line per message, deduplicated by key) in a temporary directory.

Messages per second for each stage, and end to end. No target is set by the issue; the
result is recorded for comparison between runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    BenchError,
    add_common_arguments,
    child_result,
    database_version,
    machine,
    on_both,
    write_report,
)

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "reminders.json"
RESULT_MARKER = "REMINDERS_BENCH_RESULT "
SEED = 1
TODAY = date(2026, 11, 23)
# 09:00 in the region (America/Chicago, UTC-6 in November): inside the day, out of quiet hours.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _setup(patients: int) -> dict[str, Any]:
    from django.db import connection

    from stepwell.apps.accounts.models import User
    from stepwell.apps.coordination.models import Appointment
    from stepwell.apps.core.bulk import bulk_insert
    from stepwell.apps.patients.models import Patient
    from stepwell.apps.region.services import region_store
    from stepwell.domain.synthetic.region import generate_region

    region = generate_region(patients=patients, seed=SEED, today=TODAY)
    for e in region.episodes:  # every episode open and in care
        e.status, e.discharge_reason, e.discharge_date = "active", "", None
        if e.first_contact_date is None:
            e.first_contact_date = e.referral_date
    started = time.perf_counter()
    result = region_store(region=region, now=NOW - timedelta(days=60))
    # Everyone reachable: two in three by SMS, the rest by e-mail, each with a number.
    table = Patient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET consent_sms = %s, consent_email = %s, "
            "preferred_channel = CASE WHEN id %% 3 = 0 THEN 'email' ELSE 'sms' END, "
            "phone = '+1555' || CAST(1000000 + id AS TEXT), "
            "email = 'patient' || CAST(id AS TEXT) || '@example.org'",
            [True, True],
        )
    rows = Patient.objects.values_list("id", "site_id")
    episode_of = dict(
        Patient.objects.filter(episodes__status="active").values_list("id", "episodes__id")
    )
    booker = User.objects.filter(role="coordinator").values_list("id", flat=True).first()
    if booker is None:
        raise BenchError("the synthetic region has no coordinator")
    starts = NOW + timedelta(days=3, hours=5)  # 14:00 local, three days on
    bulk_insert(
        Appointment,
        (
            "patient_id",
            "episode_id",
            "modality",
            "site_id",
            "address",
            "starts_at",
            "minutes",
            "travel_minutes",
            "suggested",
            "booked_by_id",
            "booked_at",
            "attendance",
            "cancellation_reason",
        ),
        (
            (
                pid,
                episode_of.get(pid),
                "in-person",
                site,
                "",
                starts,
                45,
                None,
                "[]",
                booker,
                NOW,
                "",
                "",
            )
            for pid, site in rows
        ),
    )
    return {
        "patients": result.patients,
        "open_episodes": result.episodes,
        "appointments": Appointment.objects.count(),
        "setup_store_seconds": round(time.perf_counter() - started, 1),
    }


def _rate(count: int, seconds: float) -> dict[str, Any]:
    return {
        "messages": count,
        "seconds": round(seconds, 2),
        "messages_per_second": round(count / seconds) if seconds else None,
    }


def child_main(patients: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stepwell.config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from stepwell.apps.coordination.models import Appointment
    from stepwell.apps.coordination.reminders import (
        check_ins_plan,
        reminders_plan_appointments,
        reminders_send_due,
    )
    from stepwell.apps.outbox.models import Notification
    from stepwell.apps.outbox.services import outbox_deliver

    outbox = Path(tempfile.mkdtemp(prefix="stepwell-reminders-bench-"))
    settings.STEPWELL_OUTBOX_DIR = outbox
    settings.STEPWELL_SMS_GATEWAY = "stepwell.apps.outbox.gateways.FileGateway"
    settings.STEPWELL_EMAIL_GATEWAY = "stepwell.apps.outbox.gateways.FileGateway"
    call_command("migrate", verbosity=0, interactive=False)
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "database_version": database_version(connection),
        **_setup(patients),
    }

    started = time.perf_counter()
    planned = 0
    chunk = 5000
    ids = list(Appointment.objects.order_by("id").values_list("id", flat=True))
    for i in range(0, len(ids), chunk):
        batch = list(
            Appointment.objects.filter(id__in=ids[i : i + chunk]).select_related(
                "patient", "patient__site", "site"
            )
        )
        planned += reminders_plan_appointments(batch, now=NOW)
    result["plan_appointments"] = _rate(planned, time.perf_counter() - started)

    started = time.perf_counter()
    check_ins = check_ins_plan(now=NOW)
    result["plan_check_ins"] = _rate(check_ins, time.perf_counter() - started)

    # The check-ins (10:00 local tomorrow at the latest) and the 48-h reminders are due.
    due = NOW + timedelta(days=1, hours=6)
    started = time.perf_counter()
    report = reminders_send_due(now=due)
    result["hand_over"] = {
        **_rate(report.queued, time.perf_counter() - started),
        "skipped": report.as_dict(),
    }

    started = time.perf_counter()
    sent = failed = 0
    while True:
        delivered = outbox_deliver(now=due, retry_delay=lambda n: None, limit=1000)
        if not delivered.sent and not delivered.failed:
            break
        sent, failed = sent + delivered.sent, failed + delivered.failed
    send_seconds = time.perf_counter() - started
    result["send"] = {**_rate(sent, send_seconds), "failed": failed}
    lines = sum(sum(1 for _ in path.open(encoding="utf-8")) for path in outbox.glob("*.jsonl"))
    if lines != sent or Notification.objects.filter(status="sent").count() != sent:
        raise BenchError(f"{sent} sent but {lines} lines in the file gateway")
    total = sum(
        result[k]["seconds"] for k in ("plan_appointments", "plan_check_ins", "hand_over", "send")
    )
    result["end_to_end"] = _rate(sent, total)
    return result


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "benchmark": "reminders",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "patients": args.patients,
        "seed": SEED,
        "now": NOW.isoformat(),
        "results": results,
    }


def summary(data: dict[str, Any]) -> str:
    lines = [f"Reminder queue benchmark: {data['patients']:,} patients"]
    for name, r in data["results"].items():
        if "skipped" in r:
            lines.append(f"{name}: skipped: {r['skipped']}")
            continue
        parts = [
            f"{stage} {r[stage]['messages']:,} in {r[stage]['seconds']} s "
            f"({r[stage]['messages_per_second']:,}/s)"
            for stage in ("plan_appointments", "plan_check_ins", "hand_over", "send", "end_to_end")
        ]
        lines.append(f"{name}: " + "; ".join(parts))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=100_000, help="patients in the region")
    add_common_arguments(parser, DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.patients < 1:
        parser.error(f"--patients: {args.patients} is not a positive number")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_result(RESULT_MARKER, child_main(args.patients))
    script = Path(__file__).resolve()
    try:
        results = on_both(
            script,
            ["--patients", str(args.patients)],
            RESULT_MARKER,
            args.postgres,
            "reminders_bench",
        )
    except BenchError as exc:
        print(f"reminders_bench: {exc}", file=sys.stderr)
        return 1
    data = report(args, results)
    return write_report(data, args.output, summary(data))


if __name__ == "__main__":
    sys.exit(main())
