"""Background jobs of the portal."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from huey.contrib.djhuey import db_task


@db_task(retries=3, retry_delay=60)
def send_password_reset_task(email: str) -> None:
    """Mail a reset link to the active account with this address, if there is one.

    Running it twice sends a second link; both work until one is used.
    """
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    base = urlsplit(settings.COMPTOIR_BASE_URL)
    form.save(
        domain_override=base.netloc,
        use_https=base.scheme == "https",
        subject_template_name="core/auth/password_reset_subject.txt",
        email_template_name="core/auth/password_reset_email.txt",
        from_email=settings.DEFAULT_FROM_EMAIL,
    )


@db_task(retries=3, retry_delay=60)
def send_signin_link_task(email: str) -> None:
    """Mail a one-time sign-in link to this address if a requester may sign in by link.

    Nothing is sent for an unknown address, an agent, or a person no desk serves by link.
    Running it twice sends a second link; the first used spends both.
    """
    from comptoir.accounts.models import User
    from comptoir.portal.signin_links import LINK_MINUTES, make_token, may_sign_in_by_link

    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or not may_sign_in_by_link(user):
        return
    link = settings.COMPTOIR_BASE_URL + reverse(
        "portal:signin_link", kwargs={"token": make_token(user)}
    )
    with translation.override(getattr(user, "locale", None) or settings.LANGUAGE_CODE):
        context = {"link": link, "minutes": LINK_MINUTES}
        subject = render_to_string("portal/auth/signin_link_subject.txt", context).strip()
        body = render_to_string("portal/auth/signin_link_email.txt", context)
    send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [user.email])
