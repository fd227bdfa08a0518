"""What every page's frame needs: whether to offer the workspace, and which section is open."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest


class UiContext:
    def __init__(self, request: HttpRequest):
        self.request = request

    @cached_property
    def is_agent(self) -> bool:
        from comptoir.portal.shared import actor_for, is_agent

        user = getattr(self.request, "user", None)
        return bool(
            user is not None and user.is_authenticated and is_agent(actor_for(self.request))
        )

    @property
    def section(self) -> str:
        match = getattr(self.request, "resolver_match", None)
        return match.app_name if match is not None else ""


def ui(request: HttpRequest) -> dict[str, UiContext]:
    return {"ui": UiContext(request)}
