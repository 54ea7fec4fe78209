"""Stored files go when what owns them is deleted: a namespace, or an execution.

Connected in `FilesConfig.ready`. Files are deleted once the deletion commits (a rolled-back
deletion keeps them); a storage failure then is logged and the deletion stands. An execution
deleted with its namespace leaves its files to the namespace's purge; retention's bulk
deletes (a queryset) delete their executions' files themselves, in one pass per chunk
(`executions.engine.retention`).
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from accounts.models import Namespace
from files.services import execution_files_delete, namespace_files_purge


def namespace_deleted(sender: type[Namespace], instance: Namespace, using: str, **kwargs: Any) -> None:
    name = instance.name
    # a lambda, not a partial: Django logs a failed robust callback by its `__qualname__`
    transaction.on_commit(lambda: namespace_files_purge(namespace_name=name), using=using, robust=True)


def execution_deleted(sender: type[models.Model], instance: Any, using: str, origin: Any = None, **kwargs: Any) -> None:
    if isinstance(origin, Namespace | models.QuerySet):
        return
    name = Namespace.objects.using(using).filter(pk=instance.namespace_id).values_list("name", flat=True).first()
    if name is not None:
        execution_id = str(instance.pk)
        transaction.on_commit(
            lambda: execution_files_delete(namespace_name=name, execution_id=execution_id), using=using, robust=True
        )
