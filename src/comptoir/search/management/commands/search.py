"""``comptoir search rebuild|query``: rebuild the search index, or search from the shell."""

from __future__ import annotations

import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from comptoir.accounts.selectors import resolve_person
from comptoir.core.actor import Actor
from comptoir.core.progress import ProgressBar
from comptoir.search import indexing, selectors

#: The most connections a rebuild writes with by default: past it, a rebuild takes more of a
#: shared PostgreSQL server than it gains.
MAX_JOBS = 4


class Command(BaseCommand):
    help = (
        "Search: 'rebuild' writes the index again (tickets, articles, people) in batches; "
        "'query WORDS' searches as --as EMAIL would (everything by default)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rebuild", "query"])
        parser.add_argument("words", nargs="*", help="query: what to look for.")
        parser.add_argument(
            "--only", choices=indexing.KINDS, action="append", help="rebuild: only this kind."
        )
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument(
            "--jobs",
            type=int,
            help=(
                "rebuild: write with this many connections at once (PostgreSQL only; by "
                f"default this machine's cores, at most {MAX_JOBS}; 1 on SQLite)."
            ),
        )
        parser.add_argument("--as", dest="as_user", help="query: search as this person.")
        parser.add_argument("--quiet", action="store_true", help="rebuild: no progress bar.")

    def handle(self, *args, action, words, only, batch_size, jobs, as_user, quiet, **options):
        if action == "query":
            return self._query(" ".join(words), as_user)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        postgres = connection.vendor == "postgresql"
        if jobs is None:
            jobs = min(os.cpu_count() or 1, MAX_JOBS) if postgres else 1
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")
        if jobs > 1 and not postgres:
            raise CommandError(
                "--jobs above 1 needs PostgreSQL: SQLite writes one transaction at a time."
            )
        bar = None if quiet else ProgressBar(self.stdout, label_width=8)
        for kind in only or indexing.KINDS:
            started = time.monotonic()
            done = indexing.rebuild(kind, batch_size=batch_size, progress=bar, jobs=jobs)
            elapsed = time.monotonic() - started
            if bar:
                bar.close()
            rate = done / elapsed if elapsed else 0
            self.stdout.write(f"{kind}: {done:,} indexed in {elapsed:.1f} s ({rate:,.0f}/s).")

    def _query(self, text: str, as_user: str | None) -> None:
        actor = Actor.system("search")
        if as_user:
            person = resolve_person(as_user)
            if person is None:
                raise CommandError(f"No active person {as_user}.")
            actor = Actor.for_user(person)
        found = selectors.search(actor, text)
        for hit in found.tickets:
            self.stdout.write(f"ticket  {hit.ticket.ref:<12} {hit.ticket.title}")
        for article in found.articles:
            self.stdout.write(f"article KB-{article.article.pk:<9} {article.variant.title}")
        for found_person in found.people:
            self.stdout.write(f"person  {found_person.person.email}")
