"""Checks on a peer's profile and on a recorded encounter against the vocabulary."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from stepwell.domain.peers.profile import (
    PeerEncounter,
    PeerProfile,
    check_encounter,
    check_profile,
)
from tests.domain.test_peer_content import RULES, VOCABULARY

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GOOD = PeerProfile(
    languages=("es", "en"),
    lived_experience=("fibromyalgia", "caring-for-relative"),
    gender="woman",
    modalities=("in-person", "phone"),
    availability=("tue-evening", "sat-morning"),
    max_patients=4,
    home_latitude=37.6,
    home_longitude=-106.0,
    travel_km=30,
)
ENCOUNTER = PeerEncounter(
    occurred_at=NOW - timedelta(hours=2),
    modality="phone",
    minutes=40,
    topics=("medication-routine", "preparing-questions"),
    mood_before=2,
    mood_after=3,
)


def fields(profile: PeerProfile) -> list[str]:
    return [p.field for p in check_profile(profile, VOCABULARY, RULES)]


def test_a_good_profile_has_no_problems() -> None:
    assert check_profile(GOOD, VOCABULARY, RULES) == []
    minimal = PeerProfile(("en",), ("depression",), "undisclosed", ("video",), ("mon-morning",))
    assert check_profile(minimal, VOCABULARY, RULES) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"languages": ()}, ["languages"]),
        ({"languages": ("es", "klingon")}, ["languages[1]"]),
        ({"languages": ("es", "es")}, ["languages[1]"]),
        ({"lived_experience": ("back-pain",)}, ["lived_experience[0]"]),
        ({"lived_experience": ()}, ["lived_experience"]),
        ({"modalities": ("carrier-pigeon",)}, ["modalities[0]"]),
        ({"availability": ("tuesday-evening",)}, ["availability[0]"]),
        ({"gender": "female"}, ["gender"]),
        ({"max_patients": 0}, ["max_patients"]),
        ({"max_patients": 11}, ["max_patients"]),
        ({"home_longitude": None}, ["home_longitude"]),
        ({"home_latitude": 95.0}, ["home_latitude"]),
        ({"travel_km": -1}, ["travel_km"]),
        ({"gender": "x", "languages": ()}, ["languages", "gender"]),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], expected: list[str]) -> None:
    assert fields(dataclasses.replace(GOOD, **change)) == expected  # type: ignore[arg-type]


def test_problems_say_what_is_wrong() -> None:
    [problem] = check_profile(dataclasses.replace(GOOD, max_patients=11), VOCABULARY, RULES)
    assert problem.message == "11 is not between 1 and 10"
    [problem] = check_profile(
        dataclasses.replace(GOOD, lived_experience=("back-pain",)), VOCABULARY, RULES
    )
    assert problem.message == "'back-pain' is not a known lived-experience tag"


def test_a_good_encounter_has_no_problems() -> None:
    assert check_encounter(ENCOUNTER, VOCABULARY, RULES, now=NOW) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"occurred_at": NOW + timedelta(minutes=1)}, ["occurred_at"]),
        ({"occurred_at": datetime(2026, 11, 23, 9, 0)}, ["occurred_at"]),  # noqa: DTZ001
        ({"modality": "telepathy"}, ["modality"]),
        ({"minutes": 0}, ["minutes"]),
        ({"minutes": 481}, ["minutes"]),
        ({"topics": ()}, ["topics"]),
        ({"topics": ("coping", "gardening")}, ["topics[1]"]),
        ({"mood_before": 0, "mood_after": 6}, ["mood_before", "mood_after"]),
    ],
)
def test_each_bad_encounter_field_is_named(change: dict[str, object], expected: list[str]) -> None:
    encounter = dataclasses.replace(ENCOUNTER, **change)  # type: ignore[arg-type]
    assert [p.field for p in check_encounter(encounter, VOCABULARY, RULES, now=NOW)] == expected


def test_the_longest_encounter_allowed_is_the_programmes() -> None:
    longest = dataclasses.replace(ENCOUNTER, minutes=RULES.encounter_max_minutes)
    assert check_encounter(longest, VOCABULARY, RULES, now=NOW) == []
