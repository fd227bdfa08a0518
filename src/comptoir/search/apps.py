from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "comptoir.search"
    label = "search"
    verbose_name = "Search"
