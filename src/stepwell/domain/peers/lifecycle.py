"""Moving a peer between lifecycle states (``lifecycle:`` of ``content/peers/programme.yaml``).

The shipped lifecycle: applicant → in_training → certified → active ⇄ paused, with retired
reachable from every state and final. A lapsed certification does **not** move a peer back:
the lifecycle is the programme's administrative decision; whether a peer may take a new match
also depends on certification and supervision (``eligibility.match_eligibility``).
"""

from __future__ import annotations

from stepwell.domain.peers.curriculum import CertificationStatus
from stepwell.domain.peers.programme import ProgrammeRules
from stepwell.domain.peers.reasons import Reason


class LifecycleError(ValueError):
    """A refused lifecycle change. ``reason`` says why (a code of
    ``reasons.LIFECYCLE_PARAMS``, rendered with ``reason.text(rules.sentences, language)``);
    the message names both states, e.g. ``retired -> active: …``."""

    def __init__(self, current: str, target: str, reason: Reason, rules: ProgrammeRules) -> None:
        self.current = current
        self.target = target
        self.reason = reason
        super().__init__(f"{current} -> {target}: {reason.text(rules.sentences, 'en')}")


def allowed_targets(current: str, rules: ProgrammeRules) -> tuple[str, ...]:
    """The states ``current`` may move to, in file order (empty for a final or unknown one)."""
    return rules.lifecycle.transitions.get(current, ())


def lifecycle_transition(
    current: str,
    target: str,
    rules: ProgrammeRules,
    *,
    certification: CertificationStatus | None = None,
) -> None:
    """Return if a peer in ``current`` may move to ``target``; raise LifecycleError if not.

    Refused: an unknown state, staying put, leaving a final state, a move the file does not
    list, and entering a state of ``lifecycle.requires_certification`` (``certified`` in the
    shipped file) without a current certification. For such a target ``certification`` —
    the peer's status against ``rules.certification_curriculum`` — is a precondition:
    ValueError when it is absent or of another curriculum, since that is a calling mistake,
    not a decision to refuse.
    """
    life = rules.lifecycle
    for state in (current, target):
        if state not in life.transitions:
            raise LifecycleError(
                current, target, Reason("lifecycle-unknown-state", {"state": state}), rules
            )
    if current == target:
        raise LifecycleError(
            current, target, Reason("lifecycle-same-state", {"current": current}), rules
        )
    params: dict[str, object] = {"current": current, "target": target}
    if current in life.final:
        raise LifecycleError(current, target, Reason("lifecycle-final", params), rules)
    allowed = life.transitions[current]
    if target not in allowed:
        params["allowed"] = allowed
        raise LifecycleError(current, target, Reason("lifecycle-not-allowed", params), rules)
    if target in life.requires_certification:
        _check_certification(current, target, rules, certification)


def _check_certification(
    current: str, target: str, rules: ProgrammeRules, certification: CertificationStatus | None
) -> None:
    if certification is None:
        raise ValueError(f"moving to {target!r} needs the peer's certification status")
    if certification.curriculum != rules.certification_curriculum:
        raise ValueError(
            f"certification is for {certification.curriculum!r}, "
            f"peers are certified by {rules.certification_curriculum!r}"
        )
    if not certification.certified:
        params = {"target": target, "modules": certification.lacking}
        raise LifecycleError(
            current, target, Reason("lifecycle-needs-certification", params), rules
        )
