"""What the protocol recommended, which flags it raised, and what clinicians decided."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RecommendationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    OVERRIDDEN = "overridden", _("Overridden")
    SUPERSEDED = "superseded", _("Superseded by a later review")


class Recommendation(models.Model):
    """One recommendation of one review. Reasons are stored as codes + parameters (the
    protocol file holds the sentences), with the protocol version that produced them."""

    episode = models.ForeignKey(
        "patients.Episode", on_delete=models.CASCADE, related_name="recommendations"
    )
    action = models.CharField(max_length=24)
    to_step = models.PositiveSmallIntegerField(null=True, blank=True)
    reasons = models.JSONField()
    evidence = models.JSONField(default=list)  # assessment ids
    review_within_days = models.PositiveSmallIntegerField(null=True, blank=True)
    protocol_code = models.CharField(max_length=64)
    protocol_version = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=RecommendationStatus.choices, default=RecommendationStatus.OPEN
    )
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["episode", "status"])]

    def __str__(self) -> str:
        return f"recommendation {self.pk}"


class EpisodeFlag(models.Model):
    """A registry flag in force for an episode; replaced at each review."""

    episode = models.ForeignKey("patients.Episode", on_delete=models.CASCADE, related_name="flags")
    code = models.CharField(max_length=24)
    reasons = models.JSONField()
    evidence = models.JSONField(default=list)
    protocol_code = models.CharField(max_length=64)
    protocol_version = models.CharField(max_length=32)
    raised_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["episode", "code"], name="one_flag_per_code")
        ]
        indexes = [models.Index(fields=["code", "episode"])]

    def __str__(self) -> str:
        return f"flag {self.code} on episode {self.episode_id}"


class EpisodeReview(models.Model):
    """When an episode was last reviewed by the engine, and when its next review falls."""

    episode = models.OneToOneField(
        "patients.Episode", on_delete=models.CASCADE, related_name="review", primary_key=True
    )
    reviewed_at = models.DateTimeField()
    next_review = models.DateField()
    # Kept here so the registry sorts without a per-row subquery.
    flag_count = models.PositiveSmallIntegerField(default=0)
    protocol_code = models.CharField(max_length=64)
    protocol_version = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"review of episode {self.pk}"


class Decision(models.TextChoices):
    ACCEPT = "accept", _("Accepted")
    OVERRIDE = "override", _("Overridden")


class StepDecision(models.Model):
    """A clinician's answer to a recommendation: accepted, or overridden with a reason."""

    episode = models.ForeignKey(
        "patients.Episode", on_delete=models.CASCADE, related_name="step_decisions"
    )
    recommendation = models.OneToOneField(
        Recommendation, on_delete=models.PROTECT, related_name="decision"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    from_step = models.PositiveSmallIntegerField()
    to_step = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()
    protocol_version = models.CharField(max_length=32)

    class Meta:
        indexes = [models.Index(fields=["episode", "decided_at"])]

    def __str__(self) -> str:
        return f"decision {self.pk}"


class ConferenceStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    HELD = "held", _("Held")


class CaseConference(models.Model):
    """A multidisciplinary case conference: when, where, who attended, and its agenda."""

    site = models.ForeignKey("network.Site", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    scheduled_for = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=ConferenceStatus.choices, default=ConferenceStatus.PLANNED
    )
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    other_attendees = models.CharField(max_length=500, blank=True)  # e.g. a visiting specialist
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["site", "scheduled_for"])]

    def __str__(self) -> str:
        return f"case conference {self.pk}"


class ConferenceItem(models.Model):
    """One patient on a conference's agenda, and what the conference decided."""

    conference = models.ForeignKey(CaseConference, on_delete=models.CASCADE, related_name="items")
    episode = models.ForeignKey(
        "patients.Episode", on_delete=models.PROTECT, related_name="conference_items"
    )
    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    position = models.PositiveSmallIntegerField()
    question = models.JSONField(default=list)  # reasons (codes + parameters) that brought it
    outcome = models.TextField(blank=True)
    actions = models.TextField(blank=True)
    next_step = models.PositiveSmallIntegerField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conference", "position"]
        constraints = [
            models.UniqueConstraint(fields=["conference", "episode"], name="one_item_per_episode")
        ]

    def __str__(self) -> str:
        return f"conference item {self.pk}"
