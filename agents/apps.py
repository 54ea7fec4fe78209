from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """No models of its own: installed for its console pages, `manage.py import_workflow`, and the
    FlowAgent's hook on execution ends."""

    name = "agents"
    verbose_name = "Millrace agents"

    def ready(self) -> None:
        from agents.flow_types import execution_ended  # imports models: only once the apps are loaded
        from executions.engine.lifecycle import on_execution_end  # the same: models at import time

        on_execution_end(execution_ended)
