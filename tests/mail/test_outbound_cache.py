"""The desk's sender address and templates are kept a few seconds per process (ADR 12): a
change made here is used by the very next mail."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.mail.models import Mailbox, MailTemplate, OutboundMessage
from comptoir.tickets import services as tickets
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def wait_on(world, title: str) -> OutboundMessage:
    ticket = make_ticket(desk=world.desk, requester=world.requester, title=title)
    tickets.transition_ticket(
        actor=Actor.for_user(world.agent), ticket=ticket, action="wait_for_customer"
    )
    return OutboundMessage.objects.get(ticket=ticket)


def test_a_mailbox_given_a_new_address_sends_from_it_at_once(world):
    box = Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")
    assert wait_on(world, "First").from_address.endswith("<it@acme.test>")
    box.address = "helpdesk@acme.test"
    box.save()
    mail = wait_on(world, "Second")
    assert mail.from_address.endswith("<helpdesk@acme.test>")
    assert mail.reply_to.startswith("helpdesk+")


def test_a_template_written_or_removed_is_used_by_the_next_mail(world):
    assert "Waiting for your answer" in wait_on(world, "Before").subject
    template = MailTemplate.objects.create(
        desk=world.desk,
        kind="waiting",
        locale="en",
        subject="[{{ ref }}] Over to you: {{ title }}",
        body="Hello {{ name }},\n\nWe need a word from you.\n",
    )
    assert wait_on(world, "With").subject.endswith("Over to you: With")
    template.delete()
    assert "Waiting for your answer" in wait_on(world, "After").subject
