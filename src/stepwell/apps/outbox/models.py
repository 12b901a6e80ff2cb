from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OutChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    CLAIMED = "claimed", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (no more retries)")


class Notification(models.Model):
    """One message to one recipient over one channel: the persisted outbox.

    Written in the same transaction as whatever caused it, delivered later by
    ``stepwell worker``. ``key`` is unique, so the same cause never queues the same message to
    the same recipient twice, and it is passed to the gateway as an idempotency key so a
    retry after a crash cannot deliver twice. Bodies never carry patient data (ids only).
    """

    key = models.CharField(max_length=120, unique=True)
    channel = models.CharField(max_length=8, choices=OutChannel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    # What the message is about, e.g. ("safety-task", 12): the task page lists its messages.
    ref_type = models.CharField(max_length=32)
    ref_id = models.BigIntegerField()
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=36, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["ref_type", "ref_id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False),
                name="notification_sent_has_time",
            )
        ]

    def __str__(self) -> str:
        return f"notification {self.pk}"
