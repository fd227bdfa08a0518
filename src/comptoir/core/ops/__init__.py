"""Operating an install: backups, restores, and moving a database to PostgreSQL.

- ``backup``: one archive (``archive``) holding a consistent copy of the database, every stored
  file and the raw mail spool, and a manifest saying what it holds.
- ``restore``: the archive back into the configured install, after checking every member of it.
- ``copy``: every row of the current database into an empty PostgreSQL database.
- ``migrating``: ``migrate`` one process at a time, for servers that start together.

The ``backup``, ``restore`` and ``db`` commands call these. Core imports no other app: models are
reached through the app registry, and the search index is rebuilt through its command.
"""

from __future__ import annotations

from typing import Any

from comptoir.core.errors import DomainError, ErrorCode


class OpsError(DomainError):
    """A backup, restore or copy that cannot be done; ``details["reason"]`` says why, stably.

    Every check that can be made first is made before anything is written. Reasons:
    ``archive_exists``, ``archive_missing``, ``archive_unsafe``, ``archive_damaged``,
    ``archive_newer``, ``engine_mismatch``, ``engine_unsupported``, ``target_not_empty``,
    ``target_in_use``, ``target_invalid``, ``source_not_migrated``, ``pg_tool_missing``,
    ``pg_tool_too_old``, ``pg_tool_failed``, ``counts_differ``.
    """

    def __init__(self, reason: str, message: str, **details: Any):
        super().__init__(ErrorCode.VALIDATION_ERROR, message, {"reason": reason, **details})
        self.reason = reason
