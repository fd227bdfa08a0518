"""``/api/v1/mail/mailboxes``: the IMAP and OAuth2 settings of a mailbox, set, shown (secrets as
set or not set only), validated and audited. Logging in with them is in ``test_imap.py``."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from comptoir.core.models import AuditEntry
from comptoir.mail.models import Mailbox

pytestmark = pytest.mark.django_db

SECRETS = {
    "imap_password": "Pa55 word with spaces ",
    "imap_oauth_token": "ya29.access-token",
    "oauth_client_secret": "client~secret.value",
    "oauth_refresh_token": "0.AVYA-refresh_token",
}

MICROSOFT = {
    "imap_host": "outlook.office365.com",
    "imap_username": "it@acme.test",
    "oauth_provider": "microsoft",
    "oauth_tenant": "acme.onmicrosoft.com",
    "oauth_client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
    "oauth_client_secret": SECRETS["oauth_client_secret"],
    "oauth_refresh_token": SECRETS["oauth_refresh_token"],
}


def create(api, user, **values):
    return api(user).post("mail/mailboxes", {"desk": "it", "address": "it@acme.test", **values})


def all_secrets_absent(text: str) -> bool:
    return not any(secret.strip() in text for secret in SECRETS.values())


def test_a_manager_connects_a_microsoft_365_mailbox_and_sees_its_settings(world, api):
    made = create(api, world.manager, **MICROSOFT)

    assert made.status_code == 201, made.content
    shown = made.json()
    public = {k: v for k, v in MICROSOFT.items() if k not in SECRETS}
    assert {k: shown[k] for k in public} == public
    assert shown["imap_port"] == 993
    assert shown["imap_security"] == "ssl"
    assert shown["imap_folder"] == "INBOX"
    assert shown["oauth_client_secret_set"] is True
    assert shown["oauth_refresh_token_set"] is True
    assert shown["imap_password_set"] is False
    assert shown["imap_oauth_token_set"] is False
    assert shown["oauth_token_expires_at"] is None
    assert all_secrets_absent(made.content.decode())
    box = Mailbox.objects.get()
    assert box.oauth_refresh_token == SECRETS["oauth_refresh_token"]
    assert box.oauth_client_secret == SECRETS["oauth_client_secret"]


def test_secrets_are_write_only_in_every_answer(world, api):
    made = create(
        api,
        world.manager,
        imap_host="imap.example.com",
        **{k: v for k, v in SECRETS.items() if not k.startswith("oauth_")},
    ).json()
    manager = api(world.manager)
    for answer in (
        manager.get("mail/mailboxes"),
        manager.get(f"mail/mailboxes/{made['id']}"),
        manager.patch(f"mail/mailboxes/{made['id']}", {"name": "IT desk"}),
    ):
        assert answer.status_code == 200
        assert all_secrets_absent(answer.content.decode())
    shown = manager.get(f"mail/mailboxes/{made['id']}").json()
    assert (shown["imap_password_set"], shown["imap_oauth_token_set"]) == (True, True)
    assert Mailbox.objects.get().imap_password == SECRETS["imap_password"]  # kept as typed


def test_a_secret_left_out_is_kept_and_an_empty_one_forgotten(world, api):
    box_id = create(api, world.manager, imap_host="imap.example.com", imap_password="first").json()[
        "id"
    ]
    manager = api(world.manager)
    kept = manager.patch(f"mail/mailboxes/{box_id}", {"imap_folder": "Support"}).json()
    assert kept["imap_password_set"] is True
    assert kept["imap_folder"] == "Support"
    kept = manager.patch(f"mail/mailboxes/{box_id}", {"imap_password": None}).json()
    assert kept["imap_password_set"] is True
    forgotten = manager.patch(f"mail/mailboxes/{box_id}", {"imap_password": ""}).json()
    assert forgotten["imap_password_set"] is False
    assert Mailbox.objects.get().imap_password == ""


def test_starttls_without_a_port_gets_143_and_a_chosen_port_is_kept(world, api):
    made = create(api, world.manager, imap_host="mail.acme.test", imap_security="starttls")
    assert made.json()["imap_port"] == 143
    box_id = made.json()["id"]
    back = api(world.manager).patch(f"mail/mailboxes/{box_id}", {"imap_security": "ssl"}).json()
    assert back["imap_port"] == 993
    custom = (
        api(world.manager)
        .patch(f"mail/mailboxes/{box_id}", {"imap_port": 1993, "imap_security": "starttls"})
        .json()
    )
    assert custom["imap_port"] == 1993
    kept = api(world.manager).patch(f"mail/mailboxes/{box_id}", {"imap_security": "ssl"}).json()
    assert kept["imap_port"] == 1993


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"imap_host": "imap.example.com:993"}, "imap_host"),
        ({"imap_host": "imaps://imap.example.com"}, "imap_host"),
        ({"imap_host": "imap example.com"}, "imap_host"),
        ({"imap_host": "-bad-.example.com"}, "imap_host"),
        ({"imap_host": "999.1.1.1"}, "imap_host"),
        ({"imap_host": "imap.example.com", "imap_port": 0}, "imap_port"),
        ({"imap_host": "imap.example.com", "imap_port": 65536}, "imap_port"),
        ({"imap_host": "imap.example.com", "imap_security": "none"}, "imap_security"),
        ({"imap_host": "10.0.0.8", "imap_security": "none"}, "imap_security"),
        ({"imap_host": "imap.example.com", "imap_security": "tls"}, "imap_security"),
        ({"imap_host": "imap.example.com", "imap_after": "archive"}, "imap_after"),
        (
            {"imap_host": "imap.example.com", "imap_folder": "INBOX\r\nA1 DELETE INBOX"},
            "imap_folder",
        ),
        ({"imap_host": "imap.example.com", "imap_folder": "  "}, "imap_folder"),
        ({"imap_host": "imap.example.com", "imap_username": "it\x00admin"}, "imap_username"),
        ({"imap_host": "imap.example.com", "imap_password": "pw\r\nA2 LOGOUT"}, "imap_password"),
        (
            {"imap_host": "imap.example.com", "imap_oauth_token": "tok\x01auth=x"},
            "imap_oauth_token",
        ),
        ({"imap_host": "imap.example.com", "imap_oauth_token": "two words"}, "imap_oauth_token"),
        ({**MICROSOFT, "oauth_provider": "yahoo"}, "oauth_provider"),
        ({**MICROSOFT, "oauth_tenant": "acme/../common"}, "oauth_tenant"),
        ({**MICROSOFT, "oauth_client_id": ""}, "oauth_client_id"),
        (
            {**MICROSOFT, "oauth_refresh_token": "", "oauth_client_secret": ""},
            "oauth_refresh_token",
        ),
        (
            {**MICROSOFT, "oauth_provider": "google", "oauth_refresh_token": ""},
            "oauth_refresh_token",
        ),
        (
            {**MICROSOFT, "oauth_provider": "other", "oauth_token_url": "http://idp.acme.test/t"},
            "oauth_token_url",
        ),
        ({**MICROSOFT, "oauth_provider": "other"}, "oauth_token_url"),
        ({**MICROSOFT, "oauth_scope": "IMAP\u00e9"}, "oauth_scope"),
    ],
)
def test_settings_that_cannot_work_are_refused_and_nothing_is_created(world, api, values, field):
    refused = create(api, world.manager, **values)

    assert refused.status_code == 422, refused.content
    body = refused.json()
    assert body["code"] == "validation_error"
    assert field in json.dumps(body["details"])
    assert not Mailbox.objects.exists()
    assert not AuditEntry.objects.filter(object_type="mail.mailbox").exists()


def test_a_refused_change_changes_nothing(world, api):
    box_id = create(api, world.manager, imap_host="imap.example.com", imap_password="pw").json()[
        "id"
    ]
    before = Mailbox.objects.get()
    refused = api(world.manager).patch(
        f"mail/mailboxes/{box_id}",
        {"name": "Renamed", "imap_host": "127.0.0.2", "imap_security": "none"},
    )
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        "An unencrypted connection is only allowed to 127.0.0.1 or localhost."
    )
    after = Mailbox.objects.get()
    assert (after.name, after.imap_host, after.imap_security) == (
        before.name,
        "imap.example.com",
        "ssl",
    )


def test_loopback_may_be_reached_without_tls(world, api):
    made = create(api, world.manager, imap_host="localhost", imap_security="none")
    assert made.status_code == 201, made.content
    assert made.json()["imap_port"] == 143


def test_changes_are_audited_without_their_secrets(world, api):
    box_id = create(api, world.manager, **MICROSOFT).json()["id"]
    api(world.manager).patch(
        f"mail/mailboxes/{box_id}",
        {"imap_folder": "Support", "oauth_refresh_token": "0.AVYA-new_refresh_token"},
    )

    entries = AuditEntry.objects.filter(object_type="mail.mailbox", object_id=str(box_id))
    assert entries.count() == 3  # created; its connection set; changed
    latest = entries.order_by("-id").first()
    assert latest.actor_label.startswith(world.manager.email)
    assert latest.before["imap_folder"] == "INBOX"
    assert latest.after["imap_folder"] == "Support"
    assert latest.after["credentials_changed"] == ["oauth_refresh_token"]
    everything = json.dumps([(e.before, e.after) for e in entries])
    assert "outlook.office365.com" in everything
    assert all_secrets_absent(everything)
    assert "0.AVYA-new_refresh_token" not in everything


def test_new_oauth2_settings_drop_the_stored_access_token(world, api):
    box_id = create(api, world.manager, **MICROSOFT).json()["id"]
    Mailbox.objects.filter(pk=box_id).update(
        imap_oauth_token="at-old", oauth_token_expires_at=timezone.now() + timedelta(hours=1)
    )
    manager = api(world.manager)

    renamed = manager.patch(f"mail/mailboxes/{box_id}", {"name": "IT"}).json()
    assert renamed["imap_oauth_token_set"] is True  # nothing about OAuth2 changed

    changed = manager.patch(f"mail/mailboxes/{box_id}", {"oauth_refresh_token": "rt-new"}).json()
    assert changed["imap_oauth_token_set"] is False
    assert changed["oauth_token_expires_at"] is None
    box = Mailbox.objects.get()
    assert (box.imap_oauth_token, box.oauth_refresh_token) == ("", "rt-new")


def test_a_token_typed_by_hand_has_no_known_expiry(world, api):
    box_id = create(api, world.manager, imap_host="imap.gmail.com").json()["id"]
    Mailbox.objects.filter(pk=box_id).update(oauth_token_expires_at=timezone.now())
    shown = (
        api(world.manager)
        .patch(f"mail/mailboxes/{box_id}", {"imap_oauth_token": " ya29.by-hand\n"})
        .json()
    )
    assert shown["imap_oauth_token_set"] is True
    assert shown["oauth_token_expires_at"] is None
    assert Mailbox.objects.get().imap_oauth_token == "ya29.by-hand"  # pasted with a newline


def test_switching_provider_forgets_the_other_providers_settings(world, api):
    box_id = create(api, world.manager, **MICROSOFT).json()["id"]
    shown = (
        api(world.manager)
        .patch(
            f"mail/mailboxes/{box_id}", {"oauth_provider": "google", "imap_host": "imap.gmail.com"}
        )
        .json()
    )
    assert (shown["oauth_provider"], shown["oauth_tenant"]) == ("google", "")


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("anonymous", 401),
        ("requester", 404),
        ("agent", 404),
        ("other_agent", 404),
        ("manager", 200),
        ("admin", 200),
        ("superuser", 200),
    ],
)
def test_only_the_desks_managers_read_and_change_a_mailbox(world, api, persona, status):
    box = Mailbox.objects.create(desk=world.desk, address="it@acme.test", imap_host="imap.a.test")
    user = None if persona == "anonymous" else getattr(world, persona)
    assert api(user).get(f"mail/mailboxes/{box.pk}").status_code == status
    changed = api(user).patch(f"mail/mailboxes/{box.pk}", {"imap_host": "imap.b.test"})
    assert changed.status_code == status
    expected = "imap.b.test" if status == 200 else "imap.a.test"
    assert Mailbox.objects.get().imap_host == expected
    if status != 200:
        assert not AuditEntry.objects.filter(object_type="mail.mailbox").exists()


def test_an_agent_cannot_create_a_mailbox_with_settings(world, api):
    refused = create(api, world.agent, **MICROSOFT)
    assert refused.status_code == 403
    assert not Mailbox.objects.exists()


def test_the_list_shows_the_same_settings_as_the_mailbox(world, api):
    box_id = create(api, world.manager, **MICROSOFT).json()["id"]
    manager = api(world.manager)
    assert manager.get("mail/mailboxes").json() == [manager.get(f"mail/mailboxes/{box_id}").json()]


# --- the admin ----------------------------------------------------------------------------------


ADMIN_FORM = {
    "name": "IT",
    "is_active": "on",
    "accept_unknown_senders": "on",
    "imap_port": 993,
    "imap_security": "ssl",
    "imap_folder": "INBOX",
    "imap_after": "flag",
}


def admin_save(client, box: Mailbox | None, **values):
    """Post the admin's mailbox form, as a person saving it in the browser does."""
    url = f"/admin/mail/mailbox/{box.pk}/change/" if box else "/admin/mail/mailbox/add/"
    return client.post(url, {**ADMIN_FORM, **values, "_save": "Save"})


def test_the_admin_never_shows_a_secret_and_keeps_those_left_empty(world, client):
    box = Mailbox.objects.create(
        desk=world.desk,
        address="it@acme.test",
        imap_host="outlook.office365.com",
        oauth_provider="microsoft",
        oauth_client_id="app",
        **SECRETS,
    )
    client.force_login(world.superuser)
    for url in ("/admin/mail/mailbox/", f"/admin/mail/mailbox/{box.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200
        assert all_secrets_absent(page.content.decode())

    microsoft = {
        "imap_host": "outlook.office365.com",
        "oauth_provider": "microsoft",
        "oauth_client_id": "app",
    }
    saved = admin_save(client, box, **microsoft, imap_folder="Support")
    assert saved.status_code == 302, saved.content.decode()[-3000:]
    box.refresh_from_db()
    assert box.imap_folder == "Support"
    assert {name: getattr(box, name) for name in SECRETS} == SECRETS

    saved = admin_save(client, box, **{**microsoft, "oauth_client_id": "another-app"})
    assert saved.status_code == 302
    box.refresh_from_db()
    assert box.imap_oauth_token == ""  # made for the other application: renewed at the next poll
    assert box.oauth_refresh_token == SECRETS["oauth_refresh_token"]
    # The changes went through the services: audited, the secrets named, never shown.
    entries = AuditEntry.objects.filter(object_type="mail.mailbox").order_by("id")
    assert entries.last().after["credentials_changed"] == ["imap_oauth_token"]
    assert entries.last().after["oauth_client_id"] == "another-app"
    assert all_secrets_absent(json.dumps([e.before for e in entries] + [e.after for e in entries]))


def test_the_admin_connects_a_mailbox_through_the_services(world, client):
    client.force_login(world.superuser)

    saved = admin_save(
        client,
        None,
        desk=world.desk.pk,
        address="Help@Acme.test",
        imap_host=" imap.acme.test ",
        imap_security="starttls",
        imap_password=SECRETS["imap_password"],
    )

    assert saved.status_code == 302, saved.content.decode()[-3000:]
    box = Mailbox.objects.get()
    # The services' rules: the address in lower case, the host trimmed, STARTTLS's port.
    assert (box.address, box.imap_host, box.imap_port) == ("help@acme.test", "imap.acme.test", 143)
    assert box.imap_password == SECRETS["imap_password"]
    actions = list(
        AuditEntry.objects.filter(object_type="mail.mailbox")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update"]


def test_the_admin_refuses_settings_that_cannot_work(world, client):
    client.force_login(world.superuser)

    refused = admin_save(
        client,
        None,
        desk=world.desk.pk,
        address="it@acme.test",
        imap_host="imap.example.com:993",
        oauth_provider="google",
    )

    assert refused.status_code == 200  # the form again, with the errors on their fields
    errors = refused.context["adminform"].form.errors
    assert "imap_host" in errors
    assert not Mailbox.objects.exists()


def test_the_admin_keeps_a_mailboxs_desk_and_address(world, client):
    box = Mailbox.objects.create(desk=world.desk, address="it@acme.test")
    client.force_login(world.superuser)

    saved = admin_save(client, box, desk=world.other_desk.pk, address="hr@acme.test")

    assert saved.status_code == 302
    box.refresh_from_db()
    assert (box.desk, box.address) == (world.desk, "it@acme.test")
