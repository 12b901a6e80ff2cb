"""The stepping engine against scenario histories written as data (stepping_cases.yaml),
and the protocol file's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stepwell.domain.stepping.engine import Contact, EpisodeState, Measurement, review
from stepwell.domain.stepping.protocol import ProtocolFileError, parse_protocol
from tests.domain.content_edits import DELETE, edited
from tests.domain.test_instruments import INSTRUMENTS

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_FILE = ROOT / "content" / "protocols" / "default.yaml"
RAW = yaml.safe_load(PROTOCOL_FILE.read_text(encoding="utf-8"))
PROTOCOL = parse_protocol(RAW, source=str(PROTOCOL_FILE), instruments=INSTRUMENTS)
CASES = yaml.safe_load((Path(__file__).parent / "stepping_cases.yaml").read_text("utf-8"))
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def _run(case: dict[str, Any]):  # type: ignore[no-untyped-def]
    e = case["episode"]
    episode = EpisodeState(
        step=e["step"],
        step_since=_ago(e["step_since"]),
        in_care_since=_ago(e.get("in_care", e["step_since"])).date(),
        last_review_at=_ago(e["last_review"]) if "last_review" in e else None,
        initial_step=e.get("initial_step", False),
    )
    measurements = [
        Measurement(
            id=m["id"],
            instrument=m["instrument"],
            taken_at=_ago(m["ago"]),
            total=m["total"],
            band=INSTRUMENTS[m["instrument"]].band_for(m["total"]).code,
            safety=tuple(m.get("safety", ())),
        )
        for m in case["measurements"]
    ]
    contacts = [Contact(_ago(c["ago"]), c["kind"], c["outcome"]) for c in case.get("contacts", [])]
    return review(PROTOCOL, INSTRUMENTS, episode, measurements, contacts, NOW)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_scenario(case: dict[str, Any]) -> None:
    result = _run(case)
    expect = case["expect"]
    assert [r.action for r in result.recommendations] == expect["actions"]
    first = result.recommendations[0]
    assert first.protocol_version == "1.0"
    if "to_step" in expect:
        assert first.to_step == expect["to_step"]
    if "reasons" in expect:
        assert [r.code for r in first.reasons] == expect["reasons"]
    if "evidence" in expect:
        assert sorted(first.evidence) == expect["evidence"]
    if "review_within_days" in expect:
        assert first.review_within_days == expect["review_within_days"]
    assert sorted(f.code for f in result.flags) == sorted(expect["flags"])
    for lang in ("en", "es"):
        if f"text_{lang}" in expect:
            assert first.reasons[0].text(PROTOCOL, lang) == expect[f"text_{lang}"]
    # Every reason of every recommendation and flag renders in both languages.
    for item in (*result.recommendations, *result.flags):
        for reason in item.reasons:
            for lang in ("en", "es"):
                assert "{" not in reason.text(PROTOCOL, lang)


def test_every_flag_carries_a_reason() -> None:
    for case in CASES:
        for flag in _run(case).flags:
            assert flag.reasons, (case["name"], flag.code)


def test_the_default_protocol_says_it_needs_clinical_confirmation() -> None:
    assert PROTOCOL.status == "defaults to be confirmed clinically"
    assert "TO BE CONFIRMED CLINICALLY" in PROTOCOL_FILE.read_text(encoding="utf-8")
    assert sorted(PROTOCOL.steps) == [1, 2, 3, 4]
    assert PROTOCOL.steps[2].review_days == 56


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["rules", "step_up", "after_days"],
            "eight weeks",
            "rules.step_up.after_days: must be int",
        ),
        (["rules", "step_up"], DELETE, "rules.step_up: is required"),
        (["primary_measures", 1], "GAD-8", "primary_measures[1]: 'GAD-8' is not an instrument"),
        (
            ["starting_step", 0, "any_band", "PHQ-9", 0],
            "very-severe",
            "starting_step[0].any_band.PHQ-9[0]: 'very-severe' is not a PHQ-9 band",
        ),
        (["starting_step", 1, "to_step"], 5, "starting_step[1]: 5 is not a step (1-4)"),
        (["steps", 3, "step"], 3, "steps: must define steps 1, 2, 3 and 4 once each"),
        (["texts", "review-due"], DELETE, "texts.review-due: is required"),
        (
            ["texts", "review-due", "es"],
            "Revisión pendiente desde {fecha}",
            "texts.review-due.es: unknown placeholder {fecha}",
        ),
        (
            ["texts", "review-due", "en"],
            "Review due since {due",
            "texts.review-due.en: bad placeholder",
        ),
        (["texts", "no-such-reason"], {"en": "x", "es": "y"}, "texts.no-such-reason: is not a"),
        (["rules", "case_conference", "to_days"], 10, "must not be before from_days"),
        (["flags", "contact_overdue", "use_step_cadence"], "yes", "must be bool"),
        (["rules", "urgent_escalation", "review_within_days"], -1, "must be 0 or more"),
    ],
)
def test_a_bad_protocol_names_the_file_and_the_field(
    path: list[Any], value: Any, message: str
) -> None:
    with pytest.raises(ProtocolFileError) as error:
        parse_protocol(edited(RAW, path, value), source="x/protocol.yaml", instruments=INSTRUMENTS)
    assert str(error.value).startswith("x/protocol.yaml: ")
    assert message in str(error.value)


def _below_caseness_reference(
    series: dict[str, list[Measurement]], primary: tuple[str, ...], since: datetime
) -> list[tuple[Any, dict[str, Measurement]]]:
    """The run as the rule reads: every assessment day since ``since``, newest first, while
    each measure's last value on or before that day is below its caseness cut-off."""
    days = sorted({m.taken_at.date() for s in series.values() for m in s if m.taken_at >= since})
    run = []
    for day in reversed(days):
        values = {}
        for code in primary:
            before = [m for m in series.get(code, []) if m.taken_at.date() <= day]
            cut = INSTRUMENTS[code].caseness_min
            if not before or cut is None or before[-1].total >= cut:
                return run
            values[code] = before[-1]
        run.append((day, values))
    return run


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.sampled_from(["PHQ-9", "GAD-7", "PHQ-15"]),
            st.integers(min_value=0, max_value=200),  # days ago
            st.integers(min_value=0, max_value=23),  # hour
            st.integers(min_value=0, max_value=14),  # total
        ),
        max_size=25,
    ),
    step_days=st.integers(min_value=0, max_value=200),
)
def test_the_below_caseness_walk_matches_the_rule_read_literally(
    data: list[tuple[str, int, int, int]], step_days: int
) -> None:
    """The engine finds the run's days lazily (most walks stop at the latest day); the days
    and values must be those of the rule applied to every day."""
    from stepwell.domain.stepping.engine import _below_caseness_run, _Context

    series: dict[str, list[Measurement]] = {}
    for k, (code, ago, hour, total) in enumerate(
        sorted(data, key=lambda d: NOW - timedelta(days=d[1], hours=d[2]))
    ):
        at = NOW.replace(hour=0) - timedelta(days=ago) + timedelta(hours=hour)
        band = INSTRUMENTS[code].band_for(total).code
        series.setdefault(code, []).append(Measurement(k, code, at, total, band))
    for s in series.values():
        s.sort(key=lambda m: (m.taken_at, m.id))
    episode = EpisodeState(step=2, step_since=_ago(step_days), in_care_since=_ago(200).date())
    primary = PROTOCOL.steps[2].primary_measures
    ctx = _Context(PROTOCOL, INSTRUMENTS, episode, NOW, series, primary)
    assert _below_caseness_run(ctx) == _below_caseness_reference(
        series, primary, ctx.window_start()
    )
