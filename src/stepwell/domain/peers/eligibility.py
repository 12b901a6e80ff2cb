"""Whether a peer may take a **new** match, as reasons (PRODUCT.md §3.6: no new matches for a
peer without current certification or with overdue supervision).

Existing matches are not ended by these rules; they decide only new proposals and approvals.
The matching optimiser leaves out peers with any reason, and the supervisor sees the reasons.

Day conventions (whole calendar days; "today" is ``now``'s date in ``now``'s zone):

- supervision held on day *L* with ``overdue_after_days`` = *N* is current through day
  *L+N* and **overdue from L+N+1**: a session exactly *N* days ago is not overdue, *N+1*
  days ago is (held 1 October with N=30: current through 31 October, overdue 1 November);
- a peer never supervised is treated as overdue (``supervision-never``): an induction
  session is recorded before the first match;
- certification follows ``curriculum.certification_status`` (a pass expires on the day it
  stops counting).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from stepwell.domain.peers.curriculum import CertificationStatus
from stepwell.domain.peers.days import days_between, today_of
from stepwell.domain.peers.programme import ProgrammeRules
from stepwell.domain.peers.reasons import Reason


@dataclass(frozen=True, slots=True)
class PeerState:
    """What the eligibility rules need to know of a peer right now.

    ``active_matches``: approved, not ended. ``proposed_matches``: proposals awaiting a
    supervisor (count towards capacity when the programme says so). ``max_patients``: the
    profile's capacity, None for the programme default; above the programme's limit it is
    read as the limit (a profile set before the limit was lowered).
    """

    lifecycle: str
    active_matches: int = 0
    proposed_matches: int = 0
    max_patients: int | None = None


@dataclass(frozen=True, slots=True)
class SupervisionSession:
    held_on: date
    format: str  # a ``supervision_formats`` code of the vocabulary
    supervisor_id: int
    minutes: int  # duration in whole minutes


def capacity(peer: PeerState, rules: ProgrammeRules) -> int:
    """The most patients (matches held) ``peer`` may have."""
    own = rules.default_max_patients if peer.max_patients is None else peer.max_patients
    return min(own, rules.max_patients_limit)


def latest_supervision(
    sessions: Iterable[SupervisionSession], now: datetime, rules: ProgrammeRules
) -> date | None:
    """The day of the most recent session that counts: held on or before today and at least
    ``supervision_min_minutes`` long. None when there is none."""
    today = today_of(now)
    days = [
        s.held_on
        for s in sessions
        if s.held_on <= today and s.minutes >= rules.supervision_min_minutes
    ]
    return max(days, default=None)


def supervision_due_by(last_supervision_on: date | None, rules: ProgrammeRules) -> date | None:
    """The last day before supervision becomes overdue (None: never supervised, due now)."""
    if last_supervision_on is None:
        return None
    return last_supervision_on + timedelta(days=rules.supervision_overdue_after_days)


def supervision_reason(
    last_supervision_on: date | None, now: datetime, rules: ProgrammeRules
) -> Reason | None:
    """``supervision-overdue`` or ``supervision-never`` when supervision is not current, else
    None. ValueError if ``last_supervision_on`` is after today (a session not yet held)."""
    limit = rules.supervision_overdue_after_days
    if last_supervision_on is None:
        return Reason("supervision-never", {"limit": limit})
    days = days_between(last_supervision_on, today_of(now))
    if days < 0:
        raise ValueError(f"last supervision {last_supervision_on.isoformat()} is after today")
    if days > limit:
        params = {"last": last_supervision_on.isoformat(), "days": days, "limit": limit}
        return Reason("supervision-overdue", params)
    return None


def certification_reasons(certification: CertificationStatus) -> tuple[Reason, ...]:
    """``certification-missing`` (all missing modules in one reason) and one
    ``certification-expired`` per expired module; empty when certified."""
    reasons = []
    if certification.missing:
        reasons.append(Reason("certification-missing", {"modules": certification.missing}))
    reasons.extend(
        Reason("certification-expired", {"module": e.module, "date": e.expired_on.isoformat()})
        for e in certification.expired
    )
    return tuple(reasons)


def capacity_reason(peer: PeerState, rules: ProgrammeRules) -> Reason | None:
    if peer.active_matches < 0 or peer.proposed_matches < 0:
        raise ValueError("match counts cannot be negative")
    proposed = peer.proposed_matches if rules.proposals_hold_a_place else 0
    most = capacity(peer, rules)
    if peer.active_matches + proposed >= most:
        return Reason(
            "at-capacity", {"active": peer.active_matches, "proposed": proposed, "max": most}
        )
    return None


def match_eligibility(
    peer_state: PeerState,
    certification: CertificationStatus,
    last_supervision_on: date | None,
    now: datetime,
    rules: ProgrammeRules,
) -> tuple[Reason, ...]:
    """Every reason ``peer_state``'s peer may not take a new match now; empty when it may.

    In this order: ``not-active`` (lifecycle state not in ``matching.states``),
    ``certification-missing``/``certification-expired`` (when the programme requires
    certification), ``supervision-overdue``/``supervision-never`` (when it requires
    supervision), ``at-capacity``. All are reported, not just the first, so a supervisor sees
    everything to fix. ``certification`` is the peer's status against
    ``rules.certification_curriculum`` (ValueError for another curriculum); ``now`` must be
    timezone-aware.
    """
    today_of(now)  # refuse a naive ``now`` whatever the rules switched on
    reasons: list[Reason] = []
    if peer_state.lifecycle not in rules.matchable_states:
        reasons.append(Reason("not-active", {"state": peer_state.lifecycle}))
    if rules.certification_required:
        if certification.curriculum != rules.certification_curriculum:
            raise ValueError(
                f"certification is for {certification.curriculum!r}, "
                f"peers are certified by {rules.certification_curriculum!r}"
            )
        reasons.extend(certification_reasons(certification))
    if rules.supervision_required:
        overdue = supervision_reason(last_supervision_on, now, rules)
        if overdue is not None:
            reasons.append(overdue)
    full = capacity_reason(peer_state, rules)
    if full is not None:
        reasons.append(full)
    return tuple(reasons)
