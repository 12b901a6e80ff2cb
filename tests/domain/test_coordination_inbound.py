"""Reading SMS replies: opt-out and opt-in keywords, short questionnaire answers, and
everything else (not understood, with a reason code)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepwell.domain.coordination.inbound import (
    MAX_BODY_CHARS,
    NOT_UNDERSTOOD_REASONS,
    NotUnderstood,
    OptIn,
    OptOut,
    ShortScore,
    fold,
    parse_sms,
)
from tests.domain.test_coordination_rules import RULES

# The shipped keywords, plus GAD2 to show that keywords come from the file.
INBOUND = replace(RULES.inbound, short_scores={**RULES.inbound.short_scores, "GAD2": "GAD-2"})
PHQ2 = INBOUND.short_scores["PHQ2"]
GAD2 = INBOUND.short_scores["GAD2"]


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "STOP"),
        ("stop", "STOP"),
        ("  Stop.  ", "STOP"),
        ("STOP!!!", "STOP"),
        ("báJa", "BAJA"),
        ("¡Baja!", "BAJA"),
        ("BAJA 🙏", "BAJA"),
        ("\uff33\uff34\uff2f\uff30", "STOP"),  # fullwidth letters, as some keyboards send
        ("S\u200bTOP", "STOP"),  # a zero-width space inside
        ("unsubscribe", "UNSUBSCRIBE"),
        ("Cancelar", "CANCELAR"),
        ("alto", "ALTO"),
    ],
)
def test_opt_out(body: str, keyword: str) -> None:
    assert parse_sms(body, INBOUND) == OptOut(keyword)


@pytest.mark.parametrize(
    ("body", "keyword"), [("START", "START"), ("alta", "ALTA"), ("Unstop", "UNSTOP")]
)
def test_opt_in(body: str, keyword: str) -> None:
    assert parse_sms(body, INBOUND) == OptIn(keyword)


def test_an_opt_out_keyword_inside_a_sentence_is_not_an_opt_out() -> None:
    # Only the keyword alone stops messages; the not-understood reply then says how to stop.
    assert parse_sms("please stop texting me", INBOUND) == NotUnderstood("unknown-keyword")
    assert parse_sms("STOP STOP", INBOUND) == NotUnderstood("unknown-keyword")


@pytest.mark.parametrize(
    ("body", "instrument", "values"),
    [
        ("PHQ2 1 2", PHQ2, (1, 2)),
        ("phq2 3", PHQ2, (3,)),
        ("PHQ-2 1 2", PHQ2, (1, 2)),
        ("PHQ2 1,2", PHQ2, (1, 2)),
        ("phq2: 0, 3", PHQ2, (0, 3)),
        ("PHQ2:1 2", PHQ2, (1, 2)),
        ("phq2:", PHQ2, ()),
        ("PHQ 2 1 2", PHQ2, (1, 2)),  # keyword split by a space
        ("  phq2   2    1 . ", PHQ2, (2, 1)),
        ("GAD2 0 0", GAD2, (0, 0)),
        ("gad-2 \uff13 \uff12", GAD2, (3, 2)),  # fullwidth digits
        ("PHQ2 12 99", PHQ2, (12, 99)),  # range per instrument is checked when scoring
        ("PHQ2 1 2 🙂", PHQ2, (1, 2)),
        ("Phq2 1 2\n", PHQ2, (1, 2)),
    ],
)
def test_short_scores(body: str, instrument: str, values: tuple[int, ...]) -> None:
    assert parse_sms(body, INBOUND) == ShortScore(instrument, values)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\u200b", "empty"),
        ("x" * (MAX_BODY_CHARS + 1), "too-long"),
        ("hello", "unknown-keyword"),
        ("1 2", "unknown-keyword"),
        ("🙂", "unknown-keyword"),
        ("👍🏽", "unknown-keyword"),
        ("?!", "unknown-keyword"),
        ("PHQ9 1 2", "unknown-keyword"),
        ("Sí", "unknown-keyword"),
        ("PHQ2 one two", "bad-number"),
        ("PHQ2 1.5 2", "bad-number"),
        ("PHQ2 -1 2", "bad-number"),
        ("PHQ2 100", "bad-number"),
        ("PHQ2 1 2x", "bad-number"),
    ],
)
def test_not_understood(body: str, reason: str) -> None:
    assert parse_sms(body, INBOUND) == NotUnderstood(reason)


def test_long_body_with_trailing_spaces_is_still_read() -> None:
    # Length is counted without surrounding white space, which carries nothing.
    assert parse_sms("STOP" + " " * 600, INBOUND) == OptOut("STOP")


def test_at_the_length_limit() -> None:
    body = "PHQ2 " + "1 " * ((MAX_BODY_CHARS - 5) // 2)
    assert len(body.strip()) <= MAX_BODY_CHARS
    assert isinstance(parse_sms(body, INBOUND), ShortScore)


def test_fold() -> None:
    assert fold("  báJa\u00a0 ñandú ") == "BAJA NANDU"
    assert fold("Straße") == "STRASSE"


@given(st.text(max_size=600))
def test_any_text_gives_a_command(body: str) -> None:
    command = parse_sms(body, INBOUND)
    assert isinstance(command, OptOut | OptIn | ShortScore | NotUnderstood)
    if isinstance(command, NotUnderstood):
        assert command.reason in NOT_UNDERSTOOD_REASONS
    if isinstance(command, ShortScore):
        assert all(0 <= v <= 99 for v in command.values)
    if isinstance(command, OptOut):
        assert command.keyword in INBOUND.opt_out


@given(
    keyword=st.sampled_from(sorted(INBOUND.opt_out)),
    before=st.text(alphabet=" .!¡¿?,", max_size=3),
    after=st.text(alphabet=" .!?,;:", max_size=3),
    lower=st.booleans(),
)
def test_an_opt_out_keyword_alone_always_opts_out(
    keyword: str, before: str, after: str, lower: bool
) -> None:
    word = keyword.lower() if lower else keyword
    assert parse_sms(f"{before}{word}{after}", INBOUND) == OptOut(keyword)
