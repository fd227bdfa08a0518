"""The forms of the knowledge base pages.

They read and check what the page sent; the rules (who may, limits, a category of the article's
desk, organisations only for a restricted article) are ``kb.services``' and are not repeated
here beyond what a form needs to show a field's error beside it.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from comptoir.accounts.models import Organisation
from comptoir.kb.models import ArticleStatus, Visibility
from comptoir.kb.services import MAX_BODY, MAX_TAGS, MAX_TITLE
from comptoir.portal.forms import files_field

STALE_CHOICES = [
    ("", _("Any review date")),
    ("yes", _("Past its review date")),
    ("no", _("Up to date")),
]


class ArticleFilters(forms.Form):
    """The knowledge base list's query string; anything unexpected falls back to the default."""

    desk = forms.ChoiceField(label=_("Desk"), required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *ArticleStatus.choices], required=False
    )
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=[("", _("Any visibility")), *Visibility.choices],
        required=False,
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    tag = forms.CharField(label=_("Tag"), max_length=50, required=False)
    stale = forms.ChoiceField(label=_("Review"), choices=STALE_CHOICES, required=False)
    cursor = forms.CharField(required=False, max_length=400)

    def __init__(self, *args, desks, categories, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["desk"]).choices = [("", _("All my desks"))] + [
            (d.slug, d.name) for d in desks
        ]
        cast(forms.ChoiceField, self.fields["category"]).choices = [
            ("", _("Any category"))
        ] + category_choices(categories, several_desks=len(desks) > 1)


def category_choices(categories, *, several_desks: bool) -> list[tuple[str, Any]]:
    return [
        (str(c.pk), f"{c.desk.name} › {c.path}" if several_desks else c.path) for c in categories
    ]


def language_choices(codes: list[str] | None = None) -> list[tuple[str, str]]:
    names = dict(settings.LANGUAGES)
    return [(code, str(names[code])) for code in (codes or list(names))]


class TagsField(forms.CharField):
    """Tags typed as one line, separated by commas; the service checks each."""

    def to_python(self, value) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [t.strip() for t in text.split(",") if t.strip()]

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value


class SettingsFields(forms.Form):
    """What an article's languages share: category, tags, visibility, organisations, review."""

    category = forms.ChoiceField(label=_("Category"), required=False)
    tags = TagsField(
        label=_("Tags"),
        required=False,
        max_length=MAX_TAGS * 52,
        help_text=_("Separated by commas: letters, digits, dots, hyphens and spaces."),
    )
    visibility = forms.ChoiceField(
        label=_("Who may read it"),
        choices=Visibility.choices,
        initial=Visibility.INTERNAL,
        widget=forms.RadioSelect,
        help_text=_("Whatever you choose, readers see it only once it is published."),
    )
    organisations = forms.ModelMultipleChoiceField(
        label=_("Organisations"),
        queryset=Organisation.objects.order_by("name"),
        required=False,
        help_text=_("For an article restricted to organisations: the ones that may read it."),
    )
    review_on = forms.DateField(
        label=_("Review on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("After this day the article is listed as due for a review."),
    )

    def __init__(self, *args, categories=(), several_desks: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["category"]).choices = [
            ("", _("— None —"))
        ] + category_choices(categories, several_desks=several_desks)


class ArticleForm(SettingsFields):
    """A new article: its desk and first language, title and Markdown body, and its settings."""

    desk = forms.ChoiceField(label=_("Desk"))
    language = forms.ChoiceField(label=_("Language"), choices=language_choices)
    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE)
    body = forms.CharField(
        label=_("Text"),
        max_length=MAX_BODY,
        required=False,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=_("Markdown: **bold**, *italic*, `code`, lists, links and headings."),
    )
    field_order = ["desk", "language", "title", "body"]

    def __init__(self, *args, desks=(), **kwargs):
        super().__init__(*args, several_desks=len(desks) > 1, **kwargs)
        cast(forms.ChoiceField, self.fields["desk"]).choices = [(d.slug, d.name) for d in desks]


class EditForm(SettingsFields):
    """One language's new version, with a note, and the settings every language shares."""

    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE)
    body = forms.CharField(
        label=_("Text"),
        max_length=MAX_BODY,
        required=False,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=_("Markdown: **bold**, *italic*, `code`, lists, links and headings."),
    )
    note = forms.CharField(
        label=_("What changed"),
        max_length=250,
        required=False,
        help_text=_("A few words kept in the history with this version."),
    )
    #: The version the form was opened on: a newer one saved meanwhile is never written over.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    field_order = ["title", "body", "note"]


class VariantForm(forms.Form):
    """The article in another language."""

    language = forms.ChoiceField(label=_("Language"))
    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE)
    body = forms.CharField(
        label=_("Text"),
        max_length=MAX_BODY,
        required=False,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=_("Markdown: **bold**, *italic*, `code`, lists, links and headings."),
    )

    def __init__(self, *args, missing: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["language"]).choices = language_choices(missing)


class FilesForm(forms.Form):
    uploads = files_field()


class DiffForm(forms.Form):
    """Two versions of one language to compare."""

    old = forms.IntegerField(label=_("From version"), min_value=1, required=False)
    new = forms.IntegerField(label=_("To version"), min_value=1, required=False)
