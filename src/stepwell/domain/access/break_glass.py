"""Break-the-glass: emergency access to one patient, for a stated reason, for a fixed time."""

from __future__ import annotations

from datetime import datetime, timedelta

MIN_REASON_LENGTH = 10


class BreakGlassRefused(ValueError):
    """The request cannot be granted: ``field`` is the input at fault, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def grant_window(*, now: datetime, hours: int, reason: str) -> tuple[datetime, datetime]:
    """Return (granted_at, expires_at) for a grant starting ``now`` lasting ``hours``.

    Preconditions: ``now`` is timezone-aware; the reason is a real sentence, because other
    administrators read it when they review grants.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise BreakGlassRefused(
            "reason", f"at least {MIN_REASON_LENGTH} characters are needed to explain the access"
        )
    return now, now + timedelta(hours=hours)


def is_active(*, granted_at: datetime, expires_at: datetime, now: datetime) -> bool:
    """A grant is active from its start up to, not including, its expiry."""
    return granted_at <= now < expires_at
