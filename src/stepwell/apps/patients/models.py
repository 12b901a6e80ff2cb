from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    INTERSEX = "intersex", _("Intersex")
    UNKNOWN = "unknown", _("Unknown")


class Gender(models.TextChoices):
    WOMAN = "woman", _("Woman")
    MAN = "man", _("Man")
    NON_BINARY = "non-binary", _("Non-binary")
    OTHER = "other", _("Other")
    UNDISCLOSED = "undisclosed", _("Prefers not to say")


class Language(models.TextChoices):
    EN = "en", "English"
    ES = "es", "Español"


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone call")
    NONE = "none", _("No reminders")


class Patient(models.Model):
    """A person in care. ``record_number`` is pseudonymous and safe to show in lists."""

    record_number = models.CharField(max_length=16, unique=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=16, choices=Sex.choices)
    gender = models.CharField(max_length=16, choices=Gender.choices)
    preferred_language = models.CharField(max_length=8, choices=Language.choices)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    preferred_channel = models.CharField(max_length=8, choices=Channel.choices)
    consent_care = models.BooleanField(default=True)
    consent_peer_support = models.BooleanField(default=False)
    consent_share_with_peer = models.BooleanField(default=False)
    consent_sms = models.BooleanField(default=False)
    consent_email = models.BooleanField(default=False)
    home_latitude = models.FloatField(null=True, blank=True)
    home_longitude = models.FloatField(null=True, blank=True)
    site = models.ForeignKey("network.Site", on_delete=models.PROTECT, related_name="patients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        indexes = [
            models.Index(fields=["site", "family_name", "given_name", "id"]),
            # Inbound SMS find the patient by the number it came from.
            models.Index(fields=["phone"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(home_latitude__isnull=True)
                | models.Q(home_latitude__gte=-90, home_latitude__lte=90),
                name="patient_latitude_range",
            ),
            models.CheckConstraint(
                condition=models.Q(home_longitude__isnull=True)
                | models.Q(home_longitude__gte=-180, home_longitude__lte=180),
                name="patient_longitude_range",
            ),
            models.CheckConstraint(
                condition=models.Q(consent_share_with_peer=False)
                | models.Q(consent_peer_support=True),
                name="patient_peer_sharing_needs_peer_support",
            ),
        ]

    def __str__(self) -> str:
        return self.record_number


class ReferralSource(models.TextChoices):
    SELF = "self", _("Self-referral")
    PRIMARY_CARE = "primary-care", _("Primary care")
    CHW = "chw", _("Community health worker")
    HOSPITAL = "hospital", _("Hospital")
    EMERGENCY = "emergency", _("Emergency department")
    SPECIALIST = "specialist", _("Specialist")
    PEER = "peer", _("Peer supporter")
    OTHER = "other", _("Other")


class EpisodeStatus(models.TextChoices):
    REFERRED = "referred", _("Referred, awaiting first contact")
    ACTIVE = "active", _("In care")
    DISCHARGED = "discharged", _("Discharged")


class DischargeReason(models.TextChoices):
    RECOVERED = "recovered", _("Recovered")
    COMPLETED = "completed", _("Completed treatment")
    DECLINED = "declined", _("Declined further care")
    DROPPED_OUT = "dropped-out", _("Stopped attending")
    TRANSFERRED = "transferred", _("Transferred elsewhere")
    MOVED = "moved", _("Moved away")
    DECEASED = "deceased", _("Died")
    OTHER = "other", _("Other")


class Episode(models.Model):
    """One episode of care, from referral to discharge."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="episodes")
    site = models.ForeignKey("network.Site", on_delete=models.PROTECT, related_name="episodes")
    referral_source = models.CharField(max_length=16, choices=ReferralSource.choices)
    referral_date = models.DateField()
    first_contact_date = models.DateField(null=True, blank=True)
    current_step = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=EpisodeStatus.choices)
    discharge_reason = models.CharField(max_length=16, choices=DischargeReason.choices, blank=True)
    discharge_date = models.DateField(null=True, blank=True)
    care_team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="patients.CareTeamMember", related_name="care_episodes"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-referral_date", "-id"]
        indexes = [models.Index(fields=["site", "status", "current_step"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(current_step__gte=1, current_step__lte=4),
                name="episode_step_1_to_4",
            ),
            models.CheckConstraint(
                condition=models.Q(first_contact_date__isnull=True)
                | models.Q(first_contact_date__gte=models.F("referral_date")),
                name="episode_contact_after_referral",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="discharged")
                    & ~models.Q(discharge_reason="")
                    & models.Q(discharge_date__isnull=False)
                )
                | (
                    ~models.Q(status="discharged")
                    & models.Q(discharge_reason="")
                    & models.Q(discharge_date__isnull=True)
                ),
                name="episode_discharge_complete",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=~models.Q(status="discharged"),
                name="episode_one_open_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"episode {self.pk}"


class CareTeamMember(models.Model):
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_team_roles"
    )
    role = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["episode", "user"], name="care_team_unique")]

    def __str__(self) -> str:
        return f"care-team member {self.pk}"


class StepChange(models.Model):
    """One entry of an episode's step history. The first entry has no ``from_step``."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="step_changes")
    from_step = models.PositiveSmallIntegerField(null=True, blank=True)
    to_step = models.PositiveSmallIntegerField()
    changed_at = models.DateTimeField()
    reason = models.TextField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    protocol_version = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(to_step__gte=1, to_step__lte=4), name="step_change_to_1_to_4"
            ),
            models.CheckConstraint(
                condition=models.Q(from_step__isnull=True)
                | models.Q(from_step__gte=1, from_step__lte=4),
                name="step_change_from_1_to_4",
            ),
        ]

    def __str__(self) -> str:
        return f"step change {self.pk}"
