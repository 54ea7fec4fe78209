from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    """Installed for its static files (`millrace/console.css`, `millrace/editor.js`)."""

    default = True
    name = "console"
    verbose_name = "Millrace console"


class MillraceAdminConfig(admin_apps.AdminConfig):
    """The Django admin as Millrace's operator console, on a role-aware site."""

    default = False
    default_site = "console.admin_site.MillraceAdminSite"
