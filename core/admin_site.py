"""The operator console's admin site."""

from django.contrib import admin


class MillraceAdminSite(admin.AdminSite):
    site_header = "Millrace"
    site_title = "Millrace console"
    index_title = "Operations"
