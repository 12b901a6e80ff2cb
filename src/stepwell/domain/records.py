"""Plain checks on patient and episode data that hold whatever stores them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MAX_AGE_YEARS = 120
STEPS = (1, 2, 3, 4)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad input field: ``field`` is the input name, ``message`` says what is wrong."""

    field: str
    message: str


def check_birth_date(birth_date: date, *, today: date) -> list[FieldProblem]:
    if birth_date > today:
        return [FieldProblem("birth_date", f"{birth_date.isoformat()} is in the future")]
    if today.year - birth_date.year > MAX_AGE_YEARS:
        return [
            FieldProblem(
                "birth_date",
                f"{birth_date.isoformat()} is more than {MAX_AGE_YEARS} years ago",
            )
        ]
    return []


def check_location(lat: float | None, lon: float | None, *, prefix: str) -> list[FieldProblem]:
    problems = []
    if (lat is None) != (lon is None):
        missing = f"{prefix}_longitude" if lon is None else f"{prefix}_latitude"
        problems.append(FieldProblem(missing, "latitude and longitude go together"))
    if lat is not None and not -90 <= lat <= 90:
        problems.append(FieldProblem(f"{prefix}_latitude", f"{lat} is not between -90 and 90"))
    if lon is not None and not -180 <= lon <= 180:
        problems.append(FieldProblem(f"{prefix}_longitude", f"{lon} is not between -180 and 180"))
    return problems


def check_episode_dates(
    *, referral_date: date, first_contact_date: date | None, today: date
) -> list[FieldProblem]:
    problems = []
    if referral_date > today:
        problems.append(
            FieldProblem("referral_date", f"{referral_date.isoformat()} is in the future")
        )
    if first_contact_date is not None:
        if first_contact_date < referral_date:
            problems.append(
                FieldProblem(
                    "first_contact_date",
                    f"{first_contact_date.isoformat()} is before the referral date "
                    f"{referral_date.isoformat()}",
                )
            )
        if first_contact_date > today:
            problems.append(
                FieldProblem(
                    "first_contact_date", f"{first_contact_date.isoformat()} is in the future"
                )
            )
    return problems


def check_step(step: int, *, field: str = "step") -> list[FieldProblem]:
    if step not in STEPS:
        return [FieldProblem(field, f"{step} is not one of 1, 2, 3, 4")]
    return []


_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


def phone_number(raw: str) -> str | None:
    """A phone number as stored and matched: ``+1 (555) 010-0123`` → ``+15550100123``
    (spaces, dots, dashes and brackets dropped; a leading + added). None when what is left
    is not 6 to 15 digits. Inbound SMS find patients by this exact form."""
    digits = re.sub(r"[\s().-]", "", raw or "")
    if not _PHONE.match(digits):
        return None
    return digits if digits.startswith("+") else "+" + digits
