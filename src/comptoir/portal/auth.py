"""Signing in and out, and resetting a forgotten password, for requesters and agents alike.

Sign-in failures are counted per mail address and per IP (``core.web``); past the limit the
form stops checking passwords until the window has passed. A reset request answers the same
page whether or not the address is known, and the worker looks the address up and writes the
mail to the outbox, so neither the answer nor its timing tells which addresses exist. When the
job cannot be queued, the page says so (503) rather than promise a mail.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from comptoir.core.web import (
    clear_signin_failures,
    client_address,
    record_signin_failure,
    signin_blocked,
)

logger = logging.getLogger(__name__)


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

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from comptoir.portal.signin_links import offered

        return {**super().get_context_data(**kwargs), "signin_links": offered()}


#: Said when the job that mails a link cannot be queued (Redis restarting…): nothing was sent.
QUEUE_AWAY = _("No mail can be sent right now. Try again in a minute.")


def _queued(task, email: str) -> bool:
    """Hand ``email`` to the job that mails its link; False, logged, when the queue is away."""
    try:
        task(email)
    except Exception:  # the queue's server is away: say so rather than claim a mail is coming
        logger.exception("Could not queue %s", getattr(task, "name", task))
        return False
    return True


class PasswordResetView(auth_views.PasswordResetView):
    """Hands the address to the worker, which writes the mail if an active account has it."""

    template_name = "core/auth/password_reset.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        from comptoir.portal.tasks import send_password_reset_task

        if not _queued(send_password_reset_task, form.cleaned_data["email"]):
            form.add_error(None, QUEUE_AWAY)
            return self.render_to_response(self.get_context_data(form=form), status=503)
        return redirect(self.get_success_url())


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


# --- sign-in links by mail -------------------------------------------------------------------


class SignInLinkForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


@require_http_methods(["GET", "POST"])
def ask_signin_link(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link: the same answer whether or not the address may have one."""
    from comptoir.portal.tasks import send_signin_link_task

    form = SignInLinkForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        ip = client_address(request)
        if signin_blocked(email, ip):
            form.add_error(None, SignInForm.error_messages["throttled"])
            status = 429
        else:
            record_signin_failure(email, ip)  # every request counts, so nobody floods a mailbox
            if _queued(send_signin_link_task, email):
                return redirect("portal:signin_link_sent")
            form.add_error(None, QUEUE_AWAY)
            status = 503
    elif request.method == "POST":
        status = 422
    return render(request, "portal/auth/signin_link_ask.html", {"form": form}, status=status)


@require_GET
def signin_link_sent(request: HttpRequest) -> HttpResponse:
    from comptoir.portal.signin_links import LINK_MINUTES

    return render(request, "portal/auth/signin_link_sent.html", {"minutes": LINK_MINUTES})


@require_http_methods(["GET", "POST"])
def signin_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the mail: a button signs in (a GET spends nothing, so mail scanners that
    open links do not use it up)."""
    from comptoir.portal.signin_links import check_token, use_token

    ip = client_address(request)
    if request.method == "GET":
        if check_token(token) is None:
            return render(request, "portal/auth/signin_link_invalid.html", status=400)
        return render(request, "portal/auth/signin_link_use.html")
    user = None if signin_blocked("", ip) else use_token(token)
    if user is None:
        record_signin_failure("", ip)
        return render(request, "portal/auth/signin_link_invalid.html", status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("start")
