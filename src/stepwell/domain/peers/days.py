"""Whole-day arithmetic shared by certification and supervision rules."""

from __future__ import annotations

from datetime import date, datetime


def today_of(now: datetime) -> date:
    """The calendar day of ``now`` in ``now``'s own time zone.

    Every peer-programme rule counts whole calendar days, so the caller chooses whose
    calendar by the zone of ``now`` (e.g. ``django.utils.timezone.localtime(now)`` for the
    programme's zone). A naive ``now`` is refused: its day would be a guess.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.date()


def days_between(earlier: date, later: date) -> int:
    """Whole days from ``earlier`` to ``later`` (0 on the same day; negative if reversed)."""
    return (later - earlier).days
