from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MatchStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")


class PeerMatch(models.Model):
    """A pairing of a peer supporter with a patient.

    Only an ``active`` match (approved by a supervisor) lets the peer see the patient; a
    proposal grants nothing. The matching optimiser and approvals build on this table.
    """

    peer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="peer_matches"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="peer_matches"
    )
    status = models.CharField(max_length=16, choices=MatchStatus.choices)
    created_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["peer", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["peer", "patient"],
                condition=models.Q(status="active"),
                name="peer_match_one_active_pair",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="active") | models.Q(approved_at__isnull=False),
                name="peer_match_active_is_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"peer match {self.pk}"
