from __future__ import annotations

from django import forms
from django.contrib import admin

from comptoir.core.admin import AuditedAdmin
from comptoir.mail.models import BouncingAddress, InboundMessage, Mailbox, OutboundMessage


class MailboxForm(forms.ModelForm):
    """Credentials are typed, never shown back: an empty field keeps the stored value."""

    imap_password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), label="IMAP password"
    )
    imap_oauth_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="IMAP OAuth2 access token",
    )

    class Meta:
        model = Mailbox
        fields = (
            "desk",
            "address",
            "name",
            "is_active",
            "accept_unknown_senders",
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_username",
            "imap_password",
            "imap_oauth_token",
            "imap_folder",
            "imap_after",
        )

    def clean(self):
        data = super().clean() or {}
        for secret in ("imap_password", "imap_oauth_token"):
            if not data.get(secret) and self.instance.pk:
                data[secret] = getattr(self.instance, secret)
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
    readonly_fields = ("last_received_at", "last_polled_at", "last_error")


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
