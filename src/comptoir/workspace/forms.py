"""The workspace's forms: list filters and the composer."""

from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from comptoir.desks.priority import Priority
from comptoir.portal.forms import files_field
from comptoir.tickets.services import MAX_BODY

QUEUE_CHOICES = [
    ("mine", _("Mine")),
    ("team", _("My teams'")),
    ("unassigned", _("Unassigned")),
    ("breaching", _("Breaching soon")),
    ("open", _("All open")),
]
SORT_CHOICES = [
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("-updated", _("Recently changed")),
    ("priority", _("Priority, highest first")),
    ("due", _("SLA due, soonest first")),
]
STATE_CHOICES = [
    ("", _("Open and pending")),
    ("open", _("Open")),
    ("pending", _("Pending")),
]


class ListFilters(forms.Form):
    """The list's query string; anything unexpected falls back to the default."""

    queue = forms.ChoiceField(choices=QUEUE_CHOICES, required=False)
    sort = forms.ChoiceField(label=_("Sort"), choices=SORT_CHOICES, required=False)
    state = forms.ChoiceField(label=_("State"), choices=STATE_CHOICES, required=False)
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Any priority")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    desk = forms.ChoiceField(label=_("Desk"), required=False)
    cursor = forms.CharField(required=False, max_length=400)

    def __init__(self, *args, desks, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["desk"]).choices = [("", _("All my desks"))] + [
            (d.slug, d.name) for d in desks
        ]


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        max_length=MAX_BODY,
        widget=forms.Textarea,
        help_text=_("Markdown: **bold**, *italic*, `code`, lists and links."),
    )
    visibility = forms.ChoiceField(
        label=_("Send as"),
        choices=[("reply", _("Reply to the requester")), ("note", _("Internal note"))],
        initial="reply",
        widget=forms.RadioSelect,
    )
    uploads = files_field()
