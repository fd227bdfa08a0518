"""Domain errors: one exception type, a stable code, and the HTTP status each door maps it to."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    NOT_AUTHENTICATED = "not_authenticated"
    TOKEN_INVALID = "token_invalid"  # noqa: S105
    PERMISSION_DENIED = "permission_denied"
    FIELD_NOT_ALLOWED = "field_not_allowed"
    NOT_FOUND = "not_found"
    VALIDATION_ERROR = "validation_error"
    UNKNOWN_DESK = "unknown_desk"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_USER = "unknown_user"
    UNKNOWN_TEAM = "unknown_team"
    UNKNOWN_TICKET = "unknown_ticket"
    INVALID_TRANSITION = "invalid_transition"
    REOPEN_WINDOW_EXPIRED = "reopen_window_expired"
    OPEN_CHILDREN = "open_children"
    NOT_RESOLVED = "not_resolved"
    ALREADY_RATED = "already_rated"
    PRIORITY_REASON_REQUIRED = "priority_reason_required"
    CUSTOM_FIELD_INVALID = "custom_field_invalid"
    LINK_INVALID = "link_invalid"
    MERGE_INVALID = "merge_invalid"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    ATTACHMENT_EMPTY = "attachment_empty"
    ATTACHMENT_MISSING = "attachment_missing"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"
    INVALID_CURSOR = "invalid_cursor"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    SERVER_ERROR = "server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"  # the database cannot be reached


STATUS_FOR_CODE: dict[ErrorCode, int] = {
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.TOKEN_INVALID: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.FIELD_NOT_ALLOWED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNKNOWN_TICKET: 422,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.REOPEN_WINDOW_EXPIRED: 409,
    ErrorCode.OPEN_CHILDREN: 409,
    ErrorCode.NOT_RESOLVED: 409,
    ErrorCode.ALREADY_RATED: 409,
    ErrorCode.MERGE_INVALID: 409,
    ErrorCode.ATTACHMENT_TOO_LARGE: 413,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: 409,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.SERVER_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


class DomainError(Exception):
    """A refusal with a stable code. Raised by services; every door turns it into its own form."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def http_status(self) -> int:
        return STATUS_FOR_CODE.get(self.code, 422)

    def as_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message, "details": self.details}


class NotFound(DomainError):
    """Missing and forbidden look the same from outside."""

    def __init__(self, what: str = "object", details: dict[str, Any] | None = None):
        super().__init__(ErrorCode.NOT_FOUND, f"No such {what}.", details)


class PermissionDenied(DomainError):
    def __init__(
        self, message: str = "You may not do this.", details: dict[str, Any] | None = None
    ):
        super().__init__(ErrorCode.PERMISSION_DENIED, message, details)
