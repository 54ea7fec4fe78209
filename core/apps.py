from django.apps import AppConfig

from core.logfilters import install_token_redaction
from core.logformat import route_server_logs


class CoreConfig(AppConfig):
    default = True
    name = "core"
    verbose_name = "Millrace core"

    def ready(self) -> None:
        from core import forking  # imports the PostgreSQL backend (psycopg): once the apps are loaded

        forking.register()
        route_server_logs()  # uvicorn's lines in the format of MILLRACE_LOG_FORMAT
        install_token_redaction()  # after Django's LOGGING (and uvicorn's) are configured
