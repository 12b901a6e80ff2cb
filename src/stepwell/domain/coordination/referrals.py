"""Referrals between sites: the statuses a referral moves through, by when it must be
accepted, and how many days the patient waited.

Waiting is counted in calendar days, not hours: a patient sent on the 7th and seen on the
9th waited 2 days however many hours the clocks say, across a DST change or not, and a
referral sent at 16:55 and seen the next morning waited 1 day. That is how patients and
services speak of waiting, and it keeps the count stable when the two sites sit in
different time zones. Acceptance deadlines, by contrast, are elapsed hours (``accept_within
_hours`` in ``content/coordination/access.yaml``): a service promises a response within so
many hours of the referral arriving, whatever the wall clock does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # rules imports this module; the annotation needs no import at run time
    from stepwell.domain.coordination.rules import ReferralRules

URGENCIES = ("routine", "urgent")
STATUSES = ("sent", "accepted", "scheduled", "seen", "declined", "cancelled")
# Where each status may go. Scheduled -> scheduled is rescheduling. An accepted referral may
# be seen without a booked appointment (e.g. seen the same day at a drop-in).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "sent": ("accepted", "declined", "cancelled"),
    "accepted": ("scheduled", "seen", "declined", "cancelled"),
    "scheduled": ("scheduled", "seen", "cancelled"),
    "seen": (),
    "declined": (),
    "cancelled": (),
}
FINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def transition_problem(current: str, new: str) -> str | None:
    """Why a referral may not move from ``current`` to ``new`` (a sentence naming both), or
    None when it may."""
    for status in (current, new):
        if status not in TRANSITIONS:
            return f"{status!r} is not a referral status (known: {', '.join(STATUSES)})"
    if current in FINAL:
        return f"a referral that is {current} cannot change any more (asked: {new})"
    allowed = TRANSITIONS[current]
    if new not in allowed:
        return f"a referral cannot go from {current} to {new} (allowed: {', '.join(allowed)})"
    return None


def acceptance_deadline(sent_at: datetime, urgency: str, rules: ReferralRules) -> datetime:
    """When a referral sent at ``sent_at`` (aware) must have been accepted: the urgency's
    ``accept_within_hours`` elapsed hours later, in UTC (elapsed, so a DST change in between
    neither adds nor takes away an hour). Raises ValueError for an unknown urgency."""
    _aware(sent_at, "sent_at")
    hours = rules.accept_within_hours.get(urgency)
    if hours is None:
        raise ValueError(f"{urgency!r} is not an urgency (known: {', '.join(URGENCIES)})")
    return sent_at.astimezone(UTC) + timedelta(hours=hours)


def is_overdue(status: str, deadline: datetime, now: datetime) -> bool:
    """A referral is overdue when it is still waiting to be accepted ("sent") after its
    deadline (both aware). At the deadline itself it is not yet overdue."""
    return status == "sent" and now > deadline


def wait_days(
    *, sent_at: datetime, sent_zone: ZoneInfo, until: datetime, until_zone: ZoneInfo
) -> int:
    """Calendar days from the local date of sending at the sending site (``sent_zone``) to
    the local date of ``until`` (when seen, or now) at the receiving site (``until_zone``).
    Both datetimes aware. Never negative (a clock or time-zone quirk that puts ``until``
    on an earlier local date counts as 0). See the module docstring for why dates."""
    _aware(sent_at, "sent_at")
    _aware(until, "until")
    sent_day = sent_at.astimezone(sent_zone).date()
    until_day = until.astimezone(until_zone).date()
    return max(0, (until_day - sent_day).days)


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
