from django.apps import AppConfig


class DesksConfig(AppConfig):
    name = "comptoir.desks"
    label = "desks"
    verbose_name = "Desks"
