from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "comptoir.sla"
    label = "sla"
    verbose_name = "SLAs"

    def ready(self) -> None:
        from comptoir.sla import handlers  # noqa: F401 (subscribes to the tickets' events)
