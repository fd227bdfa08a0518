"""A desk's own mail templates: written through the API and the admin, checked when saved,
rendered safely, used for that desk's mail in the recipient's language, and audited."""

from __future__ import annotations

import pytest
from django.test import Client

from comptoir.core.actor import Actor
from comptoir.core.models import AuditEntry
from comptoir.mail.delivery import deliver
from comptoir.mail.models import Mailbox, MailTemplate, OutboundMessage
from comptoir.tickets import services as tickets
from tests.api.helpers import PERSONAS, person
from tests.factories import PASSWORD, make_ticket

pytestmark = pytest.mark.django_db

WAITING_FR = {
    "subject": "[{{ ref }}] À vous de jouer : {{ title }}",
    "body": "Bonjour {{ name }},\n\n{{ message|default:'Une question vous attend.' }}\n\n"
    "{% if link %}Le ticket : {{ ref }}{% endif %}\n— L'équipe {{ desk|upper }}\n",
}


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")


def create(api, user, **values):
    payload = {"desk": "it", "kind": "waiting", "locale": "fr", **WAITING_FR, **values}
    return api(user).post("mail/templates", payload)


def delete(api, user, template_id: int):
    return api(user)._call("delete", f"mail/templates/{template_id}")


# --- used for the desk's mail -----------------------------------------------------------------


def test_a_desks_template_writes_its_mail_in_the_recipients_language(world, box, api, sink):
    assert create(api, world.manager).status_code == 201
    world.requester.locale = "fr"
    world.requester.save()
    french = make_ticket(desk=world.desk, requester=world.requester, title="Écran noir")
    english = make_ticket(desk=world.desk, requester=world.colleague, title="Black screen")
    agent = Actor.for_user(world.agent)
    tickets.transition_ticket(
        actor=agent, ticket=french, action="wait_for_customer", comment="Quel modèle ?"
    )
    tickets.transition_ticket(actor=agent, ticket=english, action="wait_for_customer")

    assert deliver() == 2
    mails = {to[0]: mail for (to, _), mail in zip(sink.received, sink.messages(), strict=True)}
    ours = mails["requester@acme.test"]
    assert ours["Subject"].strip() == f"[{french.ref}] À vous de jouer : Écran noir"
    assert ours.get_content().replace("\r\n", "\n") == (
        f"Bonjour {world.requester.name},\n\nQuel modèle ?\n\n"
        f"Le ticket : {french.ref}\n— L'équipe IT\n"
    )
    # The colleague reads English: the desk has no English template, the built-in text is used.
    theirs = mails["colleague@acme.test"]
    assert theirs["Subject"] == f"[{english.ref}] Waiting for your answer: Black screen"


def test_another_desks_mail_keeps_the_built_in_text(world, api):
    assert create(api, world.manager).status_code == 201
    Mailbox.objects.create(desk=world.other_desk, address="hr@acme.test")
    world.requester.locale = "fr"
    world.requester.save()
    hr = make_ticket(desk=world.other_desk, requester=world.requester, title="Congés")
    tickets.transition_ticket(
        actor=Actor.for_user(world.other_agent), ticket=hr, action="wait_for_customer"
    )
    mail = OutboundMessage.objects.get(ticket=hr)
    assert mail.subject == f"[{hr.ref}] En attente de votre réponse : Congés"


def test_deleting_a_template_brings_the_built_in_text_back(world, box, api):
    made = create(api, world.manager).json()
    assert delete(api, world.manager, made["id"]).status_code == 204
    assert not MailTemplate.objects.exists()
    world.requester.locale = "fr"
    world.requester.save()
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Écran")
    tickets.transition_ticket(
        actor=Actor.for_user(world.agent), ticket=ticket, action="wait_for_customer"
    )
    assert "En attente de votre réponse" in OutboundMessage.objects.get(ticket=ticket).subject


def test_a_value_with_line_breaks_cannot_make_a_second_header(world, box, api, sink):
    assert (
        create(
            api,
            world.manager,
            locale="en",
            subject="{{ message }} [{{ ref }}]",
            body="Bcc: thief@evil.test\n\n{{ message }}",
        ).status_code
        == 201
    )
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
    tickets.transition_ticket(
        actor=Actor.for_user(world.agent),
        ticket=ticket,
        action="wait_for_customer",
        comment="Hi\r\nBcc: thief@evil.test\r\nX-Evil: 1",
    )
    assert deliver() == 1
    [(recipients, raw)] = sink.received
    assert recipients == ["requester@acme.test"]  # nobody else on the envelope
    [mail] = sink.messages()
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail["Subject"] == f"Hi Bcc: thief@evil.test X-Evil: 1 [{ticket.ref}]"
    # The body's own "Bcc:" line is words in the body, after the headers.
    head, _, _ = raw.partition(b"\r\n\r\n")
    assert b"thief" not in head.replace(b"Subject: Hi Bcc: thief@evil.test", b"")


def test_a_stored_template_that_fails_gives_way_to_the_built_in_text(world, box):
    """Written behind the checks' back (the database by hand): the mail still goes."""
    MailTemplate.objects.create(
        desk=world.desk, kind="cancelled", locale="en", subject="{{ ref", body="{% include 'x' %}"
    )
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
    tickets.cancel_ticket(actor=Actor.for_user(world.agent), ticket=ticket, reason="Duplicate.")
    mail = OutboundMessage.objects.get(ticket=ticket)
    assert mail.subject == f"[{ticket.ref}] Cancelled: Printer"
    assert "was cancelled: Duplicate." in mail.body


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("acknowledgement", "mail"),
        ("reply", "reply"),
        ("waiting", "wait_for_customer"),
        ("resolved", "resolve"),
        ("cancelled", "cancel"),
    ],
)
def test_every_kind_comes_from_the_desks_address(world, box, api, kind, make, settings, tmp_path):
    """The desk's mailbox is the From of every mail, whichever kind, custom or built-in."""
    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"
    create(api, world.manager, kind=kind, locale="en", subject="[{{ ref }}] ours", body="ours")
    agent = Actor.for_user(world.agent)
    if make == "mail":
        from comptoir.mail.services import receive
        from tests.mail.test_outbound_status import incoming

        ticket = receive(incoming(), mailbox=box).ticket
    else:
        ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
        if make == "reply":
            tickets.add_comment(actor=agent, ticket=ticket, body="Looking.")
        else:
            tickets.transition_ticket(
                actor=agent, ticket=ticket, action=make, resolution="Done.", reason="Dup."
            )
    mail = OutboundMessage.objects.get(ticket=ticket, kind=kind)
    assert mail.subject == f"[{ticket.ref}] ours"
    assert mail.body == "ours"
    assert mail.from_address == "IT <it@acme.test>"
    assert mail.reply_to == f"it+{ticket.ref}@acme.test"


def test_without_a_mailbox_the_desks_own_address_is_the_sender(world):
    world.desk.email = "support@acme.test"
    world.desk.save()
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
    tickets.cancel_ticket(actor=Actor.for_user(world.agent), ticket=ticket, reason="Dup.")
    mail = OutboundMessage.objects.get(ticket=ticket)
    assert mail.from_address.endswith("<support@acme.test>")
    assert mail.reply_to == f"support+{ticket.ref}@acme.test"


# --- written through the API ------------------------------------------------------------------

CREATE = {
    "anonymous": 401,
    "requester": 403,
    "colleague": 403,
    "outsider": 403,
    "other_agent": 403,
    "agent": 403,
    "manager": 201,
    "change_manager": 403,
    "admin": 201,
    "superuser": 201,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_desks_managers_and_admins_write_its_templates(world, api, persona):
    response = create(api, person(world, persona))
    assert response.status_code == CREATE[persona], response.content
    if response.status_code == 201:
        made = MailTemplate.objects.get()
        assert (made.desk, made.kind, made.locale) == (world.desk, "waiting", "fr")
        entry = AuditEntry.objects.get(object_type="mail.mailtemplate", action="create")
        assert entry.actor_user == person(world, persona)
        assert entry.after["subject"] == WAITING_FR["subject"]
    else:
        assert not MailTemplate.objects.exists()
        assert not AuditEntry.objects.filter(object_type="mail.mailtemplate").exists()


def test_a_manager_lists_and_changes_only_their_desks_templates(world, api):
    ours = create(api, world.manager).json()
    theirs = MailTemplate.objects.create(
        desk=world.other_desk, kind="waiting", locale="fr", subject="x", body="y"
    )
    manager = api(world.manager)
    listed = manager.get("mail/templates").json()
    assert [t["id"] for t in listed] == [ours["id"]]
    assert listed[0]["desk"] == "it"
    assert manager.get(f"mail/templates/{theirs.pk}").status_code == 404
    refused = manager.patch(f"mail/templates/{theirs.pk}", {"body": "mine now"})
    assert refused.status_code == 404
    assert delete(api, world.manager, theirs.pk).status_code == 404
    theirs.refresh_from_db()
    assert theirs.body == "y"
    assert api(world.agent).get("mail/templates").json() == []
    everything = api(world.superuser).get("mail/templates").json()
    assert {t["id"] for t in everything} == {ours["id"], theirs.pk}


def test_a_change_is_audited_with_before_and_after(world, api):
    made = create(api, world.manager).json()
    changed = api(world.admin).patch(f"mail/templates/{made['id']}", {"body": "Merci."})
    assert changed.status_code == 200, changed.content
    assert changed.json()["body"] == "Merci."
    assert changed.json()["subject"] == WAITING_FR["subject"]  # kept
    entry = AuditEntry.objects.get(object_type="mail.mailtemplate", action="update")
    assert entry.actor_user == world.admin
    assert entry.before == {"body": WAITING_FR["body"]}
    assert entry.after == {"body": "Merci."}

    assert delete(api, world.admin, made["id"]).status_code == 204
    gone = AuditEntry.objects.get(object_type="mail.mailtemplate", action="delete")
    assert gone.before["body"] == "Merci."


def test_a_second_template_for_the_same_mail_is_refused(world, api):
    first = create(api, world.manager).json()
    again = create(api, world.admin, body="Autre")
    assert again.status_code == 422
    assert again.json()["code"] == "validation_error"
    assert again.json()["details"] == {"field": "kind", "id": first["id"]}
    assert MailTemplate.objects.get().body == WAITING_FR["body"]


@pytest.mark.parametrize(
    ("values", "field", "line", "words"),
    [
        ({"body": "Hello\n{% include 'secrets.txt' %}"}, "body", 2, "{% include %}"),
        ({"body": "{% load humanize %}{{ ref }}"}, "body", 1, "{% load %}"),
        ({"body": "a\nb\n{% debug %}"}, "body", 3, "{% debug %}"),
        ({"body": "{% for c in title %}{{ c }}{% endfor %}"}, "body", 1, "{% for %}"),
        ({"body": "Hello\n\n{% if ref %}open"}, "body", 3, "endif"),
        ({"body": "{{ title.upper }}"}, "body", 1, "“title.upper” is not a value"),
        ({"body": "{{ requester.password }}"}, "body", 1, "“requester.password”"),
        ({"body": "x\n{{ tilte }}"}, "body", 2, "“tilte” is not a value"),
        ({"body": "{{ ref|default:secret }}"}, "body", 1, "“secret” is not a value"),
        ({"body": "{% if message == secret %}x{% endif %}"}, "body", 1, "“secret”"),
        ({"body": "{{ title|center:'999999999' }}"}, "body", 1, "Invalid filter: 'center'"),
        ({"body": "{{ title|wordwrap:'x' }}"}, "body", None, "cannot be rendered"),
        ({"subject": "Hello\r\nBcc: thief@evil.test"}, "subject", None, "one line"),
        ({"subject": "{{ title }} [{{ ref }"}, "subject", 1, "“{{” is not closed"),
        ({"subject": "[{{ ref }] {{ title }}"}, "subject", 1, "Could not parse"),
        ({"body": "Hello\n\n{% if message %}\n{{ message }\n{% endif %}"}, "body", 4, "“{{”"),
        ({"subject": "x" * 301}, "subject", None, "at most 300"),
        ({"body": "x" * 20_001}, "body", None, "at most 20000"),
        ({"body": "   "}, "body", None, "empty"),
        ({"body": "{% if ref %}" * 11 + "x" + "{% endif %}" * 11}, "body", 1, "nested 10 deep"),
        ({"body": "{{ ref }}" * 201}, "body", 1, "at most 200 values"),
    ],
)
def test_a_template_that_cannot_be_used_is_refused_with_its_line(
    world, api, values, field, line, words
):
    response = create(api, world.manager, **values)
    assert response.status_code == 422, response.content
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == field
    assert error["details"].get("line") == line
    assert words in error["message"]
    if line:
        assert f"Line {line}" in error["message"]
    assert not MailTemplate.objects.exists()
    assert not AuditEntry.objects.filter(object_type="mail.mailtemplate").exists()


def test_a_bad_change_keeps_the_template_as_it_was(world, api):
    made = create(api, world.manager).json()
    refused = api(world.manager).patch(
        f"mail/templates/{made['id']}", {"body": "{% include 'x' %}"}
    )
    assert refused.status_code == 422
    assert MailTemplate.objects.get().body == WAITING_FR["body"]
    assert not AuditEntry.objects.filter(action="update").exists()


def test_unknown_kinds_and_languages_are_refused(world, api):
    for values, field in (({"kind": "nope"}, "kind"), ({"locale": "de"}, "locale")):
        response = create(api, world.manager, **values)
        assert response.status_code == 422
        assert response.json()["details"]["field"] == field
    assert not MailTemplate.objects.exists()


# --- preview ------------------------------------------------------------------------------------


def test_a_preview_renders_the_text_given_with_sample_values(world, api):
    response = api(world.manager).post(
        "mail/templates/preview", {"desk": "it", "kind": "waiting", "locale": "fr", **WAITING_FR}
    )
    assert response.status_code == 200, response.content
    preview = response.json()
    assert preview["subject"] == "[IT-000042] À vous de jouer : L'imprimante du 3e étage fume"
    assert "Pourriez-vous nous envoyer une photo" in preview["body"]
    assert preview["body"].endswith("— L'équipe IT\n")  # the desk's own name
    assert not MailTemplate.objects.exists()  # a preview saves nothing


def test_a_preview_without_text_shows_the_desks_template_else_the_built_in_one(world, api):
    manager = api(world.manager)
    ask = {"desk": "it", "kind": "resolved", "locale": "en"}
    built_in = manager.post("mail/templates/preview", ask).json()
    assert built_in["subject"] == "[IT-000042] Resolved: The printer on the 3rd floor smokes"
    assert "The fuser was replaced" in built_in["body"]
    create(api, world.manager, kind="resolved", locale="en", subject="Done: {{ ref }}")
    assert manager.post("mail/templates/preview", ask).json()["subject"] == "Done: IT-000042"


def test_a_preview_of_a_broken_template_says_where(world, api):
    response = api(world.manager).post(
        "mail/templates/preview",
        {"desk": "it", "kind": "reply", "locale": "en", "body": "ok\n{{ message|nope }}"},
    )
    assert response.status_code == 422
    assert response.json()["details"] == {"field": "body", "line": 2}


def test_a_preview_is_for_the_desks_managers(world, api):
    response = api(world.agent).post(
        "mail/templates/preview", {"desk": "it", "kind": "reply", "locale": "en"}
    )
    assert response.status_code == 403


def test_the_kinds_list_their_values_and_built_in_texts(world, api):
    kinds = {k["kind"]: k for k in api(world.manager).get("mail/templates/kinds").json()}
    assert set(kinds) == {
        "acknowledgement",
        "reply",
        "waiting",
        "reopened",
        "cancelled",
        "rejected",
        "merged",
        "resolved",
        "notification",
    }
    assert {"ref", "title", "desk", "name", "link", "reason"} <= set(
        kinds["cancelled"]["variables"]
    )
    assert kinds["merged"]["defaults"]["fr"]["subject"].startswith("[{{ ref }}] Fusionné")


# --- the admin ----------------------------------------------------------------------------------


def admin_client(world) -> Client:
    client = Client()
    assert client.login(username=world.superuser.email, password=PASSWORD)
    return client


def test_the_admin_refuses_a_broken_template_on_its_field(world):
    client = admin_client(world)
    response = client.post(
        "/admin/mail/mailtemplate/add/",
        {
            "desk": world.desk.pk,
            "kind": "reply",
            "locale": "en",
            "subject": "Re: {{ ref }}",
            "body": "Hi\n{% include 'x' %}",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Line 2: the tag {% include %} is not available" in response.content.decode()
    assert not MailTemplate.objects.exists()


def test_the_admin_saves_a_good_template_and_audits_it(world):
    client = admin_client(world)
    response = client.post(
        "/admin/mail/mailtemplate/add/",
        {
            "desk": world.desk.pk,
            "kind": "reply",
            "locale": "en",
            "subject": "Re: [{{ ref }}] {{ title }}",
            "body": "{{ message }}\n\n{{ author }} for {{ desk }}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = MailTemplate.objects.get()
    assert made.kind == "reply"
    assert AuditEntry.objects.filter(
        object_type="mail.mailtemplate", action="admin_created", object_id=str(made.pk)
    ).exists()
