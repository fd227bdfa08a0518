"""The account commands an administrator runs by hand or from a script."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from comptoir.accounts.models import User

pytestmark = pytest.mark.django_db


def test_createadmin_from_a_script_makes_an_administrator_who_can_sign_in(client):
    call_command(
        "createadmin", email="Boss@Example.test", password="a-long-enough-pass", stdout=StringIO()
    )
    user = User.objects.get(email="boss@example.test")
    assert (user.is_superuser, user.is_staff) == (True, True)
    assert client.login(username="boss@example.test", password="a-long-enough-pass")


def test_createadmin_promotes_an_existing_person_and_resets_their_password(world):
    call_command(
        "createadmin", email=world.requester.email, password="another-long-pass", stdout=StringIO()
    )
    world.requester.refresh_from_db()
    assert world.requester.is_superuser
    assert world.requester.check_password("another-long-pass")
    assert User.objects.filter(email=world.requester.email).count() == 1


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", "a-long-enough-pass", "not a valid email"),
        ("boss@example.test", "short", "too short"),
        ("boss@example.test", "password", "too common"),
    ],
)
def test_createadmin_refuses_bad_input_and_creates_nobody(email, password, message):
    with pytest.raises(CommandError, match=message):
        call_command("createadmin", email=email, password=password, stdout=StringIO())
    assert not User.objects.filter(is_superuser=True).exists()


def test_createadmin_without_a_terminal_needs_its_arguments(monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO(""))
    with pytest.raises(CommandError, match="--email is required"):
        call_command("createadmin", stdout=StringIO())
