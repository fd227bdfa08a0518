from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.tickets.conditions import TicketConditions


class Scope(models.TextChoices):
    SLA = "sla", _("Service level (to the requester)")
    OLA = "ola", _("Operational level (to the assigned team)")


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class CalendarSource(models.TextChoices):
    DESK = "desk", _("The desk's calendar")
    TEAM = "team", _("The assigned team's calendar")
    ORGANISATION = "organisation", _("The requester's organisation's calendar")
    FIXED = "fixed", _("The calendar named here")
    ALWAYS = "always", _("Around the clock (24×7)")


class Recipient(models.TextChoices):
    ASSIGNEE = "assignee", _("The assignee")
    TEAM_LEAD = "team_lead", _("The team lead")
    DESK_MANAGER = "desk_manager", _("The desk's managers")


DEFAULT_PAUSE_STATES = ["waiting_customer", "waiting_vendor", "waiting"]


def default_pause_states() -> list[str]:
    return list(DEFAULT_PAUSE_STATES)


def default_warn_at() -> list[int]:
    return [75, 90]


def default_warn_notify() -> list[str]:
    return [Recipient.ASSIGNEE.value, Recipient.TEAM_LEAD.value]


def default_breach_notify() -> list[str]:
    return [Recipient.ASSIGNEE.value, Recipient.TEAM_LEAD.value, Recipient.DESK_MANAGER.value]


class SlaPolicy(TicketConditions):
    """Targets for the tickets a desk's policy matches, first match in ``position`` order.

    Conditions left empty match everything. ``targets`` is a list of
    ``{"metric": "first_response", "minutes": 60, "priority": 1}`` (``priority`` optional: an
    entry for the ticket's priority wins over one without). An OLA policy (scope ``ola``) gives
    the team the ticket is assigned to its own target, on the team's clock.
    """

    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="sla_policies")
    name = models.CharField(_("name"), max_length=120)
    scope = models.CharField(_("scope"), max_length=3, choices=Scope.choices, default=Scope.SLA)
    position = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    # kinds, priorities, channels, categories, organisations, vip_only: from TicketConditions.
    teams = models.ManyToManyField("accounts.Team", blank=True, related_name="+")

    calendar_source = models.CharField(
        _("business hours"),
        max_length=15,
        choices=CalendarSource.choices,
        default=CalendarSource.DESK,
    )
    calendar = models.ForeignKey(
        "desks.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    pause_states = models.JSONField(_("paused while"), default=default_pause_states, blank=True)
    targets = models.JSONField(_("targets"), default=list)

    warn_at = models.JSONField(_("warn at (% of the target)"), default=default_warn_at, blank=True)
    warn_notify = models.JSONField(_("warn"), default=default_warn_notify, blank=True)
    breach_notify = models.JSONField(
        _("at breach, notify"), default=default_breach_notify, blank=True
    )
    breach_reassign_team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("at breach, reassign to"),
    )
    breach_raise_priority = models.BooleanField(_("at breach, raise the priority"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["desk_id", "scope", "position", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(fields=["desk", "name"], name="sla_policy_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from comptoir.core.errors import DomainError
        from comptoir.sla.policies import check_policy

        try:
            check_policy(self)
        except DomainError as exc:
            field = exc.details.get("field")
            known = {f.name for f in self._meta.get_fields()}
            raise ValidationError({field if field in known else "__all__": exc.message}) from exc


class ClockState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("Stopped")


class SlaClock(models.Model):
    """One target's clock on one ticket: a projection of the ticket's timeline.

    ``elapsed_seconds`` is the business time consumed up to ``resumed_at`` (the start of the
    running stretch, if running). ``next_check_at`` is the next warning or breach moment of a
    running clock; the sweep reads only the clocks whose moment has come, through its index.
    ``warned_level`` is the highest threshold acted on (100 = breach), advanced by a
    compare-and-set so each threshold acts exactly once.
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="sla_clocks"
    )
    slot = models.CharField(max_length=60)
    scope = models.CharField(max_length=3, choices=Scope.choices)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks"
    )
    calendar = models.ForeignKey(
        "desks.BusinessCalendar", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    cycle = models.PositiveIntegerField(default=1)
    target_seconds = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=ClockState.choices)
    started_at = models.DateTimeField()
    elapsed_seconds = models.PositiveIntegerField(default=0)
    resumed_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    met = models.BooleanField(default=False)
    next_check_at = models.DateTimeField(null=True, blank=True)
    warned_level = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ticket_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "slot"], name="sla_clock_unique_slot")
        ]
        indexes = [
            models.Index(
                fields=["next_check_at"],
                name="sla_clock_next_check",
                condition=models.Q(next_check_at__isnull=False),
            ),
            models.Index(
                fields=["due_at"],
                name="sla_clock_due",
                condition=models.Q(state="running"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.slot}"

    @property
    def breached(self) -> bool:
        return self.breached_at is not None
