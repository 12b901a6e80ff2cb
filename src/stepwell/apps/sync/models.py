from __future__ import annotations

from django.conf import settings
from django.db import models


class SyncedRecord(models.Model):
    """A record captured offline and applied once. The client's UUID is unique: a batch sent
    again (a retry after a lost response, a second device replaying) applies nothing twice."""

    uuid = models.UUIDField(unique=True)
    device_id = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32)
    object_id = models.BigIntegerField()
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "received_at"])]

    def __str__(self) -> str:
        return f"synced record {self.pk}"
