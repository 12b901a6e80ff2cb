"""The scheduled jobs, as django-tasks tasks (stored and run by django-tasks-db).

Each takes the moment it was queued for (``now``, ISO 8601 with offset) so that a run is
reproducible and testable with an injected clock, and each is idempotent: run twice for the
same moment (a worker restarted mid-run), it does its work once."""

from __future__ import annotations

from datetime import datetime

from django_tasks import task

from stepwell.apps.coordination.reminders import check_ins_plan, reminders_send_due
from stepwell.apps.coordination.services import referrals_flag_overdue


def _at(now: str) -> datetime:
    at = datetime.fromisoformat(now)
    if at.tzinfo is None:
        raise ValueError(f"now: {now!r} has no time zone")
    return at


@task()
def reminders_send(now: str) -> dict[str, int]:
    """Hand due reminders and check-in prompts to the outbox (stale, opted-out ones dropped)."""
    return reminders_send_due(now=_at(now)).as_dict()


@task()
def check_ins_prompt(now: str) -> dict[str, int]:
    """Plan a check-in prompt for each open episode whose step's cadence has run out."""
    return {"planned": check_ins_plan(now=_at(now))}


@task()
def referrals_overdue(now: str) -> dict[str, int]:
    """Flag referrals still waiting for acceptance past their deadline."""
    return {"flagged": referrals_flag_overdue(now=_at(now))}
