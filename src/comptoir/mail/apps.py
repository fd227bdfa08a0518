from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "comptoir.mail"
    label = "mail"
    verbose_name = "Mail"

    def ready(self) -> None:
        from comptoir.mail import handlers  # noqa: F401 (writes outbound mail with the changes)
