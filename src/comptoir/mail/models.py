from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Mailbox(models.Model):
    """An address a desk receives mail at (by the MTA pipe, the inbound API, IMAP or SMTP)."""

    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="mailboxes")
    address = models.EmailField(_("address"), unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    accept_unknown_senders = models.BooleanField(
        _("open tickets for unknown senders"),
        default=True,
        help_text=_("Otherwise mail from an address Comptoir does not know is kept and refused."),
    )
    last_received_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.address


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
    received_at = models.DateTimeField(auto_now_add=True)
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
