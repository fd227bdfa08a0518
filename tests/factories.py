"""Factories for tests: people, organisations, desks with roles, tickets made through services."""

from __future__ import annotations

import factory
from django.utils.text import slugify

from comptoir.accounts.models import ApiToken, Membership, Organisation, Site, Team, User
from comptoir.accounts.roles import Role
from comptoir.accounts.services import create_api_token
from comptoir.core.actor import Actor, Channel
from comptoir.desks.models import Category, Desk

PASSWORD = "correct-horse-battery"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    time_zone = "Europe/Paris"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    time_zone = "Europe/Paris"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    display_name = factory.Sequence(lambda n: f"Person {n}")
    organisation = factory.SubFactory(OrganisationFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class DeskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Desk

    name = factory.Sequence(lambda n: f"Desk {n}")
    slug = factory.Sequence(lambda n: f"desk-{n}")
    prefix = factory.Sequence(lambda n: f"D{n}")
    time_zone = "Europe/Paris"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    desk = factory.SubFactory(DeskFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    desk = factory.SubFactory(DeskFactory)
    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


def grant(user: User, desk: Desk, *roles: str) -> User:
    for role in roles:
        Membership.objects.get_or_create(user=user, desk=desk, role=role)
    return user


def agent_on(desk: Desk, role: str = Role.AGENT, **kwargs) -> User:
    return grant(UserFactory(**kwargs), desk, role)


def actor(user: User, channel: Channel = Channel.WEB) -> Actor:
    return Actor.for_user(user, channel)


def token_for(user: User, **kwargs) -> tuple[ApiToken, str]:
    return create_api_token(
        actor=Actor.system(), user=user, name=kwargs.pop("name", "test"), **kwargs
    )


def make_ticket(*, desk: Desk, requester: User, by: User | None = None, **kwargs):
    from comptoir.tickets.services import create_ticket

    kwargs.setdefault("kind", "incident")
    kwargs.setdefault("title", "Printer on fire")
    return create_ticket(
        actor=Actor.for_user(by or requester), desk=desk, requester=requester, **kwargs
    )
