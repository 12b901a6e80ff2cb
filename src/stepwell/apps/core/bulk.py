"""Fast bulk inserts for generated or imported data: COPY on PostgreSQL, executemany on SQLite.

Rows either carry their primary keys (``reserve_ids`` hands out a block of them and
``reset_sequences`` puts PostgreSQL's sequences past the block afterwards: for loads that
nothing else writes to meanwhile) or leave the id column out and let the database number
them (safe beside concurrent writers).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_BATCH = 10_000


def reserve_ids(model: type[models.Model], count: int) -> range:
    """Ids ``max(id)+1 …`` for ``count`` new rows. Call inside the inserting transaction."""
    agg = model._default_manager.aggregate(top=models.Max("pk"))
    start = (agg["top"] or 0) + 1
    return range(start, start + count)


# Value → COPY text, chosen by exact type: one dict lookup per value on the hot path.
_COPY_FORMAT: dict[type, Callable[[Any], str]] = {
    str: lambda v: v.translate(_COPY_ESCAPES),
    bool: lambda v: "t" if v else "f",
    int: int.__str__,
    float: float.__repr__,
    date: date.isoformat,
    datetime: datetime.isoformat,
    type(None): lambda v: "\\N",
}


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    return _COPY_FORMAT[type(value)](value)


def bulk_insert(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order, column names as in the table).

    On PostgreSQL the rows are formatted to COPY text here, in large blocks: several times
    faster than adapting each value through the driver.
    """
    table = model._meta.db_table
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {qn(table)} ({cols}) FROM STDIN") as copy:
                lines: list[str] = []
                fmt = _COPY_FORMAT
                for row in rows:
                    lines.append("\t".join([fmt[type(v)](v) for v in row]))
                    if len(lines) >= _BATCH:
                        copy.write("\n".join(lines) + "\n")
                        count += len(lines)
                        lines.clear()
                if lines:
                    copy.write("\n".join(lines) + "\n")
                    count += len(lines)
        else:
            marks = ", ".join(["%s"] * len(columns))
            batch: list[Sequence[Any]] = []
            sql = f"INSERT INTO {qn(table)} ({cols}) VALUES ({marks})"
            # Datetimes stored as the ORM stores them (naive UTC text), so that comparisons
            # and ordering in SQL see one format whichever path wrote a row.
            adapt = connection.ops.adapt_datetimefield_value
            stamps = [
                k
                for k, name in enumerate(columns)
                if isinstance(_field_by_column(model, name), models.DateTimeField)
            ]
            for row in rows:
                if stamps:
                    row = list(row)
                    for k in stamps:
                        row[k] = adapt(row[k])
                batch.append(row)
                if len(batch) >= _BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
    return count


def _field_by_column(model: type[models.Model], column: str) -> models.Field[Any, Any] | None:
    for f in model._meta.concrete_fields:
        if f.column == column:
            return f
    return None


@contextmanager
def constraints_deferred_to_end(models_: Sequence[type[models.Model]]) -> Iterator[None]:
    """Load first, then build secondary indexes and check foreign keys in bulk (PostgreSQL).

    Per-row index maintenance and referential checks dominate a bulk load. As pg_restore
    does, the plain (non-constraint) indexes and the foreign keys of these tables are dropped
    for the load and recreated afterwards: an index is built by one sort, and a foreign key
    is validated by one join. Primary keys and unique constraints stay, so duplicates still
    fail at once. Run it inside a transaction: any violation rolls the whole load back.
    """
    if connection.vendor != "postgresql":
        yield
        return
    tables = [m._meta.db_table for m in models_]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
            [tables],
        )
        fks = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[]) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _ in fks:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
        for index, _ in indexes:
            cursor.execute(f"DROP INDEX {index}")
    yield
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in fks:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {qn(name)} {definition}")


def reset_sequences(models_: Sequence[type[models.Model]]) -> None:
    """After inserting explicit ids, move PostgreSQL sequences past them (no-op on SQLite)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models_))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def analyze(models_: Sequence[type[models.Model]]) -> None:
    """Refresh the planner's statistics for freshly bulk-loaded tables.

    Without this the planner plans the first queries after a large load with the statistics
    of near-empty tables (PostgreSQL's autovacuum catches up only later), and picks scans
    that cost hundreds of milliseconds per registry page at 100,000 patients.
    """
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models_:
            cursor.execute(f"ANALYZE {qn(model._meta.db_table)}")


def id_list_condition(column: str, ids: Sequence[int]) -> tuple[str, Any]:
    """``column`` is one of ``ids``, as SQL with a single parameter, and that parameter.

    Thousands of ids as one array (PostgreSQL) or one JSON list (SQLite) instead of one
    placeholder each: the statement stays short for the driver to prepare, and SQLite's
    limit on parameters never applies.
    """
    if connection.vendor == "postgresql":
        # An array literal: the driver's list adapter inspected every element (a measurable
        # share of a region-wide review, which passes 2,000 ids to several queries a chunk).
        return f"{column} = ANY(%s::bigint[])", "{" + ",".join(map(str, map(int, ids))) + "}"
    return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(list(ids))


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk run.

    A region-wide job allocates millions of small, acyclic objects (rows, measurements);
    each allocation burst triggers a collection that walks every live object, which cost
    about a third of a review's time at 100,000 episodes. Reference counting still frees
    everything as it goes; a collection runs once at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()
