from __future__ import annotations

from datetime import date

import pytest

from stepwell.domain.records import (
    check_birth_date,
    check_episode_dates,
    check_location,
    check_step,
    phone_number,
)

TODAY = date(2026, 11, 23)


def test_birth_date_rules() -> None:
    assert check_birth_date(date(1980, 1, 1), today=TODAY) == []
    assert check_birth_date(TODAY, today=TODAY) == []
    [future] = check_birth_date(date(2026, 11, 24), today=TODAY)
    assert future.field == "birth_date"
    assert "future" in future.message
    [old] = check_birth_date(date(1900, 1, 1), today=TODAY)
    assert "120 years" in old.message


def test_episode_dates() -> None:
    ok = check_episode_dates(
        referral_date=date(2026, 9, 1), first_contact_date=date(2026, 9, 1), today=TODAY
    )
    assert ok == []
    problems = check_episode_dates(
        referral_date=date(2026, 12, 1), first_contact_date=date(2026, 11, 20), today=TODAY
    )
    assert [p.field for p in problems] == ["referral_date", "first_contact_date"]
    assert "before the referral date 2026-12-01" in problems[1].message


def test_location_and_step() -> None:
    assert check_location(None, None, prefix="home") == []
    assert [p.field for p in check_location(10.0, None, prefix="home")] == ["home_longitude"]
    assert [p.field for p in check_location(-91.0, 181.0, prefix="home")] == [
        "home_latitude",
        "home_longitude",
    ]
    assert check_step(4) == []
    assert check_step(1) == []
    assert check_step(0)[0].message == "0 is not one of 1, 2, 3, 4"
    assert check_step(5, field="to_step")[0].field == "to_step"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("+1 (555) 010-0123", "+15550100123"),
        ("555.010.0123", "+5550100123"),
        ("+52 55 1234 5678", "+525512345678"),
        ("12345", None),  # too short to be a number
        ("+1 555 CALL NOW", None),
        ("", None),
    ],
)
def test_phone_numbers_are_stored_in_one_form(raw: str, stored: str | None) -> None:
    assert phone_number(raw) == stored
