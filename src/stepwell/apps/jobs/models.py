"""Which run of each scheduled job has been queued."""

from __future__ import annotations

from django.db import models


class JobSlot(models.Model):
    """One period of one scheduled job (e.g. ``reminders-send`` for the minute starting at
    10:04). Unique, and written in the transaction that queues the job's task: two workers,
    or a worker restarted mid-pass, queue each period's run once."""

    job = models.CharField(max_length=40)
    slot_start = models.DateTimeField()
    task_id = models.CharField(max_length=64)  # the django-tasks result id
    queued_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "slot_start"], name="job_slot_once")]

    def __str__(self) -> str:
        return f"job slot {self.pk}"
