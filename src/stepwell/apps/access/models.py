from __future__ import annotations

from django.conf import settings
from django.db import models


class BreakGlassGrant(models.Model):
    """Emergency access to one patient outside a user's normal scope, for a stated reason.

    Grants are visible to every administrator and expire on their own; they are never
    edited, so a grant's history is its row.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    reason = models.TextField()
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-granted_at"]
        indexes = [models.Index(fields=["user", "expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("granted_at")),
                name="break_glass_expires_after_grant",
            )
        ]

    def __str__(self) -> str:
        return f"break-glass grant {self.pk}"
