from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SiteKind(models.TextChoices):
    PRIMARY_CARE = "primary-care", _("Primary care clinic")
    COMMUNITY_CENTRE = "community-centre", _("Community centre")
    TELEHEALTH_HUB = "telehealth-hub", _("Telehealth hub")
    REGIONAL_HOSPITAL = "regional-hospital", _("Regional hospital")
    TERTIARY_CENTRE = "tertiary-centre", _("Tertiary centre")


class Site(models.Model):
    """A place of care in the network. Steps and services are what the site offers."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=SiteKind.choices)
    latitude = models.FloatField()
    longitude = models.FloatField()
    steps_offered = models.JSONField(default=list, help_text=_("Steps 1 to 4 offered here."))
    services = models.JSONField(default=list, help_text=_("Service codes, e.g. telehealth."))
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(latitude__gte=-90, latitude__lte=90), name="site_latitude_range"
            ),
            models.CheckConstraint(
                condition=models.Q(longitude__gte=-180, longitude__lte=180),
                name="site_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name
