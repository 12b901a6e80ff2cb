"""content/coordination/access.yaml: the shipped file loads with en + es for every text, and
bad input is refused with an error naming the file and the field. Also the attendance
rules of domain/coordination/appointments.py. Other test_coordination_* modules import the
loaded rules from here."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from stepwell.domain.content_files import LANGUAGES
from stepwell.domain.coordination.appointments import (
    ATTENDANCE_CODES,
    attendance_problem,
    contact_outcome,
)
from stepwell.domain.coordination.rules import (
    CoordinationFileError,
    CoordinationRules,
    QuietHours,
    parse_rules,
)
from tests.domain.content_edits import DELETE, edited

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content" / "coordination"
ACCESS_PATH = CONTENT_DIR / "access.yaml"
SOURCE = "content/coordination/access.yaml"
RAW: dict[str, Any] = yaml.safe_load(ACCESS_PATH.read_text(encoding="utf-8"))


def load_rules(raw: dict[str, Any] | None = None) -> CoordinationRules:
    return parse_rules(RAW if raw is None else raw, source=SOURCE)


RULES = load_rules()


def _fails(raw: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(CoordinationFileError) as info:
        load_rules(raw)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: {field}: "), message
    assert words in message, message


# --- the shipped file -------------------------------------------------------------------


def test_shipped_file_loads_with_the_documented_defaults() -> None:
    assert RULES.version == "1.0"
    assert RULES.default.time_zone == "America/Chicago"
    assert RULES.default.quiet_hours == QuietHours(time(21), time(8))
    assert RULES.reminders.lead_hours == (48, 2)
    assert RULES.referrals.accept_within_hours == {"routine": 14 * 24, "urgent": 48}
    assert RULES.travel.road_factor >= 1
    assert {"STOP", "BAJA", "UNSUBSCRIBE", "CANCELAR", "ALTO"} <= RULES.inbound.opt_out
    assert {"START", "ALTA", "UNSTOP"} <= RULES.inbound.opt_in
    assert RULES.inbound.short_scores == {"PHQ2": "PHQ-2"}


def test_every_text_in_the_shipped_file_has_english_and_spanish() -> None:
    labels = [
        *(m.label for m in RULES.modalities.values()),
        *(a.label for a in RULES.attendance.values()),
        *RULES.cancellation_reasons.values(),
    ]
    for label in labels:
        assert set(label) == set(LANGUAGES)
        assert all(text.strip() for text in label.values())


def test_shipped_vocabulary() -> None:
    assert list(RULES.modalities) == [
        "in-person",
        "video",
        "phone",
        "home-visit",
        "group",
        "peer-contact",
        "case-conference",
    ]
    travelling = {code for code, m in RULES.modalities.items() if m.in_person}
    assert travelling == {"in-person", "group"}  # a home visit: staff travel, not the patient
    assert tuple(RULES.attendance) == ATTENDANCE_CODES
    assert set(RULES.cancellation_reasons) == {
        "transport",
        "illness",
        "work",
        "caregiving",
        "weather",
        "forgot",
        "service-cancelled",
        "other",
    }


def test_local_for_falls_back_to_the_default() -> None:
    raw = edited(RAW, ["sites"], {"clinic-high-mesa": {"time_zone": "America/Denver"}})
    rules = load_rules(raw)
    mesa = rules.local_for("clinic-high-mesa")
    assert mesa.time_zone == "America/Denver"
    assert mesa.quiet_hours == rules.default.quiet_hours  # not overridden: inherited
    assert str(mesa.zone) == "America/Denver"
    assert rules.local_for("clinic-pinecrest") is rules.default
    assert rules.local_for(None) is rules.default


# --- quiet hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),  # start is inside
        (time(23, 59), True),
        (time(0, 0), True),  # wraps midnight
        (time(7, 59, 59), True),
        (time(8, 0), False),  # end is outside
        (time(12, 0), False),
    ],
)
def test_quiet_hours_wrapping_midnight(clock: time, quiet: bool) -> None:
    assert QuietHours(time(21), time(8)).contains(clock) is quiet


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [(time(12, 59), False), (time(13), True), (time(13, 59), True), (time(14), False)],
)
def test_quiet_hours_within_one_day(clock: time, quiet: bool) -> None:
    assert QuietHours(time(13), time(14)).contains(clock) is quiet


def test_equal_start_and_end_means_no_quiet_hours() -> None:
    hours = QuietHours(time(8), time(8))
    assert not any(hours.contains(time(h, m)) for h in range(24) for m in (0, 30))


# --- errors name the file and the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        (["default", "time_zone"], "America/Chicgo", "default.time_zone", "not an IANA"),
        (["default", "time_zone"], "../etc/passwd", "default.time_zone", "not an IANA"),
        (["default", "time_zone"], DELETE, "default.time_zone", "is required"),
        (["default", "quiet_hours", "start"], 1260, "default.quiet_hours.start", "in quotes"),
        (["default", "quiet_hours", "end"], "8am", "default.quiet_hours.end", "not a time"),
        (["default", "quiet_hours", "end"], "24:00", "default.quiet_hours.end", "not a time"),
        (["default", "colour"], "blue", "default.colour", "not a field"),
        (["travel", "road_factor"], 0.9, "travel.road_factor", "at least 1"),
        (["travel", "speed_kmh"], 0, "travel.speed_kmh", "above 0"),
        (["travel", "speed_kmh"], True, "travel.speed_kmh", "must be a number"),
        (["travel", "suggest_above_minutes"], 0, "travel.suggest_above_minutes", "from 1"),
        (["reminders", "lead_hours"], [48, 0], "reminders.lead_hours[1]", "from 1"),
        (["reminders", "lead_hours"], [48, 48], "reminders.lead_hours[1]", "twice"),
        (["reminders", "check_in_hour"], 24, "reminders.check_in_hour", "0 to 23"),
        (["reminders", "check_in_reply_days"], 0, "reminders.check_in_reply_days", "1 to 60"),
        (["reminders", "check_in_reply_days"], DELETE, "reminders.check_in_reply_days", "required"),
        (["reminders", "check_in_instrument"], " ", "reminders.check_in_instrument", "instrument"),
        (["inbound", "reply_match_days"], 90, "inbound.reply_match_days", "1 to 60"),
        (
            ["referrals", "accept_within_hours", "emergent"],
            4,
            "referrals.accept_within_hours.emergent",
            "not an urgency",
        ),
        (
            ["referrals", "accept_within_hours", "urgent"],
            DELETE,
            "referrals.accept_within_hours.urgent",
            "is required",
        ),
        (["inbound", "opt_out"], [], "inbound.opt_out", "at least one"),
        (["inbound", "opt_out"], ["STOP", "stop please"], "inbound.opt_out[1]", "one word"),
        (["inbound", "opt_in"], ["START", "Baja"], "inbound.opt_in[1]", "already listed"),
        (["inbound", "short_scores", "PHQ2"], "", "inbound.short_scores.PHQ2", "instrument"),
        (["inbound", "short_scores", "STOP"], "x", "inbound.short_scores.STOP", "already"),
        (["modalities", 1, "code"], "Video", "modalities[1].code", "not a code"),
        (["modalities", 1, "code"], "in-person", "modalities[1].code", "appears twice"),
        (["modalities", 1, "label", "es"], "", "modalities[1].label.es", "non-empty"),
        (["modalities", 2, "in_person"], "no", "modalities[2].in_person", "must be bool"),
        (["attendance", 0, "code"], "present", "attendance[0].code", "not one of"),
        (["attendance", 4, "contact"], "absent", "attendance[4].contact", "not one of"),
        (["attendance", 4, "contact"], DELETE, "attendance[4].contact", "is required"),
        (["cancellation_reasons"], [], "cancellation_reasons", "at least one"),
        (["cancellation_reasons", 0, "label"], {"en": "x"}, "cancellation_reasons[0].label.es", ""),
        (["sites"], {"bad code!": {"time_zone": "UTC"}}, "sites.bad code!", "not a site code"),
        (["sites"], {"x": {"time_zone": "Mars/Olympus"}}, "sites.x.time_zone", "not an IANA"),
        (["sites"], {"x": {}}, "sites.x", "overrides nothing"),
        (["versoin"], "2", "versoin", "typo"),
    ],
)
def test_bad_values_name_file_and_field(
    path: list[Any], value: Any, field: str, words: str
) -> None:
    _fails(edited(RAW, path, value), field, words)


def test_a_required_modality_cannot_be_removed() -> None:
    raw = edited(RAW, ["modalities"], [m for m in RAW["modalities"] if m["code"] != "video"])
    _fails(raw, "modalities", "'video' is required")


def test_every_attendance_code_is_required() -> None:
    raw = edited(RAW, ["attendance"], RAW["attendance"][:-1])
    _fails(raw, "attendance", "'did-not-attend' is required")


def test_keywords_are_stored_folded() -> None:
    raw = edited(RAW, ["inbound", "opt_out"], ["stop", "BáJa"])
    assert load_rules(raw).inbound.opt_out == frozenset({"STOP", "BAJA"})


def test_not_a_mapping() -> None:
    with pytest.raises(CoordinationFileError, match=r"^content/.*: \(top level\): "):
        parse_rules(["a list"], source=SOURCE)


# --- attendance ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attendance", "outcome"),
    [
        ("attended", "attended"),
        ("late-seen", "attended"),
        ("cancelled-patient", None),
        ("cancelled-service", None),
        ("did-not-attend", "no-show"),
    ],
)
def test_contact_outcome(attendance: str, outcome: str | None) -> None:
    assert contact_outcome(attendance, RULES) == outcome


def test_contact_outcome_of_an_unknown_code() -> None:
    with pytest.raises(ValueError, match="'present' is not an attendance code"):
        contact_outcome("present", RULES)


def test_attendance_problems() -> None:
    assert attendance_problem("attended", None, RULES) is None
    assert attendance_problem("attended", "", RULES) is None
    assert attendance_problem("cancelled-patient", None, RULES) is None  # a reason is optional
    assert attendance_problem("cancelled-patient", "transport", RULES) is None
    assert attendance_problem("cancelled-service", "weather", RULES) is None
    problem = attendance_problem("did-not-attend", "transport", RULES)
    assert problem is not None
    assert "'did-not-attend'" in problem
    problem = attendance_problem("cancelled-patient", "aliens", RULES)
    assert problem is not None
    assert "'aliens' is not a cancellation reason" in problem
    problem = attendance_problem("no-idea", None, RULES)
    assert problem is not None
    assert "'no-idea' is not an attendance code" in problem
