"""The searchable text of tickets, articles and people, one row per record.

Each row holds the words of its record in five columns that every kind shares, so one query
builder serves them all:

- ``ref``: identifiers (a ticket's reference, a person's email and phone, an article's tags);
- ``title``;
- ``body``: what everyone who may see the record may read (a ticket's description and public
  replies);
- ``notes``: what only the desk's staff may read (a ticket's internal notes); a requester's
  search never matches these words;
- ``people``: names and addresses of the people on it;

and ``scope``: tokens naming who may see the record (``d3`` its desk, ``r12`` its requester,
``o4`` their organisation, ``w9`` a watcher; an article's status and visibility), matched on
SQLite in the same full-text query as the words, so that narrowing a match to what the searcher
may see never leaves the index. PostgreSQL narrows it with the plain columns beside them
(indexed), which its planner combines with the full-text index. ``selectors`` then applies the
authoritative rule to the candidates either way.

The full-text index itself is the database's: an FTS5 table over these rows on SQLite, a
``tsvector`` column with a GIN index on PostgreSQL, both kept by triggers on these tables
(migration 0002). The ORM never reads or writes that part.
"""

from __future__ import annotations

from django.db import models


class RecordKey(models.OneToOneField):
    """The document's record, as its primary key; on SQLite also the row's own ``rowid``.

    SQLite makes a column the rowid only when its type is written ``integer``; the full-text
    table then finds a document's row directly, not through a second index.
    """

    def db_type(self, connection):
        return "integer" if connection.vendor == "sqlite" else super().db_type(connection)


# The columns visibility reads come first in each row: SQLite reads a row's first columns
# without following the overflow pages that hold its long text.


class TicketScope(models.Model):
    desk_id = models.IntegerField(db_index=True)
    requester_id = models.IntegerField(null=True, db_index=True)
    organisation_id = models.IntegerField(null=True, db_index=True)

    class Meta:
        abstract = True


class ArticleScope(models.Model):
    article_id = models.IntegerField(db_index=True)
    desk_id = models.IntegerField()
    status = models.CharField(max_length=20)
    visibility = models.CharField(max_length=20)

    class Meta:
        abstract = True


class PersonScope(models.Model):
    organisation_id = models.IntegerField(null=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        abstract = True


class Document(models.Model):
    indexed_at = models.DateTimeField()
    language = models.CharField(max_length=10, blank=True)
    scope = models.TextField(blank=True)
    ref = models.TextField(blank=True)
    title = models.TextField(blank=True)
    people = models.TextField(blank=True)
    body = models.TextField(blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        abstract = True


class TicketDocument(TicketScope, Document):
    ticket = RecordKey(
        "tickets.Ticket", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )

    def __str__(self) -> str:
        return self.ref


class ArticleDocument(ArticleScope, Document):
    """One language of an article (a variant)."""

    variant = RecordKey(
        "kb.ArticleVariant", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )

    def __str__(self) -> str:
        return self.title


class PersonDocument(PersonScope, Document):
    user = RecordKey("accounts.User", primary_key=True, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return self.title
