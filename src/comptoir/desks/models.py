from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comptoir.accounts.models import TimeZoneField
from comptoir.desks.business_time import Schedule
from comptoir.desks.custom_fields import validate_schema
from comptoir.desks.priority import default_matrix, validate_matrix


class DeskKind(models.TextChoices):
    IT = "it", _("IT")
    CUSTOMER_SUPPORT = "customer_support", _("Customer support")
    HR = "hr", _("Human resources")
    FINANCE = "finance", _("Finance")
    FACILITIES = "facilities", _("Facilities")
    OTHER = "other", _("Other")


class Desk(models.Model):
    """A service desk: its own queues, categories, priority matrix and people."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=30, choices=DeskKind.choices, default=DeskKind.IT)
    prefix = models.CharField(
        _("ticket prefix"),
        max_length=10,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z][A-Z0-9]{0,9}$", _("Capital letters and digits, starting with a letter.")
            )
        ],
    )
    description = models.TextField(_("description"), blank=True)
    time_zone = TimeZoneField(_("time zone"))
    serves_all_sites = models.BooleanField(
        _("serves every site"),
        default=True,
        help_text=_("Centralised desk; otherwise only the sites listed."),
    )
    served_sites = models.ManyToManyField("accounts.Site", blank=True, related_name="desks")
    priority_matrix = models.JSONField(_("priority matrix"), default=default_matrix)
    custom_fields = models.JSONField(_("custom fields"), default=list, blank=True)
    reopen_window_days = models.PositiveSmallIntegerField(_("reopen window (days)"), default=14)
    default_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField(_("desk mail address"), blank=True)
    calendar = models.ForeignKey(
        "desks.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="desks",
        help_text=_("Business hours of the desk; none means around the clock."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    signin_links = models.BooleanField(
        _("sign-in links by mail"),
        default=False,
        help_text=_(
            "Requesters this desk serves may ask for a one-time sign-in link by mail instead "
            "of typing a password. Agents always sign in with their password."
        ),
    )
    last_number = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("desk")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problems = validate_matrix(self.priority_matrix)
        if problems:
            raise ValidationError({"priority_matrix": problems})
        problems = validate_schema(self.custom_fields)
        if problems:
            raise ValidationError({"custom_fields": problems})
        if self.default_team is not None and self.pk and self.default_team.desk_id != self.pk:
            raise ValidationError({"default_team": _("The team belongs to another desk.")})


class Category(models.Model):
    """A node in a desk's category tree (Hardware › Laptop › Battery)."""

    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="categories")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80)
    path = models.CharField(_("path"), max_length=500, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    default_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["desk_id", "path"]
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(fields=["desk", "slug"], name="category_unique_slug")
        ]

    def __str__(self) -> str:
        return self.path or self.name

    def save(self, *args, **kwargs):
        self.path = f"{self.parent.path} › {self.name}" if self.parent is not None else self.name
        super().save(*args, **kwargs)
        for child in self.children.all():
            child.save()

    def clean(self) -> None:
        if self.parent is not None:
            if self.parent.desk_id != self.desk_id:
                raise ValidationError({"parent": _("The parent belongs to another desk.")})
            node: Category | None = self.parent
            while node is not None:
                if self.pk and node.pk == self.pk:
                    raise ValidationError({"parent": _("A category cannot be its own ancestor.")})
                node = node.parent


class BusinessCalendar(models.Model):
    """Opening hours in one time zone, with holidays: what SLA clocks and team shifts run on.

    ``openings`` is a list of ``{"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}`` in local
    wall-clock time (Monday is 0; an end at or before the start runs past midnight). The
    arithmetic lives in :mod:`comptoir.desks.business_time`; :meth:`schedule` builds its value.
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = TimeZoneField(_("time zone"))
    always_open = models.BooleanField(_("open 24×7"), default=False)
    openings = models.JSONField(_("opening hours"), default=list, blank=True)
    holiday_country = models.CharField(
        _("holidays of country"),
        max_length=2,
        blank=True,
        help_text=_("ISO code (FR, US, IN…); public holidays are generated for it."),
    )
    holiday_subdivision = models.CharField(_("subdivision"), max_length=10, blank=True)
    ical_url = models.URLField(_("holiday calendar URL (iCalendar)"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from comptoir.desks.calendars import schedule_problems

        problems = schedule_problems(self)
        if problems:
            raise ValidationError(problems)

    def schedule(self) -> Schedule:
        from comptoir.desks.calendars import schedule_of

        return schedule_of(self)


class HolidaySource(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    GENERATED = "generated", _("Public holiday")
    IMPORTED = "imported", _("Imported (iCalendar)")


class Holiday(models.Model):
    """A whole local day on which a calendar is closed."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=HolidaySource.choices, default="manual")

    class Meta:
        ordering = ["calendar_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        BusinessCalendar.objects.filter(pk=self.calendar_id).update(updated_at=timezone.now())

    def delete(self, *args, **kwargs):
        calendar_id = self.calendar_id
        result = super().delete(*args, **kwargs)
        BusinessCalendar.objects.filter(pk=calendar_id).update(updated_at=timezone.now())
        return result
