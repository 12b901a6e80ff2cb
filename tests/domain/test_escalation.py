"""Escalation rules in the protocol file and the structured risk screen (pure domain)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from stepwell.domain.instruments.parse import parse_instrument
from stepwell.domain.safety.escalation import SafetyRules, worsening_signal
from stepwell.domain.safety.screen import RiskScreenError, ScreenAnswerError, parse_risk_screen
from stepwell.domain.stepping.protocol import ProtocolFileError, parse_protocol

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("America/Denver")


def _instruments() -> dict[str, Any]:
    out = {}
    for path in sorted((ROOT / "content" / "instruments").glob("*.yaml")):
        inst = parse_instrument(yaml.safe_load(path.read_text()), source=str(path))
        out[inst.code] = inst
    return out


INSTRUMENTS = _instruments()
PROTOCOL = yaml.safe_load((ROOT / "content" / "protocols" / "default.yaml").read_text())


def _rules(edit: Any = None) -> SafetyRules:
    data = copy.deepcopy(PROTOCOL)
    if edit:
        edit(data["safety"])
    return parse_protocol(data, source="p.yaml", instruments=INSTRUMENTS).safety


def test_item9_severity_follows_the_answer() -> None:
    rules = _rules()
    assert rules.severity_for_signal("item-9", 1) == "routine"
    assert rules.severity_for_signal("item-9", 2) == "moderate"
    assert rules.severity_for_signal("item-9", 3) == "high"
    # A signal the file does not grade is treated as the most severe, never as minor.
    assert rules.severity_for_signal("unknown-signal", 1) == "high"


def test_high_deadline_is_an_hour_and_routine_is_the_end_of_the_working_day() -> None:
    rules = _rules()
    tuesday_10 = datetime(2026, 11, 24, 10, 0, tzinfo=ZONE)
    assert rules.due_at("high", tuesday_10, ZONE) == tuesday_10 + timedelta(hours=1)
    assert rules.due_at("moderate", tuesday_10, ZONE) == tuesday_10 + timedelta(hours=4)
    assert rules.due_at("routine", tuesday_10, ZONE) == datetime(2026, 11, 24, 17, 0, tzinfo=ZONE)
    # After hours on a Friday: the end of the next working day, Monday.
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=ZONE).astimezone(UTC)
    due = rules.due_at("routine", friday_evening, ZONE)
    assert due == datetime(2026, 11, 30, 17, 0, tzinfo=ZONE)
    assert due.tzinfo is not None


def test_retry_waits_double_up_to_a_cap_then_give_up() -> None:
    rules = _rules()
    waits = [rules.retry_delay(n) for n in range(1, 9)]
    assert [w.total_seconds() / 60 for w in waits[:6] if w] == [1, 2, 4, 8, 16, 30]
    assert waits[6] == timedelta(minutes=30)
    assert waits[7] is None  # the 8th failure: give up (status failed)


def test_severe_worsening_by_rise_or_into_a_band() -> None:
    rule = _rules().worsening
    assert worsening_signal(rule, "PHQ-9", 5, "mild", 15, "moderately-severe") == {
        "measure": "PHQ-9",
        "before": 5,
        "after": 15,
        "rise": 10,
    }
    assert worsening_signal(rule, "PHQ-9", 5, "mild", 14, "moderate") is None
    assert worsening_signal(rule, "PHQ-9", 18, "moderately-severe", 20, "severe") is not None
    assert worsening_signal(rule, "PHQ-9", 21, "severe", 23, "severe") is None  # already there
    assert worsening_signal(rule, "WSAS", 0, "x", 40, "y") is None  # no rule for WSAS


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda s: s["deadlines"].pop("high"), "safety.deadlines.high: is required"),
        (lambda s: s["deadlines"].update(high="soon"), "safety.deadlines.high: must be minutes"),
        (lambda s: s["deadlines"].update(high=0), "safety.deadlines.high: must be 1 or more"),
        (lambda s: s["working_day"].update(days=["mon", "fri-day"]), "days[1]"),
        (lambda s: s["working_day"].update(ends_at="5pm"), "safety.working_day.ends_at"),
        (lambda s: s["signals"]["item-9"].update({1: "mild"}), "safety.signals.item-9.1"),
        (lambda s: s["crisis_language"].pop("review"), "safety.crisis_language.review"),
        (lambda s: s["concern"].update(asap="high"), "safety.concern.asap"),
        (
            lambda s: s["severe_worsening"]["rise_at_least"].update({"PHQ-99": 3}),
            "safety.severe_worsening.PHQ-99",
        ),
        (lambda s: s.pop("notification_retry"), "safety.notification_retry: is required"),
    ],
)
def test_a_bad_safety_section_is_refused_naming_the_field(edit: Any, field: str) -> None:
    with pytest.raises(ProtocolFileError) as err:
        _rules(edit)
    assert field in str(err.value)
    assert str(err.value).startswith("p.yaml: ")


SCREEN = yaml.safe_load((ROOT / "content" / "safety" / "risk_screen.yaml").read_text())


def test_risk_screen_indicates_the_c_ssrs_triage_level() -> None:
    screen = parse_risk_screen(SCREEN, source="s.yaml")
    no = {q.code: False for q in screen.questions}
    assert screen.indicated_level(no) == "none"
    assert screen.indicated_level(no | {"wish-dead": True}) == "low"
    assert screen.indicated_level(no | {"thoughts": True, "method": True}) == "moderate"
    assert screen.indicated_level(no | {"intent": True}) == "high"
    assert screen.indicated_level(no | {"behaviour-recent": True}) == "high"
    assert screen.indicated_level(no | {"behaviour-ever": True}) == "moderate"


def test_risk_screen_answers_must_be_complete_and_known() -> None:
    screen = parse_risk_screen(SCREEN, source="s.yaml")
    no = {q.code: False for q in screen.questions}
    with pytest.raises(ScreenAnswerError) as err:
        screen.indicated_level({k: v for k, v in no.items() if k != "intent"})
    assert err.value.field == "screen.intent"
    with pytest.raises(ScreenAnswerError) as err:
        screen.indicated_level(no | {"mood": True})
    assert err.value.field == "screen.mood"
    with pytest.raises(ScreenAnswerError) as err:
        screen.indicated_level(no | {"plan": "yes"})
    assert "'yes' is not yes or no" in str(err.value)


def test_a_bad_risk_screen_file_is_refused_naming_the_field() -> None:
    data = copy.deepcopy(SCREEN)
    data["questions"][2]["level"] = "severe"
    with pytest.raises(RiskScreenError, match=r"s.yaml: questions\[2\].level"):
        parse_risk_screen(data, source="s.yaml")
    data = copy.deepcopy(SCREEN)
    del data["questions"][0]["text"]["es"]
    with pytest.raises(RiskScreenError, match=r"questions\[0\].text.es"):
        parse_risk_screen(data, source="s.yaml")
