"""What every Stepwell benchmark shares: child processes per database, a throw-away
PostgreSQL database, machine facts, and redacted URLs in messages.

Django's settings read ``DATABASE_URL`` once at import, so each database is benchmarked in a
child process: a benchmark script runs itself again with ``--child`` and ``DATABASE_URL``
set, and the child prints one JSON line prefixed with its marker, collected here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/stepwell_test"
BENCH_DATABASE = "stepwell_bench"


class BenchError(Exception):
    """A benchmark could not run; the message says why."""


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def database_version(connection: Any) -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def run_child(script: Path, args: Sequence[str], database_url: str, marker: str) -> dict[str, Any]:
    """Run ``script --child *args`` against ``database_url``; return the JSON it printed."""
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = subprocess.run(
        [sys.executable, str(script), "--child", *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"the benchmark child for {redacted(database_url)} failed")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(marker):
            result: dict[str, Any] = json.loads(line.removeprefix(marker))
            return result
    raise BenchError(f"the benchmark child for {redacted(database_url)} printed no result")


def on_sqlite(measure: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """``measure(url)`` on a fresh SQLite file in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="stepwell-bench-") as tmp:
        return measure(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")


def _maintenance(server_url: str) -> Any:
    """An autocommit connection to the server's ``postgres`` database."""
    import psycopg

    url = urlsplit(server_url)
    return psycopg.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or None,
        dbname="postgres",
        connect_timeout=5,
        autocommit=True,
    )


def on_postgres(
    server_url: str, measure: Callable[[str], dict[str, Any]], *, name: str
) -> dict[str, Any]:
    """``measure(url)`` on a fresh ``stepwell_bench`` database on the server of
    ``server_url``, dropped afterwards.

    Returns ``{"skipped": reason}`` when the server is unreachable (and CI is not "true").
    """
    import psycopg

    try:
        admin = _maintenance(server_url)
    except psycopg.Error as exc:
        reason = (
            f"PostgreSQL at {redacted(server_url)} is unreachable: "
            + (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        )
        if os.environ.get("CI") == "true":
            raise BenchError(f"{reason} (failing: CI=true)") from None
        print(f"{name}: {reason}; PostgreSQL NOT benchmarked", file=sys.stderr)
        return {"skipped": reason}
    bench_url = urlsplit(server_url)._replace(path=f"/{BENCH_DATABASE}").geturl()
    with admin:
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}"')
            admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
        except psycopg.Error as exc:
            raise BenchError(f"cannot create database {BENCH_DATABASE!r}: {exc}") from None
        try:
            return measure(bench_url)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


def add_common_arguments(parser: argparse.ArgumentParser, default_output: Path) -> None:
    """``--postgres``, ``--output`` and the hidden ``--child`` every benchmark takes."""
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES),
        help="URL of a PostgreSQL server; its database name is ignored, "
        f"{BENCH_DATABASE!r} is created and dropped",
    )
    parser.add_argument("--output", type=Path, default=default_output, help="JSON result file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)


def child_result(marker: str, result: dict[str, Any]) -> int:
    """In a child: print the one result line the parent collects."""
    print(marker + json.dumps(result), flush=True)
    return 0


def on_both(
    script: Path, child_args: Sequence[str], marker: str, postgres_url: str, name: str
) -> dict[str, dict[str, Any]]:
    """Run ``script`` as a child on PostgreSQL, then on SQLite (PostgreSQL first: under
    CI=true an unreachable server fails before SQLite's minutes). Raises BenchError."""

    def measure(url: str) -> dict[str, Any]:
        return run_child(script, child_args, url, marker)

    postgres = on_postgres(postgres_url, measure, name=name)
    return {"sqlite": on_sqlite(measure), "postgresql": postgres}


def write_report(data: dict[str, Any], output: Path, summary: str) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=2) + "\n")
    print(summary)
    print(f"Wrote {output}")
    return 0
