"""Fixtures of the knowledge base tests: a small library of articles, an API client that also
speaks PUT and DELETE, and a recorder of the articles' domain events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import TestCase

from comptoir.core.events import subscribe, unsubscribe
from comptoir.kb.events import ArticleChanged, ArticleDeleted
from comptoir.kb.models import (
    Article,
    ArticleAttachment,
    ArticleVariant,
    ArticleVersion,
    Deflection,
    Feedback,
    TicketArticle,
)
from tests.conftest import ApiClient
from tests.kb.factories import internal_article, make_article, public_article, restricted_article


class KbClient(ApiClient):
    def put(self, path, data=None, **kw):
        return self._call("put", path, data, **kw)

    def delete(self, path, **kw):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.delete(url, headers=self.headers, **kw)


@pytest.fixture
def kb_api():
    """``kb_api(user)``: a client authenticated as ``user`` (``None`` for anonymous)."""
    return KbClient


@dataclass
class Library:
    public: Article  # IT desk, published, public
    acme: Article  # IT desk, published, restricted to Acme (the requester's organisation)
    internal: Article  # IT desk, published, internal to agents
    draft: Article  # IT desk, a draft (public once published)
    hr_public: Article  # the other desk, published, public
    hr_internal: Article  # the other desk, published, internal


@pytest.fixture
def library(world) -> Library:
    acme = world.requester.organisation
    return Library(
        public=public_article(world.desk, title="Connect to the VPN"),
        acme=restricted_article(world.desk, [acme], title="Acme's printers"),
        internal=internal_article(world.desk, title="Server room door code"),
        draft=make_article(desk=world.desk, title="Half-written", visibility="public"),
        hr_public=public_article(world.other_desk, title="Holiday requests"),
        hr_internal=internal_article(world.other_desk, title="Payroll runbook"),
    )


@pytest.fixture
def announced() -> Iterator[list[Any]]:
    """Every ArticleChanged and ArticleDeleted published while the test runs (in-transaction
    subscribers see them as they are published)."""
    seen: list[Any] = []

    def record(event: Any) -> None:
        seen.append(event)

    subscribe(ArticleChanged, in_transaction=True)(record)
    subscribe(ArticleDeleted, in_transaction=True)(record)
    yield seen
    unsubscribe(ArticleChanged, record)
    unsubscribe(ArticleDeleted, record)


def kb_state() -> dict[str, Any]:
    """Everything a knowledge base request could change."""
    return {
        "articles": list(Article.objects.order_by("id").values()),
        "variants": list(ArticleVariant.objects.order_by("id").values()),
        "versions": ArticleVersion.objects.count(),
        "tags": list(Article.tags.through.objects.order_by("id").values()),
        "organisations": list(Article.organisations.through.objects.order_by("id").values()),
        "attachments": ArticleAttachment.objects.count(),
        "feedback": list(Feedback.objects.order_by("id").values()),
        "deflections": list(Deflection.objects.order_by("id").values()),
        "links": list(TicketArticle.objects.order_by("id").values()),
    }


@contextmanager
def unchanged(announced: list[Any]) -> Iterator[None]:
    """The block changes no row and announces nothing."""
    before = kb_state()
    seen = len(announced)
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield
    assert kb_state() == before
    assert announced[seen:] == []
