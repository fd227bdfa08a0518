"""Background jobs of the portal."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
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
