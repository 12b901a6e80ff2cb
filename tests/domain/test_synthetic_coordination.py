"""The synthetic care coordination: deterministic per seed, coded by the content files, and
within the rules the models and services enforce (attendance only once an appointment is
over, reasons only for cancellations, referrals between two sites with the file's deadline,
ratings from 0 to 10), with a day's work at every site for the coordinator's home."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
import yaml

from stepwell.domain.coordination.appointments import CANCELLED
from stepwell.domain.coordination.referrals import is_overdue
from stepwell.domain.coordination.rules import CoordinationRules, parse_rules
from stepwell.domain.synthetic.coordination import (
    AHEAD_DAYS,
    GOALS,
    PAST_DAYS,
    TODAY_PER_SITE,
    CareCoordination,
    care_coordination,
    seed_of,
)
from stepwell.domain.synthetic.region import Region, generate_region

CONTENT = Path(__file__).resolve().parents[2] / "content" / "coordination"
ACCESS = CONTENT / "access.yaml"
RULES: CoordinationRules = parse_rules(
    yaml.safe_load(ACCESS.read_text(encoding="utf-8")), source=str(ACCESS)
)
_BARRIERS = yaml.safe_load((CONTENT / "barriers.yaml").read_text(encoding="utf-8"))
KINDS = tuple(k["code"] for k in _BARRIERS["kinds"])
ACTIONS = tuple(a["code"] for a in _BARRIERS["actions"])
TODAY = date(2026, 11, 23)  # a Monday
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 11:00 in the region (America/Chicago)
ZONE = RULES.default.zone
CARE_TEAM = {"coordinator", "chw", "clinician"}


def _make(
    patients: int, seed: int, now: datetime = NOW, courses: dict[int, str] | None = None
) -> tuple[Region, CareCoordination]:
    region = generate_region(patients=patients, seed=seed, today=now.date())
    return region, care_coordination(
        region, RULES, KINDS, ACTIONS, seed=seed, now=now, courses=courses
    )


@pytest.fixture(scope="module")
def made() -> tuple[Region, CareCoordination]:
    return _make(600, 4)


def _open(region: Region) -> list[int]:
    return [i for i, e in enumerate(region.episodes) if e.status in ("active", "referred")]


def test_same_seed_same_coordination_other_seed_other() -> None:
    region, first = _make(300, 2)
    assert care_coordination(region, RULES, KINDS, ACTIONS, seed=2, now=NOW) == first
    _, other = _make(300, 3)
    assert [a.starts_at for a in other.appointments] != [a.starts_at for a in first.appointments]
    assert seed_of(region) == seed_of(generate_region(patients=300, seed=2, today=TODAY))
    assert seed_of(region) != seed_of(generate_region(patients=300, seed=3, today=TODAY))


def test_now_must_be_aware() -> None:
    region = generate_region(patients=5, seed=1, today=TODAY)
    with pytest.raises(ValueError, match="aware"):
        care_coordination(region, RULES, KINDS, ACTIONS, seed=1, now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    "now",
    [NOW, datetime(2026, 11, 23, 13, 0, tzinfo=UTC), datetime(2026, 11, 24, 2, 30, tzinfo=UTC)],
)
def test_attendance_only_once_over_and_reasons_only_for_cancellations(now: datetime) -> None:
    region, c = _make(400, 5, now=now)
    assert c.appointments
    for a in c.appointments:
        assert a.modality in RULES.modalities
        assert now - timedelta(days=PAST_DAYS + 1) <= a.starts_at
        assert a.starts_at <= now + timedelta(days=AHEAD_DAYS + 3)
        assert a.booked_at < a.starts_at
        assert a.booked_at <= now
        assert region.staff[a.booked_by].role in CARE_TEAM
        if a.attendance:
            assert a.attendance in RULES.attendance
            assert a.attendance_at is not None
            assert a.attendance_at <= now
            assert a.attendance_by is not None
            assert region.staff[a.attendance_by].role in CARE_TEAM
            if a.attendance in CANCELLED:
                assert a.booked_at <= a.attendance_at < a.starts_at
            else:
                assert a.starts_at + timedelta(minutes=a.minutes) <= now
                assert a.attendance_at >= a.starts_at
        else:
            assert a.attendance_at is None
            assert a.attendance_by is None
            assert a.starts_at + timedelta(minutes=a.minutes) > now
        if a.cancellation_reason:
            assert a.attendance in CANCELLED
            assert a.cancellation_reason in RULES.cancellation_reasons
        if a.starts_at > now:
            assert not a.attendance


def test_places_staff_and_travel_fit_the_modality(made: tuple[Region, CareCoordination]) -> None:
    region, c = made
    matched = {m.patient: m.peer for m in region.matches}
    for a in c.appointments:
        kind = RULES.modalities[a.modality]
        if a.modality in ("home-visit", "peer-contact"):
            assert a.site is None
        else:
            assert a.site is not None
        if a.modality == "peer-contact":
            assert a.staff == matched[a.patient]
        elif a.staff is not None:
            assert region.staff[a.staff].role in CARE_TEAM
        if kind.in_person:
            assert a.travel_minutes is not None
            assert a.travel_minutes > 0
        else:
            assert a.travel_minutes is None
            assert a.suggested == ()
        assert set(a.suggested) <= {"video", "phone", "home-visit"}
        local = a.starts_at.astimezone(ZONE if a.site is None else _zone(region, a.site))
        assert time(8) <= local.time() <= time(16, 45)
        if a.episode is not None:
            assert region.episodes[a.episode].patient == a.patient
            assert region.episodes[a.episode].status in ("active", "referred")


def _zone(region: Region, site: int) -> ZoneInfo:
    return RULES.local_for(region.sites[site].code).zone


def test_a_rural_mix_of_modalities_and_outcomes(made: tuple[Region, CareCoordination]) -> None:
    _, c = made
    modalities = Counter(a.modality for a in c.appointments)
    assert set(modalities) == {"in-person", "video", "phone", "home-visit", "group", "peer-contact"}
    assert modalities.most_common(1)[0][0] == "in-person"
    outcomes = Counter(a.attendance for a in c.appointments if a.attendance)
    recorded = sum(outcomes.values())
    assert set(outcomes) == set(RULES.attendance)
    assert outcomes["attended"] > recorded / 2
    assert 0.04 < outcomes["did-not-attend"] / recorded < 0.13
    reasons = Counter(a.cancellation_reason for a in c.appointments if a.cancellation_reason)
    assert "transport" in {reason for reason, _ in reasons.most_common(3)}
    future = [a for a in c.appointments if a.starts_at > NOW]
    assert future
    assert not any(a.attendance for a in future)


@pytest.mark.parametrize("patients", [40, 600])
def test_a_handful_of_appointments_today_at_every_site(patients: int) -> None:
    region, c = _make(patients, 1)
    today = NOW.astimezone(ZONE).date()
    counts = Counter(
        a.site
        for a in c.appointments
        if a.site is not None and a.starts_at.astimezone(_zone(region, a.site)).date() == today
    )
    for site in range(len(region.sites)):
        treated = [i for i in _open(region) if region.episodes[i].site == site]
        in_care = {
            region.episodes[i].patient
            for i in _open(region)
            if site in (region.episodes[i].site, region.patients[region.episodes[i].patient].site)
        }
        # One appointment a day per patient: in a tiny region the patient one site books
        # today may be the one another site lacks.
        if len(in_care) >= 3 * TODAY_PER_SITE:
            assert counts[site] >= TODAY_PER_SITE, region.sites[site].code
        elif treated:
            assert counts[site] >= 1, region.sites[site].code
    demo = next(s for s in region.staff if s.username == "demo-coordinator")
    if patients >= 300:
        assert counts[demo.sites[0]] >= TODAY_PER_SITE


def test_barriers_with_their_history(made: tuple[Region, CareCoordination]) -> None:
    region, c = made
    assert c.barriers
    assert {b.status for b in c.barriers} >= {"open", "in_progress", "resolved"}
    assert {b.action for b in c.barriers if b.status == "in_progress"} & {
        "ride-or-voucher",
        "telehealth-instead",
    }
    for b in c.barriers:
        assert b.kind in KINDS
        assert b.source in ("coordinator", "chw")
        assert region.staff[b.raised_by].role in CARE_TEAM
        assert b.raised_at <= NOW
        if b.kind == "language":
            assert region.patients[b.patient].language == "es"
        times = [b.raised_at, *(s.at for s in b.steps)]
        assert times == sorted(times)
        assert times[-1] <= NOW
        assert b.updated_at == times[-1]
        for s in b.steps:
            assert s.action in ("", *ACTIONS)
            assert region.staff[s.by].role in CARE_TEAM
        assert b.action == next((s.action for s in reversed(b.steps) if s.action), "")
        if b.status in ("resolved", "unresolved"):
            assert b.closed_at == b.steps[-1].at
            assert b.steps[-1].status == b.status
        else:
            assert b.closed_at is None
        if b.status == "in_progress":
            assert b.action
    # An action changes how the next appointment happens, and that one names the barrier.
    linked = [a for a in c.appointments if a.barrier is not None]
    assert linked
    for a in linked:
        assert a.barrier is not None
        b = c.barriers[a.barrier]
        assert b.patient == a.patient
        assert b.steps
        assert a.starts_at > b.steps[0].at


def test_referrals_between_two_sites_with_the_files_deadline(
    made: tuple[Region, CareCoordination],
) -> None:
    region, c = made
    assert c.referrals
    assert {r.urgency for r in c.referrals} == {"routine", "urgent"}
    assert {r.status for r in c.referrals} >= {"sent", "accepted", "scheduled", "seen", "declined"}
    hours = RULES.referrals.accept_within_hours
    for r in c.referrals:
        assert r.from_site != r.to_site
        assert r.deadline_at == r.sent_at + timedelta(hours=hours[r.urgency])
        assert r.deadline_at > r.sent_at
        assert r.sent_at <= NOW
        assert r.reason
        assert region.staff[r.sent_by].role in ("coordinator", "clinician")
        assert r.from_site in region.staff[r.sent_by].sites
        assert region.episodes[r.episode].patient == r.patient
        assert region.episodes[r.episode].site == r.from_site
        if r.status in ("accepted", "scheduled", "seen"):
            assert r.accepted_by is not None
            assert r.to_site in region.staff[r.accepted_by].sites
            assert r.accepted_at is not None
            assert r.sent_at <= r.accepted_at <= min(NOW, r.deadline_at)
        if r.status == "scheduled":
            assert r.scheduled_for is not None
            assert r.scheduled_for > NOW
        if r.status == "seen":
            assert r.scheduled_for is not None
            assert r.seen_at is not None
            assert r.scheduled_for < r.seen_at <= NOW
        if r.status in ("declined", "cancelled"):
            assert r.closed_at is not None
            assert r.status_note
        assert (r.overdue_at is not None) == is_overdue(r.status, r.deadline_at, NOW)
        assert r.updated_at <= NOW
    # Scheduled and seen referrals have their visit booked at the receiving site.
    booked = {a.referral: a for a in c.appointments if a.referral is not None}
    for k, r in enumerate(c.referrals):
        if r.scheduled_for is not None:
            assert booked[k].site == r.to_site
            assert booked[k].starts_at == r.scheduled_for
            assert (booked[k].attendance == "attended") == (r.status == "seen")


def test_urgent_referrals_past_their_deadline_at_every_clinic(
    made: tuple[Region, CareCoordination],
) -> None:
    region, c = made
    overdue = [
        r
        for r in c.referrals
        if r.urgency == "urgent" and r.status == "sent" and is_overdue(r.status, r.deadline_at, NOW)
    ]
    by_site = Counter(r.from_site for r in overdue)
    clinics = [i for i, s in enumerate(region.sites) if s.kind == "primary-care"]
    assert all(by_site[site] >= 1 for site in clinics)
    demo = next(s for s in region.staff if s.username == "demo-coordinator")
    assert by_site[demo.sites[0]] >= 2


def test_goals_in_the_patients_words_rated_0_to_10(made: tuple[Region, CareCoordination]) -> None:
    region, c = made
    assert c.goals
    texts = {lang: {g[lang] for g in GOALS} for lang in ("en", "es")}
    languages = set()
    for g in c.goals:
        language = region.patients[g.patient].language
        languages.add(language)
        assert g.text in texts["es" if language == "es" else "en"]
        assert region.episodes[g.episode].first_contact_date is not None
        assert g.ratings
        assert g.ratings[0].rated_at == g.created_at
        times = [x.rated_at for x in g.ratings]
        assert times == sorted(times)
        assert times[-1] <= NOW
        assert all(0 <= x.rating <= 10 for x in g.ratings)
        assert all(region.staff[x.recorded_by].role in CARE_TEAM for x in g.ratings)
        if g.closed_at is not None:
            assert times[-1] <= g.closed_at <= NOW
    assert languages == {"en", "es"}


def test_goal_ratings_follow_the_course() -> None:
    region = generate_region(patients=800, seed=6, today=TODAY)
    episodes = _open(region)
    courses = {i: ("improver" if n % 2 else "deteriorator") for n, i in enumerate(episodes)}
    c = care_coordination(region, RULES, KINDS, ACTIONS, seed=6, now=NOW, courses=courses)

    def change(course: str) -> float:
        rated = [g for g in c.goals if courses[g.episode] == course and len(g.ratings) > 2]
        assert rated
        return mean(g.ratings[-1].rating - g.ratings[0].rating for g in rated)

    assert change("improver") > 1
    assert change("deteriorator") < 0


def test_reminders_for_appointments_still_to_come(made: tuple[Region, CareCoordination]) -> None:
    region, c = made
    assert c.reminders
    statuses = Counter((r.status, r.delivery) for r in c.reminders)
    assert statuses[("planned", "")] > statuses[("queued", "sent")] > 0
    assert statuses[("queued", "failed")] > 0
    keys = set()
    for r in c.reminders:
        a = c.appointments[r.appointment]
        p = region.patients[a.patient]
        assert (r.appointment, r.lead_hours) not in keys
        keys.add((r.appointment, r.lead_hours))
        assert r.lead_hours in RULES.reminders.lead_hours
        assert a.starts_at > NOW
        assert not a.attendance
        assert r.channel == p.channel
        assert r.channel in ("sms", "email")
        assert r.send_at < a.starts_at
        code = region.sites[a.site if a.site is not None else p.site].code
        local = RULES.local_for(code)
        assert not local.quiet_hours.contains(r.send_at.astimezone(local.zone).time())
        if r.status == "planned":
            assert r.send_at > NOW
            assert r.handled_at is None
        else:
            assert r.send_at <= NOW
            assert r.handled_at is not None
            assert r.send_at <= r.handled_at <= NOW
            assert bool(r.error) == (r.delivery == "failed")


def test_volumes_follow_the_size_of_the_region() -> None:
    per_episode = []
    for patients in (500, 4000):
        region, c = _make(patients, 8)
        n = len(_open(region))
        per_episode.append(
            (
                len(c.appointments) / n,
                len(c.barriers) / n,
                len(c.goals) / n,
                len(c.referrals) / n,
            )
        )
    small, large = per_episode
    for a, b in zip(small, large, strict=True):
        assert 0.5 < a / b < 2
    appointments, barriers, goals, _ = large
    assert 2 < appointments < 5
    assert 0.08 < barriers < 0.2
    assert 0.3 < goals < 0.7
