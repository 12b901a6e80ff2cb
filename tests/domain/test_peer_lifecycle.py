"""Every lifecycle move of the shipped programme file, allowed or refused, and why."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import product

import pytest

from stepwell.domain.peers.curriculum import certification_status, completion_for
from stepwell.domain.peers.lifecycle import LifecycleError, allowed_targets, lifecycle_transition
from tests.domain.test_peer_content import CLINICIAN_CURRICULUM, PEER_CURRICULUM, RULES

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
STATES = ("applicant", "in_training", "certified", "active", "paused", "retired")
# The brief's lifecycle, written out independently of the file: applicant → in_training →
# certified → active ⇄ paused; certified → paused; retired from anywhere, and final.
ALLOWED = {
    ("applicant", "in_training"),
    ("applicant", "retired"),
    ("in_training", "certified"),
    ("in_training", "retired"),
    ("certified", "active"),
    ("certified", "paused"),
    ("certified", "retired"),
    ("active", "paused"),
    ("active", "retired"),
    ("paused", "active"),
    ("paused", "retired"),
}
CERTIFIED = certification_status(
    PEER_CURRICULUM,
    [
        completion_for(m, completed_on=date(2026, 10, 1), assessor_id=7, passed=True)
        for m in PEER_CURRICULUM.modules
    ],
    NOW,
)
NOT_CERTIFIED = certification_status(
    PEER_CURRICULUM,
    [
        completion_for(m, completed_on=date(2026, 10, 1), assessor_id=7, passed=True)
        for m in PEER_CURRICULUM.required[1:]
    ],
    NOW,
)


def test_the_file_lists_exactly_the_allowed_moves() -> None:
    listed = {(a, b) for a in STATES for b in allowed_targets(a, RULES)}
    assert listed == ALLOWED
    assert allowed_targets("retired", RULES) == ()
    assert allowed_targets("volunteer", RULES) == ()


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_an_allowed_move_passes(current: str, target: str) -> None:
    lifecycle_transition(current, target, RULES, certification=CERTIFIED)  # no exception: allowed


REFUSED = [(a, b) for a, b in product(STATES, STATES) if (a, b) not in ALLOWED]


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_a_refused_move_names_both_states(current: str, target: str) -> None:
    with pytest.raises(LifecycleError) as error:
        lifecycle_transition(current, target, RULES, certification=CERTIFIED)
    e = error.value
    assert (e.current, e.target) == (current, target)
    assert str(e).startswith(f"{current} -> {target}: ")
    expected = (
        "lifecycle-same-state"
        if current == target
        else "lifecycle-final"
        if current == "retired"
        else "lifecycle-not-allowed"
    )
    assert e.reason.code == expected
    for lang in ("en", "es"):
        text = e.reason.text(RULES.sentences, lang)
        assert "{" not in text
        assert RULES.lifecycle.labels[current][lang] in text


def test_a_refusal_lists_where_the_peer_may_go_instead() -> None:
    with pytest.raises(LifecycleError) as error:
        lifecycle_transition("active", "in_training", RULES)
    assert error.value.reason.params["allowed"] == ("paused", "retired")
    assert str(error.value) == (
        "active -> in_training: Cannot move from “Active” to “In training”; "
        "from “Active” a peer may move to: Paused, Retired."
    )
    assert error.value.reason.text(RULES.sentences, "es") == (
        "No se puede pasar de «Activo/a» a «En formación»; "
        "desde «Activo/a» se puede pasar a: En pausa, Retirado/a."
    )


def test_retired_is_final() -> None:
    for target in STATES[:-1]:
        with pytest.raises(LifecycleError, match=r"^retired -> \w+: .*“Retired” is final"):
            lifecycle_transition("retired", target, RULES, certification=CERTIFIED)


@pytest.mark.parametrize(("current", "target"), [("volunteer", "active"), ("active", "on_leave")])
def test_an_unknown_state_is_refused(current: str, target: str) -> None:
    with pytest.raises(LifecycleError) as error:
        lifecycle_transition(current, target, RULES)
    assert error.value.reason.code == "lifecycle-unknown-state"
    assert f"{current} -> {target}: " in str(error.value)


def test_becoming_certified_needs_a_current_certification() -> None:
    with pytest.raises(LifecycleError) as error:
        lifecycle_transition("in_training", "certified", RULES, certification=NOT_CERTIFIED)
    reason = error.value.reason
    assert reason.code == "lifecycle-needs-certification"
    assert reason.params["modules"] == ("role-and-boundaries",)
    assert reason.text(RULES.sentences, "en") == (
        "Cannot become “Certified” before completing training: Role and boundaries."
    )
    assert reason.text(RULES.sentences, "es") == (
        "No se puede pasar a «Certificado/a» sin completar la formación: Rol y límites."
    )


def test_the_certification_is_a_precondition_for_moves_that_need_it() -> None:
    with pytest.raises(ValueError, match="needs the peer's certification status"):
        lifecycle_transition("in_training", "certified", RULES)
    clinician = certification_status(CLINICIAN_CURRICULUM, [], NOW)
    with pytest.raises(ValueError, match="certification is for 'clinician'"):
        lifecycle_transition("in_training", "certified", RULES, certification=clinician)
    # Moves that need no certification do not ask for it.
    lifecycle_transition("paused", "active", RULES)  # no exception: allowed
    lifecycle_transition(
        "paused", "active", RULES, certification=NOT_CERTIFIED
    )  # no exception: allowed
