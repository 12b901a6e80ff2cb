"""Benchmark the stepped-care registry: ``stepwell review --all`` over N open episodes, and the
caseload endpoint against a minimal JSON endpoint on the same server.

Per database (SQLite and PostgreSQL, each fresh and migrated), in a child process:

1. Setup (not timed): a synthetic region of N patients, every episode made open (an open
   episode is what a review reads), with assessment histories (``stepwell seed``'s
   generator), stored through the bulk path.
2. ``review_all``: ``episodes_review_all(now=...)`` — what ``stepwell review --all`` runs —
   timed end to end, commit included. Target: at most 10 s for 100,000 open episodes.
3. PostgreSQL only, ``caseload``: a real HTTP server (gunicorn, 1 worker process, sync,
   persistent database connections) is started on this database; one client thread sends
   ``GET /api/v1/caseload?limit=50`` with the token of a clinician whose site holds 50 of
   the region's patients (a 50-patient caseload among N in the database) and, in the same run,
   ``GET /healthz`` (a minimal JSON endpoint with one ``SELECT 1``), each for a fixed time.
   Throughput and p50/p99 latency of each. Targets: caseload at least 20 % of the minimal
   endpoint's throughput, p99 at most 20 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
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
DEFAULT_OUTPUT = BENCH_DIR / "results" / "review.json"
RESULT_MARKER = "REVIEW_BENCH_RESULT "
SEED = 1
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TARGET_REVIEW_SECONDS = 10.0
TARGET_CASELOAD_SHARE = 0.20
TARGET_CASELOAD_P99_MS = 20.0
CASELOAD = 50  # patients in the benchmarked clinician's caseload
PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throw-away benchmark database


def _setup(patients: int) -> dict[str, Any]:
    from stepwell.apps.measurement.registry import instruments
    from stepwell.apps.region.services import region_store
    from stepwell.domain.synthetic.assessments import assessment_histories
    from stepwell.domain.synthetic.region import generate_region

    region = generate_region(patients=patients, seed=SEED, today=TODAY)
    for e in region.episodes:  # every episode open and in care
        e.status, e.discharge_reason, e.discharge_date = "active", "", None
        if e.first_contact_date is None:
            e.first_contact_date = e.referral_date
    histories = assessment_histories(region, instruments(), seed=SEED, today=TODAY)
    started = time.perf_counter()
    result = region_store(region=region, now=NOW, assessments=histories)
    return {
        "patients": result.patients,
        "open_episodes": result.episodes,
        "assessments": result.assessments,
        "setup_store_seconds": round(time.perf_counter() - started, 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _load(port: int, path: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    """One keep-alive client, requests back to back for ``seconds``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise BenchError(f"GET {path}: HTTP {response.status}")
        latencies.append(time.perf_counter() - started)
    conn.close()
    latencies.sort()
    total = sum(latencies)
    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / total, 1),
        "p50_ms": round(statistics.median(latencies) * 1e3, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1e3, 2),
    }


def _clinician_with_caseload(size: int) -> Any:
    """A clinician whose site holds exactly ``size`` of the region's patients (and their
    open episodes), the rest of the region staying in the database around them."""
    from stepwell.apps.accounts.models import SiteMembership, User
    from stepwell.apps.network.models import Site
    from stepwell.apps.patients.models import Episode, Patient

    site = Site.objects.create(
        code="bench-caseload",
        name="Bench caseload clinic",
        kind="primary-care",
        latitude=37.6,
        longitude=-106.0,
        steps_offered=[1, 2, 3, 4],
        services=["primary-care"],
    )
    ids = list(Patient.objects.order_by("id").values_list("id", flat=True)[:size])
    Patient.objects.filter(pk__in=ids).update(site=site)
    Episode.objects.filter(patient_id__in=ids).update(site=site)
    clinician = User.objects.create_user(
        username="bench-caseload", password=PASSWORD, role="clinician"
    )
    SiteMembership.objects.create(user=clinician, site=site)
    return clinician


def _caseload(seconds: float) -> dict[str, Any]:
    """Serve this database with gunicorn and load the caseload and health endpoints."""
    from django.test import Client

    clinician = _clinician_with_caseload(CASELOAD)
    token = Client().post(
        "/api/v1/auth/token",
        {"username": clinician.username, "password": PASSWORD},
        content_type="application/json",
    )
    if token.status_code != 200:
        raise BenchError(f"could not get a token: HTTP {token.status_code}")
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    port = _free_port()
    env = {**os.environ, "DB_CONN_MAX_AGE": "60", "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "stepwell.config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        _load(port, "/healthz", {}, 1.0)  # warm up both paths
        _load(port, "/api/v1/caseload?limit=50", headers, 1.0)
        minimal = _load(port, "/healthz", {}, seconds)
        caseload = _load(port, "/api/v1/caseload?limit=50", headers, seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    share = caseload["requests_per_second"] / minimal["requests_per_second"]
    return {
        "clinician_open_episodes": _visible_open_episodes(clinician),
        "minimal_healthz": minimal,
        "caseload_50": caseload,
        "caseload_share_of_minimal": round(share, 3),
    }


def _visible_open_episodes(user: Any) -> int:
    from stepwell.apps.access.selectors import visible_patients
    from stepwell.apps.patients.models import Episode

    return Episode.objects.filter(patient__in=visible_patients(user, now=NOW)).count()


def child_main(patients: int, seconds: float) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stepwell.config.settings")
    os.environ["DB_CONN_MAX_AGE"] = "60"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from stepwell.apps.stepping.services import episodes_review_all

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0, interactive=False)
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "database_version": database_version(connection),
        **_setup(patients),
    }
    started = time.perf_counter()
    summary = episodes_review_all(now=NOW)
    seconds_taken = time.perf_counter() - started
    result["review_all"] = {
        "episodes": summary.episodes,
        "recommendations": summary.recommendations,
        "flags": summary.flags,
        "seconds": round(seconds_taken, 2),
        "episodes_per_second": round(summary.episodes / seconds_taken),
        "worker_processes": summary.workers,
    }
    if connection.vendor == "postgresql":
        result["caseload"] = _caseload(seconds)
    return result


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    met: dict[str, bool] = {}
    for name, r in results.items():
        if "review_all" in r:
            met[f"{name}_review_all_within_{TARGET_REVIEW_SECONDS:g}_s"] = (
                r["review_all"]["seconds"] <= TARGET_REVIEW_SECONDS
            )
    pg = results.get("postgresql", {}).get("caseload")
    if pg:
        met["caseload_share_at_least_20_percent"] = (
            pg["caseload_share_of_minimal"] >= TARGET_CASELOAD_SHARE
        )
        met["caseload_p99_at_most_20_ms"] = pg["caseload_50"]["p99_ms"] <= TARGET_CASELOAD_P99_MS
    return {
        "benchmark": "review",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "patients": args.patients,
        "seed": SEED,
        "now": NOW.isoformat(),
        "load_seconds_per_endpoint": args.seconds,
        "targets": {
            "review_all_seconds": TARGET_REVIEW_SECONDS,
            "caseload_share_of_minimal": TARGET_CASELOAD_SHARE,
            "caseload_p99_ms": TARGET_CASELOAD_P99_MS,
        },
        "results": results,
        "targets_met": met,
    }


def summary(data: dict[str, Any]) -> str:
    lines = [f"Review benchmark: {data['patients']:,} open episodes"]
    for name, r in data["results"].items():
        if "skipped" in r:
            lines.append(f"{name}: skipped: {r['skipped']}")
            continue
        ra = r["review_all"]
        lines.append(
            f"{name}: review --all {ra['seconds']} s ({ra['episodes_per_second']:,} episodes/s, "
            f"{r['assessments']:,} assessments)"
        )
        if "caseload" in r:
            c = r["caseload"]
            lines.append(
                f"{name}: caseload {c['caseload_50']['requests_per_second']} req/s "
                f"(p99 {c['caseload_50']['p99_ms']} ms) vs healthz "
                f"{c['minimal_healthz']['requests_per_second']} req/s: "
                f"{c['caseload_share_of_minimal']:.0%}"
            )
    for target, ok in data["targets_met"].items():
        lines.append(f"target {target}: {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=100_000, help="open episodes")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per endpoint")
    add_common_arguments(parser, DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.patients < 1:
        parser.error(f"--patients: {args.patients} is not a positive number")
    if args.seconds <= 0:
        parser.error(f"--seconds: {args.seconds} is not positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_result(RESULT_MARKER, child_main(args.patients, args.seconds))
    script = Path(__file__).resolve()
    child_args = ["--patients", str(args.patients), "--seconds", str(args.seconds)]
    try:
        results = on_both(script, child_args, RESULT_MARKER, args.postgres, "review_bench")
    except BenchError as exc:
        print(f"review_bench: {exc}", file=sys.stderr)
        return 1
    data = report(args, results)
    return write_report(data, args.output, summary(data))


if __name__ == "__main__":
    sys.exit(main())
