from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"

    def ready(self) -> None:
        from executions import metrics  # reads the models: importable once the apps are loaded

        metrics.register()
