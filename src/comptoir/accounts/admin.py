from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from comptoir.accounts.models import ApiToken, Membership, Organisation, Site, Team, User
from comptoir.core.admin import AuditedAdmin


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ("name", "slug", "is_internal", "is_vip", "time_zone", "members_see_all_tickets")
    list_filter = ("is_internal", "is_vip")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [SiteInline]


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    list_display = ("name", "organisation", "country", "time_zone")
    list_filter = ("organisation",)
    search_fields = ("name", "address")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("desk",)


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    ordering = ("email",)
    list_display = (
        "email",
        "display_name",
        "organisation",
        "availability",
        "is_active",
        "is_staff",
        "is_superuser",
    )
    list_filter = ("is_active", "availability", "is_staff", "is_superuser", "organisation")
    search_fields = ("email", "display_name", "phone")
    autocomplete_fields = ("organisation", "site")
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Profile",
            {"fields": ("display_name", "phone", "locale", "time_zone", "organisation", "site")},
        ),
        ("Availability", {"fields": ("availability", "away_until")}),
        ("Notices", {"fields": ("mail_notifications",)}),
        ("Rights", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ()


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ("name", "desk", "time_zone", "lead", "calendar", "follow_the_sun")
    list_filter = ("desk",)
    search_fields = ("name", "slug")
    filter_horizontal = ("members",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ("user", "desk", "role")
    list_filter = ("desk", "role")
    search_fields = ("user__email", "user__display_name")
    autocomplete_fields = ("user", "desk")


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    list_display = (
        "name",
        "user",
        "hint",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__email")
    readonly_fields = ("user", "name", "hint", "created_at", "last_used_at")
    fields = ("user", "name", "hint", "created_at", "expires_at", "revoked_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are created with `comptoir token create`: the raw token is shown once
