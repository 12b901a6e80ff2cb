from django.contrib import admin

from stepwell.apps.safety.models import OnCallShift, SafetyCover


@admin.register(OnCallShift)
class OnCallShiftAdmin(admin.ModelAdmin[OnCallShift]):
    """The on-call roster: who owns a site's safety tasks, when."""

    list_display = ("site", "clinician", "starts_at", "ends_at")
    list_filter = ("site",)
    date_hierarchy = "starts_at"


@admin.register(SafetyCover)
class SafetyCoverAdmin(admin.ModelAdmin[SafetyCover]):
    """Each site's fallback owner (nobody on call, or the on-call owner did not respond)."""

    list_display = ("site", "fallback_owner")
