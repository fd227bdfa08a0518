from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "comptoir.mail"
    label = "mail"
    verbose_name = "Mail"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from comptoir.desks.models import Desk
        from comptoir.mail import handlers  # noqa: F401 (writes outbound mail with the changes)
        from comptoir.mail.models import Mailbox, MailTemplate

        # What this process caches for a few seconds is dropped as soon as it changes here
        # (core.memo); other processes see the change when their copy expires.
        for model in (Mailbox, Desk, MailTemplate):
            for signal in (post_save, post_delete):
                signal.connect(_forget, sender=model, dispatch_uid=f"memo-mail-{model.__name__}")


def _forget(sender, **kwargs) -> None:
    from comptoir.core.memo import drop_on_change
    from comptoir.mail.models import MailTemplate
    from comptoir.mail.outbound import senders_cache
    from comptoir.mail.templates import templates_cache

    drop_on_change(templates_cache if sender is MailTemplate else senders_cache)
