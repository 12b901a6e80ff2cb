from __future__ import annotations

from typing import Any

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
    run = models.ForeignKey(
        "MatchingRun", on_delete=models.PROTECT, null=True, blank=True, related_name="matches"
    )
    end_reason = models.CharField(max_length=32, blank=True, default="", db_default="")

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


class PeerState(models.TextChoices):
    """Lifecycle states; the allowed moves are in ``content/peers/programme.yaml``."""

    APPLICANT = "applicant", _("Applicant")
    IN_TRAINING = "in_training", _("In training")
    CERTIFIED = "certified", _("Certified")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    RETIRED = "retired", _("Retired")


class PeerProfile(models.Model):
    """A peer supporter's profile: what matching weighs. Codes come from
    ``content/peers/vocabulary.yaml``; lifecycle changes go through ``peer_state_change``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="peer_profile"
    )
    state = models.CharField(max_length=16, choices=PeerState.choices, default=PeerState.APPLICANT)
    languages = models.JSONField(default=list)
    lived_experience = models.JSONField(default=list)
    gender = models.CharField(max_length=16)
    modalities = models.JSONField(default=list)
    availability = models.JSONField(default=list)
    max_patients = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_ok = models.BooleanField(default=True)
    home_latitude = models.FloatField(null=True, blank=True)
    home_longitude = models.FloatField(null=True, blank=True)
    travel_km = models.FloatField(null=True, blank=True)
    state_changed_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["state"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=[s.value for s in PeerState]),
                name="peer_profile_state_known",
            ),
            models.CheckConstraint(
                condition=models.Q(home_latitude__isnull=True, home_longitude__isnull=True)
                | models.Q(
                    home_latitude__gte=-90,
                    home_latitude__lte=90,
                    home_longitude__gte=-180,
                    home_longitude__lte=180,
                ),
                name="peer_profile_location_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"peer profile {self.pk}"


class TrainingCompletion(models.Model):
    """One attempt at one training module (peers and clinicians alike). Certification is
    derived from these and the curriculum file, never stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training"
    )
    curriculum = models.CharField(max_length=64)
    module = models.CharField(max_length=64)
    completed_on = models.DateField()
    passed = models.BooleanField()
    expires_on = models.DateField(null=True, blank=True)
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "module", "completed_on"])]

    def __str__(self) -> str:
        return f"training {self.module} of user {self.user_id}"


class SupervisionSession(models.Model):
    """A supervision session: who attended, what was discussed and reviewed, what follows."""

    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(max_length=24)  # ``supervision_formats`` code
    held_on = models.DateField()
    minutes = models.PositiveSmallIntegerField()
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="supervisions")
    topics = models.TextField(blank=True)
    actions = models.TextField(blank=True)
    encounters_reviewed: models.ManyToManyField[PeerEncounter, Any] = models.ManyToManyField(
        "PeerEncounter", blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["held_on"])]

    def __str__(self) -> str:
        return f"supervision {self.pk}"


class PeerSupportRequest(models.Model):
    """A patient waiting for a peer supporter, with the preferences matching weighs.

    Open while ``matched_at`` is empty; a request for a different peer opens a new one."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="peer_requests"
    )
    gender_preference = models.CharField(max_length=16, blank=True)  # "" = no preference
    languages = models.JSONField(default=list)  # beyond the preferred language
    lived_experience = models.JSONField(default=list)
    modalities = models.JSONField(default=list)
    availability = models.JSONField(default=list)
    remote_ok = models.BooleanField(default=True)
    requested_at = models.DateTimeField()
    matched_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(matched_at__isnull=True),
                name="one_open_peer_request",
            )
        ]

    def __str__(self) -> str:
        return f"peer support request {self.pk}"


class RunStatus(models.TextChoices):
    PROPOSED = "proposed", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    SUPERSEDED = "superseded", _("Superseded by a later run")


class MatchingRun(models.Model):
    """One run of the optimiser: the proposal a supervisor reviews. Proposes, grants nothing."""

    status = models.CharField(max_length=16, choices=RunStatus.choices)
    solver_status = models.CharField(max_length=32)
    total_cost = models.BigIntegerField()
    greedy_cost = models.BigIntegerField(null=True, blank=True)
    config_version = models.CharField(max_length=32)
    waiting = models.PositiveIntegerField()
    available_peers = models.PositiveIntegerField()
    excluded_peers = models.JSONField(default=list)  # [{"peer": id, "reasons": [...]}]
    unmatched = models.JSONField(default=list)  # [{"patient": id, "reasons": [...]}]
    seconds = models.FloatField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"matching run {self.pk}"


class MatchProposal(models.Model):
    """One proposed pair of a run, with its cost and the reasons in codes."""

    run = models.ForeignKey(MatchingRun, on_delete=models.CASCADE, related_name="proposals")
    request = models.ForeignKey(PeerSupportRequest, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    peer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cost = models.IntegerField()
    reasons = models.JSONField(default=list)
    edited = models.BooleanField(default=False)  # the supervisor chose this peer instead

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "patient"], name="one_proposal_per_patient")
        ]

    def __str__(self) -> str:
        return f"proposal {self.pk}"


class RematchRequest(models.Model):
    """A patient asked for a different peer: the match ends and this pair is never proposed
    again."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    peer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=32)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["patient", "peer"])]

    def __str__(self) -> str:
        return f"rematch request {self.pk}"


class PeerEncounter(models.Model):
    """A documented contact between a peer and a matched patient, within the peer's
    boundaries: no diagnosis or treatment-advice fields, by design. Disclosed barriers and
    concerns become barrier records and safety events (``peer_encounter_record``)."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="peer_encounters"
    )
    peer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField()
    modality = models.CharField(max_length=24)
    minutes = models.PositiveSmallIntegerField()
    topics = models.JSONField(default=list)
    mood_before = models.PositiveSmallIntegerField(null=True, blank=True)
    mood_after = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)  # the peer's note; never mixed with clinical notes
    barriers = models.JSONField(default=list)  # barrier codes disclosed
    concern = models.TextField(blank=True)
    next_contact_on = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    client_uuid = models.UUIDField(null=True, blank=True, unique=True)  # retried sends

    class Meta:
        indexes = [
            models.Index(fields=["patient", "occurred_at"]),
            models.Index(fields=["peer", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"peer encounter {self.pk}"


class PeerGroup(models.Model):
    """A peer support or tele-support group: facilitators, schedule and roster."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=24)  # ``group_kinds`` code
    site = models.ForeignKey("network.Site", on_delete=models.PROTECT, related_name="+")
    schedule = models.CharField(max_length=200)  # e.g. "Tuesdays 18:00, fortnightly"
    facilitators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    members = models.ManyToManyField("patients.Patient", blank=True, related_name="peer_groups")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"peer group {self.pk}"


class GroupSession(models.Model):
    """One meeting of a group: when, who came, and the facilitator's session note."""

    group = models.ForeignKey(PeerGroup, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField()
    note = models.TextField(blank=True)
    attended = models.ManyToManyField("patients.Patient", blank=True, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["group", "held_at"])]

    def __str__(self) -> str:
        return f"group session {self.pk}"
