"""The execution row a walk starts from: read with SQL built once per process, or handed
over by the start that wrote it; and the few fields a waiting request reads again.

Compiling an ORM query for a 27-column row and its namespace costs a worker more CPU than
the round trip it makes (about 0.7 ms here, of a 1.1 ms read), and every walk reads this row:
the statement and the column converters are built once (`core/rows.py`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import JSONField, Model

from accounts.models import Namespace
from core.rows import RowPart, row_part
from executions.models import Execution


@dataclass(frozen=True)
class _Select:
    sql: str
    execution: RowPart
    namespace: RowPart | None


@functools.cache
def _select(vendor: str, with_namespace: bool, lock: bool) -> _Select:
    """The SELECT for one shape: with the namespace joined (and the frozen source), or the
    execution alone without its source (a caller that has both already)."""
    quote = connection.ops.quote_name
    fields = [f for f in Execution._meta.concrete_fields if with_namespace or f.name != "source"]
    execution, columns = row_part(Execution, fields, "e")
    namespace = None
    tables = f"{quote(Execution._meta.db_table)} e"
    if with_namespace:
        namespace, more = row_part(Namespace, list(Namespace._meta.concrete_fields), "n")
        columns += more
        tables += f" JOIN {quote(Namespace._meta.db_table)} n ON n.{quote('id')} = e.{quote('namespace_id')}"
    sql = f"SELECT {', '.join(columns)} FROM {tables} WHERE e.{quote('id')} = %s"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE OF e" if connection.features.has_select_for_update_of else " FOR UPDATE"
    return _Select(sql, execution, namespace)


def execution_row(execution_id: Any, *, lock: bool = False, like: Execution | None = None) -> Execution | None:
    """The execution with its namespace, or None; `lock`: `FOR UPDATE` of the execution row.
    The flow row is not read: the execution keeps its own copy of the definition.

    `like` (the same execution, read earlier) saves the join and the frozen source, which
    never change: they are taken from it.
    """
    select = _select(connection.vendor, like is None, lock)
    key = Execution._meta.pk.get_db_prep_value(execution_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(select.sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    width = len(select.execution.attnames)
    execution = select.execution.build(values[:width])
    if select.namespace is not None:
        execution.namespace = select.namespace.build(values[width:])
    else:
        execution.source = like.source
        execution.namespace = like.namespace
    return execution


@functools.cache
def _fields_select(vendor: str, names: tuple[str, ...]) -> tuple[str, RowPart]:
    quote = connection.ops.quote_name
    part, columns = row_part(Execution, [Execution._meta.get_field(name) for name in names], "e")
    return f"SELECT {', '.join(columns)} FROM {quote(Execution._meta.db_table)} e WHERE e.{quote('id')} = %s", part


def execution_refresh(execution: Execution, fields: Sequence[str]) -> None:
    """`execution.refresh_from_db(fields=fields)` with the SQL built once per list of fields: a
    waiting webhook reads its execution at least twice, and compiling the ORM's query took an
    eighth of the server's CPU per webhook on PostgreSQL. Execution.DoesNotExist if it is gone."""
    select, part = _fields_select(connection.vendor, tuple(fields))
    with connection.cursor() as cursor:
        cursor.execute(select, [Execution._meta.pk.get_db_prep_value(execution.pk, connection)])
        row = cursor.fetchone()
    if row is None:
        raise Execution.DoesNotExist(f"Execution {execution.pk} does not exist.")
    for name, value in zip(part.attnames, part.converted(list(row)), strict=True):
        setattr(execution, name, value)


#: A start hands its first walk the execution it wrote when the frozen source is at most this
#: long (the queue message carries it); a longer one is read by the worker.
SNAPSHOT_SOURCE_LIMIT = 16 * 1024


def execution_snapshot(execution: Execution, namespace: Namespace) -> dict[str, dict[str, Any]] | None:
    """The execution just written and its namespace, as the worker would read them, or None.

    The first walk of a queued execution trusts what it reads only as far as its one
    statement's guard (status and attempt) allows, so a snapshot is as good as a read: a
    cancel that came first fails the guard and the careful path reads the row. JSON values go
    through JSON, so the walk sees what a read would give (lists, not tuples).
    """
    if len(execution.source) > SNAPSHOT_SOURCE_LIMIT:
        return None
    values = {}
    for model_field in Execution._meta.concrete_fields:
        value = getattr(execution, model_field.attname)
        values[model_field.attname] = json.loads(json.dumps(value)) if isinstance(model_field, JSONField) else value
    return {
        "execution": values,
        "namespace": {f.attname: getattr(namespace, f.attname) for f in Namespace._meta.concrete_fields},
    }


def execution_from_snapshot(snapshot: dict[str, dict[str, Any]]) -> Execution:
    """The instances a snapshot describes; fields it lacks (a newer schema) load when used."""
    execution = _from_values(Execution, snapshot["execution"])
    execution.namespace = _from_values(Namespace, snapshot["namespace"])
    return execution


def _from_values(model: type[Model], values: dict[str, Any]) -> Model:
    known = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, known, [values[name] for name in known])
