"""The operator console's admin site: who may enter follows Millrace roles, not Django's flags."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from accounts.selectors import namespace_roles
from console.dashboard import REFRESH_SECONDS, dashboard_for
from console.plugin_reference import plugin_catalog
from console.selectors import window_named


def can_use_console(account: Any) -> bool:
    """Active accounts that are global admins or hold a role in at least one namespace.

    The staff flag is deliberately not required: every account the services create is staff,
    so it carries no information, and a second switch beside the roles would only drift from
    them. `is_active` is the switch that locks an account out, here and in every API dialect.
    """
    if not getattr(account, "is_active", False):
        return False
    return account.is_global_admin or bool(namespace_roles(account))


class RoleAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, refusing accounts without a role instead of accounts without `is_staff`."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "Please enter the correct %(username)s and password of an account with a namespace role.",
    }

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)
        if not can_use_console(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


#: Django's plumbing no operator works with: Groups (roles are Millrace's) and the JWT blacklist
#: (logout and password changes fill it). Left out of the menus; a superuser still reaches them
#: by their URLs (`/admin/auth/`, `/admin/token_blacklist/`).
UNLISTED_APPS = frozenset({"auth", "token_blacklist"})


class MillraceAdminSite(admin.AdminSite):
    """Roles decide what each page shows and allows; see `accounts.admin_scoping`."""

    site_header = "Millrace"
    site_title = "Millrace console"
    index_title = "Operations"
    index_template = "admin/millrace/dashboard.html"
    login_form = RoleAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        """Active global admins and accounts with a role somewhere; `is_staff` is not consulted."""
        return can_use_console(request.user)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        """Empty outside the console (the login page builds a menu too): role checks need an account.

        The whole list (the index, the sidebar) ends with a "Reference" section linking the pages
        that are no model's, such as the plugin reference, and leaves out UNLISTED_APPS.
        """
        if not self.has_permission(request):
            return []
        apps = super().get_app_list(request, app_label)
        if app_label:
            return apps
        shown = [app for app in apps if app["app_label"] not in UNLISTED_APPS]
        return [*shown, _reference_section()]

    def get_urls(self) -> list[URLPattern | URLResolver]:
        return [
            path("plugins/", self.admin_view(self.plugin_reference), name="plugin_reference"),
            path("dashboard/panels/", self.admin_view(self.dashboard_panels), name="dashboard_panels"),
            *super().get_urls(),
        ]

    def plugin_reference(self, request: HttpRequest) -> TemplateResponse:
        """Every public plugin by category: documentation, input and output schemas, an example task.

        Any console account may read it: the catalog is the same for every namespace.
        """
        context = {**self.each_context(request), "title": "Plugin reference", "categories": plugin_catalog()}
        return TemplateResponse(request, "admin/millrace/plugin_reference.html", context)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """The dashboard: executions, failures, agents and the task queue, in the caller's namespaces.

        `?window=7d` charts the last 7 days by day instead of the last 24 hours by hour.
        """
        context = {**_dashboard_context(request), **(extra_context or {})}
        return super().index(request, extra_context=context)

    def dashboard_panels(self, request: HttpRequest) -> TemplateResponse:
        """The dashboard's panels alone, as the page's script reloads them (same `?window=`)."""
        return TemplateResponse(request, "admin/millrace/dashboard_panels.html", _dashboard_context(request))


def _dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """An unknown `?window=` is read as the default one: the switch's links only ever send known ones."""
    window = window_named(request.GET.get("window"))
    return {
        "dashboard": dashboard_for(request.user, window),
        "refresh_seconds": REFRESH_SECONDS,
        "panels_url": f"{reverse('admin:dashboard_panels')}?window={window.key}",
    }


def _reference_section() -> dict[str, Any]:
    """An entry of the admin's app list (the shape `admin/app_list.html` reads) for the reference pages."""
    url = reverse("admin:plugin_reference")
    plugins = {
        "name": "Plugins",
        "object_name": "PluginReference",
        "admin_url": url,
        "add_url": None,
        "view_only": True,
        "perms": {"add": False, "change": False, "delete": False, "view": True},
    }
    return {
        "name": "Reference",
        "app_label": "reference",
        "app_url": url,
        "has_module_perms": True,
        "models": [plugins],
    }
