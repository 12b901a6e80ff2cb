"""Care coordination and access (PRODUCT.md §3.5): barriers and the actions taken on them,
goals, referrals between sites, appointments and their reminders, inbound SMS.

Vocabularies are codes of ``content/coordination/barriers.yaml`` and ``access.yaml``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


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
    closed_at = models.DateTimeField(null=True, blank=True)  # resolved or could not resolve

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


class BarrierAction(models.Model):
    """One step taken on a barrier (an action arranged, or only a status change), in order:
    the barrier's history. ``action`` is an ``actions`` code or empty."""

    barrier = models.ForeignKey(Barrier, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=BarrierStatus.choices)  # status after it
    note = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"barrier action {self.pk}"


class Goal(models.Model):
    """Something that matters to the patient (returning to work, caring for relatives…), in
    their words, rated 0 to 10 over time."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="goals")
    episode = models.ForeignKey(
        "patients.Episode", on_delete=models.PROTECT, null=True, blank=True, related_name="goals"
    )
    text = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["patient", "created_at"])]

    def __str__(self) -> str:
        return f"goal {self.pk}"


class GoalRating(models.Model):
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="ratings")
    rating = models.PositiveSmallIntegerField()  # 0 (not at all) to 10 (fully)
    rated_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["rated_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=0, rating__lte=10), name="goal_rating_0_to_10"
            )
        ]

    def __str__(self) -> str:
        return f"goal rating {self.pk}"


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    URGENT = "urgent", _("Urgent")


class ReferralStatus(models.TextChoices):
    # A context per label: in Spanish a referral (la derivación) takes feminine forms.
    SENT = "sent", pgettext_lazy("referral status", "Sent")
    ACCEPTED = "accepted", pgettext_lazy("referral status", "Accepted")
    SCHEDULED = "scheduled", pgettext_lazy("referral status", "Scheduled")
    SEEN = "seen", pgettext_lazy("referral status", "Seen")
    DECLINED = "declined", pgettext_lazy("referral status", "Declined")
    CANCELLED = "cancelled", pgettext_lazy("referral status", "Cancelled")


# A referral in one of these states lets the receiving site's care team see the patient.
REFERRAL_GRANTS_ACCESS = (ReferralStatus.ACCEPTED, ReferralStatus.SCHEDULED, ReferralStatus.SEEN)


class Referral(models.Model):
    """A referral from one site to another (tertiary intake, specialist, community group).

    Accepting it gives the receiving site's care team access to the patient
    (``apps/access/selectors``). ``deadline_at`` is when it must have been accepted;
    ``overdue_at`` is set by the worker when it was not."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="referrals"
    )
    episode = models.ForeignKey(
        "patients.Episode", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_site = models.ForeignKey("network.Site", on_delete=models.PROTECT, related_name="+")
    to_site = models.ForeignKey(
        "network.Site", on_delete=models.PROTECT, related_name="referrals_in"
    )
    reason = models.TextField()
    urgency = models.CharField(max_length=8, choices=Urgency.choices)
    status = models.CharField(
        max_length=12, choices=ReferralStatus.choices, default=ReferralStatus.SENT
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField()
    deadline_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # declined or cancelled
    status_note = models.TextField(blank=True)  # why declined or cancelled
    overdue_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["to_site", "status"]),
            models.Index(fields=["patient", "sent_at"]),
            models.Index(fields=["status", "deadline_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_site=models.F("to_site")),
                name="referral_between_two_sites",
            ),
            models.CheckConstraint(
                condition=models.Q(deadline_at__gt=models.F("sent_at")),
                name="referral_deadline_after_sending",
            ),
        ]

    def __str__(self) -> str:
        return f"referral {self.pk}"


class Attendance(models.TextChoices):
    """What happened at an appointment; codes as in ``content/coordination/access.yaml``."""

    ATTENDED = "attended", _("Attended")
    LATE_SEEN = "late-seen", _("Late, seen")
    CANCELLED_PATIENT = "cancelled-patient", _("Cancelled by the patient")
    CANCELLED_SERVICE = "cancelled-service", _("Cancelled by the service")
    DID_NOT_ATTEND = "did-not-attend", _("Did not attend")


class Appointment(models.Model):
    """A booked contact: in person at a site, by video or phone, a home visit, a group, a
    peer contact or a case conference. ``attendance`` is empty until recorded.

    ``travel_minutes`` keeps the one-way travel estimate shown when it was booked and
    ``suggested`` the modalities suggested then (empty: within the limits), so the choice
    made can be evaluated later."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments"
    )
    episode = models.ForeignKey(
        "patients.Episode",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
    )
    modality = models.CharField(max_length=24)
    site = models.ForeignKey(
        "network.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    address = models.CharField(max_length=300, blank=True)  # a home visit's or group's place
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    minutes = models.PositiveSmallIntegerField(default=45)
    barrier = models.ForeignKey(
        Barrier, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    travel_minutes = models.PositiveIntegerField(null=True, blank=True)
    suggested = models.JSONField(default=list, blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    booked_at = models.DateTimeField()
    attendance = models.CharField(max_length=20, choices=Attendance.choices, blank=True)
    cancellation_reason = models.CharField(max_length=24, blank=True)
    attendance_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attendance_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["patient", "starts_at"]),
            models.Index(fields=["site", "starts_at"]),
            models.Index(fields=["staff", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cancellation_reason="")
                | models.Q(attendance__in=["cancelled-patient", "cancelled-service"]),
                name="appointment_reason_only_when_cancelled",
            ),
        ]

    def __str__(self) -> str:
        return f"appointment {self.pk}"


class ReminderKind(models.TextChoices):
    APPOINTMENT = "appointment", _("Appointment reminder")
    CHECK_IN = "check-in", _("Check-in prompt")


class ReminderStatus(models.TextChoices):
    PLANNED = "planned", pgettext_lazy("reminder status", "Planned")
    QUEUED = "queued", _("Handed to the outbox")
    STALE = "stale", _("Not sent: the appointment had passed")
    OPTED_OUT = "opted-out", _("Not sent: the patient opted out")
    NO_ADDRESS = "no-address", _("Not sent: no phone or e-mail")
    CANCELLED = "cancelled", _("Not sent: the appointment was cancelled")


class Reminder(models.Model):
    """A message planned for a patient: an appointment reminder or a check-in prompt.

    Planned when the appointment is booked (or by the check-in job), handed to the outbox at
    ``send_at`` (already moved out of quiet hours) by the worker. ``key`` is unique, so
    planning twice plans once; the outbox message carries the same key, so it is sent once.
    Delivery status is the outbox message's. ``answered_at``: a check-in answered by reply."""

    key = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=12, choices=ReminderKind.choices)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="reminders"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    episode = models.ForeignKey(
        "patients.Episode", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=8)  # sms or email
    send_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.PLANNED
    )
    notification = models.OneToOneField(
        "outbox.Notification", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "send_at"]),
            models.Index(fields=["patient", "kind", "send_at"]),
        ]

    def __str__(self) -> str:
        return f"reminder {self.pk}"


class InboundOutcome(models.TextChoices):
    OPTED_OUT = "opted-out", _("Opted out of SMS")
    OPTED_IN = "opted-in", _("Opted back in to SMS")
    RECORDED = "recorded", _("Answers recorded")
    NOT_UNDERSTOOD = "not-understood", _("Not understood")
    UNKNOWN_NUMBER = "unknown-number", _("Unknown number")
    NOT_RECORDED = "not-recorded", _("Understood, not recorded")


class InboundMessage(models.Model):
    """One SMS received through the gateway's webhook, as handled. The text itself is not
    kept (a reply can hold anything); the outcome and what it produced are.
    ``provider_id`` is unique: a webhook delivered twice is handled once."""

    provider_id = models.CharField(max_length=100, unique=True)
    received_at = models.DateTimeField()
    patients = models.ManyToManyField("patients.Patient", blank=True, related_name="+")
    outcome = models.CharField(max_length=16, choices=InboundOutcome.choices)
    detail = models.CharField(max_length=200, blank=True)  # a code or a problem, never text
    assessment = models.ForeignKey(
        "measurement.Assessment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reply = models.ForeignKey(
        "outbox.Notification", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"inbound message {self.pk}"
