"""Knowledge articles: one article per subject, one variant per language, one version per edit.

An ``Article`` carries what every language shares (desk, category, tags, visibility, status,
review date); an ``ArticleVariant`` its title and Markdown body in one language; every save of a
variant appends an ``ArticleVersion``, so the history can show a diff and restore any version.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    INTERNAL = "internal", _("Internal to agents")
    ORGANISATIONS = "organisations", _("Restricted to organisations")


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class ArticleTag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("article tag")

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    desk = models.ForeignKey("desks.Desk", on_delete=models.PROTECT, related_name="articles")
    category = models.ForeignKey(
        "desks.Category",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
        verbose_name=_("category"),
    )
    tags = models.ManyToManyField(ArticleTag, blank=True, related_name="articles")
    visibility = models.CharField(
        _("visibility"), max_length=20, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    organisations = models.ManyToManyField(
        "accounts.Organisation",
        blank=True,
        related_name="articles",
        help_text=_("Who may read an article restricted to organisations."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    review_on = models.DateField(
        _("review on"),
        null=True,
        blank=True,
        help_text=_("After this day the article is flagged stale until someone reviews it."),
    )
    source_ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Counters for the reports; each is also kept as rows (feedback, deflections, views per day).
    views = models.PositiveIntegerField(default=0)
    helpful = models.PositiveIntegerField(default=0)
    not_helpful = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("article")
        indexes = [
            models.Index(fields=["desk", "status", "visibility"]),
            # The lists: newest change first, per desk (staff) or across published articles.
            models.Index(fields=["desk", "updated_at", "id"], name="kb_article_desk_updated"),
            models.Index(
                fields=["status", "visibility", "updated_at", "id"], name="kb_article_published"
            ),
            models.Index(fields=["desk", "review_on"], name="kb_article_review"),
        ]

    def __str__(self) -> str:
        return f"KB-{self.pk}"


class ArticleVariant(models.Model):
    """An article in one language."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="variants")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    title = models.CharField(_("title"), max_length=250)
    slug = models.SlugField(max_length=120)
    body = models.TextField(_("body"), blank=True)
    body_html = models.TextField(blank=True, editable=False)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("language version")
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="kb_one_variant_per_lang")
        ]

    def __str__(self) -> str:
        return self.title


class ArticleVersion(models.Model):
    """A variant as one edit left it. Versions are numbered from 1 per variant."""

    variant = models.ForeignKey(ArticleVariant, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=250)
    body = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=250, blank=True)
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-number"]
        verbose_name = _("version")
        constraints = [
            models.UniqueConstraint(fields=["variant", "number"], name="kb_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.variant_id} v{self.number}"


def article_file_path(instance: ArticleAttachment, filename: str) -> str:
    # The stored name is ours alone: never the uploader's.
    return f"kb/{instance.sha256[:2]}/{instance.storage_key}"


class ArticleAttachment(models.Model):
    """A file or image of an article; images are shown in the body by their URL."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=article_file_path, max_length=300)
    storage_key = models.CharField(max_length=64, editable=False)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")

    def __str__(self) -> str:
        return self.filename


class Feedback(models.Model):
    """One reader's "did this help?" answer. A signed-in person answers once per article (and a
    reader without an account once per browser session): a second answer replaces the first."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    language = models.CharField(max_length=10)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_key = models.CharField(max_length=64, blank=True)
    helpful = models.BooleanField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        indexes = [models.Index(fields=["article", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "user"],
                condition=models.Q(user__isnull=False),
                name="kb_feedback_once_per_person",
            ),
            models.UniqueConstraint(
                fields=["article", "session_key"],
                condition=models.Q(user__isnull=True) & ~models.Q(session_key=""),
                name="kb_feedback_once_per_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{'Helpful' if self.helpful else 'Not helpful'}: {self.article_id}"


class Deflection(models.Model):
    """An article opened from the suggestions beside a new ticket's form.

    It counts as a deflection when no ticket follows on that desk from the same person within
    ``COMPTOIR_KB_DEFLECTION_MINUTES``; ``ticket`` records the one that did follow.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="deflections")
    desk = models.ForeignKey("desks.Desk", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_key = models.CharField(max_length=64, blank=True)
    query = models.CharField(max_length=250, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("deflection")
        indexes = [
            models.Index(fields=["desk", "created_at"]),
            models.Index(fields=["article", "created_at"], name="kb_deflection_article"),
        ]

    def __str__(self) -> str:
        return f"Suggested {self.article_id}"


class ArticleViewDay(models.Model):
    """How many times an article was read on one day (UTC), for the figures of a period."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="view_days")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "day"], name="kb_one_row_per_day")
        ]
        indexes = [models.Index(fields=["day"], name="kb_view_day")]

    def __str__(self) -> str:
        return f"{self.article_id} {self.day}: {self.views}"


class TicketArticle(models.Model):
    """An article linked to a ticket (it answered it, or it was written from it)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="ticket_links")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("link to a ticket")
        constraints = [models.UniqueConstraint(fields=["article", "ticket"], name="kb_link_once")]
        indexes = [
            models.Index(fields=["ticket"]),
            models.Index(fields=["created_at"], name="kb_link_created"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} ↔ {self.ticket_id}"
