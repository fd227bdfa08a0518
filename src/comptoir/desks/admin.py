from __future__ import annotations

from django.contrib import admin

from comptoir.core.admin import AuditedAdmin
from comptoir.desks.models import Category, Desk


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
