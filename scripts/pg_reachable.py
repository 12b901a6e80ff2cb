"""Exit 0 when the PostgreSQL server of a URL answers, 1 otherwise (the database may not exist)."""

import sys
from urllib.parse import urlsplit

import psycopg


def main() -> int:
    url = urlsplit(sys.argv[1])
    try:
        psycopg.connect(
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        print(f"cannot reach PostgreSQL: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
