"""Synthetic assessment histories: scored by the real rules, shaped by each course."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from statistics import mean

import pytest

from stepwell.domain.instruments.model import NA
from stepwell.domain.instruments.scoring import score
from stepwell.domain.synthetic.assessments import AssessmentSpec, assessment_histories
from stepwell.domain.synthetic.region import Region, generate_region
from tests.domain.test_instruments import INSTRUMENTS

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def made() -> tuple[Region, list[AssessmentSpec]]:
    region = generate_region(patients=1500, seed=3, today=TODAY)
    return region, assessment_histories(region, INSTRUMENTS, seed=3, today=TODAY)


def test_histories_are_deterministic(made: tuple[Region, list[AssessmentSpec]]) -> None:
    region, histories = made
    again = assessment_histories(region, INSTRUMENTS, seed=3, today=TODAY)
    assert again == histories


def test_every_stored_score_is_the_instruments_own(
    made: tuple[Region, list[AssessmentSpec]],
) -> None:
    region, histories = made
    for a in histories:
        assert a.score == score(INSTRUMENTS[a.instrument], a.answers)
        episode = region.episodes[a.episode]
        assert episode.first_contact_date is not None
        assert episode.first_contact_date <= a.taken_at.date() <= TODAY
        if episode.discharge_date:
            assert a.taken_at.date() <= episode.discharge_date
        assert (a.recorded_by is None) == (a.mode in {"portal", "sms"})
        if a.mode == "chw":
            assert a.recorded_by is not None
            assert region.staff[a.recorded_by].role == "chw"


def _phq9_by_episode(histories: list[AssessmentSpec]) -> dict[int, list[AssessmentSpec]]:
    by: dict[int, list[AssessmentSpec]] = defaultdict(list)
    for a in histories:
        if a.instrument == "PHQ-9":
            by[a.episode].append(a)
    return by


def test_courses_shape_the_phq9_over_time(made: tuple[Region, list[AssessmentSpec]]) -> None:
    _, histories = made
    change: dict[str, list[int]] = defaultdict(list)
    for series in _phq9_by_episode(histories).values():
        if len(series) >= 4:
            change[series[0].course].append(series[-1].score.total - series[0].score.total)
    assert mean(change["improver"]) <= -4
    assert mean(change["deteriorator"]) >= 3
    assert abs(mean(change["non-responder"])) < 2
    assert all(c in {"improver", "non-responder", "deteriorator"} for c in change)


def test_dropouts_stop_after_three_visits(made: tuple[Region, list[AssessmentSpec]]) -> None:
    _, histories = made
    dropouts = [s for s in _phq9_by_episode(histories).values() if s[0].course == "dropout"]
    assert len(dropouts) > 50
    assert max(len(s) for s in dropouts) <= 3


def test_baseline_follows_the_starting_step(made: tuple[Region, list[AssessmentSpec]]) -> None:
    region, histories = made
    baseline: dict[int, list[int]] = defaultdict(list)
    for episode, series in _phq9_by_episode(histories).items():
        baseline[region.episodes[episode].steps[0].to_step].append(series[0].score.total)
    means = [mean(baseline[step]) for step in (1, 2, 3, 4)]
    assert means == sorted(means)
    assert means[0] < 10 <= means[1] + 3  # step 1 below caseness on average
    assert means[3] >= 18


def test_not_applicable_missing_and_safety_are_rare_and_legal(
    made: tuple[Region, list[AssessmentSpec]],
) -> None:
    region, histories = made
    phq9 = [a for a in histories if a.instrument == "PHQ-9"]
    with_safety = sum(bool(a.score.safety) for a in phq9) / len(phq9)
    assert 0 < with_safety < 0.05
    prorated = sum(a.score.prorated for a in histories) / len(histories)
    assert 0.005 < prorated < 0.06
    for a in histories:
        if (
            a.instrument == "PHQ-15"
            and region.patients[region.episodes[a.episode].patient].sex == "male"
        ):
            assert a.answers[3] == NA
