from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "comptoir.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from comptoir.accounts.selectors import roles_by_desk
        from comptoir.core.actor import set_role_loader

        set_role_loader(roles_by_desk)
