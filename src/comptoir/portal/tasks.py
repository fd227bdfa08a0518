"""Background jobs of the portal."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from huey.contrib.djhuey import db_task

from comptoir.mail.outbound import locale_of, queue_account_mail


def _request_key(kind: str, task, user_id: int) -> str:
    """The outbox key of one request's mail to one person: the job's id, so that a job run
    again writes nothing more (a job called directly gets a fresh key)."""
    request = getattr(task, "id", None) or uuid.uuid4().hex
    return f"{kind}:{request}:{user_id}"


class _OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset mail, in the person's language, written to the outbox instead of sent."""

    def __init__(self, *args: Any, task: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task = task  # the job that writes the mail: its id keys the outbox row

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        user = context["user"]
        with translation.override(locale_of(user)):
            subject = render_to_string(subject_template_name, context)
            body = render_to_string(email_template_name, context)
        queue_account_mail(
            kind="password_reset",
            key=_request_key("password-reset", self.task, user.pk),
            to=to_email,
            subject=subject,
            body=body,
        )


@db_task(retries=3, retry_delay=60, context=True)
def send_password_reset_task(email: str, task=None) -> None:
    """Write a reset link to the outbox for each active account with this address, if any.

    Asking twice sends a second link; both work until one is used.
    """
    form = _OutboxPasswordResetForm({"email": email}, task=task)
    if not form.is_valid():
        return
    base = urlsplit(settings.COMPTOIR_BASE_URL)
    form.save(
        domain_override=base.netloc,
        use_https=base.scheme == "https",
        subject_template_name="core/auth/password_reset_subject.txt",
        email_template_name="core/auth/password_reset_email.txt",
    )


@db_task(retries=3, retry_delay=60, context=True)
def send_signin_link_task(email: str, task=None) -> None:
    """Write a one-time sign-in link to the outbox if a requester may sign in by link.

    Nothing is written for an unknown address, an agent, or a person no desk serves by link.
    Asking twice sends a second link; the first used spends both.
    """
    from comptoir.accounts.models import User
    from comptoir.portal.signin_links import LINK_MINUTES, make_token, may_sign_in_by_link

    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or not may_sign_in_by_link(user):
        return
    link = settings.COMPTOIR_BASE_URL + reverse(
        "portal:signin_link", kwargs={"token": make_token(user)}
    )
    with translation.override(locale_of(user)):
        context = {"link": link, "minutes": LINK_MINUTES}
        subject = render_to_string("portal/auth/signin_link_subject.txt", context)
        body = render_to_string("portal/auth/signin_link_email.txt", context)
    queue_account_mail(
        kind="signin_link",
        key=_request_key("signin-link", task, user.pk),
        to=user.email,
        subject=subject,
        body=body,
    )
