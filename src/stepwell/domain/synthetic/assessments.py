"""Synthetic assessment histories for a generated region: plausible, never real.

Each episode that reached first contact gets a course — ``improver``, ``non-responder``,
``deteriorator`` or ``dropout`` — and a severity that follows it over time. Severity is a
number in [0, 1] (0 = the healthiest score an instrument allows, 1 = the worst); each
instrument's total is drawn around it, spread over the items at random, and scored by the
real scoring function, so stored totals always follow the instrument's published rules.

The baseline severity follows the episode's starting step (step 1 below caseness, step 2
moderate, step 3 moderately severe, step 4 severe), so the protocol, the registry and the
charts have data that hangs together.

Schedule: PHQ-9, GAD-7, PHQ-15 and WSAS at first contact and every four weeks (± 3 days)
until discharge or today; UCLA-3 at baseline and every twelve weeks; medication adherence
at each visit from step 3; the satisfaction questionnaire at week 12 and at discharge.
Dropouts answer one to three times and then stop.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from stepwell.domain.instruments.model import NA, Instrument
from stepwell.domain.instruments.scoring import Answer, Score, score
from stepwell.domain.synthetic.region import EpisodeSpec, PatientSpec, Region

COURSES = ("improver", "non-responder", "deteriorator", "dropout")
_COURSE_WEIGHTS = (45, 30, 10, 15)
_BASELINE = {1: 0.20, 2: 0.42, 3: 0.62, 4: 0.78}  # severity by starting step
_EVERY_VISIT = ("PHQ-9", "GAD-7", "PHQ-15", "WSAS")
_VISIT_DAYS = 28
_UCLA_EVERY = 3  # visits
_SATISFACTION_DAY = 84
_MODES_BY_STEP = {  # (portal, sms, chw, clinician) weights
    1: (45, 20, 20, 15),
    2: (35, 15, 25, 25),
    3: (20, 10, 20, 50),
    4: (10, 5, 15, 70),
}
_MODES = ("portal", "sms", "chw", "clinician")


@dataclass(frozen=True, slots=True)
class AssessmentSpec:
    episode: int  # index into Region.episodes; the patient is that episode's patient
    instrument: str
    answers: tuple[Answer, ...]
    score: Score
    taken_at: datetime
    mode: str
    recorded_by: int | None  # index into Region.staff; None when the patient self-reported
    course: str  # the episode's course (one of COURSES); not stored, for tests and reports


def course_for(episode: EpisodeSpec, rng: random.Random) -> str:
    """The episode's course, consistent with how it ended when it has ended."""
    if episode.discharge_reason in {"recovered", "completed"}:
        return "improver"
    if episode.discharge_reason in {"dropped-out", "declined"}:
        return "dropout"
    return rng.choices(COURSES, weights=_COURSE_WEIGHTS)[0]


def severity_at(course: str, baseline: float, weeks: float) -> float:
    """Expected severity ``weeks`` after first contact (before noise), in [0, 1]."""
    if course == "improver":
        value = baseline * (0.3 + 0.7 * math.exp(-weeks / 9))
    elif course == "deteriorator":
        value = baseline + (0.95 - baseline) * 0.6 * (1 - math.exp(-weeks / 10))
    else:  # non-responders and dropouts stay about where they started
        value = baseline
    return min(1.0, max(0.0, value))


def _age(patient: PatientSpec, on: date) -> int:
    b = patient.birth_date
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def _not_applicable(instrument: str, item: str, patient: PatientSpec, on: date) -> bool:
    """Synthetic reasons for the two items that allow "not applicable"."""
    if (instrument, item) == ("PHQ-15", "4"):  # menstrual problems
        return patient.sex == "male" or _age(patient, on) >= 55
    if (instrument, item) == ("WSAS", "1"):  # work: retired
        return _age(patient, on) >= 67
    return False


def answers_for(
    instrument: Instrument,
    severity: float,
    rng: random.Random,
    *,
    not_applicable: Sequence[str] = (),
    missing: int = 0,
) -> tuple[Answer, ...]:
    """An answer set whose total lies near ``severity`` of the instrument's range.

    Safety items (e.g. PHQ-9 item 9) stay at their lowest value except rarely and only at
    high severity; ``missing`` scored items (at most the instrument's allowance) are left
    blank; text items are left blank.
    """
    lo, hi = instrument.range
    if instrument.higher_is_better:
        severity = 1 - severity
    target_fraction = min(1.0, max(0.0, rng.gauss(severity, 0.06)))
    safety_items = {rule.item for rule in instrument.safety}
    chosen: dict[str, Answer] = {}
    open_items = []
    for item in instrument.items:
        if item.kind == "text" or not item.scored:
            chosen[item.id] = None if item.kind == "text" else rng.choice(item.values)
        elif item.id in not_applicable and item.not_applicable:
            chosen[item.id] = NA
        else:
            chosen[item.id] = min(item.values)
            if item.id not in safety_items or rng.random() < 0.25 * max(0.0, severity - 0.55):
                open_items.append(item)
    low = sum(v for v in chosen.values() if isinstance(v, int))
    n_scored = len([i for i in instrument.scored_items if chosen[i.id] != NA])
    n_all = len(instrument.scored_items)
    # Aim at the fraction of what the applicable items can reach.
    reach = low + sum(max(i.values) - min(i.values) for i in open_items)
    target = round(lo + target_fraction * (hi - lo) * n_scored / max(1, n_all))
    target = min(max(target, low), reach)
    total = low
    while total < target and open_items:
        item = rng.choice(open_items)
        current = chosen[item.id]
        assert isinstance(current, int)
        higher = [v for v in item.values if v > current]
        if not higher:
            open_items.remove(item)
            continue
        chosen[item.id] = higher[0]
        total += higher[0] - current
    if missing:
        candidates = [
            i.id for i in instrument.scored_items if chosen[i.id] != NA and i.id not in safety_items
        ]
        for item_id in rng.sample(candidates, min(missing, instrument.max_missing)):
            chosen[item_id] = None
    return tuple(chosen[i.id] for i in instrument.items)


def _mode(rng: random.Random, step: int) -> str:
    return rng.choices(_MODES, weights=_MODES_BY_STEP[step])[0]


@dataclass(slots=True)
class _Writer:
    instruments: Mapping[str, Instrument]
    rng: random.Random
    chw_by_site: dict[int, int]
    out: list[AssessmentSpec]

    def add(
        self,
        code: str,
        severity: float,
        *,
        episode: int,
        patient: PatientSpec,
        when: datetime,
        mode: str,
        recorder: int | None,
        course: str,
    ) -> None:
        instrument = self.instruments.get(code)
        if instrument is None:
            return
        rng = self.rng
        na = [i.id for i in instrument.items if _not_applicable(code, i.id, patient, when.date())]
        missing = 1 if instrument.max_missing and rng.random() < 0.03 else 0
        answers = answers_for(instrument, severity, rng, not_applicable=na, missing=missing)
        self.out.append(
            AssessmentSpec(
                episode=episode,
                instrument=code,
                answers=answers,
                score=score(instrument, answers),
                taken_at=when,
                mode=mode,
                recorded_by=recorder,
                course=course,
            )
        )


def assessment_histories(
    region: Region,
    instruments: Mapping[str, Instrument],
    *,
    seed: int,
    today: date,
) -> list[AssessmentSpec]:
    """Assessment histories for every episode in ``region`` that reached first contact.

    ``instruments`` maps code → definition; codes the schedule names but the mapping lacks
    are skipped. Deterministic for a given region, seed and date.
    """
    chw_by_site: dict[int, int] = {}
    for i, s in enumerate(region.staff):
        if s.role == "chw":
            for site in s.sites:
                chw_by_site.setdefault(site, i)
    writer = _Writer(instruments, random.Random(seed * 7919 + 17), chw_by_site, [])
    for index, episode in enumerate(region.episodes):
        if episode.first_contact_date is not None:
            _episode_history(writer, index, episode, region.patients[episode.patient], today)
    return writer.out


def _episode_history(
    writer: _Writer, index: int, episode: EpisodeSpec, patient: PatientSpec, today: date
) -> None:
    rng = writer.rng
    first = episode.first_contact_date
    assert first is not None
    course = course_for(episode, rng)
    baseline = min(0.97, max(0.05, rng.gauss(_BASELINE[episode.steps[0].to_step], 0.05)))
    end = min(episode.discharge_date or today, today)
    visits = (end - first).days // _VISIT_DAYS + 1
    if course == "dropout":
        visits = min(visits, rng.randint(1, 3))
    for visit in range(visits):
        day = first + timedelta(days=visit * _VISIT_DAYS + (rng.randint(-3, 3) if visit else 0))
        if day > end:
            break
        step = _step_on(episode, day)
        codes = list(_EVERY_VISIT)
        if visit % _UCLA_EVERY == 0:
            codes.append("UCLA-3")
        if step >= 3:
            codes.append("ADHERENCE-7D")
        mode, recorder = _who_records(writer, rng, step, episode, patient)
        when = datetime.combine(day, time(rng.randint(8, 17), rng.choice((0, 20, 40))), UTC)
        severity = severity_at(course, baseline, (day - first).days / 7)
        for code in codes:
            writer.add(
                code,
                severity,
                episode=index,
                patient=patient,
                when=when,
                mode=mode,
                recorder=recorder,
                course=course,
            )
    satisfaction_days = [_SATISFACTION_DAY] if visits * _VISIT_DAYS > _SATISFACTION_DAY else []
    if episode.discharge_date and course != "dropout":
        satisfaction_days.append((episode.discharge_date - first).days)
    for days in satisfaction_days:
        when = datetime.combine(first + timedelta(days=days), time(12, 0), UTC)
        if when.date() <= end:
            writer.add(
                "SATISFACTION",
                0.2 if course == "improver" else 0.45,
                episode=index,
                patient=patient,
                when=when,
                mode="portal",
                recorder=None,
                course=course,
            )


def _who_records(
    writer: _Writer, rng: random.Random, step: int, episode: EpisodeSpec, patient: PatientSpec
) -> tuple[str, int | None]:
    """The capture mode and the staff member who recorded it (None: the patient did)."""
    mode = _mode(rng, step)
    if mode == "chw":
        chw = writer.chw_by_site.get(patient.site, writer.chw_by_site.get(episode.site))
        if chw is not None:
            return mode, chw
    if mode in {"chw", "clinician"}:
        return "clinician", episode.clinician
    return mode, None


def _step_on(episode: EpisodeSpec, day: date) -> int:
    step = episode.steps[0].to_step
    for change in episode.steps:
        if change.at.date() <= day:
            step = change.to_step
    return step
