from __future__ import annotations

from django.contrib import admin

from comptoir.core.admin import AuditedAdmin
from comptoir.sla.models import SlaClock, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    list_display = ("name", "desk", "scope", "position", "is_active", "calendar_source")
    list_filter = ("desk", "scope", "is_active")
    list_editable = ("position", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("categories", "organisations", "teams")
    fieldsets = (
        (None, {"fields": ("desk", "name", "scope", "position", "is_active")}),
        (
            "Conditions (empty matches every ticket)",
            {
                "fields": (
                    "kinds",
                    "priorities",
                    "channels",
                    "categories",
                    "organisations",
                    "vip_only",
                    "teams",
                )
            },
        ),
        ("Clock", {"fields": ("calendar_source", "calendar", "pause_states", "targets")}),
        (
            "Escalation",
            {
                "fields": (
                    "warn_at",
                    "warn_notify",
                    "breach_notify",
                    "breach_reassign_team",
                    "breach_raise_priority",
                )
            },
        ),
    )


@admin.register(SlaClock)
class SlaClockAdmin(admin.ModelAdmin):
    """Clocks are computed from the timeline: shown here to look into, never edited."""

    list_display = ("ticket", "slot", "state", "due_at", "breached_at", "warned_level")
    list_filter = ("state", "scope", "metric")
    search_fields = ("ticket__ref",)
    raw_id_fields = ("ticket",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
