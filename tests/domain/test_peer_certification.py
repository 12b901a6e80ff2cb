"""Certification against a curriculum: missing, expired and valid modules, and the day a
pass stops counting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepwell.domain.peers.curriculum import (
    Completion,
    Curriculum,
    ExpiredModule,
    certification_status,
    completion_for,
)
from tests.domain.test_peer_content import CLINICIAN_CURRICULUM, PEER_CURRICULUM

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
REQUIRED = tuple(m.code for m in PEER_CURRICULUM.required)
CRISIS = PEER_CURRICULUM.module("crisis-protocol")  # valid for 365 days


def passes(on: date, curriculum: Curriculum = PEER_CURRICULUM, *skip: str) -> list[Completion]:
    """A pass of every required module of ``curriculum`` on ``on``, except ``skip``."""
    return [
        completion_for(m, completed_on=on, assessor_id=7, passed=True)
        for m in curriculum.required
        if m.code not in skip
    ]


def test_a_completion_expires_valid_for_days_after_it_was_completed() -> None:
    c = completion_for(CRISIS, completed_on=date(2026, 1, 1), assessor_id=3, passed=True)
    assert c == Completion("crisis-protocol", date(2026, 1, 1), 3, True, date(2027, 1, 1))
    never = PEER_CURRICULUM.module("communication")
    assert never.valid_for_days is None
    assert completion_for(never, completed_on=TODAY, assessor_id=3, passed=True).expires_on is None


def test_every_required_module_passed_is_certified_until_the_earliest_expiry() -> None:
    status = certification_status(PEER_CURRICULUM, passes(date(2026, 3, 1)), NOW)
    assert status.certified
    assert (status.curriculum, status.version) == ("peer-supporter", "1.0")
    assert status.missing == ()
    assert status.expired == ()
    assert status.valid_until == date(2027, 3, 1)  # crisis protocol: 365 days
    assert status.last_certified_day == date(2027, 2, 28)
    assert {v.module for v in status.valid} == set(REQUIRED)


def test_missing_modules_are_listed_in_curriculum_order_and_optional_ones_are_not_needed() -> None:
    status = certification_status(
        PEER_CURRICULUM, passes(TODAY, PEER_CURRICULUM, "communication", "confidentiality"), NOW
    )
    assert not status.certified
    assert status.missing == ("confidentiality", "communication")
    assert status.valid_until is None
    assert status.lacking == ("confidentiality", "communication")
    assert all(m.required for m in PEER_CURRICULUM.modules if m.code in status.lacking)


def test_nothing_completed_misses_every_required_module() -> None:
    status = certification_status(PEER_CURRICULUM, [], NOW)
    assert status.missing == REQUIRED
    assert not status.certified
    assert status.valid == ()


def test_optional_modules_show_as_valid_but_never_as_missing_or_expired() -> None:
    remote = PEER_CURRICULUM.module("remote-support")  # optional, 730 days
    old = completion_for(
        remote, completed_on=TODAY - timedelta(days=800), assessor_id=1, passed=True
    )
    status = certification_status(PEER_CURRICULUM, [*passes(TODAY), old], NOW)
    assert status.certified
    assert "remote-support" not in status.lacking
    fresh = completion_for(remote, completed_on=TODAY, assessor_id=1, passed=True)
    status = certification_status(PEER_CURRICULUM, [*passes(TODAY), fresh], NOW)
    assert "remote-support" in {v.module for v in status.valid}


def test_a_failed_attempt_does_not_count_nor_undo_an_earlier_pass() -> None:
    failed = completion_for(CRISIS, completed_on=TODAY, assessor_id=7, passed=False)
    status = certification_status(
        PEER_CURRICULUM, [*passes(TODAY, PEER_CURRICULUM, CRISIS.code), failed], NOW
    )
    assert status.missing == ("crisis-protocol",)
    earlier = completion_for(CRISIS, completed_on=date(2026, 6, 1), assessor_id=7, passed=True)
    status = certification_status(PEER_CURRICULUM, [*passes(TODAY), earlier, failed], NOW)
    assert status.certified


@pytest.mark.parametrize(
    ("days_ago", "certified"),
    [(0, True), (1, True), (364, True), (365, False), (366, False)],
)
def test_the_expiry_boundary(days_ago: int, certified: bool) -> None:
    completed = TODAY - timedelta(days=days_ago)
    completions = [
        *passes(date(2026, 11, 1), PEER_CURRICULUM, CRISIS.code),
        completion_for(CRISIS, completed_on=completed, assessor_id=7, passed=True),
    ]
    status = certification_status(PEER_CURRICULUM, completions, NOW)
    assert status.certified is certified
    if certified:
        assert status.valid_until == completed + timedelta(days=365)
        assert status.valid_until > TODAY
    else:
        assert status.expired == (
            ExpiredModule("crisis-protocol", completed + timedelta(days=365)),
        )
        assert status.expired[0].expired_on <= TODAY
        assert status.missing == ()


def test_an_expired_module_is_renewed_by_a_newer_pass() -> None:
    old = passes(date(2024, 1, 10))  # 730-day modules expired 2026-01-10, crisis 2025-01-09
    status = certification_status(PEER_CURRICULUM, old, NOW)
    assert [e.module for e in status.expired] == [
        "role-and-boundaries",
        "confidentiality",
        "crisis-protocol",
        "trauma-informed-care",
        "cultural-sensitivity",
    ]
    assert status.expired[2] == ExpiredModule("crisis-protocol", date(2025, 1, 9))
    renewed = [
        completion_for(
            PEER_CURRICULUM.module(e.module), completed_on=TODAY, assessor_id=2, passed=True
        )
        for e in status.expired
    ]
    status = certification_status(PEER_CURRICULUM, [*old, *renewed], NOW)
    assert status.certified
    assert status.valid_until == TODAY + timedelta(days=365)


def test_a_completion_dated_after_today_does_not_count_yet() -> None:
    status = certification_status(PEER_CURRICULUM, passes(TODAY + timedelta(days=1)), NOW)
    assert status.missing == REQUIRED


def test_completions_of_another_curriculum_are_ignored() -> None:
    both = [*passes(TODAY), *passes(TODAY, CLINICIAN_CURRICULUM)]
    peer = certification_status(PEER_CURRICULUM, both, NOW)
    clinician = certification_status(CLINICIAN_CURRICULUM, both, NOW)
    assert peer.certified
    assert clinician.certified
    assert {v.module for v in peer.valid} == set(REQUIRED)
    assert clinician.valid_until == TODAY + timedelta(days=365)


def test_no_expiring_required_module_means_no_valid_until() -> None:
    never = Curriculum(
        "c", "1", {"en": "c", "es": "c"}, ("peer",), (PEER_CURRICULUM.module("communication"),)
    )
    status = certification_status(never, passes(TODAY, never), NOW)
    assert status.certified
    assert status.valid_until is None
    assert status.last_certified_day is None


def test_today_is_the_date_in_the_zone_of_now() -> None:
    completed = date(2025, 11, 24)  # crisis protocol expires on 2026-11-24
    completions = [
        *passes(completed, PEER_CURRICULUM, CRISIS.code),
        completion_for(CRISIS, completed_on=completed, assessor_id=7, passed=True),
    ]
    # 2026-11-24 02:00 UTC is still 2026-11-23 in Denver: certified there, not in UTC.
    late = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert not certification_status(PEER_CURRICULUM, completions, late).certified
    denver = late.astimezone(ZoneInfo("America/Denver"))
    assert certification_status(PEER_CURRICULUM, completions, denver).certified


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        certification_status(PEER_CURRICULUM, [], datetime(2026, 11, 23, 10, 0))  # noqa: DTZ001


@given(days_ago=st.integers(min_value=-5, max_value=2000))
def test_a_pass_counts_for_exactly_valid_for_days(days_ago: int) -> None:
    completions = [
        *passes(date(2026, 11, 1), PEER_CURRICULUM, CRISIS.code),
        completion_for(
            CRISIS, completed_on=TODAY - timedelta(days=days_ago), assessor_id=1, passed=True
        ),
    ]
    status = certification_status(PEER_CURRICULUM, completions, NOW)
    assert status.certified is (0 <= days_ago < 365)
    assert status.certified is (not status.missing and not status.expired)
    assert (status.missing == ("crisis-protocol",)) is (days_ago < 0)
