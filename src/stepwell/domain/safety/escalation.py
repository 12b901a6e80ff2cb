"""Escalation rules for safety signals: how severe each signal is, by when a person must
respond, who comes next when nobody does, and how undelivered notifications are retried.

The rules live in the ``safety:`` section of the protocol file (``docs/protocol-format.md``)
so a care network changes them by editing, versioning and reviewing one file. Pure: no
database, no clock; every function takes the time it needs as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stepwell.domain.content_files import FileReader

# Most severe first. "routine" still means a person reads it the same working day.
SEVERITIES = ("high", "moderate", "routine")
CONCERN_URGENCIES = ("urgent", "soon", "routine")
CRISIS_LEVELS = ("high", "moderate", "review")  # what crisis.screen() reports
END_OF_WORKING_DAY = "end-of-working-day"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Deadline:
    """``minutes`` after the signal, or (when None) the end of the working day."""

    minutes: int | None


@dataclass(frozen=True, slots=True)
class WorseningRule:
    """A rise of at least ``rise_at_least[measure]`` points since the previous score on the
    same measure, or a new score in one of ``into_bands[measure]`` from a lower band."""

    severity: str
    rise_at_least: Mapping[str, int]
    into_bands: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SafetyRules:
    deadlines: Mapping[str, Deadline]  # severity -> deadline
    working_days: frozenset[int]  # ISO weekday numbers 1..7
    working_day_ends: time
    signal_severity: Mapping[str, Mapping[int, str]]  # signal code -> item value -> severity
    crisis_language: Mapping[str, str]  # screen() level -> severity
    concern: Mapping[str, str]  # urgency -> severity
    manual: Mapping[str, str]  # urgency -> severity
    worsening: WorseningRule
    escalated_within_minutes: int  # each next owner's deadline after an escalation
    retry_first_minutes: int
    retry_max_minutes: int
    retry_attempts: int

    def severity_for_signal(self, code: str, value: int) -> str:
        """Severity of a questionnaire safety signal answered ``value`` (the highest level
        whose threshold ``value`` reaches). Unknown codes or values count as high: a signal
        the file forgot must never be treated as minor."""
        levels = self.signal_severity.get(code)
        if not levels:
            return "high"
        reached = [sev for threshold, sev in levels.items() if value >= threshold]
        if not reached:
            return "high"
        return min(reached, key=SEVERITIES.index)

    def due_at(self, severity: str, raised_at: datetime, zone: ZoneInfo) -> datetime:
        """When a task of ``severity`` raised at ``raised_at`` must be acknowledged.

        End-of-working-day deadlines are the close of the working day in ``zone`` on which
        the signal arrived, or of the next working day when it arrived after hours."""
        deadline = self.deadlines[severity]
        if deadline.minutes is not None:
            return raised_at + timedelta(minutes=deadline.minutes)
        return self.end_of_working_day(raised_at, zone)

    def end_of_working_day(self, at: datetime, zone: ZoneInfo) -> datetime:
        local = at.astimezone(zone)
        day = local.date()
        for _ in range(8):
            close = datetime.combine(day, self.working_day_ends, tzinfo=zone)
            if day.isoweekday() in self.working_days and close > local:
                return close
            day += timedelta(days=1)
        raise AssertionError("a week without a working day")  # parse() refuses that file

    def retry_delay(self, attempts: int) -> timedelta | None:
        """Wait before the next delivery attempt after ``attempts`` failed ones (1, 2, …):
        doubling from ``retry_first_minutes`` up to ``retry_max_minutes``; None once
        ``retry_attempts`` have failed (the notification is then marked failed)."""
        if attempts >= self.retry_attempts:
            return None
        minutes = min(self.retry_first_minutes * 2 ** (attempts - 1), self.retry_max_minutes)
        return timedelta(minutes=minutes)


def worsening_signal(
    rule: WorseningRule,
    measure: str,
    previous_total: int,
    previous_band: str,
    total: int,
    band: str,
) -> dict[str, object] | None:
    """Evidence for severe worsening between two scores on one measure, or None."""
    rise = rule.rise_at_least.get(measure)
    if rise is not None and total - previous_total >= rise:
        return {"measure": measure, "before": previous_total, "after": total, "rise": rise}
    bands = rule.into_bands.get(measure, ())
    if band in bands and previous_band not in bands:
        return {"measure": measure, "before": previous_total, "after": total, "band": band}
    return None


def _severity_map(
    r: FileReader, data: Any, key: str, path: str, keys: tuple[str, ...]
) -> dict[str, str]:
    raw = r.get(data, key, path, dict)
    out = {}
    for k in keys:
        out[k] = _severity(r, r.get(raw, k, f"{path}.{k}", str), f"{path}.{k}")
    extra = sorted(set(raw) - set(keys))
    if extra:
        raise r.fail(f"{path}.{extra[0]}", "is not one of " + ", ".join(keys))
    return out


def _severity(r: FileReader, value: str, path: str) -> str:
    if value not in SEVERITIES:
        raise r.fail(path, f"{value!r} is not one of " + ", ".join(SEVERITIES))
    return value


def _minutes(r: FileReader, data: Any, key: str, path: str) -> int:
    value: int = r.get(data, key, path, int)
    if value < 1:
        raise r.fail(path, f"must be 1 or more, not {value}")
    return value


def _deadlines(r: FileReader, data: Any) -> dict[str, Deadline]:
    raw = r.get(data, "deadlines", "safety.deadlines", dict)
    deadlines = {}
    for sev in SEVERITIES:
        path = f"safety.deadlines.{sev}"
        value = r.get(raw, sev, path, (int, str))
        if isinstance(value, str):
            if value != END_OF_WORKING_DAY:
                raise r.fail(path, f"must be minutes or {END_OF_WORKING_DAY!r}, not {value!r}")
            deadlines[sev] = Deadline(None)
        else:
            deadlines[sev] = Deadline(_minutes(r, raw, sev, path))
    return deadlines


def _working_day(r: FileReader, data: Any) -> tuple[frozenset[int], time]:
    working = r.get(data, "working_day", "safety.working_day", dict)
    numbers = set()
    for n, day in enumerate(r.get(working, "days", "safety.working_day.days", list)):
        if day not in _WEEKDAYS:
            raise r.fail(f"safety.working_day.days[{n}]", f"{day!r} is not one of mon … sun")
        numbers.add(_WEEKDAYS.index(day) + 1)
    if not numbers:
        raise r.fail("safety.working_day.days", "needs at least one day")
    ends_raw = r.get(working, "ends_at", "safety.working_day.ends_at", str)
    try:
        return frozenset(numbers), time.fromisoformat(ends_raw)
    except ValueError:
        raise r.fail(
            "safety.working_day.ends_at", f"{ends_raw!r} is not a time like 17:00"
        ) from None


def _signals(r: FileReader, data: Any) -> dict[str, dict[int, str]]:
    signals: dict[str, dict[int, str]] = {}
    for code, levels in r.get(data, "signals", "safety.signals", dict).items():
        path = f"safety.signals.{code}"
        if not isinstance(levels, dict) or not levels:
            raise r.fail(path, "must map answer values to severities")
        signals[str(code)] = {}
        for value, sev in levels.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise r.fail(f"{path}.{value}", "answer values must be whole numbers from 1")
            signals[str(code)][value] = _severity(r, str(sev), f"{path}.{value}")
    return signals


def _worsening(r: FileReader, data: Any, measures: set[str]) -> WorseningRule:
    path = "safety.severe_worsening"
    raw = r.get(data, "severe_worsening", path, dict)
    rise_raw = r.optional(raw, "rise_at_least", f"{path}.rise_at_least", dict, {})
    bands_raw = r.optional(raw, "into_bands", f"{path}.into_bands", dict, {})
    for code in [*rise_raw, *bands_raw]:
        if code not in measures:
            raise r.fail(f"{path}.{code}", f"{code!r} is not an instrument")
    bands = {}
    for code, names in bands_raw.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise r.fail(f"{path}.into_bands.{code}", "must be a list of bands")
        bands[code] = tuple(names)
    return WorseningRule(
        severity=_severity(r, r.get(raw, "severity", f"{path}.severity", str), f"{path}.severity"),
        rise_at_least={
            code: _minutes(r, rise_raw, code, f"{path}.rise_at_least.{code}") for code in rise_raw
        },
        into_bands=bands,
    )


def parse_safety_rules(r: FileReader, data: Any, measures: set[str]) -> SafetyRules:
    """Validate the ``safety:`` section of a protocol file. ``measures`` are the instrument
    codes the file may name. Raises ``r.error`` naming the field."""
    days, ends = _working_day(r, data)
    retry = r.get(data, "notification_retry", "safety.notification_retry", dict)
    return SafetyRules(
        deadlines=_deadlines(r, data),
        working_days=days,
        working_day_ends=ends,
        signal_severity=_signals(r, data),
        crisis_language=_severity_map(
            r, data, "crisis_language", "safety.crisis_language", CRISIS_LEVELS
        ),
        concern=_severity_map(r, data, "concern", "safety.concern", CONCERN_URGENCIES),
        manual=_severity_map(r, data, "manual", "safety.manual", CONCERN_URGENCIES),
        worsening=_worsening(r, data, measures),
        escalated_within_minutes=_minutes(
            r, data, "escalated_within_minutes", "safety.escalated_within_minutes"
        ),
        retry_first_minutes=_minutes(
            r, retry, "first_after_minutes", "safety.notification_retry.first_after_minutes"
        ),
        retry_max_minutes=_minutes(
            r, retry, "max_wait_minutes", "safety.notification_retry.max_wait_minutes"
        ),
        retry_attempts=_minutes(r, retry, "attempts", "safety.notification_retry.attempts"),
    )
