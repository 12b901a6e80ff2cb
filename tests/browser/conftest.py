"""Real Chromium (Debian's) driven by Playwright against a live Stepwell server."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from pytest_django.live_server_helper import LiveServer

CHROMIUM = Path(os.environ.get("STEPWELL_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh browser per test. Playwright's sync API keeps an event loop running in this
    thread while it lives; the test's own ORM calls are still synchronous and safe, so
    Django's async guard is relaxed for exactly that time (and not for other tests)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; `make test` installs Debian's chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # under CI browser tests must run, never skip
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: object) -> Iterator[object]:
    """A browser page. Request it *after* the fixtures that write test data: ORM calls made
    while Playwright runs use a separate, context-local connection that the test runner
    does not close."""
    context = chromium.new_context(locale="en-GB", viewport={"width": 1100, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def live_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveServer]:
    """pytest-django's live server, started after the test database exists so that it is
    stopped before the test database is dropped.

    The server's request threads hold their own database connections while a browser keeps
    its sockets alive; on PostgreSQL those sessions would block dropping the test database,
    so after stopping the server we give them a moment to close.
    """
    server = LiveServer("localhost")
    yield server
    server.stop()
    with django_db_blocker.unblock():
        _wait_for_other_sessions()


def _wait_for_other_sessions() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for _ in range(50):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)
