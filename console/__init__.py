"""The operator console: the admin site, its dashboard and its static files.

It sits above the apps (it reads executions, flows and agents for the dashboard); the apps'
own admin pages live in each app's `admin` module and scope through `accounts.admin_scoping`.
"""
