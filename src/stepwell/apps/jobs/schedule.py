"""The schedule: which job runs how often, queued once per period however many workers run.

``jobs_enqueue_due`` writes a ``JobSlot`` row and the task in one transaction; the slot's
uniqueness makes the second worker (or a restarted one) skip a period already queued.
``jobs_run_ready`` runs the queued tasks with django-tasks-db's own worker, in this process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from django.db import IntegrityError, transaction
from django_tasks.base import Task
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from stepwell.apps.jobs import tasks
from stepwell.apps.jobs.models import JobSlot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    task: Task[Any, Any]
    every: timedelta


SCHEDULE: tuple[Job, ...] = (
    # Reminders are checked every minute: a reminder planned for 10:04 leaves by 10:05.
    Job("reminders-send", tasks.reminders_send, timedelta(minutes=1)),
    Job("check-ins-prompt", tasks.check_ins_prompt, timedelta(hours=1)),
    Job("referrals-overdue", tasks.referrals_overdue, timedelta(minutes=15)),
)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def slot_start(now: datetime, every: timedelta) -> datetime:
    """The start of the period of length ``every`` that holds ``now`` (aware), in UTC."""
    periods = (now - _EPOCH) // every
    return _EPOCH + periods * every


def jobs_enqueue_due(*, now: datetime, schedule: tuple[Job, ...] = SCHEDULE) -> list[str]:
    """Queue each job whose current period has not been queued yet; returns their names."""
    queued = []
    for job in schedule:
        start = slot_start(now, job.every)
        if JobSlot.objects.filter(job=job.name, slot_start=start).exists():
            continue
        try:
            with transaction.atomic():
                slot = JobSlot.objects.create(
                    job=job.name, slot_start=start, task_id="", queued_at=now
                )
                result = job.task.enqueue(now=now.isoformat())
                slot.task_id = str(result.id)
                slot.save(update_fields=["task_id"])
        except IntegrityError:
            continue  # another worker queued this period first
        queued.append(job.name)
    return queued


def jobs_run_ready(*, limit: int | None = None) -> int:
    """Run the queued tasks that are ready, in this process, until none is left (or
    ``limit`` ran). Returns how many ran; a failing task is recorded failed, not raised.

    The same steps as django-tasks-db's ``db_worker`` loop (take the next ready task under a
    row lock, claim it, run it through the library's ``Worker.run_task``), without that loop's
    connection recycling and sleeps: ``stepwell worker`` manages its connection itself."""
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=limit,
        worker_id=f"stepwell-{uuid4().hex[:12]}",
        excluded_queue_names=[],
    )
    ran = 0
    while limit is None or ran < limit:
        ready = DBTaskResult.objects.ready().filter(backend_name="default", queue_name="default")
        with exclusive_transaction(ready.db):
            task_result = ready.get_locked()
            if task_result is not None:
                task_result.claim(worker.worker_id)
        if task_result is None:
            return ran
        worker.run_task(task_result)
        ran += 1
    return ran
