from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and namespaces"

    def ready(self) -> None:
        # connects the audit of failed logins (`user_login_failed`); models are ready only now
        from accounts import throttling  # noqa: F401
