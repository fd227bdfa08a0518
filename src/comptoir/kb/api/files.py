"""``/kb/articles/{id}/attachments``: the files of an article."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from ninja import File, Status
from ninja.files import UploadedFile

from comptoir.core.api import actor_of
from comptoir.kb import selectors, services
from comptoir.kb.api._common import ERRORS, download, router
from comptoir.kb.schemas import ArticleAttachmentOut, attachment_out
from comptoir.tickets.api import uploads_of


@router.get(
    "/articles/{article_id}/attachments",
    response={200: list[ArticleAttachmentOut], **ERRORS},
    summary="Files of the article",
)
def list_attachments(request: HttpRequest, article_id: int):
    article = selectors.get_article_for(actor_of(request), article_id)
    return [attachment_out(a) for a in selectors.attachments_of(article)]


@router.post(
    "/articles/{article_id}/attachments",
    response={201: list[ArticleAttachmentOut], **ERRORS},
    summary="Attach files (multipart, field 'file', repeatable)",
)
def add_attachments(request: HttpRequest, article_id: int, file: File[list[UploadedFile]]):
    actor = actor_of(request)
    uploads = uploads_of(file)
    with transaction.atomic():
        article = selectors.get_article_for(actor, article_id)
        created = services.add_article_attachments(actor=actor, article=article, uploads=uploads)
    return Status(201, [attachment_out(a) for a in created])


@router.get(
    "/articles/{article_id}/attachments/{attachment_id}/download",
    response={200: None, **ERRORS},
    summary="Download a file (always as an attachment)",
)
def download_attachment(request: HttpRequest, article_id: int, attachment_id: int):
    return download(actor_of(request), article_id, attachment_id)
