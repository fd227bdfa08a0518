"""Files through the API: multipart upload, limits, hostile names, and safe downloads."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Attachment, TicketEvent
from tests.api.helpers import attach, body_of, error, expect, multipart, stored_files, upload
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def ticket(world):
    return make_ticket(desk=world.desk, requester=world.requester)


def post_raw(client, path: str, files, fields=None):
    data, content_type = multipart(files, fields)
    return client.client.post(
        f"/api/v1/{path}", data=data, content_type=content_type, headers=client.headers
    )


def test_upload_several_files_at_once(world, api, ticket):
    response = api(world.agent).post(
        f"tickets/{ticket.ref}/attachments",
        {"file": [upload("a.txt", b"first"), upload("b.png", PNG, "image/png")], "public": "false"},
        format="multipart",
    )
    body = expect(response, 201)
    assert [(a["filename"], a["content_type"], a["size"], a["public"]) for a in body] == [
        ("a.txt", "text/plain", 5, False),
        ("b.png", "image/png", len(PNG), False),
    ]
    assert (
        body[0]["download_url"]
        == f"/api/v1/tickets/{ticket.ref}/attachments/{body[0]['id']}/download"
    )
    assert len(stored_files()) == 2
    assert TicketEvent.objects.filter(ticket=ticket, kind="attachment_added").count() == 2


def test_an_upload_is_public_unless_said_otherwise(world, api, ticket):
    body = expect(
        api(world.requester).post(
            f"tickets/{ticket.ref}/attachments", {"file": upload()}, format="multipart"
        ),
        201,
    )
    assert body[0]["public"] is True


def test_the_listing_shows_requesters_only_the_public_files(world, api, ticket):
    attach(ticket, world.requester, "public.txt", b"for all", public=True)
    attach(ticket, world.agent, "internal.txt", b"for staff", public=False)
    seen = {
        persona: [
            a["filename"]
            for a in expect(
                api(getattr(world, persona)).get(f"tickets/{ticket.ref}/attachments"), 200
            )
        ]
        for persona in ("requester", "colleague", "agent")
    }
    assert seen == {
        "requester": ["public.txt"],
        "colleague": ["public.txt"],
        "agent": ["public.txt", "internal.txt"],
    }


def test_a_request_without_a_file_is_refused(world, api, ticket, watch):
    with watch.unchanged():
        response = api(world.agent).post(
            f"tickets/{ticket.ref}/attachments", {"public": "true"}, format="multipart"
        )
    error(response, 422, "validation_error")


@pytest.mark.parametrize(
    "files", [[("big.bin", b"x" * 11)], [("small.txt", b"fine", "ok"), ("big.bin", b"x" * 11)]]
)
def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(
    world, api, ticket, watch, settings, files
):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 10
    uploads = [upload(name, content) for name, content, *_ in files]
    with watch.unchanged():
        response = api(world.agent).post(
            f"tickets/{ticket.ref}/attachments", {"file": uploads}, format="multipart"
        )
    body = error(response, 413, "attachment_too_large")
    assert body["details"] == {"limit_bytes": 10}
    assert Attachment.objects.count() == 0
    assert stored_files() == []


def test_a_file_at_the_limit_is_accepted(world, api, ticket, settings):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 10
    response = api(world.agent).post(
        f"tickets/{ticket.ref}/attachments",
        {"file": upload("ten.txt", b"x" * 10)},
        format="multipart",
    )
    assert expect(response, 201)[0]["size"] == 10


def test_an_empty_file_is_refused(world, api, ticket, watch):
    with watch.unchanged():
        response = api(world.agent).post(
            f"tickets/{ticket.ref}/attachments",
            {"file": upload("empty.txt", b"")},
            format="multipart",
        )
    assert error(response, 422, "attachment_empty")["details"] == {"filename": "empty.txt"}
    assert stored_files() == []


def test_a_closed_ticket_takes_no_new_files(world, api, ticket, watch):
    services.cancel_ticket(actor=Actor.for_user(world.requester), ticket=ticket, reason="Sorted")
    with watch.unchanged():
        response = api(world.agent).post(
            f"tickets/{ticket.ref}/attachments", {"file": upload()}, format="multipart"
        )
    error(response, 409, "invalid_transition")


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("C:\\Users\\eve\\evil.bat", "evil.bat"),
        ("/absolute/path/report.pdf", "report.pdf"),
        (
            "invoice\u202efdp.exe",
            "invoicefdp.exe",
        ),  # a right-to-left override hides the real extension
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("tab\there.txt", "tabhere.txt"),
        ('a<b>:"c|d?*.txt', "a_b___c_d__.txt"),
        ("  spaced   out  .txt ", "spaced out .txt"),
        ("...", "attachment"),
        ("Prévisions été.xlsx", "Prévisions été.xlsx"),
        ("x" * 300 + ".txt", "x" * 196 + ".txt"),
    ],
)
def test_a_hostile_file_name_is_only_shown_as_a_safe_display_name(world, api, ticket, sent, shown):
    client = api(world.agent)
    body = expect(
        post_raw(client, f"tickets/{ticket.ref}/attachments", [(sent, b"content", "text/plain")]),
        201,
    )
    assert body[0]["filename"] == shown
    attachment = Attachment.objects.get(pk=body[0]["id"])
    # On disk the file is named by us alone.
    assert attachment.file.name == f"attachments/{attachment.sha256[:2]}/{attachment.storage_key}"
    assert stored_files() == [attachment.file.name]
    download = client.get(body[0]["download_url"])
    assert download.status_code == 200
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "/" not in disposition and "\\" not in disposition
    assert all(ord(ch) >= 32 for ch in disposition)


def test_a_download_is_always_an_attachment_that_is_never_sniffed(world, api, ticket):
    attachment = attach(ticket, world.requester, "report.txt", b"quarterly numbers", public=True)
    response = api(world.requester).get(
        f"tickets/{ticket.ref}/attachments/{attachment.pk}/download"
    )
    assert response.status_code == 200
    assert body_of(response) == b"quarterly numbers"
    assert response["Content-Disposition"] == 'attachment; filename="report.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"].startswith("text/plain")
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("name", "declared", "content", "served"),
    [
        (
            "cat.png",
            "image/png",
            b"<html><script>alert(document.cookie)</script></html>",
            "text/plain",
        ),
        (
            "logo.svg",
            "image/svg+xml",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "text/plain",
        ),
        ("page.html", "text/html", PNG, "image/png"),
        ("data.bin", "text/plain", b"\x00\x01\x02binary", "application/octet-stream"),
    ],
)
def test_the_download_carries_the_type_the_bytes_show_not_the_one_declared(
    world, api, ticket, name, declared, content, served
):
    client = api(world.requester)
    response = client.post(
        f"tickets/{ticket.ref}/attachments",
        {"file": upload(name, content, declared)},
        format="multipart",
    )
    body = expect(response, 201)
    assert body[0]["content_type"] == served
    assert Attachment.objects.get(pk=body[0]["id"]).declared_content_type == declared
    download = client.get(body[0]["download_url"])
    assert download["Content-Type"].split(";")[0] == served
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert body_of(download) == content


def test_a_requester_cannot_download_an_internal_file(world, api, ticket, watch):
    internal = attach(ticket, world.agent, "quote.txt", b"supplier quote", public=False)
    with watch.unchanged():
        hidden = api(world.requester).get(
            f"tickets/{ticket.ref}/attachments/{internal.pk}/download"
        )
        missing = api(world.requester).get(f"tickets/{ticket.ref}/attachments/999999/download")
    assert error(hidden, 404, "not_found")["details"] == {"id": internal.pk}
    assert missing.json() == {**hidden.json(), "details": {"id": 999999}}
    assert (
        body_of(api(world.agent).get(f"tickets/{ticket.ref}/attachments/{internal.pk}/download"))
        == b"supplier quote"
    )


def test_a_file_of_another_ticket_is_not_found_through_this_one(world, api, ticket):
    other = make_ticket(desk=world.desk, requester=world.requester, title="Other")
    attachment = attach(other, world.requester, "other.txt", b"other", public=True)
    response = api(world.requester).get(
        f"tickets/{ticket.ref}/attachments/{attachment.pk}/download"
    )
    error(response, 404, "not_found")


def test_a_ticket_s_files_are_listed_since_one_seen_and_in_pages(world, api, ticket):
    agent = api(world.agent)
    for n in range(3):
        response = agent.post(
            f"tickets/{ticket.ref}/attachments",
            {"file": [upload(f"log-{n}.txt", b"line")], "public": "true"},
            format="multipart",
        )
        expect(response, 201)
    names = ["log-0.txt", "log-1.txt", "log-2.txt"]
    assert [
        f["filename"] for f in expect(agent.get(f"tickets/{ticket.ref}/attachments"), 200)
    ] == names
    page = expect(agent.get(f"tickets/{ticket.ref}/attachments?limit=2"), 200)
    rest = expect(agent.get(f"tickets/{ticket.ref}/attachments?after={page[-1]['id']}"), 200)
    assert [f["filename"] for f in page + rest] == names
    assert agent.get(f"tickets/{ticket.ref}/attachments?limit=-3").status_code == 422
