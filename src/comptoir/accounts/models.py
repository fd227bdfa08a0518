from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comptoir.accounts.roles import Role


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class TimeZoneField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("default", "UTC")
        kwargs.setdefault("validators", [validate_time_zone])
        super().__init__(*args, **kwargs)


class Organisation(models.Model):
    """The company itself, or a customer of it."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    is_internal = models.BooleanField(_("the company itself"), default=False)
    is_vip = models.BooleanField(_("VIP"), default=False)
    time_zone = TimeZoneField(_("time zone"))
    members_see_all_tickets = models.BooleanField(
        _("members see each other's tickets"),
        default=True,
        help_text=_("Requesters of this organisation see every ticket of their organisation."),
    )
    email_domains = models.JSONField(_("mail domains"), default=list, blank=True)
    calendar = models.ForeignKey(
        "desks.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The customer's own business hours, for SLAs that run on them."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A location of an organisation, with its own time zone."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    time_zone = TimeZoneField(_("time zone"))

    class Meta:
        ordering = ["organisation__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="site_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.organisation.name} — {self.name}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")


class Availability(models.TextChoices):
    AVAILABLE = "available", _("Available")
    AWAY = "away", _("Away")
    OFF = "off", _("Off duty")
    ON_LEAVE = "on_leave", _("On leave")


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email"), unique=True)
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, db_index=True)
    locale = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    time_zone = TimeZoneField(_("time zone"))
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    availability = models.CharField(
        _("availability"), max_length=10, choices=Availability.choices, default="available"
    )
    away_until = models.DateField(
        _("away until"), null=True, blank=True, help_text=_("Last day of leave, inclusive.")
    )
    mail_notifications = models.BooleanField(
        _("notices by mail"),
        default=True,
        help_text=_("Notices (SLA warnings, tickets assigned…) are also sent by mail."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("may use the admin"), default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []  # noqa: RUF012 (Django reads it as a class attribute)

    class Meta:
        ordering = ["email"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.display_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()
        if (
            self.site is not None
            and self.organisation_id
            and self.site.organisation_id != self.organisation_id
        ):
            raise ValidationError({"site": _("The site belongs to another organisation.")})

    @property
    def name(self) -> str:
        return self.display_name or self.email


class Team(models.Model):
    """A group of agents on one desk, working from one time zone."""

    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80)
    time_zone = TimeZoneField(_("time zone"))
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    email = models.EmailField(_("team mail address"), blank=True)
    calendar = models.ForeignKey(
        "desks.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="teams",
        help_text=_("The team's shifts; none means always on shift."),
    )
    follow_the_sun = models.BooleanField(
        _("takes part in follow-the-sun"),
        default=False,
        help_text=_("Receives the desk's new tickets when their own team is off shift."),
    )
    hand_over_at_shift_end = models.BooleanField(
        _("hands over at the end of its shift"),
        default=False,
        help_text=_("Open unassigned tickets go to the team on shift when this one goes off."),
    )
    round_robin_last = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["desk_id", "name"]
        constraints = [models.UniqueConstraint(fields=["desk", "slug"], name="team_unique_slug")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A role held by a person on a desk. One row per role."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["desk_id", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "desk", "role"], name="membership_unique_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} @ {self.desk}"


TOKEN_PREFIX = "cpt_"  # noqa: S105 (a prefix, not a secret)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is kept; the token itself is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(_("last characters"), max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (…{self.hint})"

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
