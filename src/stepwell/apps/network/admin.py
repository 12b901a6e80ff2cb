from django.contrib import admin

from stepwell.apps.network.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = ("name", "kind", "steps_offered", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "code")
