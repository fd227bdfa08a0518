"""Roles, people and tokens as a desk administrator and an agent meet them."""

from __future__ import annotations

import pytest

from comptoir.accounts.models import Membership, User
from comptoir.accounts.roles import Role
from comptoir.accounts.selectors import find_people, tokens_of
from comptoir.accounts.services import grant_role, revoke_role
from comptoir.core.actor import Actor
from comptoir.core.errors import PermissionDenied
from comptoir.core.models import AuditEntry
from tests.factories import token_for

pytestmark = pytest.mark.django_db


def test_a_desk_administrator_grants_and_revokes_a_role_and_the_audit_log_says_so(world):
    admin = Actor.for_user(world.admin)
    membership = grant_role(actor=admin, user=world.requester, desk=world.desk, role=Role.AGENT)
    assert Actor.for_user(world.requester).roles_on(world.desk.pk) == {Role.AGENT}
    again = grant_role(actor=admin, user=world.requester, desk=world.desk, role=Role.AGENT)
    assert again.pk == membership.pk
    revoke_role(actor=admin, membership=membership)
    assert not Membership.objects.filter(user=world.requester, desk=world.desk).exists()
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor_label"))
    assert actions == [("role_granted", world.admin.email), ("role_revoked", world.admin.email)]


@pytest.mark.parametrize("persona", ["agent", "manager", "other_agent", "requester"])
def test_only_the_desks_administrator_changes_its_roles(world, persona):
    with pytest.raises(PermissionDenied):
        grant_role(
            actor=Actor.for_user(getattr(world, persona)),
            user=world.requester,
            desk=world.desk,
            role=Role.ADMIN,
        )
    assert not Membership.objects.filter(user=world.requester).exists()
    assert not AuditEntry.objects.exists()


def test_an_agent_finds_a_caller_by_name_email_or_phone(world):
    world.requester.phone = "+33 1 23 45 67 89"
    world.requester.display_name = "Camille Dupont"
    world.requester.save()
    User.objects.filter(pk=world.colleague.pk).update(is_active=False, display_name="Camille Gone")
    for query in ("dupont", "REQUESTER@acme", "45 67"):
        assert list(find_people(query)) == [world.requester], query
    assert list(find_people("camille")) == [world.requester]  # the inactive one is not offered


def test_a_person_sees_their_own_tokens(world):
    token, _ = token_for(world.agent, name="laptop")
    token_for(world.manager)
    assert list(tokens_of(world.agent)) == [token]
