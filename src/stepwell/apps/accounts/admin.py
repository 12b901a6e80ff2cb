# Patient records are deliberately not in the Django admin: it would bypass the access
# selector and the audit trail. Administrators reach patients only by break-the-glass.
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from stepwell.apps.accounts.models import SiteMembership, User


class MembershipInline(admin.TabularInline[SiteMembership, User]):
    model = SiteMembership
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    list_display = ("username", "first_name", "last_name", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Stepwell", {"fields": ("role", "preferred_language")}),
    )
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, ("Stepwell", {"fields": ("role",)}))
    inlines = [MembershipInline]
