from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.core.actor import Channel
from comptoir.desks.priority import Level, Priority
from comptoir.tickets.lifecycle import ALL_STATES, StatusCategory, TicketKind, category_of


class TicketChannel(models.TextChoices):
    WEB = Channel.WEB.value, _("Web")
    PORTAL = Channel.PORTAL.value, _("Portal")
    EMAIL = Channel.EMAIL.value, _("Email")
    PHONE = Channel.PHONE.value, _("Phone")
    API = Channel.API.value, _("API")
    MONITORING = Channel.MONITORING.value, _("Monitoring")
    AUTOMATION = Channel.AUTOMATION.value, _("Automation")
    SYSTEM = Channel.SYSTEM.value, _("System")


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    """The one work item: incident, service request, problem, change or task."""

    desk = models.ForeignKey("desks.Desk", on_delete=models.PROTECT, related_name="tickets")
    number = models.PositiveIntegerField()
    ref = models.CharField(max_length=24, unique=True)
    kind = models.CharField(max_length=20, choices=TicketKind.choices)
    status = models.CharField(max_length=30, choices=[(s, s) for s in ALL_STATES])
    status_category = models.CharField(
        max_length=10, choices=[(c.value, c.value) for c in StatusCategory]
    )
    title = models.CharField(_("title"), max_length=250)
    description = models.TextField(_("description"), blank=True)
    description_html = models.TextField(blank=True, editable=False)

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets"
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    site = models.ForeignKey(
        "accounts.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(
        max_length=20, choices=TicketChannel.choices, default=TicketChannel.WEB
    )

    impact = models.CharField(max_length=10, choices=Level.choices, default=Level.MEDIUM)
    urgency = models.CharField(max_length=10, choices=Level.choices, default=Level.MEDIUM)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    priority_overridden = models.BooleanField(default=False)
    priority_reason = models.CharField(max_length=500, blank=True)

    category = models.ForeignKey(
        "desks.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_tickets"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    custom_fields = models.JSONField(default=dict, blank=True)

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )

    resolution = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(db_index=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Kept by the SLA clocks (a projection, not a change: no timeline event): the earliest due
    # time of the running targets, and whether any target of the ticket was breached.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["desk", "number"], name="ticket_unique_number")
        ]
        indexes = [
            models.Index(
                fields=["desk", "status_category", "priority", "created_at"],
                name="tk_desk_cat_prio",
            ),
            models.Index(fields=["desk", "created_at", "id"], name="tk_desk_created"),
            models.Index(fields=["desk", "updated_at", "id"], name="tk_desk_updated"),
            models.Index(fields=["assignee", "status_category", "created_at"], name="tk_assignee"),
            models.Index(fields=["team", "status_category", "created_at"], name="tk_team"),
            models.Index(fields=["requester", "created_at"], name="tk_requester"),
            models.Index(fields=["organisation", "created_at"], name="tk_org"),
            models.Index(fields=["status", "desk"], name="tk_status"),
            models.Index(
                fields=["desk", "sla_due_at", "id"],
                name="tk_desk_due",
                condition=models.Q(sla_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    @property
    def lifecycle(self):
        from comptoir.tickets.lifecycle import lifecycle_for

        return lifecycle_for(self.kind)

    @property
    def category_of_status(self) -> StatusCategory:
        return category_of(self.kind, self.status)

    @property
    def is_live(self) -> bool:
        return self.status_category in (StatusCategory.OPEN, StatusCategory.PENDING)


class TicketLinkKind(models.TextChoices):
    DUPLICATE_OF = "duplicate_of", _("Duplicate of")
    CAUSED_BY = "caused_by", _("Caused by")
    RELATED = "related", _("Related to")


class TicketLink(models.Model):
    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=20, choices=TicketLinkKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="ticketlink_unique"),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="ticketlink_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"


class Comment(models.Model):
    """A public reply or an internal note."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    body_html = models.TextField(editable=False)
    public = models.BooleanField(default=True)
    channel = models.CharField(
        max_length=20, choices=TicketChannel.choices, default=TicketChannel.WEB
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_ticket")]

    def __str__(self) -> str:
        return f"{'Reply' if self.public else 'Note'} {self.pk} on {self.ticket_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is ours alone: never the uploader's.
    return f"attachments/{instance.sha256[:2]}/{instance.storage_key}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, max_length=300)
    storage_key = models.CharField(max_length=64, editable=False)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150)
    declared_content_type = models.CharField(max_length=150, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS_CHANGED = "status_changed", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    PRIORITY_CHANGED = "priority_changed", _("Priority changed")
    FIELD_CHANGED = "field_changed", _("Field changed")
    COMMENTED = "commented", _("Replied")
    NOTE_ADDED = "note_added", _("Internal note")
    ATTACHMENT_ADDED = "attachment_added", _("Attachment added")
    LINKED = "linked", _("Linked")
    UNLINKED = "unlinked", _("Unlinked")
    MERGED_INTO = "merged_into", _("Merged into another ticket")
    MERGED_FROM = "merged_from", _("Another ticket merged in")
    WATCHER_ADDED = "watcher_added", _("Watcher added")
    WATCHER_REMOVED = "watcher_removed", _("Watcher removed")
    SLA_RETARGETED = "sla_retargeted", _("SLA target changed")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_MET = "sla_met", _("SLA target met")
    SLA_BREACHED = "sla_breached", _("SLA target breached")
    ESCALATED = "escalated", _("Escalated")
    ROUTED = "routed", _("Routed")
    RATED = "rated", _("Rated")


class TicketEvent(models.Model):
    """One line of a ticket's timeline: what changed, who did it, through which door, when."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=20)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    public = models.BooleanField(default=False)
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "id"], name="event_ticket")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class Rating(models.Model):
    """The requester's word on one resolution: satisfied or not, and why if they say.

    One per resolution (``resolved_at`` names it): a reopened ticket resolved again may be
    rated again, and the latest rating counts.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="ratings")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    satisfied = models.BooleanField()
    comment = models.TextField(blank=True)
    resolved_at = models.DateTimeField()
    channel = models.CharField(max_length=20)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "resolved_at"], name="rating_one_per_resolution"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {'satisfied' if self.satisfied else 'not satisfied'}"
