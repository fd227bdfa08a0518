from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KbConfig(AppConfig):
    name = "comptoir.kb"
    label = "kb"
    verbose_name = _("Knowledge base")

    def ready(self) -> None:
        from comptoir.kb import handlers  # noqa: F401 (subscribes to the tickets' events)
