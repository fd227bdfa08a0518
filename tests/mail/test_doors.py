"""The doors of the mail channel: the MTA pipe (`comptoir mail ingest`) and the inbound API."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command
from django.test import Client

from comptoir.mail.models import InboundMessage, Mailbox
from comptoir.tickets.models import Ticket
from tests.factories import token_for
from tests.mail.test_pipeline import message

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _spool(settings, tmp_path):
    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test")


def ingest(monkeypatch, raw: bytes, *args: str) -> tuple[int, str]:
    class Stdin:
        buffer = io.BytesIO(raw)

    monkeypatch.setattr(sys, "stdin", Stdin)
    out = io.StringIO()
    try:
        call_command("mail", "ingest", *args, stdout=out, stderr=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_the_pipe_opens_a_ticket_and_says_which(world, box, monkeypatch):
    code, out = ingest(monkeypatch, message(), "--mailbox", "it@acme.test")
    assert code == 0
    ticket = Ticket.objects.get()
    assert out.startswith(f"processed {ticket.ref}")


def test_the_pipe_finds_the_mailbox_among_the_recipients(world, box, monkeypatch):
    code, _ = ingest(monkeypatch, message(to="Service desk <IT@acme.test>"))
    assert code == 0
    assert InboundMessage.objects.get().mailbox == box


def test_the_pipe_asks_the_mta_to_retry_when_it_cannot_store(
    world, box, monkeypatch, settings, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spool folder should be")
    settings.COMPTOIR_MAIL_SPOOL_DIR = blocker / "mail"
    code, out = ingest(monkeypatch, message(), "--mailbox", "it@acme.test")
    assert code == 75
    assert "Could not store" in out
    assert not InboundMessage.objects.exists()


def test_an_unknown_mailbox_is_refused_before_reading(world, monkeypatch):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No active mailbox"):
        ingest(monkeypatch, message(), "--mailbox", "nobody@acme.test")


def post_raw(user, raw: bytes, mailbox: str = "it@acme.test"):
    _, token = token_for(user)
    return Client().post(
        f"/api/v1/mail/inbound?mailbox={mailbox}",
        data=raw,
        content_type="message/rfc822",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_inbound_api_takes_a_raw_message(world, box):
    response = post_raw(world.manager, message())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "processed"
    assert body["ticket"] == Ticket.objects.get().ref


def test_the_inbound_api_is_for_the_desks_managers(world, box):
    response = post_raw(world.agent, message())
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_the_inbound_api_refuses_an_empty_body_and_an_unknown_mailbox(world, box):
    assert post_raw(world.manager, b"").status_code == 422
    assert post_raw(world.manager, message(), mailbox="nobody@acme.test").status_code == 404


def test_the_inbound_api_refuses_a_message_over_the_limit(world, box, settings):
    settings.COMPTOIR_MAIL_MAX_BYTES = 1000
    response = post_raw(world.manager, message(body="x" * 5000))
    assert response.status_code == 413
    assert not InboundMessage.objects.exists()


def test_failed_messages_are_listed_and_retried(world, box, api, monkeypatch):
    from comptoir.mail import services

    monkeypatch.setattr(services, "sort_out", lambda *a: 1 / 0)
    post_raw(world.manager, message())
    monkeypatch.undo()
    manager = api(world.manager)
    failed = manager.get("mail/messages", {"status": "failed"}).json()
    assert [m["status"] for m in failed] == ["failed"]
    assert "ZeroDivisionError" in failed[0]["reason"]
    retried = manager.post(f"mail/messages/{failed[0]['id']}/retry").json()
    assert retried["status"] == "processed"
    assert retried["ticket"] == Ticket.objects.get().ref
    assert api(world.agent).get("mail/messages").json() == []  # not a manager: sees none


def test_a_manager_connects_a_mailbox(world, api):
    manager = api(world.manager)
    made = manager.post("mail/mailboxes", {"desk": "it", "address": "Help@Acme.test"})
    assert made.status_code == 201
    assert made.json()["address"] == "help@acme.test"
    again = manager.post("mail/mailboxes", {"desk": "it", "address": "help@acme.test"})
    assert again.status_code == 422
    bad = manager.post("mail/mailboxes", {"desk": "it", "address": "not an address"})
    assert bad.status_code == 422
    assert (
        api(world.agent)
        .post("mail/mailboxes", {"desk": "it", "address": "x@acme.test"})
        .status_code
        == 403
    )


def test_mailbox_credentials_never_reach_the_audit_log(world, box):
    from comptoir.core.audit import snapshot

    box.imap_host = "imap.example.com"
    box.imap_password = "hunter2"  # noqa: S105 (a test value)
    box.imap_oauth_token = "ya29.secret"  # noqa: S105
    box.save()
    kept = snapshot(box)
    assert kept["imap_host"] == "imap.example.com"
    assert "imap_password" not in kept and "imap_oauth_token" not in kept
    assert "hunter2" not in str(kept) and "ya29.secret" not in str(kept)


def test_the_admin_keeps_a_password_left_empty(world, box, client):
    box.imap_host = "127.0.0.1"
    box.imap_security = "none"
    box.imap_password = "stored-secret"  # noqa: S105
    box.save()
    client.force_login(world.superuser)
    page = client.get(f"/admin/mail/mailbox/{box.pk}/change/")
    assert b"stored-secret" not in page.content  # never shown back
    saved = client.post(
        f"/admin/mail/mailbox/{box.pk}/change/",
        {
            "name": "IT",
            "is_active": "on",
            "accept_unknown_senders": "on",
            "imap_host": "127.0.0.1",
            "imap_port": 143,
            "imap_security": "none",
            "imap_username": "it",
            "imap_password": "",
            "imap_oauth_token": "",
            "imap_folder": "INBOX",
            "imap_after": "flag",
            "_save": "Save",
        },
    )
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    box.refresh_from_db()
    assert box.imap_password == "stored-secret"  # noqa: S105
