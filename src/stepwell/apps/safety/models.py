from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    HIGH = "high", _("High")
    MODERATE = "moderate", _("Moderate")
    ROUTINE = "routine", _("Routine")


class SignalSource(models.TextChoices):
    ITEM_9 = "item-9", _("PHQ-9 item 9")
    CRISIS_LANGUAGE = "crisis-language", _("Crisis language in free text")
    SEVERE_WORSENING = "severe-worsening", _("Severe worsening")
    CONCERN = "concern", _("Concern raised by a peer or CHW")
    MANUAL = "manual", _("Clinician's flag")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class RiskLevel(models.TextChoices):
    """Outcome of the structured risk screen (C-SSRS-style) the owner records."""

    NONE = "none", _("No current risk")
    LOW = "low", _("Low risk")
    MODERATE = "moderate", _("Moderate risk")
    HIGH = "high", _("High risk")


class OnCallShift(models.Model):
    """A clinician on call for a site's safety signals between two instants."""

    site = models.ForeignKey("network.Site", on_delete=models.CASCADE, related_name="on_call")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="on_call_shifts"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["site", "starts_at"]
        indexes = [models.Index(fields=["site", "starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"on-call shift {self.pk}"


class SafetyCover(models.Model):
    """Who takes a site's safety tasks when nobody is on call, or when the on-call owner
    has not acknowledged in time."""

    site = models.OneToOneField("network.Site", on_delete=models.CASCADE, related_name="cover")
    fallback_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"safety cover {self.pk}"


class SafetyEvent(models.Model):
    """A safety signal, stored in the same transaction as what caused it. Never deleted.

    ``key`` makes a cause raise one event only (e.g. ``assessment:41:item-9``), whatever the
    path (page, API, import, sync) and however often it is retried.
    """

    key = models.CharField(max_length=120, unique=True)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="safety_events"
    )
    source = models.CharField(max_length=20, choices=SignalSource.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assessment = models.ForeignKey(
        "measurement.Assessment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="safety_events",
    )
    # Evidence in codes and numbers (signal, item value, phrases matched, scores); the free
    # text of a concern lives in ``note`` and is shown only to the care team and its author.
    details = models.JSONField(default=dict)
    note = models.TextField(blank=True)
    protocol_version = models.CharField(max_length=40)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["patient", "raised_at"])]

    def __str__(self) -> str:
        return f"safety event {self.pk}"


class EscalationTask(models.Model):
    """What a person must do about one safety event; stays open (banner, registry flag)
    until resolved with a note."""

    event = models.OneToOneField(SafetyEvent, on_delete=models.PROTECT, related_name="task")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="escalation_tasks"
    )
    site = models.ForeignKey("network.Site", on_delete=models.PROTECT, related_name="+")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # 0 = first owner (on call), 1 = fallback, …; the chain is fixed when the task is made.
    owner_level = models.PositiveSmallIntegerField(default=0)
    owner_chain = models.JSONField(default=list)  # user ids, in escalation order
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    assessed_at = models.DateTimeField(null=True, blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    screen = models.JSONField(default=dict)  # the structured screen's answers
    actions = models.JSONField(default=list)  # [{"at", "by", "action", "note"}]
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["owner", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="resolved")
                | (models.Q(resolved_at__isnull=False) & ~models.Q(resolution_note="")),
                name="task_resolved_has_note",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(acknowledged_at__isnull=False),
                name="task_acknowledged_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"escalation task {self.pk}"


class SafetyPlan(models.Model):
    """One version of a patient's safety plan; a save makes a new version, never an edit."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="safety_plans"
    )
    version = models.PositiveIntegerField()
    # Section code -> list of short entries (domain/safety/plan.SECTIONS).
    sections = models.JSONField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["patient", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="safety_plan_version_once")
        ]

    def __str__(self) -> str:
        return f"safety plan {self.pk} v{self.version}"
