from __future__ import annotations

from django.contrib import admin

from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.models import AuditEntry


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every save and delete lands in the audit log."""

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else {}
        super().save_model(request, obj, form, change)
        self._audit(request, "changed" if change else "created", obj, before)

    def delete_model(self, request, obj):
        self._audit(request, "deleted", obj, snapshot(obj), after=False)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, "deleted", obj, snapshot(obj), after=False)
        super().delete_queryset(request, queryset)

    @staticmethod
    def _audit(request, action, obj, before, after=True):
        actor = Actor.for_user(request.user)
        record_audit(
            actor=actor,
            action=f"admin_{action}",
            obj=obj,
            before=before,
            after=snapshot(obj) if after else {},
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("actor_label", "object_repr", "object_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
