from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KbConfig(AppConfig):
    name = "comptoir.kb"
    label = "kb"
    verbose_name = _("Knowledge base")

    def ready(self) -> None:
        from comptoir.core import cleanup
        from comptoir.kb import handlers  # noqa: F401 (subscribes to the tickets' events)
        from comptoir.kb.services import prune_orphan_article_files

        cleanup.register(
            "article files", lambda older: prune_orphan_article_files(older_than=older)
        )
