from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "comptoir.tickets"
    label = "tickets"
    verbose_name = "Tickets"

    def ready(self) -> None:
        from comptoir.core import cleanup
        from comptoir.tickets.services import prune_orphan_files

        cleanup.register("ticket attachments", lambda older: prune_orphan_files(older_than=older))
