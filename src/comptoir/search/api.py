"""``GET /api/v1/search``: tickets, articles and people that match, as the caller may see them."""

from __future__ import annotations

from enum import StrEnum

from django.http import HttpRequest
from ninja import Field, Query, Router
from pydantic import BaseModel

from comptoir.accounts.api import AUTH
from comptoir.core.actor import Actor, ActorKind, Channel
from comptoir.core.api import ErrorOut
from comptoir.search import selectors
from comptoir.tickets.api import TicketListFilters, list_filters
from comptoir.tickets.schemas import TicketOut, ticket_out
from comptoir.tickets.selectors import add_list_relations, tag_names_of

router = Router(tags=["search"])


class SearchKind(StrEnum):
    ticket = "ticket"
    article = "article"
    person = "person"


class SearchParams(TicketListFilters):
    q: str = Field(
        "",
        description=(
            "What to look for, as plain words: punctuation and search syntax are read as text. "
            "All words must match; a word of three letters or more also finds longer words it "
            "starts. A ticket reference, `KB-<id>` or an email address is also looked up "
            "exactly. Only the first 500 characters are read."
        ),
    )
    type: list[SearchKind] = Field(
        default_factory=list,
        description="Which kinds to search; repeatable. All by default.",
    )
    limit: int = Field(20, ge=1, le=100, description="Results of each kind.")
    offset: int = Field(0, ge=0, le=selectors.CANDIDATES)


class Hit(BaseModel):
    score: float = Field(description="Higher is better; exact matches come first.")
    exact: bool
    title_html: str = Field(description="The title, HTML-escaped, found words in <mark>.")
    snippet_html: str = Field(description="A passage around the found words, same escaping.")


class TicketHitOut(Hit):
    ticket: TicketOut


class ArticleHitOut(Hit):
    id: int
    desk: str
    language: str
    title: str
    status: str
    visibility: str


class PersonHitOut(Hit):
    id: int
    email: str
    name: str
    organisation: str | None


class SearchOut(BaseModel):
    q: str
    words: list[str] = Field(description="The words searched for, as read from the query.")
    tickets: list[TicketHitOut]
    articles: list[ArticleHitOut]
    people: list[PersonHitOut]
    totals: dict[str, int] = Field(
        description="Per kind, how many matched (counted up to the bound of the first step)."
    )
    bounded: dict[str, bool] = Field(
        description="Per kind, true when more matched than were ranked: refine the query."
    )


def _anonymous(request: HttpRequest) -> Actor:
    """Without a token or session, a search sees the public articles only."""
    return Actor(kind=ActorKind.USER, channel=Channel.API, label="anonymous")


def _score(value: float) -> float:
    return 1e9 if value == float("inf") else round(value, 6)


@router.get(
    "",
    response={200: SearchOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    auth=[*AUTH, _anonymous],
    summary="Search tickets, articles and people",
)
def search(request: HttpRequest, params: Query[SearchParams]):
    actor = request.auth  # type: ignore[attr-defined]
    desk_ids, filters = list_filters(actor, params) if actor.user else (None, {})
    kinds = tuple(str(k) for k in params.type) or selectors.KINDS
    found = selectors.search(
        actor,
        params.q,
        kinds=kinds,
        limit=params.limit,
        offset=params.offset,
        filters={"desk_ids": desk_ids, **filters},
    )
    tickets = [hit.ticket for hit in found.tickets]
    add_list_relations(tickets)  # what a ticket's answer shows that a hit does not
    tags = tag_names_of([ticket.pk for ticket in tickets])
    return {
        "q": params.q[:500],
        "words": list(found.words.words),
        "tickets": [
            {
                "score": _score(hit.score),
                "exact": hit.exact,
                "title_html": hit.title,
                "snippet_html": hit.snippet,
                "ticket": ticket_out(actor, hit.ticket, tags=tags.get(hit.ticket.pk, [])),
            }
            for hit in found.tickets
        ],
        "articles": [
            {
                "score": _score(hit.score),
                "exact": hit.exact,
                "title_html": hit.title,
                "snippet_html": hit.snippet,
                "id": hit.article.pk,
                "desk": hit.article.desk.slug,
                "language": hit.variant.language,
                "title": hit.variant.title,
                "status": hit.article.status,
                "visibility": hit.article.visibility,
            }
            for hit in found.articles
        ],
        "people": [
            {
                "score": _score(hit.score),
                "exact": hit.exact,
                "title_html": hit.title,
                "snippet_html": hit.snippet,
                "id": hit.person.pk,
                "email": hit.person.email,
                "name": hit.person.name,
                "organisation": hit.person.organisation.name if hit.person.organisation else None,
            }
            for hit in found.people
        ],
        "totals": found.totals,
        "bounded": found.bounded,
    }
