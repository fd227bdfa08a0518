"""Background jobs of search. Running one twice changes nothing more."""

from __future__ import annotations

from django.db import transaction
from huey.contrib.djhuey import db_task


@db_task(retries=3, retry_delay=30)
def rename_requester_task(user_id: int, after: int = 0) -> None:
    """Write a renamed requester's name and address into the rest of their tickets'
    documents (those after ticket ``after``), ``RENAME_BATCH`` per transaction, so that no
    write holds the table long.

    If the job is lost, the documents keep the old name until each ticket changes or
    ``comptoir search rebuild`` runs; searching their tickets by the old name still works.
    """
    from comptoir.search.indexing import RENAME_BATCH, requester_renamed

    while True:  # in ticket order, past those written: each batch reads only its own rows
        with transaction.atomic():
            written = requester_renamed(user_id, limit=RENAME_BATCH, after=after)
        if len(written) < RENAME_BATCH:
            return
        after = written[-1]
