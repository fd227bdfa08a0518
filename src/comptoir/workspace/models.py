"""What agents keep in their workspace: saved queue filters, and canned responses."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

#: The queue's filter parameters a saved filter keeps, in the order its address writes them.
FILTER_PARAMS = ("queue", "desk", "state", "priority", "age", "due", "team", "sort")


class SavedFilter(models.Model):
    """A queue's filters an agent saved under a name; theirs alone."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_filters",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=80)
    #: The known filter parameters only (``FILTER_PARAMS``), each a short string.
    params = models.JSONField(_("filters"), default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        ordering = ["name", "id"]
        constraints = [
            # One name per person, whatever its case; the index also serves their list.
            models.UniqueConstraint(
                models.F("owner"), Lower("name"), name="savedfilter_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def query(self) -> str:
        """The queue's query string for these filters, parameters in a fixed order."""
        params = self.params if isinstance(self.params, dict) else {}
        return urlencode([(k, params[k]) for k in FILTER_PARAMS if k in params])


class CannedResponse(models.Model):
    """A reply text kept for reuse: shared by a desk (its managers keep it), or an agent's own.

    Exactly one of ``desk`` and ``owner`` is set. Its placeholders (``{ticket.ref}``…) are
    filled in when an agent inserts it into a reply (``workspace.placeholders``).
    """

    desk = models.ForeignKey(
        "desks.Desk",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        verbose_name=_("desk"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        verbose_name=_("owner"),
    )
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(desk__isnull=False, owner__isnull=True)
                    | models.Q(desk__isnull=True, owner__isnull=False)
                ),
                name="canned_one_scope",
            ),
            models.UniqueConstraint(
                models.F("desk"),
                Lower("title"),
                condition=models.Q(desk__isnull=False),
                name="canned_unique_desk_title",
            ),
            models.UniqueConstraint(
                models.F("owner"),
                Lower("title"),
                condition=models.Q(owner__isnull=False),
                name="canned_unique_own_title",
            ),
        ]
        indexes = [
            # The management page's keyset pages: most recently changed first.
            models.Index(fields=["desk", "updated_at", "id"], name="canned_desk_updated"),
            models.Index(fields=["owner", "updated_at", "id"], name="canned_owner_updated"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_shared(self) -> bool:
        return self.desk_id is not None
