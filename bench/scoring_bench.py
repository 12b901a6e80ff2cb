"""Benchmark scoring: assessments per second through the domain function and the REST API.

What is measured, per database (SQLite and PostgreSQL, each fresh and migrated):

- ``domain``: ``score(instrument, answers)`` over a fixed, seeded mix of answer sets for every
  shipped instrument (made by the synthetic-data generator at random severities, about 3 %
  with a missing item, not-applicable items where allowed). Pure Python, no database; run
  in each child only because each child is its own process. Best of ``--repeats`` passes.
- ``api_score``: ``POST /api/v1/instruments/{code}/score`` with a bearer token, through the
  whole Django stack (middleware, authentication, validation, scoring, JSON) in process via
  Django's test client, one request at a time. Stateless: reads the token, writes nothing.
- ``api_record``: ``POST /api/v1/patients/{id}/assessments``: scores, stores the assessment
  and its audit event in one transaction, one request at a time.

Usage (what ``make bench`` runs)::

    .venv/bin/python bench/scoring_bench.py --postgres postgresql://postgres@127.0.0.1:5432/x

As with the seed benchmark, an unreachable PostgreSQL is recorded as skipped unless
``CI=true``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
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
DEFAULT_OUTPUT = BENCH_DIR / "results" / "scoring.json"
RESULT_MARKER = "SCORING_BENCH_RESULT "
SEED = 1
CONN_MAX_AGE = 60
PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throw-away benchmark database


def _answer_sets(per_instrument: int) -> list[tuple[Any, tuple[Any, ...]]]:
    from stepwell.apps.measurement.registry import instruments
    from stepwell.domain.synthetic.assessments import answers_for

    rng = random.Random(SEED)
    sets = []
    for inst in instruments().values():
        na_items = [i.id for i in inst.items if i.not_applicable and i.scored]
        for _ in range(per_instrument):
            na = [i for i in na_items if rng.random() < 0.2]
            missing = 1 if inst.max_missing and rng.random() < 0.03 else 0
            answers = answers_for(inst, rng.random(), rng, not_applicable=na, missing=missing)
            sets.append((inst, answers))
    rng.shuffle(sets)
    return sets


def _domain(sets: list[tuple[Any, tuple[Any, ...]]], repeats: int) -> dict[str, Any]:
    from stepwell.domain.instruments.scoring import score

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for inst, answers in sets:
            score(inst, answers)
        times.append(time.perf_counter() - started)
    best = min(times)
    return {
        "assessments": len(sets),
        "repeats": repeats,
        "best_seconds": round(best, 4),
        "median_seconds": round(statistics.median(times), 4),
        "assessments_per_second": round(len(sets) / best),
        "microseconds_per_assessment": round(best / len(sets) * 1e6, 2),
    }


def _setup_api() -> tuple[Any, dict[str, str], int]:
    """A site, a clinician with a token, and one patient in an open episode."""
    from datetime import date

    from django.test import Client

    from stepwell.apps.accounts.models import SiteMembership, User
    from stepwell.apps.network.models import Site
    from stepwell.apps.patients.services import (
        EpisodeInput,
        PatientInput,
        episode_create,
        patient_create,
    )

    now = datetime.now(UTC)
    site = Site.objects.create(
        code="bench",
        name="Bench clinic",
        kind="primary-care",
        latitude=37.6,
        longitude=-106.0,
        steps_offered=[1, 2],
        services=["primary-care"],
    )
    user = User.objects.create_user(username="bench-clin", password=PASSWORD, role="clinician")
    SiteMembership.objects.create(user=user, site=site)
    patient = patient_create(
        actor=user,
        data=PatientInput(
            given_name="Bench",
            family_name="Testwell",
            birth_date=date(1980, 1, 1),
            sex="female",
            gender="woman",
            preferred_language="en",
            site_id=site.pk,
            phone="+15550100",
        ),
        now=now,
    )
    episode_create(
        actor=user,
        data=EpisodeInput(
            patient_id=patient.pk,
            site_id=site.pk,
            referral_source="primary-care",
            referral_date=date(2026, 9, 1),
            first_contact_date=date(2026, 9, 2),
            step=2,
            reason="Benchmark.",
        ),
        now=now,
    )
    client = Client()
    response = client.post(
        "/api/v1/auth/token",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    if response.status_code != 200:
        raise BenchError(f"could not get a token: HTTP {response.status_code}")
    return client, {"Authorization": f"Bearer {response.json()['token']}"}, patient.pk


def _api(
    client: Any,
    headers: dict[str, str],
    requests: list[tuple[str, str]],
    expect: int,
) -> dict[str, Any]:
    started = time.perf_counter()
    for url, body in requests:
        response = client.post(url, body, content_type="application/json", headers=headers)
        if response.status_code != expect:
            raise BenchError(f"{url}: HTTP {response.status_code}, expected {expect}")
    seconds = time.perf_counter() - started
    return {
        "requests": len(requests),
        "seconds": round(seconds, 3),
        "assessments_per_second": round(len(requests) / seconds),
        "milliseconds_per_request": round(seconds / len(requests) * 1e3, 3),
    }


def child_main(per_instrument: int, api_requests: int, repeats: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stepwell.config.settings")
    # Persistent connections, as a deployment runs (README: DB_CONN_MAX_AGE); with the
    # default 0 every request would also pay for opening a database connection.
    os.environ["DB_CONN_MAX_AGE"] = str(CONN_MAX_AGE)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    # The fast hasher keeps the one log-in from dominating nothing; tokens are what is timed.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0, interactive=False)
    sets = _answer_sets(per_instrument)
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "database_version": database_version(connection),
        "instruments": sorted({inst.code for inst, _ in sets}),
        "domain": _domain(sets, repeats),
    }
    client, headers, patient_id = _setup_api()
    chosen = sets[:api_requests]
    score_requests = [
        (f"/api/v1/instruments/{inst.code}/score", json.dumps({"answers": list(answers)}))
        for inst, answers in chosen
    ]
    result["api_score"] = _api(client, headers, score_requests, 200)
    taken = datetime.now(UTC).isoformat()
    record_requests = [
        (
            f"/api/v1/patients/{patient_id}/assessments",
            json.dumps(
                {
                    "instrument": inst.code,
                    "answers": list(answers),
                    "taken_at": taken,
                    "mode": "clinician",
                }
            ),
        )
        for inst, answers in chosen
    ]
    result["api_record"] = _api(client, headers, record_requests, 201)
    return result


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "benchmark": "scoring",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seed": SEED,
        "answer_sets_per_instrument": args.per_instrument,
        "api_requests": args.api_requests,
        "db_conn_max_age": CONN_MAX_AGE,
        "results": results,
    }


def summary(data: dict[str, Any]) -> str:
    header = f"{'database':<11}{'domain /s':>12}{'API score /s':>14}{'API record /s':>15}"
    lines = ["Scoring benchmark (assessments per second)", header, "-" * len(header)]
    for name, r in data["results"].items():
        if "skipped" in r:
            lines.append(f"{name:<11}skipped: {r['skipped']}")
            continue
        lines.append(
            f"{name:<11}{r['domain']['assessments_per_second']:>12,}"
            f"{r['api_score']['assessments_per_second']:>14,}"
            f"{r['api_record']['assessments_per_second']:>15,}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-instrument", type=int, default=25_000, help="answer sets each")
    parser.add_argument("--api-requests", type=int, default=2_000, help="requests per endpoint")
    parser.add_argument("--repeats", type=int, default=5, help="domain passes (best is kept)")
    add_common_arguments(parser, DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    for name in ("per_instrument", "api_requests", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: {getattr(args, name)} is not positive")
    if args.api_requests > args.per_instrument:
        parser.error("--api-requests: may not exceed --per-instrument")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_result(
            RESULT_MARKER, child_main(args.per_instrument, args.api_requests, args.repeats)
        )
    script = Path(__file__).resolve()
    child_args = [
        "--per-instrument",
        str(args.per_instrument),
        "--api-requests",
        str(args.api_requests),
        "--repeats",
        str(args.repeats),
    ]
    try:
        results = on_both(script, child_args, RESULT_MARKER, args.postgres, "scoring_bench")
    except BenchError as exc:
        print(f"scoring_bench: {exc}", file=sys.stderr)
        return 1
    data = report(args, results)
    return write_report(data, args.output, summary(data))


if __name__ == "__main__":
    sys.exit(main())
