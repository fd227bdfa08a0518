"""The routing API: rules, team shifts, agents' availability and skills."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["routing"])
