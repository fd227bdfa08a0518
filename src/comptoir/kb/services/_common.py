"""What the knowledge base services share: limits, input cleaning, announcing a change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.text import slugify

from comptoir.core import tags
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.core.events import publish
from comptoir.kb.events import ArticleChanged
from comptoir.kb.models import Article, ArticleTag

MAX_TITLE = 250
#: About a hundred printed pages: a longer "article" is a manual, better attached as a file.
MAX_BODY = 200_000
MAX_TAGS = 20
MAX_NOTE = 250
MAX_COMMENT = 2000
MAX_QUERY = 250


def invalid(message: str, **details: Any) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, details)


def languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def clean_language(value: str | None, field: str = "language") -> str:
    code = (value or "").strip().lower()
    if code not in languages():
        raise invalid(
            f"Unknown language {value!r}: one of {', '.join(languages())}.",
            field=field,
            allowed=languages(),
        )
    return code


def clean_title(value: str | None) -> str:
    text = " ".join((value or "").replace("\x00", "").split())  # one line, whatever the door
    if not text:
        raise invalid("The title cannot be empty.", field="title")
    if len(text) > MAX_TITLE:
        raise invalid(f"The title is too long ({MAX_TITLE} characters at most).", field="title")
    return text


def clean_body(value: str | None) -> str:
    text = (value or "").replace("\x00", "").replace("\r\n", "\n").strip()
    if len(text) > MAX_BODY:
        raise invalid(
            f"The body is too long ({MAX_BODY} characters at most): split the article, or "
            "attach the long part as a file.",
            field="body",
            limit=MAX_BODY,
        )
    return text


def clean_note(value: str | None) -> str:
    text = " ".join((value or "").replace("\x00", "").split())
    if len(text) > MAX_NOTE:
        raise invalid(f"The note is too long ({MAX_NOTE} characters at most).", field="note")
    return text


def slug_for(title: str) -> str:
    return slugify(title)[:120].strip("-") or "article"


def clean_tags(names: Iterable[str]) -> list[str]:
    return tags.clean_tags(names, most=MAX_TAGS, holder="An article")


def tag_objects(names: list[str]) -> list[ArticleTag]:
    return tags.tag_rows(ArticleTag, names)


def announce(article: Article) -> None:
    """Tell the subscribers (the search index, in this transaction) that the article changed."""
    publish(ArticleChanged(article_id=article.pk, desk_id=article.desk_id))
