"""The ``stepwell`` console command: Django's management commands with Stepwell's settings.

``stepwell --help`` lists every command; Stepwell's own are under ``[region]`` and friends.
A bad configuration (for example a malformed ``DATABASE_URL``) stops with one line.
"""

from __future__ import annotations

import os
import sys

# Commands that need the database; for these an unreachable database is reported up front.
_NEEDS_DATABASE = {
    "runserver",
    "migrate",
    "seed",
    "demo_info",
    "createsuperuser",
    "assessments",
    "worker",
}


def _fail(message: str) -> None:
    print(f"stepwell: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stepwell.config.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        _fail(str(exc).splitlines()[0])
    if args and args[0] in _NEEDS_DATABASE:
        from django.db import connection
        from django.db.utils import OperationalError

        try:
            connection.ensure_connection()
        except OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _fail(f"DATABASE_URL: cannot connect ({first})")
    from django.core.management import execute_from_command_line

    if not args or args[0] in {"-h", "--help"}:
        args = ["help"]
    execute_from_command_line(["stepwell", *args])


if __name__ == "__main__":
    main()
