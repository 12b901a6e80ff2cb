"""Reads for the stepping area: the caseload registry, an episode's recommendations.

Every read starts from the access selector and audits the patients it returns. The caseload
costs a fixed number of queries whatever its size (tested): one raw SQL statement on
PostgreSQL, its audit included; the page and then its audit on SQLite.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

from django.db import connection
from django.utils import translation
from django.utils.translation import ngettext

from stepwell.apps.access.selectors import visibility_for, visible_patients_sql
from stepwell.apps.accounts.models import User
from stepwell.apps.audit.services import audit_insert_sql, audit_record_many
from stepwell.apps.core.errors import NotFound
from stepwell.apps.patients.models import EpisodeStatus
from stepwell.apps.safety.models import TaskStatus
from stepwell.apps.safety.selectors import most_severe
from stepwell.apps.stepping.models import Recommendation
from stepwell.apps.stepping.protocols import active_protocol
from stepwell.domain.access.policy import Scope, View
from stepwell.domain.stepping.engine import FLAGS, Reason
from stepwell.domain.stepping.protocol import Protocol

_CARE_TEAM_SCOPES = {Scope.SITES, Scope.SITES_AND_CARE_TEAM}
# Each sort as ORDER BY terms over the page's columns (named alike in both queries below).
SORTS: dict[str, tuple[str, ...]] = {
    "flags": ("at_risk DESC", "flag_count DESC NULLS LAST", "family_name", "given_name", "id"),
    "name": ("family_name", "given_name", "id"),
    "step": ("current_step DESC", "family_name", "id"),
    "weeks": ("since", "id"),
    "review": ("next_review ASC NULLS LAST", "id"),
}
_FLAG_ORDER = {code: n for n, code in enumerate(FLAGS)}


def reason_texts(
    reasons: list[dict[str, Any]], language: str, protocol: Protocol | None = None
) -> list[str]:
    """Stored reasons (codes + parameters) as sentences of ``protocol`` (default: the one
    in force; codes are stable across versions, sentences may be reworded)."""
    protocol = protocol or active_protocol()
    out = []
    for r in reasons:
        code = r.get("code", "")
        if code in protocol.texts:
            out.append(Reason(code, r.get("params", {})).text(protocol, language))
        else:  # a code a later protocol dropped: say so rather than guess
            out.append(code)
    return out


class _ReasonTextCache:
    """``reason_texts`` of stored reasons, by their JSON text and the language, for the
    protocol in force. Registry pages show the same few reasons over and over; a changed
    protocol starts a new cache."""

    _LIMIT = 4096

    def __init__(self) -> None:
        self._protocol: Protocol | None = None
        self._texts: dict[tuple[str, str], tuple[str, ...]] = {}

    def get(self, reasons_json: str, language: str, protocol: Protocol) -> list[str]:
        if protocol is not self._protocol:
            self._protocol, self._texts = protocol, {}
        key = (reasons_json, language)
        texts = self._texts.get(key)
        if texts is None:
            if len(self._texts) >= self._LIMIT:
                self._texts.clear()
            texts = tuple(reason_texts(json.loads(reasons_json), language, protocol))
            self._texts[key] = texts
        return list(texts)


_reason_texts = _ReasonTextCache()


@dataclass(frozen=True, slots=True)
class FlagView:
    code: str
    reasons: list[str]
    protocol_version: str


@dataclass(slots=True)
class CaseloadRow:
    """One open episode in the registry (plain values: a page is read, not edited)."""

    episode_id: int
    patient_id: int
    record_number: str
    given_name: str
    family_name: str
    site_name: str
    step: int
    weeks_on_step: int
    next_review: date | None
    flags: list[FlagView] = field(default_factory=list)
    scores: dict[str, tuple[int, str] | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseloadPage:
    rows: list[CaseloadRow]
    count: int
    measures: tuple[str, ...]


# The caseload is one raw SQL statement (two on SQLite, where the audit follows it): it is
# read on every registry visit, and building it through the ORM cost more than running it.
# Access comes from ``visible_patients_sql``, the access selector's rules as SQL.
_AT_RISK = (  # an unresolved safety task: at risk whatever the last review said
    "EXISTS (SELECT 1 FROM safety_escalationtask t "
    "WHERE t.patient_id = e.patient_id AND t.status <> %(resolved)s)"
)
_FLAGGED = (
    "EXISTS (SELECT 1 FROM stepping_episodeflag f WHERE f.episode_id = e.id AND f.code = %(flag)s)"
)
_SINCE = "(SELECT MAX(c.changed_at) FROM patients_stepchange c WHERE c.episode_id = {episode})"


@dataclass(frozen=True, slots=True)
class _Dialect:
    timestamp: str  # a timestamp as a number (epoch seconds) or text, "{}" the column
    json_list: str  # aggregate into a JSON list, "{}" the value
    json_array: str  # a JSON array of the values "{}"
    json_value: str  # a subquery's JSON result as JSON (not as a string)
    text: str  # a JSON column as its text


_DIALECTS = {
    "postgresql": _Dialect(
        timestamp="EXTRACT(EPOCH FROM {})::float8",
        json_list="json_agg({})",
        json_array="json_build_array({})",
        json_value="{}",
        text="{}::text",
    ),
    "sqlite": _Dialect(
        timestamp="CAST({} AS TEXT)",
        json_list="json_group_array({})",
        json_array="json_array({})",
        json_value="json({})",
        text="{}",
    ),
}


def _extras_sql(d: _Dialect, measures: int) -> str:
    """Per page row, one JSON array: [flags as [code, reasons JSON, version], severities of
    the unresolved safety tasks, then [total, band] of the latest score per measure]."""
    flag = d.json_array.format("f.code, " + d.text.format("f.reasons") + ", f.protocol_version")
    flags = (
        f"SELECT {d.json_list.format(flag)} FROM stepping_episodeflag f "  # noqa: S608 - fixed SQL only
        "WHERE f.episode_id = page.id"
    )
    risk = (
        f"SELECT {d.json_list.format('t.severity')} FROM safety_escalationtask t "  # noqa: S608 - fixed SQL only
        "WHERE t.patient_id = page.patient_id AND t.status <> %(resolved)s"
    )
    # Latest first by the (patient, instrument, taken_at) index; ties by id, as elsewhere.
    scores = [
        f"SELECT {d.json_array.format('a.total, a.band')} FROM measurement_assessment a "  # noqa: S608 - fixed SQL only
        f"WHERE a.patient_id = page.patient_id AND a.instrument = %(m{n})s "
        "ORDER BY a.taken_at DESC, a.id DESC LIMIT 1"
        for n in range(measures)
    ]
    parts = ", ".join(d.json_value.format(f"({q})") for q in (flags, risk, *scores))
    out = d.json_array.format(parts)
    return d.text.format(out)


@lru_cache(maxsize=256)
def _caseload_sql(
    vendor: str,
    visible: str,
    flag: str,  # "", "code" (a stored flag) or "risk" (safety-risk: stored or an open task)
    site: bool,
    step: bool,
    sort: str,
    measures: int,
    audit: str | None,  # an INSERT of audit events from "page", run as part of the query
) -> tuple[str, str]:
    """The page query and its COUNT (for a page past the end), for one combination."""
    d = _DIALECTS[vendor]
    order = SORTS[sort]
    where = ["e.status <> %(discharged)s"]
    if flag:
        where.append(f"({_FLAGGED} OR {_AT_RISK})" if flag == "risk" else _FLAGGED)
    if site:
        where.append("e.site_id = %(site)s")
    if step:
        where.append("e.current_step = %(step)s")
    from_where = (
        "FROM patients_episode e JOIN vis ON vis.patient_id = e.patient_id "
        "JOIN patients_patient p ON p.id = e.patient_id "
        "LEFT JOIN stepping_episodereview r ON r.episode_id = e.id "
        f"WHERE {' AND '.join(where)}"
    )
    # Only what sorting needs is computed before the LIMIT; the rest for the page's rows.
    sort_columns = {
        "flags": f", {_AT_RISK} AS at_risk",
        "weeks": f", {_SINCE.format(episode='e.id')} AS since",
    }.get(sort, "")
    since = "page.since" if sort == "weeks" else _SINCE.format(episode="page.id")
    page = (
        "SELECT e.id AS id, e.patient_id AS patient_id, p.record_number AS record_number, "
        "p.given_name AS given_name, p.family_name AS family_name, e.site_id AS site_id, "
        "e.current_step AS current_step, r.next_review AS next_review, "
        "r.flag_count AS flag_count, e.created_at AS created_at, "
        f"vis.via_break_glass AS via_break_glass{sort_columns}, COUNT(*) OVER () AS total "
        f"{from_where} ORDER BY {', '.join(order)} LIMIT %(limit)s OFFSET %(offset)s"
    )
    ctes = f"WITH vis AS ({visible}), page AS ({page})"
    if audit:
        ctes += f", audit AS ({audit})"
    sql = (
        f"{ctes} SELECT page.id, page.patient_id, page.record_number, page.given_name, "  # noqa: S608 - fixed SQL only
        "page.family_name, s.name, page.current_step, page.next_review, "
        f"{d.timestamp.format(f'COALESCE({since}, page.created_at)')}, "
        f"{_extras_sql(d, measures)}, page.total, page.via_break_glass "
        "FROM page JOIN network_site s ON s.id = page.site_id "
        f"ORDER BY {', '.join(f'page.{term}' for term in order)}"
    )
    count = f"WITH vis AS ({visible}) SELECT COUNT(*) {from_where}"
    if vendor == "postgresql":
        sql = _PLACEHOLDER.sub(r"(SELECT \g<0>)", sql)
    return sql, count


# PostgreSQL took about as long to plan the caseload statement as to run it. So it runs as a
# prepared statement of the connection, with every value behind a one-row subquery, as
# "(SELECT $1)": the planner's estimates then never depend on the values (they hardly could
# anyway: the user's sites and care team come from subqueries), and after five runs the
# server keeps one generic plan and stops planning. Measured on 100,000 patients: a quarter
# to a third less time per statement for a 50-patient caseload, no slower for a clinician
# with 15,000 patients.
_PLACEHOLDER = re.compile(r"%\(\w+\)s")


@cache
def _prepared_cursor() -> Any:
    """A psycopg 3 cursor class that binds values on the server and prepares every
    statement on its connection; None with another driver."""
    from django.db.backends.postgresql import base  # the PostgreSQL backend, loaded here

    server_binding: Any = getattr(base, "ServerBindingCursor", None)
    if server_binding is None:
        return None

    class PreparedCursor(server_binding):  # type: ignore[misc]
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            conn = self.connection
            threshold = conn.prepare_threshold
            # Django turns psycopg's automatic preparing off (threshold None), which also
            # refuses an explicit prepare=True: allow it for this statement only.
            conn.prepare_threshold = 0 if threshold is None else threshold
            try:
                return super().execute(query, params, prepare=True, **kwargs)
            finally:
                conn.prepare_threshold = threshold

    return PreparedCursor


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql``; on PostgreSQL as a prepared statement, through Django's cursor
    wrapper all the same (logged and counted like any other query)."""
    with connection.cursor() as cursor:  # connected and health-checked as for any query
        prepared = _prepared_cursor() if connection.vendor == "postgresql" else None
        if prepared is None:
            cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        raw = cursor.connection
    wrapped = (
        connection.make_debug_cursor(prepared(raw))
        if connection.queries_logged
        else connection.make_cursor(prepared(raw))
    )
    with wrapped:
        wrapped.execute(sql, params)
        rows = wrapped.fetchall()
    return rows


def _weeks_since(vendor: str, now: datetime) -> Callable[[Any], int]:
    """Whole weeks from a timestamp as the query returns it (epoch seconds or text) to now."""
    if vendor == "postgresql":
        now_seconds = now.timestamp()
        return lambda seconds: max(0, int((now_seconds - seconds) // 86400) // 7)
    # Django keeps SQLite datetimes as naive UTC text ("2026-11-23 09:00:00[.ffffff]").
    return lambda text: max(0, (now - datetime.fromisoformat(text).replace(tzinfo=UTC)).days // 7)


def _date(value: Any) -> date | None:
    """A date column's value: a date, or ISO text (SQLite, through a subquery)."""
    return value if value is None or isinstance(value, date) else date.fromisoformat(value)


def _risk_text(severities: list[str], language: str) -> str:
    with translation.override(language):
        return ngettext(
            "%(n)s unresolved safety task (most severe: %(severity)s)",
            "%(n)s unresolved safety tasks (most severe: %(severity)s)",
            len(severities),
        ) % {"n": len(severities), "severity": most_severe(severities)}


def _flags(
    stored: list[list[str]] | None, risk: list[str] | None, language: str, protocol: Protocol
) -> list[FlagView]:
    """A row's flags in FLAGS order; an unresolved safety task puts the patient at risk
    whatever the last review said (a later item-9 = 0 does not clear a concern's risk)."""
    flags = [
        FlagView(code, _reason_texts.get(reasons, language, protocol), version)
        for code, reasons, version in stored or ()
    ]
    if risk:
        text = _risk_text(risk, language)
        current = next((f for f in flags if f.code == "safety-risk"), None)
        if current is None:
            flags.append(FlagView("safety-risk", [text], protocol.version))
        else:
            current.reasons.insert(0, text)
    if len(flags) > 1:
        flags.sort(key=lambda f: _FLAG_ORDER.get(f.code, len(FLAGS)))
    return flags


def caseload(
    *,
    user: User,
    now: datetime,
    language: str,
    flag: str | None = None,
    site_id: int | None = None,
    step: int | None = None,
    sort: str = "flags",
    limit: int = 50,
    offset: int = 0,
) -> CaseloadPage:
    """Open episodes of the patients ``user`` sees in full, with flags (reasons in
    ``language``), latest primary scores, weeks on step and next review. Audited per
    patient shown (``caseload.listed``). One query on PostgreSQL (the audit rides in it),
    two on SQLite, whatever the size of the caseload."""
    vis = visible_patients_sql(user, now=now)
    # The registry is the care team's view: roles that reach patients through sites.
    if vis.policy.view is not View.FULL or vis.policy.scope not in _CARE_TEAM_SCOPES:
        raise NotFound("caseload")
    protocol = active_protocol()
    measures = protocol.primary_measures
    vendor = connection.vendor
    audit = (
        audit_insert_sql(actor=user, action="caseload.listed", now=now, source="page")
        if vendor == "postgresql"
        else None
    )
    sql, count_sql = _caseload_sql(
        vendor,
        vis.sql,
        "" if not flag else "risk" if flag == "safety-risk" else "code",
        site_id is not None,
        step is not None,
        sort if sort in SORTS else "flags",
        len(measures),
        audit.sql if audit else None,
    )
    params: dict[str, Any] = {
        **vis.params,
        **(audit.params if audit else {}),
        **{f"m{n}": code for n, code in enumerate(measures)},
        "discharged": EpisodeStatus.DISCHARGED.value,
        "resolved": TaskStatus.RESOLVED.value,
        "flag": flag,
        "site": site_id,
        "step": step,
        "limit": limit,
        "offset": offset,
    }
    found = _fetch(sql, params)
    if found or not offset:
        count = found[0][-2] if found else 0
    else:  # past the last page: the total still counts
        count = _fetch(count_sql, params)[0][0]
    if found and audit is None:
        audit_record_many(
            actor=user,
            action="caseload.listed",
            now=now,
            patient_ids=[r[1] for r in found],
            break_glass_ids=frozenset(r[1] for r in found if r[-1]),
        )
    weeks = _weeks_since(vendor, now)
    rows = []
    for eid, pid, record, given, family, site, on_step, review, since, extras, _, _ in found:
        stored, risk, *scores = json.loads(extras)
        rows.append(
            CaseloadRow(
                episode_id=eid,
                patient_id=pid,
                record_number=record,
                given_name=given,
                family_name=family,
                site_name=site,
                step=on_step,
                weeks_on_step=weeks(since),
                next_review=_date(review),
                flags=_flags(stored, risk, language, protocol),
                scores={
                    code: None if s is None else (s[0], s[1])
                    for code, s in zip(measures, scores, strict=True)
                },
            )
        )
    return CaseloadPage(rows, count, measures)


@dataclass(frozen=True, slots=True)
class RecommendationView:
    recommendation: Recommendation
    reasons: list[str]


def patient_recommendations(
    *, user: User, patient_id: int, now: datetime, language: str
) -> dict[int, list[RecommendationView]]:
    """Open recommendations per open episode of a patient seen in full (part of the
    patient page, whose read is audited there); reasons in ``language``."""
    vis = visibility_for(user, now=now)
    if vis.policy.view is not View.FULL:
        return {}
    recs = Recommendation.objects.filter(
        episode__patient_id=patient_id,
        episode__patient__in=vis.patients,
        status="open",
    ).order_by("episode_id", "id")
    out: dict[int, list[RecommendationView]] = defaultdict(list)
    for r in recs:
        out[r.episode_id].append(RecommendationView(r, reason_texts(r.reasons, language)))
    return dict(out)
