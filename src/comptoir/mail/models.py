from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Mailbox(models.Model):
    """An address a desk receives mail at (by the MTA pipe, the inbound API, IMAP or SMTP)."""

    class ImapSecurity(models.TextChoices):
        SSL = "ssl", _("TLS from the start (port 993)")
        STARTTLS = "starttls", _("STARTTLS (port 143)")
        NONE = "none", _("None (127.0.0.1 or localhost only)")

    class ImapAfter(models.TextChoices):
        FLAG = "flag", _("Mark it read and keep it")
        DELETE = "delete", _("Delete it")

    class OAuthProvider(models.TextChoices):
        NONE = "", _("None: the access token, if any, is renewed by hand")
        MICROSOFT = "microsoft", _("Microsoft 365")
        GOOGLE = "google", _("Google")
        OTHER = "other", _("Another provider (its token endpoint given)")

    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="mailboxes")
    address = models.EmailField(_("address"), unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    accept_unknown_senders = models.BooleanField(
        _("open tickets for unknown senders"),
        default=True,
        help_text=_("Otherwise mail from an address Comptoir does not know is kept and refused."),
    )
    imap_host = models.CharField(
        _("IMAP server"),
        max_length=255,
        blank=True,
        help_text=_("Blank: this mailbox is not polled by IMAP."),
    )
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_security = models.CharField(
        _("IMAP connection security"),
        max_length=10,
        choices=ImapSecurity.choices,
        default=ImapSecurity.SSL,
    )
    imap_username = models.CharField(
        _("IMAP user name"),
        max_length=255,
        blank=True,
        help_text=_("Blank: the mailbox's address."),
    )
    imap_password = models.CharField(
        _("IMAP password"),
        max_length=255,
        blank=True,
        help_text=_("Stored as given, in the database. Prefer an app password."),
    )
    imap_oauth_token = models.TextField(
        _("IMAP OAuth2 access token"),
        blank=True,
        help_text=_(
            "For Microsoft 365 and Google (XOAUTH2). When set, it is used instead of the "
            "password. With an OAuth2 provider, Comptoir renews it itself. Stored as given, in "
            "the database."
        ),
    )
    oauth_provider = models.CharField(
        _("OAuth2 provider"),
        max_length=10,
        choices=OAuthProvider.choices,
        blank=True,
        help_text=_(
            "Set: Comptoir renews the access token before it runs out, with the refresh token "
            "(or, for Microsoft 365 application access, the client secret)."
        ),
    )
    oauth_tenant = models.CharField(
        _("Microsoft 365 tenant"),
        max_length=100,
        blank=True,
        help_text=_("The directory (tenant) ID, or a domain of it. Blank: organizations."),
    )
    oauth_token_url = models.CharField(
        _("OAuth2 token endpoint"),
        max_length=500,
        blank=True,
        help_text=_("For another provider only: its token endpoint (https://…)."),
    )
    oauth_client_id = models.CharField(_("OAuth2 client ID"), max_length=255, blank=True)
    oauth_client_secret = models.CharField(
        _("OAuth2 client secret"),
        max_length=255,
        blank=True,
        help_text=_("Stored as given, in the database."),
    )
    oauth_refresh_token = models.TextField(
        _("OAuth2 refresh token"),
        blank=True,
        help_text=_(
            "Given by the provider when someone signs in and consents; replaced by the one the "
            "provider hands out at each renewal, if it does. Stored in the database."
        ),
    )
    oauth_scope = models.CharField(
        _("OAuth2 scope"),
        max_length=500,
        blank=True,
        help_text=_("Blank: the provider's IMAP scope."),
    )
    oauth_token_expires_at = models.DateTimeField(
        _("access token expires at"), null=True, blank=True, editable=False
    )
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, default="INBOX")
    imap_after = models.CharField(
        _("after taking a message"),
        max_length=10,
        choices=ImapAfter.choices,
        default=ImapAfter.FLAG,
    )
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    imap_last_uid = models.BigIntegerField(default=0, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_received_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.address

    _IMAP_SOURCE = ("imap_host", "imap_port", "imap_username", "imap_folder")

    def save(self, *args, **kwargs) -> None:
        """Pointing the mailbox at another server, account or folder polls it from its first
        message: UIDs only mean something in the folder they come from."""
        if self.pk is not None:
            before = Mailbox.objects.filter(pk=self.pk).values(*self._IMAP_SOURCE).first()
            if before and any(before[name] != getattr(self, name) for name in self._IMAP_SOURCE):
                self.imap_uidvalidity, self.imap_last_uid = None, 0
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {
                        *kwargs["update_fields"],
                        "imap_uidvalidity",
                        "imap_last_uid",
                    }
        super().save(*args, **kwargs)


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Received, not processed yet")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Kept, not acted on")
    FAILED = "failed", _("Failed")


class InboundMessage(models.Model):
    """One received mail: its raw bytes are in the spool before this row exists (rule 8).

    ``key`` makes processing idempotent: the mailbox and the Message-ID (or, without one, the
    SHA-256 of the raw bytes). A message received twice is one row and one ticket or reply.
    """

    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    key = models.CharField(max_length=255, unique=True)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    sha256 = models.CharField(max_length=64)
    spool_path = models.CharField(max_length=300)
    size = models.PositiveIntegerField()
    source = models.CharField(max_length=10, default="pipe")
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    reason = models.TextField(blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.ForeignKey(
        "tickets.Comment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # When it came in, not when its row was written (after it was sorted out).
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["sender", "received_at"], name="inbound_sender"),
            models.Index(fields=["status", "id"], name="inbound_status"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class OutboundStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Gave up")
    SUPPRESSED = "suppressed", _("Not sent (loop or bounce protection)")


class OutboundMessage(models.Model):
    """A mail to send, written in the same transaction as the change it tells about (outbox)."""

    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=30)
    key = models.CharField(max_length=255, unique=True)
    from_address = models.CharField(max_length=320)
    reply_to = models.CharField(max_length=320, blank=True)
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    message_id = models.CharField(max_length=255, unique=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    auto_submitted = models.CharField(max_length=20, blank=True)
    status = models.CharField(
        max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbound_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["ticket", "id"], name="outbound_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {', '.join(self.to)}"


class BouncingAddress(models.Model):
    """An address whose mail comes back: Comptoir stops writing to it until it writes again."""

    email = models.EmailField(unique=True)
    status = models.CharField(max_length=20, blank=True)
    bounces = models.PositiveIntegerField(default=0)
    last_bounce_at = models.DateTimeField()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class MailKind(models.TextChoices):
    """The automatic mails Comptoir writes, each with a built-in text a desk may replace."""

    ACKNOWLEDGEMENT = "acknowledgement", _("Acknowledgement of a ticket opened by mail")
    REPLY = "reply", _("An agent's public reply")
    WAITING = "waiting", _("The desk waits on the requester")
    REOPENED = "reopened", _("Reopened by the desk")
    CANCELLED = "cancelled", _("Cancelled by the desk")
    REJECTED = "rejected", _("Change rejected")
    MERGED = "merged", _("Merged into another ticket")
    RESOLVED = "resolved", _("Resolved")
    NOTIFICATION = "notification", _("A notice to an agent (SLA, assignment…)")


class MailLocale(models.TextChoices):
    EN = "en", _("English")
    FR = "fr", _("French")


class MailTemplate(models.Model):
    """A desk's own words for one kind of automatic mail in one language, used instead of the
    built-in text (``comptoir.mail.templates``); deleting it brings the built-in text back.

    Subject and body are Django templates, checked when saved and rendered on plain strings only.
    """

    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="mail_templates")
    kind = models.CharField(_("kind"), max_length=30, choices=MailKind.choices)
    locale = models.CharField(_("language"), max_length=5, choices=MailLocale.choices)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["desk_id", "kind", "locale"]
        constraints = [
            models.UniqueConstraint(fields=["desk", "kind", "locale"], name="mail_template_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.locale})"
