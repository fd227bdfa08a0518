"""Files of an article: stored under our own name, typed by their bytes, size-limited like the
tickets' attachments."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.files import safe_display_name, sniff_content_type
from comptoir.kb import permissions as perms
from comptoir.kb.models import Article, ArticleAttachment
from comptoir.tickets.services import Upload

__all__ = [
    "Upload",
    "add_article_attachment",
    "add_article_attachments",
    "prune_orphan_article_files",
]


def _too_large(limit: int) -> DomainError:
    return DomainError(
        ErrorCode.ATTACHMENT_TOO_LARGE,
        f"The file is larger than the limit of {limit // (1024 * 1024)} MB.",
        {"limit_bytes": limit},
    )


def _digest(stream: IO[bytes], limit: int) -> tuple[str, int, str]:
    """SHA-256, size and the type the first bytes show; stops reading past ``limit``."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest(), size, sniff_content_type(head)


@transaction.atomic
def add_article_attachment(*, actor: Actor, article: Article, upload: Upload) -> ArticleAttachment:
    """A file or image for the article. The uploader's name is only ever shown; the type is the
    one the bytes show; HTML or SVG is kept as text and always served as a download."""
    if not perms.can_write_article(actor, article):
        raise PermissionDenied("Only the desk's staff attach files to its articles.")
    limit = settings.COMPTOIR_MAX_ATTACHMENT_SIZE
    if upload.size is not None and upload.size > limit:
        raise _too_large(limit)
    sha, size, sniffed = _digest(upload.stream, limit)
    if size == 0:
        raise DomainError(
            ErrorCode.ATTACHMENT_EMPTY,
            "The file is empty.",
            {"filename": safe_display_name(upload.name)},
        )
    attachment = ArticleAttachment(
        article=article,
        storage_key=uuid.uuid4().hex,
        filename=safe_display_name(upload.name),
        content_type=sniffed,
        size=size,
        sha256=sha,
        uploaded_by=actor.user,
    )
    attachment.file.save(attachment.storage_key, File(upload.stream), save=False)
    try:
        attachment.save()
    except Exception:
        # The bytes reached storage before the row: take them back so nothing is left behind.
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def add_article_attachments(
    *, actor: Actor, article: Article, uploads: list[Upload]
) -> list[ArticleAttachment]:
    """Several files at once: all of them are kept, or none (and no bytes stay behind)."""
    created: list[ArticleAttachment] = []
    try:
        for upload in uploads:
            created.append(add_article_attachment(actor=actor, article=article, upload=upload))
    except Exception:
        for attachment in created:
            if attachment.file.name:
                attachment.file.storage.delete(attachment.file.name)
        raise
    return created


def prune_orphan_article_files(*, older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Remove stored article files that no row points to (a rolled-back upload leaves its bytes
    behind), once they are old enough that no transaction can still be writing their row."""
    from django.core.files.storage import default_storage

    cutoff = timezone.now() - older_than
    removed: list[str] = []
    try:
        buckets, _ = default_storage.listdir("kb")
    except FileNotFoundError:
        return removed
    for bucket in buckets:
        _, names = default_storage.listdir(f"kb/{bucket}")
        known = set(
            ArticleAttachment.objects.filter(storage_key__in=names).values_list(
                "storage_key", flat=True
            )
        )
        for name in names:
            path = f"kb/{bucket}/{name}"
            if name in known or default_storage.get_modified_time(path) > cutoff:
                continue
            default_storage.delete(path)
            removed.append(path)
    return removed
