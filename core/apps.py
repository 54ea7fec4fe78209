from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps

from core.logfilters import install_token_redaction


class CoreConfig(AppConfig):
    default = True
    name = "core"
    verbose_name = "Millrace core"

    def ready(self) -> None:
        from core import forking

        forking.register()
        install_token_redaction()  # after Django's LOGGING (and uvicorn's) are configured


class MillraceAdminConfig(admin_apps.AdminConfig):
    """The Django admin as Millrace's operator console, on a role-aware site."""

    default = False
    default_site = "core.admin_site.MillraceAdminSite"
