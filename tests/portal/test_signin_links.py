"""Sign-in links by mail: offered only where a desk allows them, sent by the worker, the same
answer for every address, a link that signs in once and expires, and a throttle."""

from __future__ import annotations

import re

import pytest
from django.core import mail, signing
from django.core.cache import cache
from django.test import Client

from comptoir.accounts.models import Role
from comptoir.core.web import _key
from comptoir.mail.delivery import deliver
from comptoir.portal import signin_links
from tests.factories import DeskFactory, UserFactory, grant

pytestmark = pytest.mark.django_db

ADDRESSES = ["rita@acme.test", "nobody@acme.test", "alex@acme.test", "flood@acme.test"]
IPS = ["10.7.0.1", "10.7.0.2", "10.7.0.3", "127.0.0.1"]


@pytest.fixture(autouse=True)
def _fresh_counters():
    keys = [_key("address", a) for a in ADDRESSES] + [_key("ip", ip) for ip in IPS]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def desk(db):
    return DeskFactory(name="IT", slug="it", prefix="IT", signin_links=True)


@pytest.fixture
def rita(desk):
    return UserFactory(email="rita@acme.test")


def ask(email: str, ip: str = "10.7.0.1"):
    """Ask for a link, and let the worker send what the outbox then holds."""
    answer = Client(REMOTE_ADDR=ip).post("/portal/sign-in-link/", {"email": email})
    deliver()
    return answer


def link_in(message) -> str:
    found = re.search(r"https?://[^/\s]+(/portal/sign-in-link/[^/\s]+/)", message.body)
    assert found is not None, message.body
    return found.group(1)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_answer_is_the_same_for_every_address_and_only_a_requester_gets_a_mail(desk, rita):
    grant(UserFactory(email="alex@acme.test"), desk, Role.AGENT)
    answers = [ask(a) for a in ("rita@acme.test", "nobody@acme.test", "alex@acme.test")]
    assert {r.status_code for r in answers} == {302}
    assert {r["Location"] for r in answers} == {"/portal/sign-in-link/sent/"}
    assert [m.to for m in mail.outbox] == [["rita@acme.test"]]  # no agent, no unknown
    sent = Client().get("/portal/sign-in-link/sent/").content.decode()
    assert "If this address may sign in by link" in sent


def test_the_link_signs_in_once(rita):
    ask("RITA@acme.test")
    url = link_in(mail.outbox[0])
    first = Client()
    page = first.get(url)  # opening it spends nothing (mail scanners open links)
    assert page.status_code == 200 and "Sign me in" in page.content.decode()
    answer = first.post(url)
    assert answer.status_code == 302 and answer["Location"] == "/start/"
    assert signed_in(first)
    assert first.get("/portal/").status_code == 200

    again = Client()
    reused = again.post(url)
    assert reused.status_code == 400
    assert "This link does not work" in reused.content.decode()
    assert not signed_in(again)
    assert again.get(url).status_code == 400


def test_an_expired_link_does_not_sign_in(rita, monkeypatch):
    real = signing.time.time
    with monkeypatch.context() as m:
        m.setattr(signing.time, "time", lambda: real() - (signin_links.LINK_MINUTES + 1) * 60)
        token = signin_links.make_token(rita)
    client = Client()
    assert client.post(f"/portal/sign-in-link/{token}/").status_code == 400
    assert not signed_in(client)


@pytest.mark.parametrize(
    "token", ["x", "garbage:garbage:garbage", "A" * 600], ids=["short", "forged", "huge"]
)
def test_a_forged_or_cut_link_does_not_sign_in(rita, token):
    client = Client()
    assert client.post(f"/portal/sign-in-link/{token}/").status_code == 400
    assert not signed_in(client)


def test_a_link_stops_working_when_the_desk_turns_links_off(desk, rita):
    ask("rita@acme.test")
    url = link_in(mail.outbox[0])
    desk.signin_links = False
    desk.save(update_fields=["signin_links"])
    client = Client()
    assert client.post(url).status_code == 400 and not signed_in(client)


def test_without_a_desk_allowing_it_nothing_is_sent_and_the_sign_in_page_does_not_offer_it(db):
    DeskFactory(name="IT", slug="it", prefix="IT")
    UserFactory(email="rita@acme.test")
    assert "Email me a sign-in link" not in Client().get("/login/").content.decode()
    assert ask("rita@acme.test").status_code == 302
    assert mail.outbox == []


def test_the_sign_in_page_offers_links_where_a_desk_allows_them(desk):
    assert "Email me a sign-in link" in Client().get("/login/").content.decode()


def test_asking_too_often_is_throttled_like_signing_in(rita, settings):
    settings.COMPTOIR_SIGNIN_FAILURES_PER_ADDRESS = 3
    for n in range(3):
        assert ask("rita@acme.test", ip=f"10.7.0.{n + 1}").status_code == 302
    blocked = ask("rita@acme.test", ip="10.7.0.3")
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.content.decode()
    assert len(mail.outbox) == 3
