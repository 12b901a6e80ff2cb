"""Bulk reads for the stepping engine: open episodes with their step history, and the
measurements the engine judges them by.

Raw SQL on purpose. A region-wide review reads millions of assessments; through the ORM the
per-value conversion of timestamps (PostgreSQL's text loader, SQLite's parser) cost several
times more than the engine itself (bench/README.md). Here each timestamp comes back as one
number (PostgreSQL) or string (SQLite) and is turned into a datetime once per distinct
value, ids travel as one array (PostgreSQL) or one JSON list (SQLite) instead of thousands
of placeholders (``id_list_condition``), and safety signals, rare, are decoded only where present.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import connection

from stepwell.apps.core.bulk import id_list_condition
from stepwell.domain.stepping.engine import Contact, EpisodeState, Measurement, chronological


@dataclass(frozen=True, slots=True)
class EpisodeInput:
    """An open episode as the engine sees it."""

    id: int
    patient_id: int
    state: EpisodeState


@dataclass(frozen=True, slots=True)
class _Dialect:
    """How one database spells what the reads need."""

    timestamp: Callable[[str], str]  # a timestamp column as a number or string
    to_datetime: Callable[[Any], datetime]
    no_signals: str  # "the safety column holds an empty list"
    signals_text: str  # the safety column as JSON text


@lru_cache(maxsize=65_536)
def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@lru_cache(maxsize=65_536)
def _from_sqlite(text: str) -> datetime:
    # Django keeps SQLite datetimes as naive UTC text ("2026-11-23 09:00:00[.ffffff]").
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _date_from_text(value: Any) -> date:
    """A date column's value: a date (PostgreSQL) or ISO text (SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


_POSTGRES = _Dialect(
    timestamp=lambda column: f"EXTRACT(EPOCH FROM {column})::float8",
    to_datetime=_from_epoch,
    no_signals="a.safety = '[]'::jsonb",
    signals_text="a.safety::text",
)
_SQLITE = _Dialect(
    # As an expression: a bare column would meet Django's (slower) converter for its type.
    timestamp=lambda column: f"CAST({column} AS TEXT)",
    to_datetime=_from_sqlite,
    no_signals="a.safety = '[]'",
    signals_text="a.safety",
)


def _dialect() -> _Dialect:
    return _POSTGRES if connection.vendor == "postgresql" else _SQLITE


def open_episode_ids() -> list[int]:
    """Every open (not discharged) episode, in id order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM patients_episode WHERE status <> %s ORDER BY id", ["discharged"]
        )
        return [row[0] for row in cursor.fetchall()]


def open_episodes(episode_ids: Sequence[int]) -> list[EpisodeInput]:
    """The open episodes among ``episode_ids``: step, since when (the last step change),
    whether still on the starting step, and the last decision on the current step."""
    d = _dialect()
    ts = d.timestamp
    in_changes, ids = id_list_condition("episode_id", episode_ids)
    in_episodes, _ = id_list_condition("e.id", episode_ids)
    sql = f"""
        SELECT e.id, e.patient_id, e.current_step, e.first_contact_date, e.referral_date,
               {ts("e.created_at")}, {ts("sc.since")}, sc.n, {ts("sd.last")}
        FROM patients_episode e
        LEFT JOIN (
            SELECT episode_id, MAX(changed_at) AS since, COUNT(*) AS n
            FROM patients_stepchange WHERE {in_changes} GROUP BY episode_id
        ) sc ON sc.episode_id = e.id
        LEFT JOIN (
            SELECT episode_id, MAX(decided_at) AS last
            FROM stepping_stepdecision WHERE {in_changes} GROUP BY episode_id
        ) sd ON sd.episode_id = e.id
        WHERE {in_episodes} AND e.status <> %s
        ORDER BY e.id
    """  # noqa: S608 - only fixed SQL fragments are interpolated; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, ids, ids, "discharged"])
        rows = cursor.fetchall()
    out = []
    for eid, pid, step, first_contact, referral, created, since, changes, last in rows:
        step_since = d.to_datetime(since if since is not None else created)
        decided = d.to_datetime(last) if last is not None else None
        out.append(
            EpisodeInput(
                eid,
                pid,
                EpisodeState(
                    step=step,
                    step_since=step_since,
                    in_care_since=_date_from_text(first_contact or referral),
                    last_review_at=decided
                    if decided is not None and decided >= step_since
                    else None,
                    initial_step=(changes or 1) <= 1 and decided is None,
                ),
            )
        )
    return out


def measurements_by_patient(
    patient_ids: Sequence[int],
    series: Sequence[str],
    first_only: Sequence[str],
    now: datetime,
) -> dict[int, dict[str, list[Measurement]]]:
    """Per patient and instrument, oldest first (by time taken, then id), assessments taken
    by ``now``: every one of the ``series`` instruments, and only the first of each
    ``first_only`` instrument (what a baseline needs, at a fraction of the rows). The
    engine's ``review_series`` takes them as they are."""
    d = _dialect()
    in_patients, patients = id_list_condition("a.patient_id", patient_ids)
    columns = f"""a.patient_id, a.id, a.instrument, {d.timestamp("a.taken_at")}, a.total, a.band,
        CASE WHEN {d.no_signals} THEN NULL ELSE {d.signals_text} END"""
    taken = connection.ops.adapt_datetimefield_value(now)
    out: dict[int, dict[str, list[Measurement]]] = {pid: {} for pid in patient_ids}
    queries = []
    if series:
        queries.append(
            (
                f"SELECT {columns} FROM measurement_assessment a WHERE {in_patients} "  # noqa: S608
                f"AND a.instrument IN ({', '.join(['%s'] * len(series))}) AND a.taken_at <= %s",
                [patients, *series, taken],
            )
        )
    if first_only:
        queries.append(
            (
                f"""SELECT * FROM (
                    SELECT {columns}, ROW_NUMBER() OVER (
                        PARTITION BY a.patient_id, a.instrument ORDER BY a.taken_at, a.id
                    ) AS k
                    FROM measurement_assessment a WHERE {in_patients}
                    AND a.instrument IN ({", ".join(["%s"] * len(first_only))})
                    AND a.taken_at <= %s
                ) firsts WHERE k = 1""",  # noqa: S608
                [patients, *first_only, taken],
            )
        )
    to_datetime = d.to_datetime
    with connection.cursor() as cursor:
        for sql, params in queries:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(20_000):
                for pid, aid, code, at, total, band, signals, *_ in rows:
                    safety = tuple(json.loads(signals)) if signals is not None else ()
                    out[pid].setdefault(code, []).append(
                        Measurement(aid, code, to_datetime(at), total, band, safety)
                    )
    # Sorted here rather than by the database: an ORDER BY cost the server an incremental
    # sort, while rows mostly arrive in the order they were written (already chronological).
    for by_code in out.values():
        for ms in by_code.values():
            ms.sort(key=chronological)
    return out


def last_assessment_at(patient_ids: Sequence[int], now: datetime) -> dict[int, datetime]:
    """Per patient, when they last completed any questionnaire by ``now`` (a contact with
    the care team, whatever the instrument)."""
    d = _dialect()
    in_patients, patients = id_list_condition("a.patient_id", patient_ids)
    sql = f"""
        SELECT a.patient_id, {d.timestamp("MAX(a.taken_at)")} FROM measurement_assessment a
        WHERE {in_patients} AND a.taken_at <= %s GROUP BY a.patient_id
    """  # noqa: S608 - only fixed SQL fragments are interpolated; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [patients, connection.ops.adapt_datetimefield_value(now)])
        return {pid: d.to_datetime(at) for pid, at in cursor.fetchall()}


def contacts_by_patient(
    patient_ids: Sequence[int],
    now: datetime,
    *,
    outcome_of: Mapping[str, str],
    reply_window_days: int,
) -> dict[int, list[Contact]]:
    """Per patient, their recorded appointments whose attendance is a contact
    (``outcome_of``: attendance code -> ``attended``/``no-show``, from
    ``content/coordination/access.yaml``; cancellations are not contacts) and their check-in
    prompts sent (answered, or unanswered once ``reply_window_days`` have passed without a
    reply), up to ``now``: what the ``contact-overdue`` and ``disengaged`` flags read."""
    d = _dialect()
    in_appt, ids = id_list_condition("patient_id", patient_ids)
    at_now = connection.ops.adapt_datetimefield_value(now)
    window = connection.ops.adapt_datetimefield_value(now - timedelta(days=reply_window_days))
    out: dict[int, list[Contact]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT patient_id, {d.timestamp("starts_at")}, attendance
            FROM coordination_appointment
            WHERE {in_appt} AND starts_at <= %s AND attendance <> ''""",  # noqa: S608
            [ids, at_now],
        )
        for pid, at, attendance in cursor.fetchall():
            outcome = outcome_of.get(attendance)
            if outcome is not None:
                out.setdefault(pid, []).append(Contact(d.to_datetime(at), "appointment", outcome))
        cursor.execute(
            f"""SELECT patient_id, {d.timestamp("handled_at")},
            CASE WHEN answered_at IS NOT NULL AND answered_at <= %s THEN 1 ELSE 0 END
            FROM coordination_reminder
            WHERE {in_appt} AND kind = 'check-in' AND status = 'queued'
            AND handled_at <= %s
            AND (handled_at <= %s OR (answered_at IS NOT NULL AND answered_at <= %s))""",  # noqa: S608
            [at_now, ids, at_now, window, at_now],
        )
        for pid, at, answered in cursor.fetchall():
            outcome = "answered" if answered else "unanswered"
            out.setdefault(pid, []).append(Contact(d.to_datetime(at), "check-in", outcome))
    return out
