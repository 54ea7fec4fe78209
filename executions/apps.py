from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"

    def ready(self) -> None:
        # both read the models: importable once the apps are loaded
        from executions import metrics
        from executions.rotation import SEALED_INPUTS
        from vault import rotation

        metrics.register()
        rotation.register(SEALED_INPUTS)
