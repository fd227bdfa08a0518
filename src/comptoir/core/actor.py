"""Who is acting, and through which door.

Every service takes an ``actor``: a user (signed in or through an API token), or a non-human
source (a mailbox, an integration, the system). Roles are read once per actor and kept on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from comptoir.accounts.models import ApiToken, User


#: Reads a user's roles by desk. Set by the accounts app when Django starts, so that this module
#: (at the bottom of the layers) never imports accounts.
_role_loader: Callable[[Any], dict[int, frozenset[str]]] | None = None


def set_role_loader(loader: Callable[[Any], dict[int, frozenset[str]]]) -> None:
    global _role_loader
    _role_loader = loader


class Channel(StrEnum):
    WEB = "web"
    PORTAL = "portal"
    EMAIL = "email"
    PHONE = "phone"
    API = "api"
    MONITORING = "monitoring"
    AUTOMATION = "automation"
    SYSTEM = "system"


class ActorKind(StrEnum):
    USER = "user"
    TOKEN = "token"  # noqa: S105
    MAILBOX = "mailbox"
    INTEGRATION = "integration"
    SYSTEM = "system"


@dataclass
class Actor:
    kind: ActorKind
    channel: Channel
    user: User | None = None
    token: ApiToken | None = None
    label: str = ""
    _roles: dict[int, frozenset[str]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def for_user(cls, user: User, channel: Channel = Channel.WEB) -> Actor:
        return cls(kind=ActorKind.USER, channel=channel, user=user, label=user.email)

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        return cls(
            kind=ActorKind.TOKEN,
            channel=Channel.API,
            user=token.user,
            token=token,
            label=f"{token.user.email} (token {token.name})",
        )

    @classmethod
    def system(cls, label: str = "system", channel: Channel = Channel.SYSTEM) -> Actor:
        return cls(kind=ActorKind.SYSTEM, channel=channel, label=label)

    def via(self, channel: Channel) -> Actor:
        """The same actor entering through another door (an agent logging a phone call)."""
        return Actor(self.kind, channel, self.user, self.token, self.label, self._roles)

    @property
    def is_system(self) -> bool:
        return self.kind is ActorKind.SYSTEM

    @property
    def is_superuser(self) -> bool:
        return bool(self.user and self.user.is_active and self.user.is_superuser)

    def roles(self) -> dict[int, frozenset[str]]:
        """Desk id → roles held there; read once."""
        if self._roles is None:
            if self.user is None or _role_loader is None:
                self._roles = {}
            else:
                self._roles = _role_loader(self.user)
        return self._roles

    def roles_on(self, desk_id: int) -> frozenset[str]:
        return self.roles().get(desk_id, frozenset())

    def audit_fields(self) -> dict[str, Any]:
        return {
            "actor_user": self.user,
            "actor_label": self.label or (self.user.email if self.user else str(self.kind)),
            "channel": str(self.channel),
        }
