"""Which tickets a desk's rule applies to: the conditions SLA policies and routing rules share.

A rule stores its conditions with the fields of :class:`TicketConditions`; :class:`Conditions`
is the same conditions detached from the database, and decides whether they hold for a ticket.
A condition left empty holds for every ticket; a category holds for its subcategories too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketConditions(models.Model):
    """The fields of a rule's conditions on the ticket (an abstract model: no table of its own)."""

    kinds = models.JSONField(_("ticket kinds"), default=list, blank=True)
    priorities = models.JSONField(_("priorities"), default=list, blank=True)
    channels = models.JSONField(_("channels"), default=list, blank=True)
    categories = models.ManyToManyField(
        "desks.Category",
        blank=True,
        related_name="+",
        help_text=_("A category matches its subcategories too."),
    )
    organisations = models.ManyToManyField("accounts.Organisation", blank=True, related_name="+")
    vip_only = models.BooleanField(_("VIP organisations only"), default=False)

    class Meta:
        abstract = True


@dataclass(frozen=True)
class Conditions:
    kinds: frozenset[str] = frozenset()
    priorities: frozenset[int] = frozenset()
    channels: frozenset[str] = frozenset()
    categories: frozenset[int] = frozenset()
    organisations: frozenset[int] = frozenset()
    vip_only: bool = False

    @classmethod
    def of(cls, rule: TicketConditions) -> Conditions:
        """A stored rule's conditions (prefetch its categories and organisations for a list)."""
        return cls(
            kinds=frozenset(rule.kinds or ()),
            priorities=frozenset(rule.priorities or ()),
            channels=frozenset(rule.channels or ()),
            categories=frozenset(c.pk for c in rule.categories.all()),
            organisations=frozenset(o.pk for o in rule.organisations.all()),
            vip_only=rule.vip_only,
        )

    @property
    def is_empty(self) -> bool:
        """No condition: they hold for every ticket."""
        return not (
            self.kinds
            or self.priorities
            or self.channels
            or self.categories
            or self.organisations
            or self.vip_only
        )

    def hold(
        self,
        *,
        kind: str,
        priority: int,
        channel: str,
        organisation_id: int | None,
        is_vip: bool,
        lineage: frozenset[int] | Callable[[], frozenset[int]],
    ) -> bool:
        """Whether a ticket with these facts meets every condition set.

        ``lineage`` is the ticket's category and its ancestors, or a function that reads them
        (called only when a category condition is set).
        """
        if self.kinds and kind not in self.kinds:
            return False
        if self.priorities and priority not in self.priorities:
            return False
        if self.channels and channel not in self.channels:
            return False
        if self.organisations and organisation_id not in self.organisations:
            return False
        if self.vip_only and not is_vip:
            return False
        if self.categories:
            found = lineage() if callable(lineage) else lineage
            return bool(self.categories & found)
        return True
