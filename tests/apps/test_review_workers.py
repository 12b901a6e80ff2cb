"""``review --all`` shared between worker processes writes exactly what one process writes.

Two ways in: the real command on its own SQLite file (worker processes cannot see a test's
transaction, nor an in-memory database), and the service on the test database with
committed rows (``transaction=True``), where the database is shared (PostgreSQL).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from stepwell.apps.measurement.registry import instruments
from stepwell.apps.region.services import region_store
from stepwell.apps.stepping.models import EpisodeFlag, EpisodeReview, Recommendation
from stepwell.apps.stepping.services import episodes_review_all
from stepwell.domain.synthetic.assessments import assessment_histories
from stepwell.domain.synthetic.region import generate_region

ROOT = Path(__file__).resolve().parents[2]
STEPWELL = str(Path(sys.executable).with_name("stepwell"))

FLAGS_SQL = "SELECT episode_id, code, reasons, evidence FROM stepping_episodeflag"
RECS_SQL = (
    "SELECT episode_id, action, to_step, reasons, evidence, review_within_days "
    "FROM stepping_recommendation WHERE status = 'open'"
)


def _state(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
    return sorted(conn.execute(FLAGS_SQL)), sorted(conn.execute(RECS_SQL))


def test_the_command_in_two_processes_writes_what_one_writes(tmp_path: Path) -> None:
    db = tmp_path / "review.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "STEPWELL_VAR": str(tmp_path)}

    def run(*args: str) -> str:
        done = subprocess.run(
            [STEPWELL, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("migrate", "--no-input", "-v", "0")
    run("seed", "--patients", "80", "--seed", "3")
    # The same minute for both runs: reasons carry day counts.
    one = run("review", "--all", "--no-progress", "--workers", "1", "--chunk-size", "9")
    with sqlite3.connect(db) as conn:
        before = _state(conn)
    two = run("review", "--all", "--no-progress", "--workers", "2", "--chunk-size", "9")
    with sqlite3.connect(db) as conn:
        after = _state(conn)
        superseded = conn.execute(
            "SELECT COUNT(*) FROM stepping_recommendation WHERE status = 'superseded'"
        ).fetchone()[0]
    assert "(1 worker processes)" in one
    assert "(2 worker processes)" in two
    assert before[0], "the seeded region raises flags"
    assert after == before
    # Every open recommendation of the first run was superseded by the second, none lost.
    assert superseded >= len(before[1])


def test_bad_worker_and_chunk_options_are_refused(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    for args, message in (
        (["--workers", "-1"], "--workers: -1 is not 0 or a positive number"),
        (["--chunk-size", "0"], "--chunk-size: 0 is not a positive number"),
    ):
        done = subprocess.run(
            [STEPWELL, "review", "--all", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode != 0
        assert message in done.stderr


def _snapshot() -> tuple[list[Any], list[Any], list[Any]]:
    flags = sorted(EpisodeFlag.objects.values_list("episode_id", "code", "reasons", "evidence"))
    recs = sorted(
        Recommendation.objects.filter(status="open").values_list(
            "episode_id", "action", "to_step", "reasons", "evidence"
        ),
        key=repr,
    )
    reviews = sorted(EpisodeReview.objects.values_list("episode_id", "next_review", "flag_count"))
    return flags, recs, reviews


@pytest.mark.django_db(transaction=True)
def test_the_service_shares_chunks_between_processes_on_a_shared_database() -> None:
    now = timezone.now()
    region = generate_region(patients=60, seed=5, today=now.date())
    region_store(
        region=region,
        now=now,
        assessments=assessment_histories(region, instruments(), seed=5, today=now.date()),
    )
    single = episodes_review_all(now=now, workers=1, chunk_size=7)
    expected = _snapshot()
    shared = episodes_review_all(now=now, workers=2, chunk_size=7)
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    # An in-memory SQLite database is private to this process: the service keeps to one.
    assert shared.workers == (1 if in_memory else 2)
    assert single.workers == 1
    assert (shared.episodes, shared.recommendations, shared.flags) == (
        single.episodes,
        single.recommendations,
        single.flags,
    )
    assert expected[0]
    assert _snapshot() == expected
