"""Checks on a peer's profile and on a recorded peer encounter, against the vocabulary and
the programme rules. Problems come back as ``records.FieldProblem`` (input field + message),
all at once, so a form can mark every bad field; nothing here stores or refuses anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stepwell.domain.peers.days import today_of
from stepwell.domain.peers.programme import ProgrammeRules
from stepwell.domain.peers.vocabulary import Vocabulary
from stepwell.domain.records import FieldProblem, check_location


@dataclass(frozen=True, slots=True)
class PeerProfile:
    """What matching needs to know of a peer. Codes are vocabulary codes."""

    languages: tuple[str, ...]  # ``languages`` codes (ISO 639-1 where one exists)
    lived_experience: tuple[str, ...]  # ``lived_experience`` tags the peer chose to share
    gender: str  # ``genders`` code
    modalities: tuple[str, ...]  # ``modalities`` the peer offers
    availability: tuple[str, ...]  # ``availability`` slot codes, e.g. "tue-evening"
    max_patients: int | None = None  # None: the programme's default capacity
    home_latitude: float | None = None  # degrees (WGS 84); with longitude or not at all
    home_longitude: float | None = None
    travel_km: float | None = None  # farthest in-person travel, km by road; None: not stated


@dataclass(frozen=True, slots=True)
class PeerEncounter:
    """A peer encounter as recorded (barriers and concerns are recorded separately, as barrier
    records and safety tasks)."""

    occurred_at: datetime  # timezone-aware
    modality: str  # ``encounter_modalities`` code
    minutes: int  # duration in whole minutes
    topics: tuple[str, ...]  # ``encounter_topics`` codes
    mood_before: int | None = None  # ``mood_scale`` value, patient-reported
    mood_after: int | None = None


def _codes(
    field: str,
    values: Sequence[str],
    known: Sequence[str],
    what: str,
    *,
    at_least_one: bool = True,
) -> list[FieldProblem]:
    if at_least_one and not values:
        return [FieldProblem(field, f"choose at least one {what}")]
    problems = []
    for n, value in enumerate(values):
        if value not in known:
            problems.append(FieldProblem(f"{field}[{n}]", f"{value!r} is not a known {what}"))
        elif value in values[:n]:
            problems.append(FieldProblem(f"{field}[{n}]", f"{value!r} appears twice"))
    return problems


def check_profile(
    profile: PeerProfile, vocabulary: Vocabulary, rules: ProgrammeRules
) -> list[FieldProblem]:
    """Every problem with ``profile``: unknown or repeated codes, an empty list where at
    least one is needed, capacity outside 1 … ``max_patients_limit``, a half or impossible
    location, a negative travel distance. Empty when the profile is good."""
    v = vocabulary
    problems = [
        *_codes("languages", profile.languages, v.codes("languages"), "language"),
        *_codes(
            "lived_experience",
            profile.lived_experience,
            v.codes("lived_experience"),
            "lived-experience tag",
        ),
        *_codes("modalities", profile.modalities, v.codes("modalities"), "modality"),
        *_codes("availability", profile.availability, v.codes("availability"), "time slot"),
    ]
    if profile.gender not in v.codes("genders"):
        problems.append(FieldProblem("gender", f"{profile.gender!r} is not a known gender"))
    limit = rules.max_patients_limit
    if profile.max_patients is not None and not 1 <= profile.max_patients <= limit:
        problems.append(
            FieldProblem("max_patients", f"{profile.max_patients} is not between 1 and {limit}")
        )
    problems.extend(check_location(profile.home_latitude, profile.home_longitude, prefix="home"))
    if profile.travel_km is not None and profile.travel_km < 0:
        problems.append(FieldProblem("travel_km", f"{profile.travel_km} is below 0"))
    return problems


def check_encounter(
    encounter: PeerEncounter, vocabulary: Vocabulary, rules: ProgrammeRules, *, now: datetime
) -> list[FieldProblem]:
    """Every problem with a recorded encounter: a naive or future time, an unknown modality
    or topic, no topic, a duration outside 1 … ``encounter_max_minutes``, a mood off the
    scale. Empty when it is good."""
    today_of(now)  # a naive ``now`` cannot be compared with an aware time
    problems = []
    at = encounter.occurred_at
    if at.tzinfo is None or at.utcoffset() is None:
        problems.append(FieldProblem("occurred_at", "must have a time zone"))
    elif at > now:
        problems.append(FieldProblem("occurred_at", f"{at.isoformat()} is in the future"))
    if encounter.modality not in vocabulary.codes("encounter_modalities"):
        problems.append(
            FieldProblem("modality", f"{encounter.modality!r} is not a known encounter modality")
        )
    most = rules.encounter_max_minutes
    if not 1 <= encounter.minutes <= most:
        problems.append(FieldProblem("minutes", f"{encounter.minutes} is not between 1 and {most}"))
    problems.extend(
        _codes("topics", encounter.topics, vocabulary.codes("encounter_topics"), "topic")
    )
    scale = vocabulary.mood_values()
    for name, mood in (
        ("mood_before", encounter.mood_before),
        ("mood_after", encounter.mood_after),
    ):
        if mood is not None and mood not in scale:
            problems.append(
                FieldProblem(name, f"{mood} is not on the mood scale ({scale[0]}-{scale[-1]})")
            )
    return problems
