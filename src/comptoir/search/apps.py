from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "comptoir.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from comptoir.accounts.models import User
        from comptoir.search import indexing

        # Tickets and articles are indexed by the handlers of their events (indexing.py);
        # people when their account is saved.
        post_save.connect(indexing.person_saved, sender=User, dispatch_uid="search-person")
