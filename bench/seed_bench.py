"""Benchmark seeding a synthetic region of N patients on SQLite and on PostgreSQL.

What is measured, per database, on a fresh, migrated, empty database:

- ``generate_seconds``: ``generate_region(patients=N, seed=1, today=2026-11-23)``, the pure
  Python construction of the region in memory. It touches no database, so it costs the same
  on both; it is timed on each only because each database runs in its own process.
- ``store_seconds``: ``region_store(region=..., now=2026-11-23T09:00Z)``, the bulk write path
  (COPY on PostgreSQL, executemany on SQLite), in one transaction, commit included.
- ``total_seconds``: the two together, what ``stepwell seed`` costs end to end (migrations
  and database creation are not timed).

The target (``postgresql_store_patients_per_second``) is about the bulk write path, so it is
judged on ``store_seconds`` alone; generation is reported beside it, honestly, so the
end-to-end rate is never confused with the store rate.

Django's settings read ``DATABASE_URL`` once at import, so each database is benchmarked in a
child process: this script runs itself again with ``--child`` and ``DATABASE_URL`` set, and
the child prints one JSON line (prefixed with ``RESULT_MARKER``) that the parent collects.

Usage (what ``make bench`` runs)::

    .venv/bin/python bench/seed_bench.py --patients 100000 \\
        --postgres postgresql://postgres@127.0.0.1:5432/stepwell_test

When the PostgreSQL server cannot be reached the PostgreSQL result is recorded as skipped,
unless ``CI=true``, where that is an error.
"""

from __future__ import annotations

import argparse
import os
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
DEFAULT_OUTPUT = BENCH_DIR / "results" / "seed.json"
RESULT_MARKER = "SEED_BENCH_RESULT "
SEED = 1
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TARGET_STORE_PATIENTS_PER_SECOND = 20_000


# --- child: one database, in its own process -------------------------------------------------


def child_main(patients: int) -> dict[str, Any]:
    """Migrate the database named by ``DATABASE_URL``, then time generation and store."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stepwell.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from stepwell.apps.region.services import region_store
    from stepwell.domain.synthetic.region import generate_region

    call_command("migrate", verbosity=0, interactive=False)

    started = time.perf_counter()
    region = generate_region(patients=patients, seed=SEED, today=TODAY)
    generated = time.perf_counter()
    result = region_store(region=region, now=NOW)
    stored = time.perf_counter()

    generate_seconds = generated - started
    store_seconds = stored - generated
    total_seconds = stored - started
    care_team = result.episodes  # one lead clinician per episode
    rows = result.patients + result.episodes + result.step_changes + care_team + result.matches
    return {
        "vendor": connection.vendor,
        "database_version": database_version(connection),
        "patients": result.patients,
        "episodes": result.episodes,
        "step_changes": result.step_changes,
        "care_team_members": care_team,
        "matches": result.matches,
        "sites": result.sites,
        "users": result.users,
        "rows_inserted": rows,
        "generate_seconds": round(generate_seconds, 3),
        "store_seconds": round(store_seconds, 3),
        "total_seconds": round(total_seconds, 3),
        "store_patients_per_second": round(result.patients / store_seconds),
        "end_to_end_patients_per_second": round(result.patients / total_seconds),
        "store_rows_per_second": round(rows / store_seconds),
    }


# --- parent: databases, children, report ----------------------------------------------------


def report(patients: int, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    postgres = results["postgresql"]
    rate = postgres.get("store_patients_per_second")
    return {
        "benchmark": "seed",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "patients": patients,
        "seed": SEED,
        "today": TODAY.isoformat(),
        "now": NOW.isoformat(),
        "target": {"postgresql_store_patients_per_second": TARGET_STORE_PATIENTS_PER_SECOND},
        "results": results,
        # Not met when PostgreSQL was skipped: results.postgresql.skipped says why.
        "target_met": rate is not None and rate >= TARGET_STORE_PATIENTS_PER_SECOND,
    }


def summary(data: dict[str, Any]) -> str:
    header = (
        f"{'database':<11}{'generate s':>11}{'store s':>9}{'total s':>9}"
        f"{'store pat/s':>13}{'e2e pat/s':>11}{'store rows/s':>14}{'rows':>11}"
    )
    lines = [f"Seed benchmark: {data['patients']:,} patients", header, "-" * len(header)]
    for name, r in data["results"].items():
        if "skipped" in r:
            lines.append(f"{name:<11}skipped: {r['skipped']}")
            continue
        lines.append(
            f"{name:<11}{r['generate_seconds']:>11.2f}{r['store_seconds']:>9.2f}"
            f"{r['total_seconds']:>9.2f}{r['store_patients_per_second']:>13,}"
            f"{r['end_to_end_patients_per_second']:>11,}{r['store_rows_per_second']:>14,}"
            f"{r['rows_inserted']:>11,}"
        )
    target = data["target"]["postgresql_store_patients_per_second"]
    verdict = "met" if data["target_met"] else "NOT met"
    lines.append(f"Target: PostgreSQL store >= {target:,} patients/s: {verdict}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=100_000, help="patients to seed")
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
            script, ["--patients", str(args.patients)], RESULT_MARKER, args.postgres, "seed_bench"
        )
    except BenchError as exc:
        print(f"seed_bench: {exc}", file=sys.stderr)
        return 1
    data = report(args.patients, results)
    return write_report(data, args.output, summary(data))


if __name__ == "__main__":
    sys.exit(main())
