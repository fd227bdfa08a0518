"""Password-reset and sign-in-link mails go through the outbox like every other mail: a mail
server that is down loses none of them, a job run again sends no second copy, they read in the
person's language, and a queue that is away is said, not hidden behind a promise of a mail.

Mail goes out through a real SMTP server (``aiosmtpd`` on a loopback port), sent by
``deliver``, the function the worker runs; the queue that is away is a real Redis client
pointed at a port nobody listens on.
"""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from huey import RedisHuey

from comptoir.core.web import _key
from comptoir.mail.delivery import deliver
from comptoir.mail.models import BouncingAddress, OutboundMessage, OutboundStatus
from comptoir.portal.tasks import send_password_reset_task, send_signin_link_task
from tests.factories import DeskFactory, UserFactory

pytestmark = pytest.mark.django_db

ADDRESSES = ["ada@acme.test", "rita@acme.test"]


@pytest.fixture(autouse=True)
def _fresh_counters():
    keys = [_key("address", a) for a in ADDRESSES] + [_key("ip", "127.0.0.1")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def ada(db):
    return UserFactory(email="ada@acme.test")


@pytest.fixture
def rita(db):
    DeskFactory(name="IT", slug="it", prefix="IT", signin_links=True)
    return UserFactory(email="rita@acme.test", locale="fr")


def test_a_reset_mail_waits_out_a_mail_server_that_is_down_and_is_then_sent_once(ada, sink):
    sink.stop()
    assert Client().post("/password-reset/", {"email": "ADA@acme.test"}).status_code == 302

    row = OutboundMessage.objects.get()
    assert (row.kind, row.to, row.ticket_id) == ("password_reset", ["ada@acme.test"], None)
    assert deliver() == 0  # refused: the mail waits for its next attempt
    row.refresh_from_db()
    assert row.status == OutboundStatus.PENDING and row.attempts == 1 and row.last_error

    sink.start()
    later = timezone.now() + timedelta(minutes=2)
    assert deliver(now=later) == 1
    assert deliver(now=later + timedelta(hours=3)) == 0  # never a second copy
    [message] = sink.messages()
    assert message["To"] == "ada@acme.test"
    assert message["Auto-Submitted"] == "auto-generated"  # no out-of-office answers it
    assert message["Message-ID"].strip("<>") == row.message_id
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", message.get_content())
    assert link is not None
    assert Client().get(link.group(1), follow=True).status_code == 200


def test_a_job_run_again_writes_no_second_mail(ada, rita):
    job = SimpleNamespace(id="4f0c-job")
    for _ in range(2):
        send_password_reset_task.call_local("ada@acme.test", task=job)
        send_signin_link_task.call_local("rita@acme.test", task=job)
    assert sorted(OutboundMessage.objects.values_list("kind", flat=True)) == [
        "password_reset",
        "signin_link",
    ]
    send_password_reset_task.call_local("ada@acme.test", task=SimpleNamespace(id="another"))
    assert OutboundMessage.objects.filter(kind="password_reset").count() == 2  # asked twice


def test_the_mails_read_in_the_persons_language(ada, rita, sink):
    ada.locale = "fr"
    ada.save(update_fields=["locale"])
    send_password_reset_task("ada@acme.test")
    send_signin_link_task("rita@acme.test")
    assert deliver() == 2
    subjects = sorted(m["Subject"] for m in sink.messages())
    assert subjects == [
        "Choisissez un nouveau mot de passe Comptoir",
        "Votre lien de connexion à Comptoir",
    ]


def test_a_bouncing_address_is_not_written_to_and_the_outbox_says_why(ada, sink):
    BouncingAddress.objects.create(email="ada@acme.test", bounces=3, last_bounce_at=timezone.now())
    send_password_reset_task("ada@acme.test")
    assert deliver() == 0
    row = OutboundMessage.objects.get()
    assert (row.status, row.last_error) == (OutboundStatus.SUPPRESSED, "The address bounces.")
    assert sink.received == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def queue_away(monkeypatch):
    """The job queue's Redis does not answer: jobs are queued for real, and fail to be."""
    from huey.contrib.djhuey import HUEY

    away = RedisHuey("comptoir-away", url=f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(HUEY, "immediate", False)
    monkeypatch.setattr(HUEY, "storage", away.storage)


@pytest.mark.parametrize(
    ("url", "email"),
    [("/password-reset/", "ada@acme.test"), ("/portal/sign-in-link/", "rita@acme.test")],
    ids=["password-reset", "sign-in-link"],
)
def test_when_the_queue_is_away_the_page_says_so_and_promises_no_mail(
    ada, rita, queue_away, url, email
):
    answer = Client().post(url, {"email": email})
    assert answer.status_code == 503
    assert "No mail can be sent right now" in answer.content.decode()
    assert not OutboundMessage.objects.exists()
