from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "comptoir.demo"
    label = "demo"
    verbose_name = "Demo data"
