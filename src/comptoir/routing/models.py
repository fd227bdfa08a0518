from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.tickets.conditions import TicketConditions


class Method(models.TextChoices):
    QUEUE = "queue", _("Leave in the team's queue")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_OPEN = "least_open", _("Least open work")
    SKILL = "skill", _("By skill, then least open work")


class RoutingRule(TicketConditions):
    """Where a desk's new tickets go: the first matching rule in ``position`` order wins.

    Conditions left empty match everything; ``sites`` is the requester's site (local desks).
    """

    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="routing_rules")
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    # kinds, priorities, channels, categories, organisations, vip_only: from TicketConditions.
    sites = models.ManyToManyField("accounts.Site", blank=True, related_name="+")

    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, related_name="routing_rules"
    )
    method = models.CharField(
        _("within the team"), max_length=15, choices=Method.choices, default=Method.QUEUE
    )
    follow_the_sun = models.BooleanField(
        _("follow the sun"),
        default=True,
        help_text=_("When the team is off shift, give the ticket to the desk's team on shift."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["desk_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["desk", "name"], name="routing_rule_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class AgentSkill(models.Model):
    """An agent's skill: a category (and its subcategories) they handle well."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skills"
    )
    category = models.ForeignKey("desks.Category", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category"], name="agent_skill_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.category_id}"
