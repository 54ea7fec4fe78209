from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API dialects"

    def ready(self) -> None:
        # Imported once the models are loaded (the modules import them), in every process:
        # workers, which never load the URL conf, deliver RunFlow callbacks too.
        from api import schema_extensions  # noqa: F401  (registers the OpenAPI auth schemes)
        from api.connector_proxy.run_flow import register_callback_format

        register_callback_format()
