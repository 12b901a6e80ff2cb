from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from stepwell.domain.access.policy import Role


class RoleChoices(models.TextChoices):
    PATIENT = Role.PATIENT.value, _("Patient")
    CHW = Role.CHW.value, _("Community health worker")
    CLINICIAN = Role.CLINICIAN.value, _("Clinician")
    COORDINATOR = Role.COORDINATOR.value, _("Care coordinator")
    PEER = Role.PEER.value, _("Peer supporter")
    PEER_SUPERVISOR = Role.PEER_SUPERVISOR.value, _("Peer supervisor")
    MANAGER = Role.MANAGER.value, _("Programme manager")
    ADMIN = Role.ADMIN.value, _("Administrator")


class User(AbstractUser):
    """A person who logs in. One role each; staff belong to sites through memberships."""

    role = models.CharField(max_length=32, choices=RoleChoices.choices)
    preferred_language = models.CharField(max_length=8, default="en")
    # Where staff receive urgent notifications (safety tasks) by SMS; e-mail uses ``email``.
    phone = models.CharField(max_length=32, blank=True)
    sites = models.ManyToManyField(
        "network.Site", through="accounts.SiteMembership", related_name="members", blank=True
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="user_role_known"
            )
        ]


class SiteMembership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    site = models.ForeignKey("network.Site", on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="membership_unique")]

    def __str__(self) -> str:
        return f"membership {self.user_id}@{self.site_id}"


class ApiToken(models.Model):
    """A bearer token for the REST API. Only a SHA-256 of the token is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="token_expires_after_creation",
            )
        ]

    def __str__(self) -> str:
        return f"API token {self.pk}"
