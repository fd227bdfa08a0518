"""What the knowledge base announces; ``search`` keeps its index of articles by these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArticleChanged:
    """An article, or one of its variants, was created, edited, restored or changed status."""

    article_id: int
    desk_id: int


@dataclass(frozen=True)
class ArticleDeleted:
    article_id: int
    desk_id: int
