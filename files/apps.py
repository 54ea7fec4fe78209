from django.apps import AppConfig
from django.db.models.signals import post_delete


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Files"

    def ready(self) -> None:
        # the receivers import models and services: importable once the apps are loaded
        from accounts.models import Namespace
        from files import receivers

        post_delete.connect(receivers.namespace_deleted, sender=Namespace, dispatch_uid="files.namespace_deleted")
        # by label: executions sit above files and are not imported here
        post_delete.connect(
            receivers.execution_deleted, sender="executions.Execution", dispatch_uid="files.execution_deleted"
        )
