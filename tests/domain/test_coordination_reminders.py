"""Reminder timing (quiet hours across DST, lead times, check-ins) and the message templates
of content/coordination/messages.yaml.

DST facts used (tz database): America/Chicago springs forward on 2026-03-08 at 02:00 CST
(08:00 UTC) to 03:00 CDT, and falls back on 2026-11-01 at 02:00 CDT (07:00 UTC) to 01:00
CST. CST is UTC-6, CDT UTC-5; America/Denver is one hour behind Chicago all year.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stepwell.domain.content_files import LANGUAGES
from stepwell.domain.coordination.inbound import OptIn, OptOut, ShortScore, parse_sms
from stepwell.domain.coordination.reminders import (
    TEMPLATE_PARAMS,
    MessageTemplates,
    check_in_due,
    check_in_time,
    is_stale,
    language_for,
    outside_quiet_hours,
    parse_templates,
    reminder_times,
)
from stepwell.domain.coordination.rules import CoordinationFileError, LocalRules, QuietHours
from tests.domain.content_edits import DELETE, edited
from tests.domain.test_coordination_rules import RULES

CHICAGO = ZoneInfo("America/Chicago")
NIGHT = QuietHours(time(21), time(8))
LOCAL = LocalRules("America/Chicago", NIGHT)
MESSAGES_PATH = Path(__file__).resolve().parents[2] / "content" / "coordination" / "messages.yaml"
SOURCE = "content/coordination/messages.yaml"
RAW: dict[str, Any] = yaml.safe_load(MESSAGES_PATH.read_text(encoding="utf-8"))
TEMPLATES = parse_templates(RAW, source=SOURCE)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- quiet hours ----------------------------------------------------------------------------


def test_outside_quiet_hours_is_unchanged() -> None:
    at = utc(2026, 6, 1, 15, 0)  # 10:00 CDT
    assert outside_quiet_hours(at, LOCAL) is at


def test_evening_moves_to_next_morning_across_spring_forward() -> None:
    # Sat 2026-03-07 23:00 CST; the next morning is CDT, so 08:00 local is 13:00 UTC, not 14:00.
    assert outside_quiet_hours(utc(2026, 3, 8, 5, 0), LOCAL) == utc(2026, 3, 8, 13, 0)


def test_evening_moves_to_next_morning_across_fall_back() -> None:
    # Sat 2026-10-31 23:00 CDT; the next morning is CST, so 08:00 local is 14:00 UTC.
    assert outside_quiet_hours(utc(2026, 11, 1, 4, 0), LOCAL) == utc(2026, 11, 1, 14, 0)


def test_early_morning_moves_to_the_same_morning() -> None:
    assert outside_quiet_hours(utc(2026, 3, 8, 11, 0), LOCAL) == utc(2026, 3, 8, 13, 0)  # 06:00


def test_end_time_skipped_by_spring_forward_is_the_jump() -> None:
    # 02:30 does not exist on 2026-03-08 in Chicago: the first instant after it is 03:00 CDT.
    local = LocalRules("America/Chicago", QuietHours(time(21), time(2, 30)))
    result = outside_quiet_hours(utc(2026, 3, 8, 7, 0), local)  # 01:00 CST
    assert result == utc(2026, 3, 8, 8, 0)
    assert result.astimezone(CHICAGO).time() == time(3, 0)


def test_end_time_repeated_by_fall_back_is_its_next_occurrence() -> None:
    local = LocalRules("America/Chicago", QuietHours(time(0), time(1, 30)))
    # 01:15 CDT (first pass) ends at 01:30 CDT; 01:15 CST (second pass) at 01:30 CST.
    assert outside_quiet_hours(utc(2026, 11, 1, 6, 15), local) == utc(2026, 11, 1, 6, 30)
    assert outside_quiet_hours(utc(2026, 11, 1, 7, 15), local) == utc(2026, 11, 1, 7, 30)


def test_window_whose_end_is_skipped_and_whose_jump_is_quiet() -> None:
    # Quiet 02:30 to 02:15 next day (nearly all day). On 2026-03-08 02:15 never happens and
    # 03:00 CDT is quiet again, so the first free moment is 02:15 CDT on the 9th.
    local = LocalRules("America/Chicago", QuietHours(time(2, 30), time(2, 15)))
    assert outside_quiet_hours(utc(2026, 3, 8, 7, 0), local) == utc(2026, 3, 9, 7, 15)


def test_site_in_denver_and_site_in_chicago() -> None:
    at = utc(2026, 6, 1, 13, 30)  # 08:30 CDT in Chicago, 07:30 MDT in Denver
    denver = LocalRules("America/Denver", NIGHT)
    assert outside_quiet_hours(at, LOCAL) == at
    assert outside_quiet_hours(at, denver) == utc(2026, 6, 1, 14, 0)  # 08:00 MDT


def test_no_quiet_hours() -> None:
    at = utc(2026, 6, 1, 5, 0)  # midnight in Chicago
    assert (
        outside_quiet_hours(at, LocalRules("America/Chicago", QuietHours(time(8), time(8)))) == at
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="at must be timezone-aware"):
        outside_quiet_hours(datetime(2026, 6, 1, 12, 0), LOCAL)  # noqa: DTZ001


ZONES = [
    "America/Chicago",
    "America/Denver",
    "America/Santiago",  # DST changes at midnight
    "America/St_Johns",  # half-hour offset
    "Australia/Lord_Howe",  # half-hour DST shift
    "Europe/Madrid",
    "Asia/Kolkata",  # no DST
]
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))


def _transitions(zone: str) -> list[datetime]:
    """The instants (UTC, to the hour) at which ``zone`` changed its offset in 2026."""
    tz, out = ZoneInfo(zone), []
    at = utc(2026, 1, 1, 0, 0)
    while at.year == 2026:
        if (at + timedelta(hours=1)).astimezone(tz).utcoffset() != at.astimezone(tz).utcoffset():
            out.append(at + timedelta(hours=1))
        at += timedelta(hours=1)
    return out


TRANSITIONS = {zone: _transitions(zone) for zone in ZONES}
anywhere = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def zone_and_moment(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone, and a moment either anywhere or within 36 hours of one of its DST changes
    (where the mistakes would be)."""
    zone = draw(st.sampled_from(ZONES))
    near = TRANSITIONS[zone]
    close_to_a_change = draw(st.booleans())
    if near and close_to_a_change:
        minutes = draw(st.integers(-36 * 60, 36 * 60))
        return zone, draw(st.sampled_from(near)) + timedelta(minutes=minutes)
    return zone, draw(anywhere)


def test_the_zones_have_dst_changes_to_test() -> None:
    assert len(TRANSITIONS["America/Chicago"]) == 2
    assert TRANSITIONS["America/Chicago"] == [utc(2026, 3, 8, 8, 0), utc(2026, 11, 1, 7, 0)]
    assert TRANSITIONS["Asia/Kolkata"] == []


@settings(max_examples=600, deadline=None)
@given(where=zone_and_moment(), start=clock_times, end=clock_times)
def test_outside_quiet_hours_properties(
    where: tuple[str, datetime], start: time, end: time
) -> None:
    zone, at = where
    local = LocalRules(zone, QuietHours(start, end))
    result = outside_quiet_hours(at, local)
    quiet = local.quiet_hours.contains
    assert result >= at  # never earlier
    assert not quiet(result.astimezone(local.zone).time())  # never inside
    if quiet(at.astimezone(local.zone).time()):
        # The first moment after the window: a second earlier is still quiet.
        assert quiet((result - timedelta(seconds=1)).astimezone(local.zone).time())
    else:
        assert result == at


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    zone=st.sampled_from(ZONES),
    hour=st.integers(0, 23),
)
def test_check_in_time_properties(day: date, zone: str, hour: int) -> None:
    local = LocalRules(zone, NIGHT)
    at = check_in_time(day, local, hour)
    wall = at.astimezone(local.zone)
    assert not NIGHT.contains(wall.time())
    if not NIGHT.contains(time(hour)):
        assert wall.date() == day


# --- reminder and check-in times ------------------------------------------------------------


def test_reminder_times_are_elapsed_hours_across_dst() -> None:
    starts = datetime(2026, 3, 9, 10, 0, tzinfo=CHICAGO)  # Monday 10:00 CDT = 15:00 UTC
    planned = reminder_times(starts, (2, 48), booked_at=utc(2026, 3, 1, 12, 0))
    assert planned == [(48, utc(2026, 3, 7, 15, 0)), (2, utc(2026, 3, 9, 13, 0))]
    # 48 real hours before 10:00 CDT is 09:00 CST on the Saturday: the clocks moved.
    assert planned[0][1].astimezone(CHICAGO).time() == time(9, 0)


def test_a_reminder_due_before_the_booking_is_skipped() -> None:
    starts = utc(2026, 6, 10, 15, 0)
    assert reminder_times(starts, (48, 2), booked_at=utc(2026, 6, 9, 15, 0)) == [
        (2, utc(2026, 6, 10, 13, 0))
    ]
    # Exactly at the booking: skipped too (it is not after the booking).
    assert reminder_times(starts, (48,), booked_at=utc(2026, 6, 8, 15, 0)) == []
    assert reminder_times(starts, (48, 2), booked_at=utc(2026, 6, 10, 14, 0)) == []


def test_is_stale() -> None:
    starts = utc(2026, 6, 10, 15, 0)
    assert not is_stale(starts_at=starts, send_at=starts - timedelta(seconds=1))
    assert is_stale(starts_at=starts, send_at=starts)
    assert is_stale(starts_at=starts, send_at=starts + timedelta(hours=1))


def test_check_in_due() -> None:
    since = utc(2026, 1, 1, 12, 0)
    now = utc(2026, 1, 15, 12, 0)

    def due(contact: datetime | None, prompt: datetime | None, days: int = 14) -> bool:
        return check_in_due(
            last_contact=contact,
            last_prompt=prompt,
            in_care_since=since,
            cadence_days=days,
            now=now,
        )

    assert due(None, None)  # 14 days in care, nothing since
    assert not due(None, None, days=15)
    assert not due(utc(2026, 1, 10, 0, 0), None)
    assert not due(None, utc(2026, 1, 2, 0, 0))
    assert due(utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 12, 0))
    # A contact before this episode of care does not restart the clock earlier.
    assert not due(utc(2025, 6, 1, 0, 0), None, days=15)
    with pytest.raises(ValueError, match="cadence_days"):
        due(None, None, days=0)


def test_check_in_time_local_hour_on_dst_days() -> None:
    assert check_in_time(date(2026, 3, 8), LOCAL, 10) == utc(2026, 3, 8, 15, 0)  # CDT
    assert check_in_time(date(2026, 11, 1), LOCAL, 10) == utc(2026, 11, 1, 16, 0)  # CST
    assert check_in_time(date(2026, 3, 7), LOCAL, 7) == utc(2026, 3, 7, 14, 0)  # 08:00 CST
    free = LocalRules("America/Chicago", QuietHours(time(0), time(0)))
    assert check_in_time(date(2026, 3, 8), free, 2) == utc(2026, 3, 8, 8, 0)  # skipped: the jump
    assert check_in_time(date(2026, 11, 1), free, 1) == utc(2026, 11, 1, 6, 0)  # twice: first


# --- templates ------------------------------------------------------------------------------


def _all_texts(templates: MessageTemplates) -> list[tuple[str, str, str, str]]:
    out = []
    for code, template in templates.templates.items():
        for part in ("sms", "email_subject", "email_body"):
            for lang, text in getattr(template, part).items():
                out.append((code, part, lang, text))
    return out


def test_shipped_templates_have_english_and_spanish() -> None:
    assert set(TEMPLATES.templates) == set(TEMPLATE_PARAMS)
    for template in TEMPLATES.templates.values():
        for part in (template.sms, template.email_subject, template.email_body):
            assert set(part) == set(LANGUAGES)
            assert all(t.strip() for t in part.values())


FORBIDDEN = re.compile(
    r"mental|depress|anxi|ansiedad|psych|psiqu|psic|diagnos|therap|terapia|questionnaire|"
    r"cuestionario|PHQ-|GAD|suicid|crisis|mood|ánimo|peer|par de apoyo",
    re.IGNORECASE,
)


def test_shipped_templates_are_discreet() -> None:
    for code, part, lang, text in _all_texts(TEMPLATES):
        assert not FORBIDDEN.search(text), (code, part, lang, text)


def test_keywords_the_messages_teach_are_the_ones_understood() -> None:
    for code, _, lang, text in _all_texts(TEMPLATES):
        for example in re.findall(r"PHQ2(?: \d)+", text):
            assert isinstance(parse_sms(example, RULES.inbound), ShortScore), (code, lang)
        for word in re.findall(r"\b(STOP|BAJA)\b", text):
            assert isinstance(parse_sms(word, RULES.inbound), OptOut), (code, lang)
        for word in re.findall(r"\b(START|ALTA)\b", text):
            assert isinstance(parse_sms(word, RULES.inbound), OptIn), (code, lang)


def test_not_understood_reply_explains_the_format_and_how_to_stop() -> None:
    sms = TEMPLATES.templates["reply-not-understood"].sms
    assert "PHQ2 1 2" in sms["en"]
    assert "STOP" in sms["en"]
    assert "PHQ2 1 2" in sms["es"]
    assert "BAJA" in sms["es"]


def test_render_sms_and_email() -> None:
    params = {"when": "Monday 9 March, 10:00", "place": "Pinecrest", "modality": "In person"}
    subject, body = TEMPLATES.render("appointment-reminder", "sms", "en", params)
    assert subject == ""
    assert "Monday 9 March, 10:00" in body
    assert "Pinecrest" in body
    subject, body = TEMPLATES.render("appointment-reminder", "email", "es", params)
    assert subject == "Recordatorio de cita"
    assert "Pinecrest" in body


def test_render_falls_back_to_english_and_e_mail_falls_back_to_the_sms_text() -> None:
    subject, body = TEMPLATES.render("number-unknown", "email", "fr", {})
    assert subject == RAW["default_email_subject"]["en"]
    assert body == TEMPLATES.templates["number-unknown"].sms["en"]
    assert TEMPLATES.render("reply-recorded", "sms", "es-MX", {})[1].startswith("Gracias")
    assert TEMPLATES.render("reply-recorded", "sms", None, {})[1].startswith("Thank")


def test_render_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="parameter 'place' is missing"):
        TEMPLATES.render("appointment-reminder", "sms", "en", {"when": "x", "modality": "y"})
    with pytest.raises(ValueError, match="not a message template"):
        TEMPLATES.render("birthday", "sms", "en", {})
    with pytest.raises(ValueError, match="not a channel"):
        TEMPLATES.render("reply-recorded", "fax", "en", {})


@pytest.mark.parametrize(
    ("preferred", "language"),
    [(None, "en"), ("", "en"), ("es", "es"), ("ES", "es"), ("es-MX", "es"), ("es_US", "es"),
     ("fr", "en"), ("en-GB", "en")],
)  # fmt: skip
def test_language_for(preferred: str | None, language: str) -> None:
    assert language_for(preferred) == language


def test_language_for_without_english() -> None:
    assert language_for("fr", available=("es",)) == "es"


def _template_fails(raw: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(CoordinationFileError) as info:
        parse_templates(raw, source=SOURCE)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: {field}: "), message
    assert words in message, message


REMINDER = ["templates", "appointment-reminder"]


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        (
            [*REMINDER, "sms", "es"],
            "Cita {cuando}",
            "templates.appointment-reminder.sms.es",
            "unknown placeholder {cuando} (declared in params: modality, place, when)",
        ),
        (
            [*REMINDER, "params"],
            ["when", "modality"],
            "templates.appointment-reminder.sms.en",
            "unknown placeholder {place}",
        ),
        (
            [*REMINDER, "params"],
            ["when", "name"],
            "templates.appointment-reminder.params[1]",
            "'name' is not supplied",
        ),
        (
            [*REMINDER, "params"],
            ["when", "when"],
            "templates.appointment-reminder.params[1]",
            "appears twice",
        ),
        ([*REMINDER, "sms", "en"], "At {}", "templates.appointment-reminder.sms.en", "{}"),
        (
            [*REMINDER, "sms", "en"],
            "At {when.year}",
            "templates.appointment-reminder.sms.en",
            "unknown placeholder {when.year}",
        ),
        ([*REMINDER, "sms", "en"], "At {when!r}", "templates.appointment-reminder.sms.en", "plain"),
        ([*REMINDER, "sms", "en"], "At {when", "templates.appointment-reminder.sms.en", "bad"),
        ([*REMINDER, "sms", "es"], DELETE, "templates.appointment-reminder.sms.es", "non-empty"),
        ([*REMINDER, "sms"], DELETE, "templates.appointment-reminder.sms", "is required"),
        (
            [*REMINDER, "email_body"],
            DELETE,
            "templates.appointment-reminder.email_body",
            "with the other e-mail part",
        ),
        (
            [*REMINDER, "email_subject", "en"],
            "Reminder\nBcc: x@example.org",
            "templates.appointment-reminder.email_subject.en",
            "one line",
        ),
        ([*REMINDER, "colour"], "red", "templates.appointment-reminder.colour", "not a field"),
        (["templates", "reply-recorded"], DELETE, "templates.reply-recorded", "is required"),
        (
            ["templates", "birthday"],
            {"sms": {"en": "x", "es": "y"}},
            "templates.birthday",
            "not a message the code sends",
        ),
        (
            ["templates", "reply-recorded", "sms", "en"],
            "Thanks {link}",
            "templates.reply-recorded.sms.en",
            "(declared in params: none)",
        ),
        (["default_email_subject"], {"en": "x"}, "default_email_subject.es", "non-empty"),
    ],
)
def test_template_errors_name_file_and_field(
    path: list[Any], value: Any, field: str, words: str
) -> None:
    _template_fails(edited(RAW, path, value), field, words)
