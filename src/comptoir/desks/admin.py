from __future__ import annotations

from django.contrib import admin

from comptoir.core.admin import AuditedAdmin
from comptoir.desks.models import BusinessCalendar, Category, Desk, Holiday


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 0
    fields = ("name", "slug", "parent", "default_team", "is_active")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Desk)
class DeskAdmin(AuditedAdmin):
    list_display = ("name", "kind", "prefix", "time_zone", "serves_all_sites", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "slug", "prefix")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("served_sites",)
    readonly_fields = ("last_number",)
    inlines = [CategoryInline]


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    list_display = ("path", "desk", "is_active", "default_team")
    list_filter = ("desk", "is_active")
    search_fields = ("name", "path")
    readonly_fields = ("path",)


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1
    fields = ("date", "name", "source")


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(AuditedAdmin):
    """Opening hours are a JSON list of {"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}."""

    list_display = ("name", "time_zone", "always_open", "holiday_country", "updated_at")
    search_fields = ("name",)
    inlines = [HolidayInline]
    actions = ["generate_public_holidays"]

    @admin.action(description="Add the public holidays of the calendar's country")
    def generate_public_holidays(self, request, queryset):
        from comptoir.core.actor import Actor
        from comptoir.core.errors import DomainError
        from comptoir.desks.calendars import generate_holidays

        actor = Actor.for_user(request.user)
        for calendar in queryset:
            try:
                added = generate_holidays(actor=actor, calendar=calendar)
            except DomainError as exc:
                self.message_user(request, f"{calendar}: {exc.message}", level="error")
            else:
                self.message_user(request, f"{calendar}: {added} holidays added.")
