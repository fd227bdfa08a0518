from django.apps import AppConfig


class DesksConfig(AppConfig):
    name = "comptoir.desks"
    label = "desks"
    verbose_name = "Desks"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from comptoir.accounts.models import Team
        from comptoir.desks.models import Desk

        # What this process caches for a few seconds is dropped as soon as it changes here
        # (core.memo); other processes see the change when their copy expires.
        for model in (Desk, Team):
            for signal in (post_save, post_delete):
                signal.connect(_forget, sender=model, dispatch_uid=f"memo-desk-{model.__name__}")
        m2m_changed.connect(
            _forget, sender=Desk.served_sites.through, dispatch_uid="memo-desk-sites"
        )


def _forget(sender, **kwargs) -> None:
    from comptoir.core.memo import drop_on_change
    from comptoir.desks.selectors import desks_cache

    drop_on_change(desks_cache)
