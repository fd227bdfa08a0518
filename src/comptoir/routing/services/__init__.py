"""Every change routing makes (rule 1): import them from here.

``assignment``: where a new ticket goes (``route_ticket``) and hand-over at the end of a shift
(``hand_over``). ``configuration``: the routing rules, agents' availability and skills, and
teams' shifts.
"""

from comptoir.routing.services.assignment import (
    HAND_OVER_BATCH,
    Decision,
    hand_over,
    route_ticket,
    routing_actor,
)
from comptoir.routing.services.configuration import (
    RULE_FIELDS,
    SHIFT_FIELDS,
    clean_rule,
    create_rule,
    delete_rule,
    set_availability,
    set_skills,
    set_team_shift,
    update_rule,
)

__all__ = [
    "HAND_OVER_BATCH",
    "RULE_FIELDS",
    "SHIFT_FIELDS",
    "Decision",
    "clean_rule",
    "create_rule",
    "delete_rule",
    "hand_over",
    "route_ticket",
    "routing_actor",
    "set_availability",
    "set_skills",
    "set_team_shift",
    "update_rule",
]
