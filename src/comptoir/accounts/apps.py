from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "comptoir.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from comptoir.accounts.models import ApiToken, Membership, Organisation, User
        from comptoir.accounts.selectors import roles_by_desk
        from comptoir.core.actor import set_role_loader

        set_role_loader(roles_by_desk)
        # What this process caches for a few seconds is dropped as soon as it changes here
        # (core.memo); other processes see the change when their copy expires.
        for model in (ApiToken, User, Organisation, Membership):
            for signal in (post_save, post_delete):
                signal.connect(_forget, sender=model, dispatch_uid=f"memo-{model.__name__}")


def _forget(sender, instance, **kwargs) -> None:
    from comptoir.accounts.models import ApiToken, Membership
    from comptoir.accounts.selectors import roles_cache
    from comptoir.accounts.services import tokens_cache
    from comptoir.core.memo import drop_on_change

    if sender is ApiToken:
        drop_on_change(tokens_cache, instance.key_hash)
    elif sender is Membership:
        drop_on_change(roles_cache, instance.user_id)
    else:  # a user or an organisation: what every token and role entry carries
        drop_on_change(tokens_cache)
        drop_on_change(roles_cache)
