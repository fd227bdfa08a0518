from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "comptoir.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from comptoir.routing import handlers  # noqa: F401 (subscribes to the tickets' events)
