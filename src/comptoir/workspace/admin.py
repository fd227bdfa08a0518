from __future__ import annotations

from django.contrib import admin

from comptoir.workspace.models import CannedResponse


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    """Read-only: responses change through ``workspace.services`` (the management page at
    ``/desk/responses/``), which checks who may and writes the audit log."""

    list_display = ("title", "desk", "owner", "updated_at")
    list_filter = ("desk",)
    search_fields = ("title", "body", "owner__email")
    list_select_related = ("desk", "owner")
    date_hierarchy = "updated_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
