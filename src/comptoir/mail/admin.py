from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from comptoir.core.actor import Actor
from comptoir.core.admin import AuditedAdmin
from comptoir.mail.imap import CONNECTION_FIELDS, RENEWAL_FIELDS, SECRET_FIELDS
from comptoir.mail.models import (
    BouncingAddress,
    InboundMessage,
    Mailbox,
    MailTemplate,
    OutboundMessage,
)
from comptoir.mail.templates import TemplateRefused, check_template


def _secret(label: str) -> forms.CharField:
    return forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False), label=label
    )


class MailboxForm(forms.ModelForm):
    """Credentials are typed, never shown back: an empty field keeps the stored value."""

    imap_password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        label="IMAP password",
    )
    imap_oauth_token = _secret("IMAP OAuth2 access token")
    oauth_client_secret = _secret("OAuth2 client secret")
    oauth_refresh_token = _secret("OAuth2 refresh token")

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
        if data.get("imap_oauth_token"):
            box.oauth_token_expires_at = None  # typed by hand: used until the server refuses it
        for secret in SECRET_FIELDS:
            if not data.get(secret) and box.pk:
                data[secret] = getattr(box, secret)
        # Other OAuth2 settings make the stored access token worthless: the next poll renews it.
        renewal_changed = any(n in data and data[n] != getattr(box, n) for n in RENEWAL_FIELDS)
        if box.pk and renewal_changed and data.get("imap_oauth_token") == box.imap_oauth_token:
            data["imap_oauth_token"] = ""
            box.oauth_token_expires_at = None
        return data


@admin.register(Mailbox)
class MailboxAdmin(AuditedAdmin):
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
    """Received mail, the failed ones first to look at; their raw bytes stay in the spool."""

    list_display = ("id", "received_at", "mailbox", "sender", "subject", "status", "ticket")
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
