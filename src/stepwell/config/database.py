"""Turn ``DATABASE_URL`` into Django's database settings, with errors a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_SUPPORTED = {"sqlite", "postgres", "postgresql", "pgsql"}


def database_from_url(url: str, *, default_sqlite: Path, conn_max_age: int = 0) -> dict[str, Any]:
    """Return a ``DATABASES['default']`` dict; raise ImproperlyConfigured naming the problem.

    ``conn_max_age`` (seconds) keeps PostgreSQL connections open between requests.
    """
    if not url:
        default_sqlite.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{default_sqlite}"
    scheme = urlsplit(url).scheme
    if scheme not in _SUPPORTED:
        raise ImproperlyConfigured(
            f"DATABASE_URL: unsupported scheme {scheme!r}; "
            "use sqlite:///path/to/file.sqlite3 or postgresql://user@host:port/name"
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=conn_max_age))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if not config.get("NAME"):
            raise ImproperlyConfigured("DATABASE_URL: a SQLite URL needs a file path")
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # WAL lets the demo server read while a seed or worker writes.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;"
            ),
            "transaction_mode": "IMMEDIATE",
        }
    else:
        if not config.get("NAME"):
            raise ImproperlyConfigured("DATABASE_URL: a PostgreSQL URL needs a database name")
        config["CONN_HEALTH_CHECKS"] = True
        # JIT compilation pays off for long analytic scans, not for Stepwell's short
        # queries: the access filter's subqueries inflate cost estimates, and JIT then spent
        # over a second compiling a caseload query that runs in 80 ms (bench/README.md).
        options = config.setdefault("OPTIONS", {})
        options["options"] = (options.get("options", "") + " -c jit=off").strip()
    return config
