from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.core.admin import AuditedAdmin
from comptoir.mail.imap import (
    CONNECTION_FIELDS,
    SECRET_FIELDS,
    configure_imap,
    imap_settings_problems,
)
from comptoir.mail.models import (
    BouncingAddress,
    InboundMessage,
    Mailbox,
    MailTemplate,
    OutboundMessage,
)
from comptoir.mail.services import MAILBOX_FIELDS, create_mailbox, update_mailbox
from comptoir.mail.templates import TemplateRefused, check_template


def _secret(label: str) -> forms.CharField:
    return forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False), label=label
    )


class MailboxForm(forms.ModelForm):
    """A mailbox as the admin edits it. What it does is the services' (``create_mailbox``,
    ``update_mailbox``, ``imap.configure_imap``, called by ``MailboxAdmin.save_model``); the
    form shows their refusals on the fields. Credentials are typed, never shown back: an empty
    field keeps the stored value."""

    imap_password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        label="IMAP password",
    )
    imap_oauth_token = _secret("IMAP OAuth2 access token")
    oauth_client_secret = _secret("OAuth2 client secret")
    oauth_refresh_token = _secret("OAuth2 refresh token")

    #: Who is editing (set by ``MailboxAdmin.get_form``).
    actor: Actor | None = None

    class Meta:
        model = Mailbox
        fields = (
            "desk",
            "address",
            "name",
            "is_active",
            "accept_unknown_senders",
            *CONNECTION_FIELDS,
        )

    def clean(self):
        data = super().clean() or {}
        box = self.instance  # still as stored: the form's values reach it after clean()
        for secret in SECRET_FIELDS:
            if not data.get(secret) and box.pk:
                data[secret] = getattr(box, secret)  # left empty: kept
        desk = data.get("desk") or (box.desk if box.desk_id else None)
        if self.actor is not None and desk is not None and not is_manager_on(self.actor, desk):
            self.add_error(None, "Only the desk's managers connect mailboxes.")
        for field, message in imap_settings_problems(box, self.connection_values()).items():
            self.add_error(field if field in self.fields else None, message)
        return data

    def connection_values(self) -> dict[str, Any]:
        """What ``configure_imap`` is given: the settings changed in the form (a secret left
        empty is the stored one), so that its rules apply as through the API (a port left as
        it was follows a change of security)."""
        return {
            name: self.cleaned_data[name]
            for name in CONNECTION_FIELDS
            if name in self.cleaned_data and name in self.changed_data
        }


@admin.register(Mailbox)
class MailboxAdmin(AuditedAdmin):
    """Saving goes through the services, which check, apply the rules and audit; a deletion is
    audited by ``AuditedAdmin``."""

    form = MailboxForm
    list_display = (
        "address",
        "desk",
        "is_active",
        "imap_host",
        "last_received_at",
        "last_polled_at",
        "last_error",
    )
    list_filter = ("desk", "is_active")
    search_fields = ("address", "name")
    readonly_fields = ("oauth_token_expires_at", "last_received_at", "last_polled_at", "last_error")
    actions = ["test_connection"]

    def get_readonly_fields(self, request, obj=None):
        # A mailbox keeps its desk and address (as through the API): connect another instead.
        fixed = ("desk", "address") if obj is not None else ()
        return (*fixed, *super().get_readonly_fields(request, obj))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": Actor.for_user(request.user)})

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        own = {
            name: form.cleaned_data[name] for name in MAILBOX_FIELDS if name in form.changed_data
        }
        with transaction.atomic():
            if change:
                box = Mailbox.objects.get(pk=obj.pk)
                if own:
                    box = update_mailbox(actor=actor, mailbox=box, **own)
            else:
                box = create_mailbox(
                    actor=actor,
                    desk=form.cleaned_data["desk"],
                    address=form.cleaned_data["address"],
                    **own,
                )
            box = configure_imap(actor=actor, mailbox=box, **form.connection_values())
        obj.pk = box.pk
        obj.refresh_from_db()

    @admin.action(description="Test the IMAP connection (takes no message)")
    def test_connection(self, request, queryset):
        from comptoir.core.errors import DomainError
        from comptoir.mail.imap import check_connection

        actor = Actor.for_user(request.user)
        for box in queryset.order_by("address"):
            try:
                check = check_connection(actor=actor, mailbox=box)
            except DomainError as exc:
                self.message_user(request, f"Mailbox {box}: {exc.message}", messages.WARNING)
                continue
            level = messages.SUCCESS if check.ok else messages.ERROR
            self.message_user(request, f"Mailbox {box}: {check.message}", level)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    """Received mail, the failed and ignored ones to look at, with why; their raw bytes stay
    in the spool."""

    list_display = (
        "id",
        "received_at",
        "mailbox",
        "sender",
        "subject",
        "status",
        "reason",
        "ticket",
    )
    list_filter = ("status", "mailbox", "source")
    search_fields = ("sender", "subject", "message_id", "key")
    readonly_fields = [f.name for f in InboundMessage._meta.fields]
    actions = ["retry_failed"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Process the selected failed messages again")
    def retry_failed(self, request, queryset):
        from comptoir.mail.services import retry

        done = [retry(m) for m in queryset.filter(status="failed")]
        ok = sum(m.status == "processed" for m in done)
        self.message_user(request, f"{len(done)} retried, {ok} processed.")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "kind", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("subject", "message_id", "key")
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(BouncingAddress)
class BouncingAddressAdmin(admin.ModelAdmin):
    list_display = ("email", "status", "bounces", "last_bounce_at")
    search_fields = ("email",)


class MailTemplateForm(forms.ModelForm):
    """Checked as the API checks it: a syntax error, or a tag, filter or value a mail template
    may not use, is shown on its field with its line."""

    class Meta:
        model = MailTemplate
        fields = ("desk", "kind", "locale", "subject", "body")
        widgets = {"subject": forms.TextInput(attrs={"size": 100})}

    def clean(self):
        data = super().clean() or {}
        if data.get("kind") and data.get("subject") is not None and data.get("body") is not None:
            try:
                check_template(data["kind"], data["subject"], data["body"])
            except TemplateRefused as exc:
                self.add_error(exc.details.get("field"), exc.message)
        return data


@admin.register(MailTemplate)
class MailTemplateAdmin(AuditedAdmin):
    """A desk's own words for its automatic mail; deleting one brings the built-in text back."""

    form = MailTemplateForm
    list_display = ("desk", "kind", "locale", "subject", "updated_at")
    list_filter = ("desk", "kind", "locale")
    search_fields = ("subject", "body")
