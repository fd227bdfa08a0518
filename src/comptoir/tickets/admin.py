from __future__ import annotations

from django.contrib import admin

from comptoir.tickets.models import Ticket, TicketEvent


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor_label", "channel", "before", "after", "public")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only: tickets change through the workspace and the API, which keep the timeline."""

    list_display = (
        "ref",
        "title",
        "kind",
        "status",
        "priority",
        "desk",
        "requester",
        "assignee",
        "created_at",
    )
    list_filter = ("desk", "kind", "status_category", "priority")
    search_fields = ("ref", "title")
    list_select_related = ("desk", "requester", "assignee")
    show_full_result_count = False
    inlines = [TicketEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
