"""``Idempotency-Key`` on every API POST.

The first answer to a (caller, key) pair is stored and replayed for 24 hours; the same key with
another body is refused (422 ``idempotency_key_reused``); a second request arriving while the
first is still running gets 409 ``idempotency_key_in_progress``. Server errors are not stored,
so the client may retry them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.http import parse_header_parameters

from comptoir.core.errors import ErrorCode
from comptoir.core.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 200
#: A first attempt still unanswered after this long died with its process (Gunicorn's own
#: request timeout is 60 s).
ABANDONED_AFTER = timedelta(minutes=2)


def _scope(request: HttpRequest) -> str | None:
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth:
        return "auth:" + hashlib.sha256(auth.encode()).hexdigest()[:40]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    content_type, params = parse_header_parameters(request.META.get("CONTENT_TYPE") or "")
    digest.update((request.method or "").encode() + b" " + request.path.encode() + b"\n")
    digest.update(content_type.encode() + b"\n")
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        body = request.body
        boundary = params.get("boundary") if content_type.startswith("multipart/") else None
        if boundary:  # clients draw a new boundary for every request, a retry included
            body = body.replace(b"--" + boundary.encode(), b"--boundary")
        digest.update(body)
    else:  # a large upload is not read into memory twice; its length stands for it
        digest.update(f"length={length}".encode())
    return digest.hexdigest()


def _error(status: int, code: ErrorCode, message: str) -> JsonResponse:
    return JsonResponse({"code": str(code), "message": message, "details": {}}, status=status)


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        if not key or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        scope = _scope(request)
        if scope is None:  # anonymous: the API will refuse it anyway
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH:
            return _error(
                422,
                ErrorCode.VALIDATION_ERROR,
                "Idempotency-Key is too long (200 characters at most).",
            )

        request_hash = _request_hash(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    scope=scope, key=key, request_hash=request_hash
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if existing is None:  # expired and removed meanwhile
                return self.get_response(request)
            now = timezone.now()
            if existing.created_at < now - timedelta(hours=settings.COMPTOIR_IDEMPOTENCY_TTL_HOURS):
                # Past its day the key is free again; only a reused key pays for this check.
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                return self(request)
            if existing.request_hash != request_hash:
                return _error(
                    422,
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This Idempotency-Key was already used with another request.",
                )
            if existing.status_code is None and existing.created_at < now - ABANDONED_AFTER:
                # The first attempt's process died before answering (the server's own timeout
                # is shorter than this): nothing was acknowledged, so the retry goes ahead.
                IdempotencyRecord.objects.filter(pk=existing.pk, status_code__isnull=True).delete()
                return self(request)
            if existing.status_code is None:
                return _error(
                    409,
                    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still being processed.",
                )
            replay = HttpResponse(
                bytes(existing.body or b""),
                status=existing.status_code,
                content_type=existing.content_type or "application/json",
            )
            replay["Idempotent-Replayed"] = "true"
            return replay

        try:
            response = self.get_response(request)
        except Exception:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or getattr(response, "streaming", False):
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content,
        )
        return response


def purge_expired() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.COMPTOIR_IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


__all__ = ["IdempotencyMiddleware", "purge_expired"]
