from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CaptureMode(models.TextChoices):
    PORTAL = "portal", _("Patient portal")
    SMS = "sms", _("SMS link")
    CHW = "chw", _("Community health worker")
    CLINICIAN = "clinician", _("Clinician")


class Assessment(models.Model):
    """One completed questionnaire: the answers as given and the score they produced.

    The instrument version is kept so a later change to a file never rewrites history.
    """

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="assessments"
    )
    episode = models.ForeignKey(
        "patients.Episode",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assessments",
    )
    instrument = models.CharField(max_length=32)
    instrument_version = models.CharField(max_length=16)
    answers = models.JSONField()
    total = models.SmallIntegerField()
    band = models.CharField(max_length=32)
    caseness = models.BooleanField(null=True)
    prorated = models.BooleanField(default=False)
    missing = models.JSONField(default=list)
    safety = models.JSONField(default=list)
    taken_at = models.DateTimeField()
    mode = models.CharField(max_length=16, choices=CaptureMode.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["taken_at", "id"]
        indexes = [models.Index(fields=["patient", "instrument", "taken_at"])]

    def __str__(self) -> str:
        return f"assessment {self.pk}"
