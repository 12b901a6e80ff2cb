"""Referral statuses, acceptance deadlines (elapsed hours) and waiting days (calendar dates).

DST facts (tz database): America/Chicago springs forward on 2026-03-08 (02:00 CST -> 03:00
CDT, a 23-hour day) and falls back on 2026-11-01 (02:00 CDT -> 01:00 CST, a 25-hour day).
America/Denver is one hour behind Chicago.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stepwell.domain.coordination.referrals import (
    STATUSES,
    URGENCIES,
    acceptance_deadline,
    is_overdue,
    transition_problem,
    wait_days,
)
from stepwell.domain.coordination.rules import ReferralRules
from tests.domain.test_coordination_rules import RULES

CHICAGO = ZoneInfo("America/Chicago")
DENVER = ZoneInfo("America/Denver")
HOURS = ReferralRules({"routine": 336, "urgent": 48})

ALLOWED = {
    ("sent", "accepted"),
    ("sent", "declined"),
    ("sent", "cancelled"),
    ("accepted", "scheduled"),
    ("accepted", "declined"),
    ("accepted", "cancelled"),
    ("accepted", "seen"),
    ("scheduled", "seen"),
    ("scheduled", "cancelled"),
    ("scheduled", "scheduled"),  # rescheduling
}


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_transitions(current: str, new: str) -> None:
    problem = transition_problem(current, new)
    if (current, new) in ALLOWED:
        assert problem is None
    else:
        assert problem is not None
        assert current in problem
        assert new in problem


def test_unknown_status_is_named() -> None:
    assert transition_problem("sent", "lost") == (
        "'lost' is not a referral status (known: " + ", ".join(STATUSES) + ")"
    )
    problem = transition_problem("pending", "sent")
    assert problem is not None
    assert "'pending'" in problem


def test_shipped_file_has_a_deadline_for_every_urgency() -> None:
    assert set(RULES.referrals.accept_within_hours) == set(URGENCIES)


def test_acceptance_deadline_is_elapsed_hours_across_dst() -> None:
    # Urgent, sent Saturday 2026-03-07 12:00 CST: 48 real hours later is Monday 13:00 CDT.
    sent = datetime(2026, 3, 7, 12, 0, tzinfo=CHICAGO)
    deadline = acceptance_deadline(sent, "urgent", HOURS)
    assert deadline == datetime(2026, 3, 9, 18, 0, tzinfo=UTC)
    assert deadline.astimezone(CHICAGO).hour == 13
    assert deadline - sent == timedelta(hours=48)
    routine = acceptance_deadline(sent, "routine", HOURS)
    assert routine - sent == timedelta(days=14)


def test_acceptance_deadline_errors() -> None:
    with pytest.raises(ValueError, match="'emergent' is not an urgency"):
        acceptance_deadline(datetime(2026, 3, 7, tzinfo=UTC), "emergent", HOURS)
    with pytest.raises(ValueError, match="aware"):
        acceptance_deadline(datetime(2026, 3, 7), "urgent", HOURS)  # noqa: DTZ001


def test_is_overdue() -> None:
    deadline = datetime(2026, 3, 9, 18, 0, tzinfo=UTC)
    later = deadline + timedelta(seconds=1)
    assert is_overdue("sent", deadline, later)
    assert not is_overdue("sent", deadline, deadline)  # at the deadline: not yet
    assert not is_overdue("accepted", deadline, later)
    assert not is_overdue("declined", deadline, later + timedelta(days=30))


def test_wait_days_counts_calendar_dates() -> None:
    # Sent late on the 7th, seen early on the 9th: 2 days, though only ~33 hours passed.
    sent = datetime(2026, 6, 7, 22, 0, tzinfo=CHICAGO)
    seen = datetime(2026, 6, 9, 7, 0, tzinfo=CHICAGO)
    assert wait_days(sent_at=sent, sent_zone=CHICAGO, until=seen, until_zone=CHICAGO) == 2
    same_day = datetime(2026, 6, 7, 23, 59, tzinfo=CHICAGO)
    assert wait_days(sent_at=sent, sent_zone=CHICAGO, until=same_day, until_zone=CHICAGO) == 0


@pytest.mark.parametrize(
    ("sent", "seen", "days"),
    [
        # Across spring forward (the 8th has 23 hours): 7th 00:30 to 9th 00:30 is 47 hours.
        ((2026, 3, 7, 0, 30), (2026, 3, 9, 0, 30), 2),
        # 7th 23:30 to 8th 23:30 is 23 hours, yet one calendar day.
        ((2026, 3, 7, 23, 30), (2026, 3, 8, 23, 30), 1),
        # Across fall back (the 1st has 25 hours): 1st 00:30 to 1st 23:30 is 24 hours, 0 days.
        ((2026, 11, 1, 0, 30), (2026, 11, 1, 23, 30), 0),
        ((2026, 10, 31, 12, 0), (2026, 11, 2, 12, 0), 2),  # 49 hours
    ],
)
def test_wait_days_across_dst(
    sent: tuple[int, int, int, int, int], seen: tuple[int, int, int, int, int], days: int
) -> None:
    sent_at, seen_at = datetime(*sent, tzinfo=CHICAGO), datetime(*seen, tzinfo=CHICAGO)
    assert wait_days(sent_at=sent_at, sent_zone=CHICAGO, until=seen_at, until_zone=CHICAGO) == days


def test_wait_days_between_sites_in_different_zones() -> None:
    # Sent from Chicago at 00:30 CDT on the 10th (= 23:30 MDT on the 9th in Denver), seen in
    # Denver at 23:30 MDT on the 10th: the sending site's date is the 10th, the receiving
    # site's the 10th: 0 days, though 24 hours passed.
    sent = datetime(2026, 6, 10, 0, 30, tzinfo=CHICAGO)
    seen = datetime(2026, 6, 10, 23, 30, tzinfo=DENVER)
    assert seen - sent == timedelta(hours=24)
    assert wait_days(sent_at=sent, sent_zone=CHICAGO, until=seen, until_zone=DENVER) == 0
    # Counted in Denver at both ends it would be 1 day: the zone of each end matters.
    assert wait_days(sent_at=sent, sent_zone=DENVER, until=seen, until_zone=DENVER) == 1


def test_wait_days_is_never_negative() -> None:
    sent = datetime(2026, 6, 10, 0, 30, tzinfo=CHICAGO)  # the 10th in Chicago
    seen = datetime(2026, 6, 9, 23, 45, tzinfo=DENVER)  # 75 minutes later, the 9th in Denver
    assert seen > sent
    assert wait_days(sent_at=sent, sent_zone=CHICAGO, until=seen, until_zone=DENVER) == 0
