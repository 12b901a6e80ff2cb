"""One pass of the background worker: escalate overdue safety tasks, queue and run the
scheduled jobs that are due (reminders, check-in prompts, overdue referrals: django-tasks
kept in the database, ``apps/jobs``), then deliver the outbox. ``stepwell worker`` runs it
in a loop; tests call it with an injected clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stepwell.apps.jobs.schedule import jobs_enqueue_due, jobs_run_ready
from stepwell.apps.outbox.services import outbox_deliver
from stepwell.apps.safety.services import tasks_escalate_overdue
from stepwell.apps.stepping.protocols import active_protocol


@dataclass(frozen=True, slots=True)
class TickReport:
    escalated: int
    sent: int
    failed: int
    jobs: int = 0  # scheduled tasks run in this pass


def worker_tick(*, now: datetime, batch: int = 100) -> TickReport:
    """Escalate first, then the jobs, so the messages both make go out in the same pass."""
    escalated = tasks_escalate_overdue(now=now)
    jobs_enqueue_due(now=now)
    ran = jobs_run_ready()
    report = outbox_deliver(now=now, retry_delay=active_protocol().safety.retry_delay, limit=batch)
    return TickReport(len(escalated), report.sent, report.failed, ran)
