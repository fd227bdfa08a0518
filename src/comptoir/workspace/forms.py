"""The workspace's forms: list filters, the composer, bulk actions, phone calls, links and
canned responses."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comptoir.core.actor import Actor
from comptoir.desks.priority import Priority
from comptoir.desks.selectors import teams_visible_to
from comptoir.portal.forms import files_field
from comptoir.routing.selectors import agent_choices_of
from comptoir.tickets.services import MAX_BODY, MAX_TITLE

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

#: How long ago open tickets were opened (the dashboard's bands, and a filter of the list).
AGE_BANDS = [
    ("", _("Any age")),
    ("day", _("Under a day")),
    ("week", _("1 to 7 days")),
    ("month", _("8 to 30 days")),
    ("older", _("Over 30 days")),
]
DUE_CHOICES = [("", _("Any due time")), ("today", _("Due by the end of today"))]
#: The ``team`` filter's value for the tickets without a team.
NO_TEAM = "none"
_BAND_DAYS = {"day": (1, None), "week": (7, 1), "month": (30, 7), "older": (None, 30)}


def age_bounds(band: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(opened after, opened before) for an age band; ``None`` where the band is open-ended."""
    newest, oldest = _BAND_DAYS[band]
    return (
        now - timedelta(days=newest) if newest is not None else None,
        now - timedelta(days=oldest) if oldest is not None else None,
    )


def end_of_today() -> datetime:
    """Midnight ending today, in the reader's time zone."""
    today = timezone.localdate()
    return timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))


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
    age = forms.ChoiceField(label=_("Age"), choices=AGE_BANDS, required=False)
    due = forms.ChoiceField(label=_("SLA due"), choices=DUE_CHOICES, required=False)
    #: A team's id, or ``none`` for the tickets without a team (the dashboard's links).
    team = forms.CharField(required=False, max_length=12, widget=forms.HiddenInput)
    cursor = forms.CharField(required=False, max_length=400)

    def clean_team(self) -> str:
        value = str(self.cleaned_data.get("team") or "").strip().lower()
        if value in ("", NO_TEAM) or (value.isdigit() and 0 < int(value) < 2**31):
            return value
        raise forms.ValidationError(_("No such team."))

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


#: What the list's bulk bar can do to the chosen tickets.
BULK_ACTIONS = [
    ("assign_me", _("Assign to me")),
    ("assign_agent", _("Assign to an agent")),
    ("assign_team", _("Assign to a team")),
    ("priority", _("Change the priority")),
    ("resolve", _("Resolve")),
    ("merge", _("Merge into one ticket")),
]
#: A reference as the desks write them (IT-000042); anything else is refused before any read.
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$"


class BulkForm(forms.Form):
    """The chosen tickets of one page and what to do to all of them."""

    tickets = forms.MultipleChoiceField(required=True)
    action = forms.ChoiceField(choices=BULK_ACTIONS)
    agent = forms.ChoiceField(label=_("Agent"), required=False)
    team = forms.ChoiceField(label=_("Team"), required=False)
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Choose a priority")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    reason = forms.CharField(label=_("Reason for the override"), max_length=500, required=False)
    resolution = forms.CharField(
        label=_("Resolution"), max_length=MAX_BODY, required=False, widget=forms.Textarea
    )
    into = forms.CharField(label=_("Merge into (reference)"), max_length=24, required=False)
    #: Every ticket the list's filters (``filters``, its query string) select, not the chosen.
    all_matching = forms.BooleanField(required=False)
    filters = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, agents, teams, page_size: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.page_size = page_size
        if self.data.get("all_matching"):
            self.fields["tickets"].required = False
        cast(forms.ChoiceField, self.fields["agent"]).choices = [("", _("Choose an agent"))] + [
            (str(pk), name) for pk, name in agents
        ]
        cast(forms.ChoiceField, self.fields["team"]).choices = [("", _("Choose a team"))] + [
            (str(pk), f"{name} ({desk})") for pk, name, desk in teams
        ]
        # References are free text the page sent: check their shape, never trust their number.
        refs = self.data.getlist("tickets") if hasattr(self.data, "getlist") else []
        cast(forms.MultipleChoiceField, self.fields["tickets"]).choices = [
            (r, r) for r in refs if isinstance(r, str) and re.match(REF_PATTERN, r)
        ]
        self.fields["tickets"].error_messages["required"] = _("Choose at least one ticket.")

    def clean_tickets(self) -> list[str]:
        refs = list(dict.fromkeys(r.strip().upper() for r in self.cleaned_data["tickets"]))
        if len(refs) > self.page_size:
            raise forms.ValidationError(
                _("Choose at most %(count)d tickets at once.") % {"count": self.page_size}
            )
        return refs

    def clean(self) -> dict:
        data = super().clean() or {}
        needs = {
            "assign_agent": ("agent", _("Choose the agent.")),
            "assign_team": ("team", _("Choose the team.")),
            "priority": ("priority", _("Choose the priority.")),
            "resolve": ("resolution", _("Say how the tickets were resolved.")),
            "merge": ("into", _("Give the reference of the ticket to merge into.")),
        }
        action = data.get("action")
        if action in needs:
            name, message = needs[action]
            if not str(data.get(name) or "").strip():
                self.add_error(name, message)
        if action == "priority" and not str(data.get("reason") or "").strip():
            self.add_error("reason", _("Overriding the priority needs a reason."))
        if action == "merge" and data.get("into") and not re.match(REF_PATTERN, data["into"]):
            self.add_error("into", _("This is not a ticket reference."))
        return data


def bulk_form(actor: Actor, desks: list, page_size: int, data: Any = None) -> BulkForm:
    """The bulk bar's form for the agent's desks (their agents and teams to assign to)."""
    desk_ids = [d.pk for d in desks]
    teams = teams_visible_to(actor).filter(desk_id__in=desk_ids).order_by("desk__name", "name")
    return BulkForm(
        data,
        agents=agent_choices_of(desk_ids),
        teams=list(teams.values_list("pk", "name", "desk__name")),
        page_size=page_size,
    )


#: The ways the page links its ticket to another: "this ticket is … <reference>".
LINK_CHOICES = [
    ("related", _("related to")),
    ("duplicate_of", _("a duplicate of")),
    ("caused_by", _("caused by")),
    ("parent", _("a child of (sets its parent)")),
    ("child", _("the parent of")),
]


#: A typed link in words, read from the page's ticket: (kind, outgoing) → words.
LINK_WORDS = {
    ("duplicate_of", True): _("Duplicate of"),
    ("duplicate_of", False): _("Duplicated by"),
    ("caused_by", True): _("Caused by"),
    ("caused_by", False): _("Causes"),
    ("related", True): _("Related to"),
    ("related", False): _("Related to"),
}


class LinkForm(forms.Form):
    """A link from the page's ticket to another, named by its reference."""

    kind = forms.ChoiceField(label=_("This ticket is"), choices=LINK_CHOICES, initial="related")
    target = forms.RegexField(
        label=_("Ticket reference"),
        regex=REF_PATTERN,
        max_length=24,
        error_messages={
            "invalid": _("This is not a ticket reference."),
            "required": _("Give the reference of the other ticket."),
        },
    )

    def clean_target(self) -> str:
        return str(self.cleaned_data["target"]).strip().upper()


class UnlinkForm(forms.Form):
    """One link shown on the page, to remove: its kind, the other ticket and the direction."""

    kind = forms.ChoiceField(choices=LINK_CHOICES)
    other = forms.RegexField(regex=REF_PATTERN, max_length=24)
    direction = forms.ChoiceField(choices=[("out", "out"), ("in", "in")], initial="out")


class CallForm(forms.Form):
    """A phone call logged as a ticket: who called, where it goes, and what they said."""

    caller = forms.TypedChoiceField(label=_("Caller"), coerce=int, empty_value=None)
    desk = forms.ChoiceField(label=_("Desk"))
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("incident", _("Something does not work")),
            ("service_request", _("They need something")),
        ],
        initial="incident",
        widget=forms.RadioSelect,
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE)
    notes = forms.CharField(
        label=_("Notes of the call"),
        max_length=MAX_BODY,
        required=False,
        widget=forms.Textarea,
        help_text=_("What the caller said and what you tried. Markdown is welcome."),
    )

    def __init__(self, *args, desks, categories, callers, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["desk"]).choices = [(d.slug, d.name) for d in desks]
        cast(forms.ChoiceField, self.fields["category"]).choices = [("", _("— None —"))] + [
            (str(c.pk), f"{c.desk.name} › {c.path}") for c in categories
        ]
        cast(forms.ChoiceField, self.fields["caller"]).choices = [
            (str(p.pk), p.name) for p in callers
        ]
        self.fields["caller"].error_messages["required"] = _(
            "Find the caller and choose them in the list."
        )
        self.fields["caller"].error_messages["invalid_choice"] = _(
            "Find the caller and choose them in the list."
        )


class PreviewForm(forms.Form):
    body = forms.CharField(max_length=MAX_BODY, required=False)


class CannedResponseForm(forms.Form):
    """A canned response: its title, its text, and (when new) whose it is."""

    title = forms.CharField(label=_("Title"), max_length=100)
    body = forms.CharField(
        label=_("Text"),
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Markdown. Placeholders: {ticket.ref}, {ticket.title}, {requester.name}, {agent.name}."
        ),
    )
    scope = forms.ChoiceField(label=_("Shared with"), required=False)

    def __init__(self, *args, desks=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["scope"]).choices = [("", _("Nobody: mine only"))] + [
            (d.slug, _("The desk %(desk)s") % {"desk": d.name}) for d in desks
        ]


class CannedFilters(forms.Form):
    """The management list's filters: words of the title or text, and whose responses."""

    q = forms.CharField(label=_("Find"), max_length=100, required=False)
    scope = forms.ChoiceField(label=_("Whose"), required=False)
    cursor = forms.CharField(required=False, max_length=400)

    def __init__(self, *args, desks=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["scope"]).choices = [
            ("", _("All I may use")),
            ("mine", _("Mine only")),
        ] + [(d.slug, d.name) for d in desks]


#: The search page's tabs: every kind at once, or one kind a page at a time.
KIND_CHOICES = [
    ("", _("Everything")),
    ("ticket", _("Tickets")),
    ("article", _("Articles")),
    ("person", _("People")),
]
#: The queue's "whose" choices, with "anyone's" first: a search looks at every ticket.
SEARCH_QUEUES = [
    ("", _("Anyone")),
    ("mine", _("Me")),
    ("team", _("My teams")),
    ("unassigned", _("Nobody")),
    ("breaching", _("Breaching soon")),
]
#: Every state: a search finds the resolved and closed tickets too.
SEARCH_STATES = [
    ("", _("Any state")),
    ("open", _("Open")),
    ("pending", _("Pending")),
    ("resolved", _("Resolved")),
    ("closed", _("Closed")),
]
#: The id of the workspace bar's search form, which the search page's filters belong to.
SEARCH_FORM = "desk-search"
#: Pages of results a search walks through (the search keeps 1,000 candidates at most).
MAX_SEARCH_PAGES = 50


class SearchFilters(ListFilters):
    """The search page: the words, the kind shown, and the queue's own filters for tickets."""

    q = forms.CharField(label=_("Search"), max_length=500, required=False, strip=True)
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False)
    page = forms.IntegerField(min_value=1, max_value=MAX_SEARCH_PAGES, required=False)
    queue = forms.ChoiceField(label=_("Assigned to"), choices=SEARCH_QUEUES, required=False)
    state = forms.ChoiceField(label=_("State"), choices=SEARCH_STATES, required=False)
    team = forms.ChoiceField(label=_("Team"), required=False)  # type: ignore[assignment]
    # Results are ranked by relevance and paged by number: no sort, no cursor.
    sort = None  # type: ignore[assignment]
    cursor = None  # type: ignore[assignment]

    #: The fields shown as the page's filters, in this order.
    SHOWN = ("desk", "state", "priority", "queue", "team", "age", "due")

    def __init__(self, *args, desks, teams, **kwargs):
        super().__init__(*args, desks=desks, **kwargs)
        cast(forms.ChoiceField, self.fields["team"]).choices = [("", _("Any team"))] + [
            (str(t.pk), f"{t.name} ({t.desk.name})" if len(desks) > 1 else t.name) for t in teams
        ]
        # The filters sit in the page, the words in the workspace's bar: one form for both.
        for name in self.SHOWN:
            self.fields[name].widget.attrs["form"] = SEARCH_FORM

    def shown(self) -> list[forms.BoundField]:
        return [self[name] for name in self.SHOWN]
