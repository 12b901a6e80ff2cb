"""Reminders and check-in prompts: what they say (``content/coordination/messages.yaml``) and
when they go out.

Times: an appointment reminder is planned ``lead_hours`` elapsed hours before the start
(``reminders`` in ``content/coordination/access.yaml``); a check-in prompt at a local hour
on a local date. Either is then moved out of the site's quiet hours to the first moment
after them, computed on the local wall clock (quiet hours are a promise about the clock on
the patient's wall), so DST changes are handled by building the local wall time and
converting it, never by adding hours to a local time. Everything returned is aware (UTC).

Templates: every message the code sends has English and Spanish text, using only the
placeholders the file declares for it (``params``), which must be among those the code
supplies (``TEMPLATE_PARAMS``). The texts are discreet by design: they may be read by
anyone holding the phone, so no diagnosis, service or patient name appears in them.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stepwell.domain.content_files import LANGUAGES, FileReader, Text
from stepwell.domain.coordination.rules import CoordinationFileError, LocalRules

# Every message the code sends -> the placeholders it supplies for it.
TEMPLATE_PARAMS: dict[str, frozenset[str]] = {
    code: frozenset(params)
    for code, params in {
        "appointment-reminder": {"when", "place", "modality"},
        "check-in-prompt": {"link"},
        "opt-out-confirmed": set(),
        "opt-in-confirmed": set(),
        "reply-recorded": set(),
        "reply-not-understood": set(),
        "number-unknown": set(),
    }.items()
}
CHANNELS = ("sms", "email")
DEFAULT_LANGUAGE = "en"
FIELDS = ("code", "version", "status", "default_email_subject", "templates")
TEMPLATE_FIELDS = ("params", "sms", "email_subject", "email_body")


# --- templates -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    sms: Text
    email_subject: Text  # one line
    email_body: Text  # the SMS text when the file gives no e-mail text
    params: frozenset[str] = frozenset()  # the placeholders declared (all must be given)


@dataclass(frozen=True, slots=True)
class MessageTemplates:
    version: str
    templates: dict[str, Template]  # code -> template

    def render(
        self, code: str, channel: str, language: str | None, params: Mapping[str, object]
    ) -> tuple[str, str]:
        """(subject, body) of message ``code`` for ``channel`` ("sms": subject ""; "email")
        in ``language`` (English when it has no text in that language). Every declared
        placeholder must be in ``params`` (extra ones are ignored). Raises ValueError naming
        an unknown code or channel or a missing parameter."""
        template = self.templates.get(code)
        if template is None:
            raise ValueError(f"{code!r} is not a message template")
        if channel not in CHANNELS:
            raise ValueError(f"{channel!r} is not a channel ({', '.join(CHANNELS)})")
        missing = sorted(template.params - set(params))
        if missing:
            raise ValueError(f"message {code!r}: parameter {missing[0]!r} is missing")
        lang = language_for(language)
        if channel == "sms":
            return "", template.sms[lang].format_map(params)
        subject = template.email_subject[lang].format_map(params)
        return subject, template.email_body[lang].format_map(params)


def language_for(preferred: str | None, available: Sequence[str] = LANGUAGES) -> str:
    """The language to write in: ``preferred`` (a code such as "es" or "es-MX", any case)
    when available, else English (or the first available when English is not)."""
    if preferred:
        base = preferred.strip().lower().replace("_", "-").split("-")[0]
        if base in available:
            return base
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in available else available[0]


class _Reader(FileReader):
    error = CoordinationFileError

    def fields(self, data: Any, allowed: Collection[str], path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(path or "(top level)", "must be a mapping")
        for key in data:
            if key not in allowed:
                raise self.fail(f"{path}.{key}" if path else str(key), "is not a field (typo?)")
        return data

    def params(self, data: Any, path: str, supplied: frozenset[str]) -> frozenset[str]:
        raw = self.optional(data, "params", path, list, [])
        out: set[str] = set()
        for n, name in enumerate(raw):
            if name not in supplied:
                listed = ", ".join(sorted(supplied)) or "none"
                raise self.fail(f"{path}[{n}]", f"{name!r} is not supplied (supplied: {listed})")
            if name in out:
                raise self.fail(f"{path}[{n}]", f"{name!r} appears twice")
            out.add(name)
        return frozenset(out)

    def template_text(self, data: Any, key: str, path: str, params: frozenset[str]) -> Text:
        text = self.text(data, key, path)
        for lang, value in text.items():
            self.placeholders(value, params, f"{path}.{lang}")
        return text

    def placeholders(self, template: str, allowed: frozenset[str], path: str) -> None:
        """Only ``{name}`` with a declared name: no positional ``{}``, no attribute or index
        access, no conversion or format spec (a template must not reach into objects)."""
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise self.fail(path, f"bad placeholder: {exc}") from None
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if spec or conversion:
                raise self.fail(path, f"placeholder {{{name}}} must be plain, like {{when}}")
            if name not in allowed:
                listed = ", ".join(sorted(allowed)) or "none"
                raise self.fail(
                    path, f"unknown placeholder {{{name}}} (declared in params: {listed})"
                )


def _template(
    r: _Reader, data: Any, path: str, supplied: frozenset[str], subject: Text
) -> Template:
    raw = r.fields(data, TEMPLATE_FIELDS, path)
    params = r.params(raw, f"{path}.params", supplied)
    sms = r.template_text(raw, "sms", f"{path}.sms", params)
    has_subject, has_body = "email_subject" in raw, "email_body" in raw
    if has_subject != has_body:
        missing = "email_body" if has_subject else "email_subject"
        raise r.fail(f"{path}.{missing}", "is required with the other e-mail part")
    if not has_subject:
        return Template(sms, subject, sms, params)
    email_subject = r.template_text(raw, "email_subject", f"{path}.email_subject", params)
    for lang, value in email_subject.items():
        if "\n" in value.strip():
            # A line break in a subject would end the header (and start another).
            raise r.fail(f"{path}.email_subject.{lang}", "must be one line")
    email_body = r.template_text(raw, "email_body", f"{path}.email_body", params)
    return Template(sms, email_subject, email_body, params)


def parse_templates(data: Any, *, source: str) -> MessageTemplates:
    """Validate a parsed ``messages.yaml``: every code of ``TEMPLATE_PARAMS`` and no other,
    English and Spanish text, only declared placeholders. Raises CoordinationFileError
    naming the file and the field."""
    r = _Reader(source)
    top = r.fields(data, FIELDS, "")
    subject = r.text(top, "default_email_subject", "default_email_subject")
    for lang, value in subject.items():
        r.placeholders(value, frozenset(), f"default_email_subject.{lang}")
    raw = r.get(top, "templates", "templates", dict)
    for code in raw:
        if code not in TEMPLATE_PARAMS:
            raise r.fail(f"templates.{code}", "is not a message the code sends")
    templates = {}
    for code, supplied in TEMPLATE_PARAMS.items():
        if code not in raw:
            raise r.fail(f"templates.{code}", "is required (the code sends it)")
        templates[code] = _template(r, raw[code], f"templates.{code}", supplied, subject)
    return MessageTemplates(
        version=str(r.get(top, "version", "version", (str, int, float))), templates=templates
    )


# --- times -----------------------------------------------------------------------------


def reminder_times(
    starts_at: datetime, lead_hours: Sequence[int], booked_at: datetime
) -> list[tuple[int, datetime]]:
    """(lead, planned time in UTC) for each lead in hours before ``starts_at``, earliest
    first. Leads are elapsed hours (48 h before is 48 real hours, across DST too). A
    reminder that would fall at or before ``booked_at`` is skipped: booked tomorrow, the
    48-hour reminder never goes. Both datetimes aware."""
    _aware(starts_at, "starts_at")
    _aware(booked_at, "booked_at")
    start = starts_at.astimezone(UTC)  # aware arithmetic in UTC is elapsed time
    planned = [(lead, start - timedelta(hours=lead)) for lead in lead_hours]
    return sorted(((lead, at) for lead, at in planned if at > booked_at), key=lambda p: p[1])


def outside_quiet_hours(at: datetime, local: LocalRules) -> datetime:
    """``at`` (aware) unchanged when it falls outside the quiet hours on the local wall
    clock of ``local.zone``; otherwise the first moment after them: the local end time on
    the right local day (the next day when the window wraps midnight and ``at`` is before
    midnight), in UTC. An end time the clocks skip (DST gap) becomes the first instant that
    exists after it (the moment the clocks jump); an end time that happens twice (DST fold)
    is its first occurrence after ``at``."""
    _aware(at, "at")
    zone, quiet = local.zone, local.quiet_hours
    current = at
    # More than one step only when the end time is skipped by DST and the moment the
    # clocks jump to is itself quiet (a window of nearly 24 hours); then the next day's end.
    for _ in range(4):
        wall = current.astimezone(zone)
        if not quiet.contains(wall.time()):
            return current
        end_day = wall.date()
        if quiet.start > quiet.end and wall.time() >= quiet.start:
            end_day += timedelta(days=1)
        current = next(i for i in _instants(end_day, quiet.end, zone) if i > current)
    raise AssertionError("quiet hours that never end")  # QuietHours cannot express that


def is_stale(*, starts_at: datetime, send_at: datetime) -> bool:
    """A reminder is stale (not worth sending) when it would go at or after the start of
    the appointment it reminds of."""
    return send_at >= starts_at


def check_in_due(
    *,
    last_contact: datetime | None,
    last_prompt: datetime | None,
    in_care_since: datetime,
    cadence_days: int,
    now: datetime,
) -> bool:
    """Whether a check-in prompt is due: nothing (contact, prompt) for ``cadence_days``
    elapsed days (>= 1). The clock starts at the latest of the last contact, the last
    prompt and the start of care (a contact before this episode of care does not count)."""
    if cadence_days < 1:
        raise ValueError(f"cadence_days must be at least 1, not {cadence_days}")
    latest = max(d for d in (last_contact, last_prompt, in_care_since) if d is not None)
    return now >= latest + timedelta(days=cadence_days)


def check_in_time(day: date, local: LocalRules, hour: int) -> datetime:
    """When to send a check-in prompt on local date ``day`` at local ``hour`` (0 to 23): that
    wall time in ``local.zone`` (if the clocks skip it, the moment they jump; if it happens
    twice, the first), then moved out of quiet hours. Aware, UTC."""
    first = _instants(day, time(hour), local.zone)[0]
    return outside_quiet_hours(first, local)


def _instants(day: date, wall: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the local wall time ``day`` ``wall`` occurs in ``zone``,
    earliest first: one; two in a DST fold; in a DST gap (it never occurs) the instant of
    the jump, the first that exists after it."""
    naive = datetime.combine(day, wall)
    found: list[datetime] = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant not in found:
            found.append(instant)
    if found:
        return sorted(found)
    return [_jump(naive, zone)]


def _jump(naive: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump over the non-existent local time ``naive``: it lies
    between the two readings of ``naive`` (by the offset before and after the jump)."""
    readings = sorted(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    low, high = readings
    after = high.astimezone(zone).utcoffset()
    # Bisection to the microsecond: zoneinfo has no public list of transitions.
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
