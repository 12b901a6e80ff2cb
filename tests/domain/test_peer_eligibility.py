"""Whether a peer may take a new match: lifecycle state, certification, supervision and
capacity, with the day boundaries of the supervision rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from stepwell.domain.peers.curriculum import certification_status, completion_for
from stepwell.domain.peers.eligibility import (
    PeerState,
    SupervisionSession,
    capacity,
    latest_supervision,
    match_eligibility,
    supervision_due_by,
    supervision_reason,
)
from tests.domain.test_peer_content import CLINICIAN_CURRICULUM, PEER_CURRICULUM, RULES

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
RECENT = TODAY - timedelta(days=10)
CERTIFIED = certification_status(
    PEER_CURRICULUM,
    [
        completion_for(m, completed_on=date(2026, 6, 1), assessor_id=7, passed=True)
        for m in PEER_CURRICULUM.required
    ],
    NOW,
)
ACTIVE = PeerState("active", active_matches=2)


def codes(*args: object, **kwargs: object) -> list[str]:
    return [r.code for r in match_eligibility(*args, **kwargs)]  # type: ignore[arg-type]


def test_an_active_certified_supervised_peer_with_room_may_take_a_match() -> None:
    assert match_eligibility(ACTIVE, CERTIFIED, RECENT, NOW, RULES) == ()


@pytest.mark.parametrize("state", ["applicant", "in_training", "certified", "paused", "retired"])
def test_only_active_peers_take_new_matches(state: str) -> None:
    reasons = match_eligibility(PeerState(state), CERTIFIED, RECENT, NOW, RULES)
    assert [(r.code, dict(r.params)) for r in reasons] == [("not-active", {"state": state})]


def test_missing_modules_are_one_reason_and_expired_ones_one_each() -> None:
    old = date(2024, 1, 10)
    completions = [
        completion_for(m, completed_on=old, assessor_id=7, passed=True)
        for m in PEER_CURRICULUM.required
        if m.code not in ("communication", "psychosomatic-concepts")
    ]
    status = certification_status(PEER_CURRICULUM, completions, NOW)
    reasons = match_eligibility(ACTIVE, status, RECENT, NOW, RULES)
    assert reasons[0].code == "certification-missing"
    assert reasons[0].params == {"modules": ("psychosomatic-concepts", "communication")}
    expired = [r for r in reasons if r.code == "certification-expired"]
    assert len(expired) == 5
    assert {"module": "crisis-protocol", "date": "2025-01-09"} in [dict(r.params) for r in expired]


@pytest.mark.parametrize(
    ("days_ago", "overdue"),
    [(0, False), (1, False), (29, False), (30, False), (31, True), (400, True)],
)
def test_supervision_exactly_the_limit_ago_is_not_overdue_one_day_more_is(
    days_ago: int, overdue: bool
) -> None:
    last = TODAY - timedelta(days=days_ago)
    reasons = match_eligibility(ACTIVE, CERTIFIED, last, NOW, RULES)
    if overdue:
        assert [(r.code, dict(r.params)) for r in reasons] == [
            ("supervision-overdue", {"last": last.isoformat(), "days": days_ago, "limit": 30})
        ]
    else:
        assert reasons == ()
    assert supervision_due_by(last, RULES) == last + timedelta(days=30)
    assert (supervision_due_by(last, RULES) < TODAY) is overdue  # type: ignore[operator]


def test_whole_days_count_on_the_calendar_not_in_hours() -> None:
    last = TODAY - timedelta(days=31)
    just_after_midnight = datetime(2026, 11, 23, 0, 1, tzinfo=UTC)
    assert supervision_reason(last, just_after_midnight, RULES) is not None
    before_midnight = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)
    assert supervision_reason(last, before_midnight, RULES) is None


def test_a_peer_never_supervised_cannot_take_a_match() -> None:
    reasons = match_eligibility(ACTIVE, CERTIFIED, None, NOW, RULES)
    assert [(r.code, dict(r.params)) for r in reasons] == [("supervision-never", {"limit": 30})]
    assert supervision_due_by(None, RULES) is None


def test_a_supervision_date_after_today_is_a_calling_mistake() -> None:
    with pytest.raises(ValueError, match="is after today"):
        match_eligibility(ACTIVE, CERTIFIED, TODAY + timedelta(days=1), NOW, RULES)


def test_the_latest_supervision_that_counts() -> None:
    sessions = [
        SupervisionSession(date(2026, 10, 1), "group-tele", 5, 60),
        SupervisionSession(date(2026, 11, 1), "individual-tele", 5, 15),  # too short
        SupervisionSession(date(2026, 12, 1), "individual-in-person", 5, 60),  # not yet held
        SupervisionSession(
            date(2026, 10, 20), "individual-in-person", 5, 30
        ),  # exactly long enough
    ]
    assert latest_supervision(sessions, NOW, RULES) == date(2026, 10, 20)
    assert latest_supervision([], NOW, RULES) is None


@pytest.mark.parametrize(
    ("peer", "full", "params"),
    [
        (PeerState("active", 4), False, None),
        (PeerState("active", 5), True, {"active": 5, "proposed": 0, "max": 5}),
        (PeerState("active", 4, 1), True, {"active": 4, "proposed": 1, "max": 5}),
        (PeerState("active", 2, 0, max_patients=2), True, {"active": 2, "proposed": 0, "max": 2}),
        (PeerState("active", 6, 0, max_patients=8), False, None),
        (
            PeerState("active", 10, 0, max_patients=25),
            True,
            {"active": 10, "proposed": 0, "max": 10},
        ),
    ],
)
def test_capacity_counts_active_matches_and_proposals_against_the_peers_maximum(
    peer: PeerState, full: bool, params: dict[str, int] | None
) -> None:
    reasons = match_eligibility(peer, CERTIFIED, RECENT, NOW, RULES)
    if full:
        assert [(r.code, dict(r.params)) for r in reasons] == [("at-capacity", params)]
    else:
        assert reasons == ()


def test_proposals_hold_no_place_when_the_programme_says_so() -> None:
    rules = dataclasses.replace(RULES, proposals_hold_a_place=False)
    assert match_eligibility(PeerState("active", 4, 3), CERTIFIED, RECENT, NOW, rules) == ()
    assert capacity(PeerState("active"), rules) == RULES.default_max_patients


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        match_eligibility(PeerState("active", -1), CERTIFIED, RECENT, NOW, RULES)


def test_every_reason_is_reported_in_order() -> None:
    nothing = certification_status(PEER_CURRICULUM, [], NOW)
    assert codes(PeerState("paused", 5), nothing, None, NOW, RULES) == [
        "not-active",
        "certification-missing",
        "supervision-never",
        "at-capacity",
    ]


def test_rules_switched_off_in_the_file_are_not_applied() -> None:
    nothing = certification_status(PEER_CURRICULUM, [], NOW)
    relaxed = dataclasses.replace(RULES, certification_required=False, supervision_required=False)
    assert match_eligibility(ACTIVE, nothing, None, NOW, relaxed) == ()


def test_certification_of_another_curriculum_is_a_calling_mistake() -> None:
    clinician = certification_status(CLINICIAN_CURRICULUM, [], NOW)
    with pytest.raises(ValueError, match="peers are certified by 'peer-supporter'"):
        match_eligibility(ACTIVE, clinician, RECENT, NOW, RULES)


def test_a_naive_now_is_refused() -> None:
    naive = datetime(2026, 11, 23, 10, 0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        match_eligibility(ACTIVE, CERTIFIED, RECENT, naive, RULES)
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_supervision([], naive, RULES)
