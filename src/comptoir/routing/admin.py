from __future__ import annotations

from django import forms
from django.contrib import admin

from comptoir.core.admin import AuditedAdmin
from comptoir.core.errors import DomainError
from comptoir.routing.models import AgentSkill, RoutingRule
from comptoir.routing.services import RULE_FIELDS, clean_rule


class RoutingRuleForm(forms.ModelForm):
    """The checks of ``services.create_rule`` (team and categories of the desk, known values)."""

    class Meta:
        model = RoutingRule
        fields = "__all__"  # noqa: DJ007 (the fieldsets below choose what is shown)

    def clean(self):
        data = super().clean() or {}
        desk = data.get("desk")
        if desk is None or self.errors:
            return data
        probe = RoutingRule(pk=self.instance.pk, desk=desk)
        values = {name: data[name] for name in RULE_FIELDS if name in data}
        try:
            clean_rule(probe, desk, values)
        except DomainError as exc:
            field = exc.details.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
        return data


@admin.register(RoutingRule)
class RoutingRuleAdmin(AuditedAdmin):
    form = RoutingRuleForm
    list_display = ("name", "desk", "position", "is_active", "team", "method", "follow_the_sun")
    list_filter = ("desk", "is_active", "method")
    search_fields = ("name",)
    filter_horizontal = ("categories", "organisations", "sites")
    fieldsets = (
        (None, {"fields": ("desk", "name", "position", "is_active")}),
        (
            "Conditions (empty matches every ticket)",
            {
                "fields": (
                    "kinds",
                    "priorities",
                    "channels",
                    "categories",
                    "organisations",
                    "sites",
                    "vip_only",
                )
            },
        ),
        ("Target", {"fields": ("team", "method", "follow_the_sun")}),
    )


@admin.register(AgentSkill)
class AgentSkillAdmin(AuditedAdmin):
    list_display = ("user", "category")
    list_filter = ("category__desk",)
    search_fields = ("user__email", "category__path")
    raw_id_fields = ("user",)
