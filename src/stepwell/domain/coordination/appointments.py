"""What happened at an appointment, and what that means for the contact record.

The attendance codes are fixed here because code depends on what they mean (only a
cancellation may carry a cancellation reason); their labels, and the contact outcome each
one records, are in ``content/coordination/access.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rules imports this module; the annotation needs no import at run time
    from stepwell.domain.coordination.rules import CoordinationRules

ATTENDANCE_CODES = (
    "attended",
    "late-seen",  # arrived late and was still seen
    "cancelled-patient",
    "cancelled-service",
    "did-not-attend",
)
# Attendances that may carry a cancellation reason (a ``cancellation_reasons`` code).
CANCELLED = frozenset({"cancelled-patient", "cancelled-service"})
# What an attendance records as the contact's outcome (``contact`` in the file); a
# cancellation records no contact at all.
CONTACT_OUTCOMES = ("attended", "no-show")


def contact_outcome(attendance: str, rules: CoordinationRules) -> str | None:
    """The contact outcome an attendance records (one of ``CONTACT_OUTCOMES``), or None when
    it records no contact (a cancellation). Raises ValueError for an unknown code."""
    entry = rules.attendance.get(attendance)
    if entry is None:
        raise ValueError(_unknown(attendance, "an attendance code", rules.attendance))
    return entry.contact


def attendance_problem(
    attendance: str, cancellation_reason: str | None, rules: CoordinationRules
) -> str | None:
    """What is wrong with recording ``attendance`` with ``cancellation_reason`` (None or ""
    for none), or None when it may be recorded. Only a cancellation may carry a reason, and
    it need not; unknown codes are named."""
    if attendance not in rules.attendance:
        return _unknown(attendance, "an attendance code", rules.attendance)
    if not cancellation_reason:
        return None
    if attendance not in CANCELLED:
        allowed = " or ".join(sorted(CANCELLED))
        return f"a cancellation reason goes only with {allowed}, not with {attendance!r}"
    if cancellation_reason not in rules.cancellation_reasons:
        return _unknown(cancellation_reason, "a cancellation reason", rules.cancellation_reasons)
    return None


def _unknown(code: str, what: str, known: Iterable[str]) -> str:
    listed = ", ".join(sorted(known))
    return f"{code!r} is not {what} (known: {listed})"
