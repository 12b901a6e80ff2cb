from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stepwell.domain.access.break_glass import BreakGlassRefused, grant_window, is_active
from stepwell.domain.access.policy import (
    PEER_FIELDS,
    Role,
    Scope,
    View,
    peer_fields,
    policy_for,
)

T0 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


def test_every_role_has_a_policy_matching_product_section_2() -> None:
    assert policy_for("patient").scope is Scope.OWN_RECORD
    assert policy_for("chw").scope is Scope.SITES
    assert policy_for("coordinator").scope is Scope.SITES
    assert policy_for("clinician").scope is Scope.SITES_AND_CARE_TEAM
    assert policy_for("peer").scope is Scope.MATCHED
    assert policy_for("peer").view is View.PEER
    for role in ("manager", "admin", "peer_supervisor"):
        assert policy_for(role).scope is Scope.NONE
    assert policy_for("manager").sees_aggregates
    assert {r for r in Role if policy_for(r).may_break_glass} == {Role.ADMIN, Role.CLINICIAN}
    assert {r for r in Role if policy_for(r).may_decide_steps} == {Role.CLINICIAN}


def test_an_unknown_role_sees_nothing() -> None:
    policy = policy_for("janitor")
    assert policy.scope is Scope.NONE
    assert not policy.may_break_glass


def test_peer_fields_never_include_clinical_or_identifying_extras() -> None:
    for consented in (False, True):
        fields = peer_fields(consented_to_share=consented)
        assert not fields & {
            "birth_date",
            "sex",
            "gender",
            "email",
            "home_latitude",
            "home_longitude",
            "episodes",
            "notes",
        }
    assert peer_fields(consented_to_share=False) == PEER_FIELDS
    assert "current_step" in peer_fields(consented_to_share=True)


def test_grant_window_is_three_hours_from_now() -> None:
    start, end = grant_window(now=T0, hours=3, reason="Emergency department call at night")
    assert (start, end) == (T0, T0 + timedelta(hours=3))
    assert is_active(granted_at=start, expires_at=end, now=T0)
    assert is_active(granted_at=start, expires_at=end, now=end - timedelta(microseconds=1))
    assert not is_active(granted_at=start, expires_at=end, now=end)
    assert not is_active(granted_at=start, expires_at=end, now=start - timedelta(seconds=1))


def test_grant_needs_a_reason_and_an_aware_clock() -> None:
    with pytest.raises(BreakGlassRefused, match="reason"):
        grant_window(now=T0, hours=3, reason="  because ")
    with pytest.raises(ValueError, match="timezone-aware"):
        grant_window(now=T0.replace(tzinfo=None), hours=3, reason="a long enough reason here")
