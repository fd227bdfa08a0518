from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.accounts.models import TimeZoneField
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
    is_active = models.BooleanField(_("active"), default=True)
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
