"""Stored files no row points to, swept by every app that stores some.

A file reaches storage before its row commits; when the transaction rolls back, the bytes stay
behind. Each app that stores files registers its sweep here when it is loaded (its
``AppConfig.ready``), so that ``comptoir cleanup`` and the nightly job, which live below those
apps, sweep them all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

#: A sweep: removes the files older than the given age that no row points to, and returns their
#: names.
Sweep = Callable[[timedelta], list[str]]

_sweeps: dict[str, Sweep] = {}


def register(label: str, sweep: Sweep) -> None:
    """Add (or replace) the sweep of one kind of stored file."""
    _sweeps[label] = sweep


def prune_orphan_files(*, older_than: timedelta) -> dict[str, list[str]]:
    """Run every registered sweep; the files each removed, by its label."""
    return {label: sweep(older_than) for label, sweep in sorted(_sweeps.items())}
