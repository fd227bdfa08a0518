"""The portal's forms: what a requester types, checked for shape; the services judge the rest."""

from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from comptoir.kb.services import MAX_COMMENT as MAX_FEEDBACK_COMMENT
from comptoir.tickets.services import MAX_BODY, MAX_RATING_COMMENT, MAX_TITLE


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; the services check each (size, emptiness, type)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


def files_field() -> forms.FileField:
    return MultipleFileField(
        label=_("Attachments"),
        required=False,
        help_text=_("Optional. Several files may be chosen."),
    )


class NewTicketForm(forms.Form):
    desk = forms.ChoiceField(label=_("Desk"))
    kind = forms.ChoiceField(
        label=_("What do you need?"),
        choices=[
            ("incident", _("Something does not work")),
            ("service_request", _("I need something")),
        ],
        initial="incident",
        widget=forms.RadioSelect,
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE)
    description = forms.CharField(
        label=_("Description"),
        max_length=MAX_BODY,
        required=False,
        widget=forms.Textarea,
        help_text=_("What happened, since when, and what you tried. Markdown is welcome."),
    )
    uploads = files_field()

    def __init__(self, *args, desks, categories, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["desk"]).choices = [(d.slug, d.name) for d in desks]
        cast(forms.ChoiceField, self.fields["category"]).choices = [("", _("— Not sure —"))] + [
            (str(c.pk), f"{c.desk.name} › {c.path}") for c in categories
        ]


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), max_length=MAX_BODY, widget=forms.Textarea)
    uploads = files_field()


class ActionForm(forms.Form):
    """The words some lifecycle actions take (a resolution, a reason to reopen)."""

    text = forms.CharField(label=_("Why?"), max_length=MAX_BODY, required=False)


class RatingForm(forms.Form):
    """Satisfied or not with a resolution, and optionally why."""

    satisfied = forms.TypedChoiceField(
        label=_("Are you satisfied with how this was solved?"),
        choices=[("yes", _("Yes, satisfied")), ("no", _("No, not satisfied"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything to add?"),
        max_length=MAX_RATING_COMMENT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# --- the knowledge base ----------------------------------------------------------------------

#: The orders of the knowledge base's list (a search lists the best matches first).
KB_SORTS = [("new", _("Newest first")), ("views", _("Most viewed first"))]


class KbBrowseForm(forms.Form):
    """The knowledge base's search box and filters; the choices are what the reader may read."""

    q = forms.CharField(
        label=_("Search the articles"),
        required=False,
        max_length=500,
        widget=forms.SearchInput(attrs={"autocomplete": "off", "enterkeyhint": "search"}),
    )
    desk = forms.ChoiceField(label=_("Desk"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    sort = forms.ChoiceField(label=_("Order"), required=False, choices=KB_SORTS)

    def __init__(self, *args, desks, categories, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["desk"]).choices = [("", _("Every desk"))] + desks
        cast(forms.ChoiceField, self.fields["category"]).choices = [
            ("", _("Every category"))
        ] + categories


class KbFeedbackForm(forms.Form):
    """Yes or no to “Did this help?” (the button pressed), and optionally why."""

    helpful = forms.TypedChoiceField(
        label=_("Did this help?"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda value: value == "yes",
        error_messages={"required": _("Choose “Yes” or “No”.")},
    )
    comment = forms.CharField(
        label=_("Anything to add?"),
        max_length=MAX_FEEDBACK_COMMENT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    language = forms.CharField(required=False, max_length=10, widget=forms.HiddenInput)
