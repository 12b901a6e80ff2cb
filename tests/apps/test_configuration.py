"""Start-up configuration: health check, bad DATABASE_URL, production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

import stepwell

STEPWELL = str(Path(sys.executable).with_name("stepwell"))


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"} | env
    return subprocess.run(
        [STEPWELL, *args], capture_output=True, text=True, env=full_env, timeout=120, check=False
    )


@pytest.mark.django_db
def test_healthz_reports_database_and_version() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": connection.vendor,
        "version": stepwell.__version__,
    }


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://root@localhost/stepwell", "unsupported scheme 'mysql'"),
        ("postgresql://postgres@127.0.0.1:5432", "needs a database name"),
        ("postgresql://postgres@127.0.0.1:1/stepwell", "cannot connect"),
    ],
)
def test_a_bad_database_url_stops_with_one_line(url: str, words: str) -> None:
    result = _run("migrate", DATABASE_URL=url)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stepwell: DATABASE_URL:")
    assert words in lines[0]


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    result = _run(
        "check",
        STEPWELL_ENV="production",
        SECRET_KEY="",
        ALLOWED_HOSTS="x.org",
        STEPWELL_VAR=str(tmp_path),
    )
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    result = _run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        STEPWELL_ENV="production",
        ALLOWED_HOSTS="stepwell.example.org",
        SECRET_KEY="k" * 10 + "a-long-random-production-secret-9f8e7d6c5b4a3f2e1d0c",
        STEPWELL_VAR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_help_lists_the_project_commands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("seed", "demo_info", "migrate", "runserver"):
        assert command in result.stdout


def test_development_secret_key_is_generated_and_kept(tmp_path: Path) -> None:
    env = {
        "STEPWELL_VAR": str(tmp_path),
        "SECRET_KEY": "",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }
    assert _run("check", **env).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert _run("check", **env).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key
