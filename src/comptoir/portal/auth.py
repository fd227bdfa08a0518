"""Signing in and out, and resetting a forgotten password, for requesters and agents alike.

Sign-in failures are counted per mail address and per IP (``core.web``); past the limit the
form stops checking passwords until the window has passed. A reset request answers the same
page whether or not the address is known, and the mail goes out from the worker, so neither
the answer nor its timing tells which addresses exist.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from comptoir.core.web import (
    clear_signin_failures,
    client_address,
    record_signin_failure,
    signin_blocked,
)


class SignInForm(AuthenticationForm):
    """Email and password, refused for a while after too many failures."""

    username = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("This email and password do not match an active account."),
        "throttled": _("Too many failed attempts. Wait a minute, then try again."),
    }

    def clean(self) -> dict[str, Any]:
        email = (self.cleaned_data.get("username") or "").strip().lower()
        self.cleaned_data["username"] = email
        ip = client_address(self.request) if self.request is not None else ""
        if email and signin_blocked(email, ip):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            record_signin_failure(email, ip)
            raise
        clear_signin_failures(email)
        return cleaned


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "core/auth/login.html"
    redirect_authenticated_user = True


class QueuedPasswordResetForm(PasswordResetForm):
    """Hands the address to the worker, which sends the mail if an active account has it."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        from comptoir.portal.tasks import send_password_reset_task

        send_password_reset_task(self.cleaned_data["email"])


class PasswordResetView(auth_views.PasswordResetView):
    form_class = QueuedPasswordResetForm
    template_name = "core/auth/password_reset.html"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "core/auth/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


def start(request: HttpRequest) -> HttpResponse:
    """Where a person lands after signing in: agents on their queues, others on their requests."""
    from comptoir.portal.shared import actor_for, is_agent

    if not request.user.is_authenticated:
        return redirect("login")
    if is_agent(actor_for(request)):
        return redirect("workspace:queue")
    return redirect("portal:tickets")
