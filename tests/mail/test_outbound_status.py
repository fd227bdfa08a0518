"""Changes of status the requester hears about by mail, and those they do not.

Mail goes out through a real SMTP server (``aiosmtpd`` on a loopback port, as in
``test_smtp_delivery.py``), sent by ``deliver``, the function the worker runs.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from comptoir.core.actor import Actor, Channel
from comptoir.mail.delivery import deliver
from comptoir.mail.models import BouncingAddress, Mailbox, OutboundMessage
from comptoir.mail.services import receive
from comptoir.tickets import services as tickets
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")


@pytest.fixture
def ticket(world, box):
    return make_ticket(desk=world.desk, requester=world.requester, title="Printer on fire")


def agent(world) -> Actor:
    return Actor.for_user(world.agent)


def sent_kinds(ticket) -> list[str]:
    return list(
        OutboundMessage.objects.filter(ticket=ticket).order_by("id").values_list("kind", flat=True)
    )


def incoming(*, headers=None, subject="Printer on fire") -> bytes:
    m = EmailMessage()
    m["From"] = "Rachel Requester <requester@acme.test>"
    m["To"] = "it@acme.test"
    m["Subject"] = subject
    m["Date"] = format_datetime(timezone.now())
    m["Message-ID"] = make_msgid(domain="acme.test")
    for name, value in (headers or {}).items():
        m[name] = value
    m.set_content("The printer on the 3rd floor smokes.")
    return bytes(m)


def test_waiting_on_the_requester_tells_them_with_the_agents_question_in_one_mail(
    world, ticket, sink
):
    tickets.transition_ticket(
        actor=agent(world),
        ticket=ticket,
        action="wait_for_customer",
        comment="Which floor is the printer on?",
    )

    assert deliver() == 1
    [(recipients, _)] = sink.received
    assert recipients == ["requester@acme.test"]
    [mail] = sink.messages()
    assert mail["Subject"] == f"[{ticket.ref}] Waiting for your answer: Printer on fire"
    text = mail.get_content()
    assert "Which floor is the printer on?" in text  # the question, in the same mail
    assert "Reply to this mail" in text
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Loop"] == "comptoir"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Reply-To"] == f"it+{ticket.ref}@acme.test"
    assert mail["From"].addresses[0].addr_spec == "it@acme.test"
    assert sent_kinds(ticket) == ["waiting"]  # no second mail with the reply alone


def test_the_watchers_still_get_the_reply_that_came_with_a_change(world, ticket, sink):
    tickets.update_ticket(
        actor=agent(world), ticket=ticket, changes={"watchers": [world.colleague]}
    )
    tickets.transition_ticket(
        actor=agent(world), ticket=ticket, action="wait_for_customer", comment="Which floor?"
    )

    assert deliver() == 2
    assert sorted(r for recipients, _ in sink.received for r in recipients) == [
        "colleague@acme.test",
        "requester@acme.test",
    ]
    kinds = {row.to[0]: row.kind for row in OutboundMessage.objects.filter(ticket=ticket)}
    assert kinds == {"requester@acme.test": "waiting", "colleague@acme.test": "reply"}


def test_a_resolution_with_a_comment_is_one_mail(world, ticket, sink):
    tickets.transition_ticket(
        actor=agent(world),
        ticket=ticket,
        action="resolve",
        resolution="Replaced the fuser.",
        comment="It should print again; tell us if it does not.",
    )
    assert deliver() == 1
    [mail] = sink.messages()
    assert mail["Subject"] == f"[{ticket.ref}] Resolved: Printer on fire"
    text = mail.get_content()
    assert "Replaced the fuser." in text
    assert "tell us if it does not" in text


def test_a_reply_written_after_a_change_is_a_mail_of_its_own(world, ticket, sink):
    """Only the words that come with a change join its mail: a reply the agent sends next,
    however soon, is not hidden inside the status mail."""
    tickets.transition_ticket(actor=agent(world), ticket=ticket, action="wait_for_customer")
    tickets.add_comment(actor=agent(world), ticket=ticket, body="Which floor is it on?")

    assert deliver() == 2
    assert sent_kinds(ticket) == ["waiting", "reply"]
    waiting, reply = sink.messages()
    assert "Which floor is it on?" not in waiting.get_content()
    assert "Which floor is it on?" in reply.get_content()


def test_a_reopen_by_the_desk_is_told_with_its_reason(world, ticket, sink):
    tickets.resolve_ticket(actor=agent(world), ticket=ticket, resolution="Rebooted.")
    tickets.reopen_ticket(actor=agent(world), ticket=ticket, reason="It smokes again.")

    assert deliver() == 2
    reopened = sink.messages()[-1]
    assert reopened["Subject"] == f"[{ticket.ref}] Reopened: Printer on fire"
    assert "was reopened: It smokes again." in reopened.get_content()
    # It follows the conversation: under the resolution mail.
    resolution = OutboundMessage.objects.get(ticket=ticket, kind="resolved")
    assert reopened["In-Reply-To"] == f"<{resolution.message_id}>"


def test_a_requester_reopening_their_own_ticket_gets_no_mail_about_it(world, ticket, sink):
    tickets.resolve_ticket(actor=agent(world), ticket=ticket, resolution="Rebooted.")
    tickets.reopen_ticket(
        actor=Actor.for_user(world.requester, Channel.PORTAL), ticket=ticket, reason="No."
    )
    assert sent_kinds(ticket) == ["resolved"]


def test_a_cancellation_by_the_desk_is_told_with_its_reason(world, ticket, sink):
    tickets.cancel_ticket(actor=agent(world), ticket=ticket, reason="Opened twice.")
    assert deliver() == 1
    [mail] = sink.messages()
    assert mail["Subject"] == f"[{ticket.ref}] Cancelled: Printer on fire"
    assert "was cancelled: Opened twice." in mail.get_content()
    assert mail["Auto-Submitted"] == "auto-generated"


def test_a_requester_cancelling_their_own_ticket_gets_no_mail(world, ticket, sink):
    tickets.cancel_ticket(actor=Actor.for_user(world.requester), ticket=ticket)
    assert sent_kinds(ticket) == []


def test_a_rejected_change_is_told_to_its_requester(world, box, sink):
    change = make_ticket(
        desk=world.desk, requester=world.agent, kind="change", title="Upgrade the firewall"
    )
    tickets.transition_ticket(actor=agent(world), ticket=change, action="submit")
    tickets.transition_ticket(
        actor=Actor.for_user(world.change_manager),
        ticket=change,
        action="reject",
        reason="Not during the freeze.",
    )
    assert deliver() == 1
    [(recipients, _)] = sink.received
    assert recipients == ["agent@acme.test"]
    [mail] = sink.messages()
    assert mail["Subject"] == f"[{change.ref}] Rejected: Upgrade the firewall"
    assert "was rejected: Not during the freeze." in mail.get_content()


def test_a_merged_ticket_tells_its_requester_where_the_work_goes_on(world, ticket, sink):
    duplicate = make_ticket(
        desk=world.desk, requester=world.colleague, title="Smoke on the 3rd floor"
    )
    tickets.merge_tickets(actor=agent(world), source=duplicate, target=ticket)

    assert deliver() == 1
    [(recipients, _)] = sink.received
    assert recipients == ["colleague@acme.test"]
    [mail] = sink.messages()
    assert mail["Subject"] == (
        f"[{duplicate.ref}] Merged into {ticket.ref}: Smoke on the 3rd floor"
    )
    assert "merged into it, and the work goes on there" in mail.get_content()
    assert ticket.ref in mail.get_content()


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["start"], []),
        (["wait_for_vendor"], []),
        (["wait_for_vendor", "resume"], []),
        (["wait_for_customer", "resume"], ["waiting"]),
        (["wait_for_customer", "wait_for_vendor"], ["waiting"]),
    ],
)
def test_work_moving_inside_the_desk_sends_nothing(world, ticket, sink, actions, expected):
    for action in actions:
        tickets.transition_ticket(actor=agent(world), ticket=ticket, action=action)
    assert sent_kinds(ticket) == expected


def test_closing_a_resolved_ticket_sends_nothing_more(world, ticket, sink):
    tickets.resolve_ticket(actor=agent(world), ticket=ticket, resolution="Rebooted.")
    tickets.close_ticket(actor=agent(world), ticket=ticket)
    assert sent_kinds(ticket) == ["resolved"]


def test_a_change_is_told_in_the_requesters_language(world, ticket, sink):
    world.requester.locale = "fr"
    world.requester.save()
    tickets.transition_ticket(actor=agent(world), ticket=ticket, action="wait_for_customer")
    assert deliver() == 1
    [mail] = sink.messages()
    # (a non-ASCII subject is folded onto a second line, which leaves a space in front)
    assert (
        mail["Subject"].strip() == f"[{ticket.ref}] En attente de votre réponse : Printer on fire"
    )
    assert "nous avons besoin d'une réponse de votre part" in mail.get_content()


def test_a_requester_reply_by_mail_resumes_without_any_mail_back(world, box, sink):
    opened = receive(incoming(), mailbox=box).ticket
    tickets.transition_ticket(actor=agent(world), ticket=opened, action="wait_for_customer")
    ours = OutboundMessage.objects.get(ticket=opened, kind="waiting")
    answer = incoming(
        subject=f"Re: [{opened.ref}] Printer on fire",
        headers={"In-Reply-To": f"<{ours.message_id}>"},
    )
    assert receive(answer, mailbox=box).ticket == opened
    opened.refresh_from_db()
    assert opened.status == "in_progress"
    assert sent_kinds(opened) == ["acknowledgement", "waiting"]


def test_no_automatic_mail_answers_a_requester_whose_mail_was_automatic(world, box, sink):
    """A robot (here, a monitoring system's alert) opened the ticket: it is not told of the
    changes, so two systems cannot write to each other forever."""
    alert = receive(incoming(headers={"Auto-Submitted": "auto-generated"}), mailbox=box).ticket
    tickets.transition_ticket(actor=agent(world), ticket=alert, action="wait_for_customer")
    tickets.resolve_ticket(actor=agent(world), ticket=alert, resolution="Disk replaced.")
    assert sent_kinds(alert) == []  # no acknowledgement, no status mail
    # A person's reply is not automatic mail: it still goes.
    tickets.reopen_ticket(actor=agent(world), ticket=alert)
    tickets.add_comment(actor=agent(world), ticket=alert, body="Is it fixed on your side?")
    assert sent_kinds(alert) == ["reply"]


def test_status_mail_resumes_once_the_requester_writes_as_a_person(world, box, sink):
    alert = receive(incoming(headers={"Precedence": "bulk"}), mailbox=box).ticket
    receive(
        incoming(subject=f"Re: [{alert.ref}] Printer on fire"), mailbox=box
    )  # the same address, as a person this time
    tickets.resolve_ticket(actor=agent(world), ticket=alert, resolution="Done.")
    assert sent_kinds(alert) == ["resolved"]


def test_a_bouncing_requester_is_not_written_to(world, ticket, sink):
    BouncingAddress.objects.create(email="requester@acme.test", last_bounce_at=timezone.now())
    tickets.cancel_ticket(actor=agent(world), ticket=ticket, reason="Duplicate.")
    assert sent_kinds(ticket) == []
    assert deliver() == 0
    assert sink.received == []


def test_a_rolled_back_change_writes_no_mail(world, ticket, sink):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        tickets.cancel_ticket(actor=agent(world), ticket=ticket, reason="Duplicate.")
        raise RuntimeError("the request failed after the change")
    assert sent_kinds(ticket) == []
    ticket.refresh_from_db()
    assert ticket.status == "new"
