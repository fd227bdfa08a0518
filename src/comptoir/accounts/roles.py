"""Roles a person holds on a desk, and what each one implies."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    REQUESTER = "requester", _("Requester")
    AGENT = "agent", _("Agent")
    TECHNICIAN = "technician", _("Technician")
    MANAGER = "manager", _("Manager")
    INCIDENT_MANAGER = "incident_manager", _("Incident manager")
    CHANGE_MANAGER = "change_manager", _("Change manager")
    ADMIN = "admin", _("Desk administrator")


#: Roles that work tickets: they see every ticket of the desk, internal notes included.
STAFF_ROLES = frozenset(
    {
        Role.AGENT,
        Role.TECHNICIAN,
        Role.MANAGER,
        Role.INCIDENT_MANAGER,
        Role.CHANGE_MANAGER,
        Role.ADMIN,
    }
)
#: Roles that may approve or reject a change.
CHANGE_APPROVER_ROLES = frozenset({Role.CHANGE_MANAGER, Role.MANAGER, Role.ADMIN})
#: Roles that lead the desk's work (reports, major incidents and escalations build on it).
#: Working tickets — priority overrides and merges included — is open to every staff role.
MANAGER_ROLES = frozenset({Role.MANAGER, Role.INCIDENT_MANAGER, Role.ADMIN})
