"""Care coordination: barriers to care and what was done about them.

Kinds and actions are codes of ``content/coordination/barriers.yaml``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BarrierStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    UNRESOLVED = "unresolved", _("Could not resolve")


class BarrierSource(models.TextChoices):
    COORDINATOR = "coordinator", _("Care coordinator")
    CHW = "chw", _("Community health worker")
    PEER_ENCOUNTER = "peer-encounter", _("Peer encounter")
    PATIENT = "patient", _("Patient")
    CLINICIAN = "clinician", _("Clinician")


class Barrier(models.Model):
    """Something standing between a patient and their care (transport, cost, …)."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="barriers"
    )
    kind = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=BarrierStatus.choices, default=BarrierStatus.OPEN
    )
    source = models.CharField(max_length=16, choices=BarrierSource.choices)
    peer_encounter = models.ForeignKey(
        "peers.PeerEncounter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="barrier_records",
    )
    note = models.TextField(blank=True)
    action = models.CharField(max_length=32, blank=True)  # the action taken, if any
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["status", "raised_at"]),
            models.Index(fields=["patient", "raised_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["peer_encounter", "kind"],
                condition=models.Q(peer_encounter__isnull=False),
                name="one_barrier_per_encounter_kind",
            )
        ]

    def __str__(self) -> str:
        return f"barrier {self.pk}"
