"""Who writes, and who is copied: the people a message names, read in one statement.

Every message reads its sender and the people in Cc. That read is written out (not compiled by
the ORM at each message, which cost several times running it) and brings, with each person,
their organisation and whether they hold a role on any desk: a person who holds none (most
senders) needs no second read of their roles for the permission checks that follow.
"""

from __future__ import annotations

from functools import cache

from django.db import connection

from comptoir.accounts.models import Membership, Organisation, User
from comptoir.accounts.services import contact_for
from comptoir.core.actor import Actor, Channel
from comptoir.core.sql import column, columns, instance, table
from comptoir.mail.models import Mailbox
from comptoir.mail.parsing import Address, ParsedMessage


def untagged(address: str) -> str:
    """``support+IT-000042@example.com`` → ``support@example.com``."""
    local, at, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}" if at else address.lower()


@cache
def _people_sql(vendor: str, count: int) -> str:
    # Names from the models' metadata, quoted; the addresses are parameters.
    return (
        f"SELECT {columns(User, 'u')}, {columns(Organisation, 'o')}, "  # noqa: S608
        f"EXISTS (SELECT 1 FROM {table(Membership)} m "
        f"WHERE m.{column(Membership, 'user')} = u.{column(User, 'id')}) "
        f"FROM {table(User)} u "
        f"LEFT JOIN {table(Organisation)} o "
        f"ON o.{column(Organisation, 'id')} = u.{column(User, 'organisation')} "
        f"WHERE u.{column(User, 'is_active')} "
        f"AND u.{column(User, 'email')} IN ({', '.join(['%s'] * count)})"
    )


def known_people(emails: list[str]) -> dict[str, User]:
    """Active people by address (kept in lower case), with their organisation and
    ``holds_a_role`` (whether they hold a role on any desk): one statement."""
    wanted = sorted({e.lower() for e in emails if e and "@" in e})
    if not wanted:
        return {}
    user_count = len(User._meta.concrete_fields)
    organisation_count = len(Organisation._meta.concrete_fields)
    organisation = User._meta.get_field("organisation")
    found: dict[str, User] = {}
    with connection.cursor() as cursor:
        cursor.execute(_people_sql(connection.vendor, len(wanted)), wanted)
        rows = cursor.fetchall()
    for row in rows:
        user = instance(User, row[:user_count])
        org_values = row[user_count : user_count + organisation_count]
        organisation.set_cached_value(
            user, instance(Organisation, org_values) if org_values[0] is not None else None
        )
        user.holds_a_role = bool(row[-1])  # type: ignore[attr-defined]
        found[user.email.lower()] = user
    return found


def actor_for(person: User) -> Actor:
    """``person`` writing by mail. Their roles are known when they were read with
    ``known_people`` and hold none: the permission checks then read nothing more."""
    actor = Actor.for_user(person, Channel.EMAIL)
    if getattr(person, "holds_a_role", True) is False:
        actor._roles = {}
    return actor


def person_for(
    email: str, name: str, mailbox: Mailbox, known: dict[str, User], *, create: bool = True
) -> User | None:
    """The person writing from ``email``: known, or (if the mailbox takes strangers and
    ``create``) a new contact. An address stored in another case is found by the slower
    lookups."""
    from comptoir.accounts.selectors import resolve_person

    found = known.get(email.lower())
    if found is not None:
        return found
    if mailbox.accept_unknown_senders and create:
        return contact_for(email, name)
    return resolve_person(email)


def copied(parsed: ParsedMessage, ours: set[str]) -> list[Address]:
    """The addresses in Cc and To that are not ours, each once."""
    seen: set[str] = set()
    found = []
    for address in (*parsed.cc, *parsed.to):
        email = address.email
        if not email or "@" not in email or untagged(email) in ours or email in seen:
            continue
        seen.add(email)
        found.append(address)
    return found


def cc_watchers(
    parsed: ParsedMessage,
    mailbox: Mailbox,
    ours: set[str],
    known: dict[str, User],
    *,
    exclude: int,
) -> list[User]:
    """People in Cc (and other To addresses) become watchers: known people, or new contacts when
    the mailbox takes unknown senders. Our own addresses never do."""
    people: list[User] = []
    for address in copied(parsed, ours):
        person = person_for(address.email, address.name, mailbox, known)
        if person is None or not person.is_active:
            continue
        if person.pk != exclude and person not in people:
            people.append(person)
    return people[:20]
