from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "comptoir.kb"
    label = "kb"
    verbose_name = "Knowledge base"
