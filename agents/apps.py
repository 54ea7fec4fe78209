from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """No models of its own: installed for its console pages and `manage.py import_workflow`."""

    name = "agents"
    verbose_name = "Millrace agents"
