"""Housekeeping that keeps storage in step with the database."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from comptoir.tickets.models import (
    Attachment,
)


def prune_orphan_files(*, older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Remove stored attachment files that no row points to.

    A file reaches storage before its row commits; when the transaction around it rolls back
    (a later file of the same upload refused, a crash), the bytes stay behind. They are never
    served, and this sweep (``comptoir cleanup``) removes them once they are old enough that no
    transaction can still be writing their row.
    """
    from django.core.files.storage import default_storage

    cutoff = timezone.now() - older_than
    removed: list[str] = []
    try:
        buckets, _ = default_storage.listdir("attachments")
    except FileNotFoundError:
        return removed
    for bucket in buckets:
        _, names = default_storage.listdir(f"attachments/{bucket}")
        known = set(
            Attachment.objects.filter(storage_key__in=names).values_list("storage_key", flat=True)
        )
        for name in names:
            path = f"attachments/{bucket}/{name}"
            if name in known or default_storage.get_modified_time(path) > cutoff:
                continue
            default_storage.delete(path)
            removed.append(path)
    return removed
