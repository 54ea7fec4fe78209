"""The write queue's flush on SQLite: its statements built once per shape of write.

SQLite takes one writer at a time, and a flush holds the writer lock from its first statement
to the commit (`core/sqlite/base.py`). Through the ORM each of its statements — the guard, every
update, every `bulk_create` — was compiled anew while the lock was held: the start of a webhook
execution spent a fifth of the server's CPU there. As on PostgreSQL (`writes.py`), the SQL of a
shape is built once per process and values are prepared as Django prepares them for SQLite;
the statements then run one after another in the flush's transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Field, Model

from core.rows import NATIVE_TYPES
from executions.engine import events
from executions.models import Execution, ExecutionEvent

if TYPE_CHECKING:  # writes imports this module
    from executions.engine.writes import PendingWrites


def flush(writes: PendingWrites, stale: Callable[[str], Exception]) -> None:
    """Check the guard, then run the updates and inserts; `stale(what)` is raised when a check fails."""
    guard = writes.guard
    with connection.cursor() as cursor:
        if guard is not None:
            pk, status, attempt, ending = guard
            cursor.execute(_guard_sql(), [_prepare(Execution._meta.pk, pk), status, attempt, ending])
            if cursor.fetchone() is None:
                raise stale(f"Execution {pk} changed")
        for update in writes.updates.values():
            model = update.model
            nulls = tuple(value is None for value in update.where.values())
            cursor.execute(_update_sql(model, tuple(update.values), tuple(update.where), nulls), _update_params(update))
            if cursor.rowcount != 1:
                raise stale(f"{model.__name__} {update.pk} is no longer {update.where.get('status')}")
        for model, objects in writes.inserts_by_model():
            _insert(cursor, model, objects)
        batch = events.take_batch()
        if batch:
            _insert(cursor, ExecutionEvent, batch)
            for event in batch:
                events.announce_on_commit(event.execution_id, event.id, ended=events.ends_execution(event))


def _update_params(update: Any) -> list[Any]:
    model = update.model
    params = [_prepare(_field(model, name), value) for name, value in update.values.items()]
    params.append(_prepare(model._meta.pk, update.pk))
    params += [_prepare(_field(model, name), value) for name, value in update.where.items() if value is not None]
    return params


def _insert(cursor: Any, model: type[Model], objects: list[Model]) -> None:
    """`bulk_create` as Django does it on SQLite: rows in batches of what one statement takes,
    auto ids read back with RETURNING (in the rows' order), the instances then saved ones."""
    columns, returning = _insert_shape(model)
    fields = [column[0] for column in columns]
    size = max(connection.ops.bulk_batch_size(fields, objects), 1)
    for start in range(0, len(objects), size):
        chunk = objects[start : start + size]
        params = []
        for obj in chunk:
            for model_field, pre_save in columns:
                value = getattr(obj, model_field.attname)
                if value is None and pre_save is not None:  # a timestamp the caller set is written as set
                    value = pre_save(obj, True)
                params.append(_prepare(model_field, value))
        cursor.execute(_insert_sql(model, len(chunk)), params)
        if returning is not None:
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                setattr(obj, returning, pk)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias


@functools.cache
def _guard_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT 1 FROM {quote(Execution._meta.db_table)} WHERE {quote('id')} = %s AND {quote('status')} = %s"
        f" AND {quote('attempt')} = %s AND {quote('ending')} = %s"
    )


@functools.cache
def _update_sql(model: type[Model], assigned: tuple[str, ...], conditions: tuple[str, ...], nulls: tuple[bool]) -> str:
    """`UPDATE ... SET` the assigned columns `WHERE` the primary key and the conditions (a None
    condition is `IS NULL`, as `filter(name=None)`)."""
    quote = connection.ops.quote_name
    where = [f"{quote(model._meta.pk.column)} = %s"]
    where += [
        f"{quote(_field(model, name).column)} {'IS NULL' if null else '= %s'}"
        for name, null in zip(conditions, nulls, strict=True)
    ]
    sets = ", ".join(f"{quote(_field(model, name).column)} = %s" for name in assigned)
    return f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {' AND '.join(where)}"


@functools.cache
def _insert_sql(model: type[Model], rows: int) -> str:
    quote = connection.ops.quote_name
    columns, returning = _insert_shape(model)
    row = f"({', '.join(['%s'] * len(columns))})"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f, _ in columns)})"
        f" VALUES {', '.join([row] * rows)}"
    )
    return sql + f" RETURNING {quote(model._meta.pk.column)}" if returning is not None else sql


@functools.cache
def _insert_shape(model: type[Model]) -> tuple[list[tuple[Field, Any]], str | None]:
    """Per inserted column its field and its `pre_save` where it has one (timestamps); and the
    attribute of an id the database assigns (read back), if the model has one."""
    auto = model._meta.pk if model._meta.pk.db_returning else None
    columns = [
        (f, f.pre_save if type(f).pre_save is not Field.pre_save else None)
        for f in model._meta.concrete_fields
        if f is not auto
    ]
    return columns, auto.attname if auto is not None else None


@functools.cache
def _field(model: type[Model], name: str) -> Field:
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


@functools.cache
def _native(model_field: Field) -> type | None:
    kind = (model_field.target_field if model_field.is_relation else model_field).get_internal_type()
    return NATIVE_TYPES.get(kind)


def _prepare(model_field: Field, value: Any) -> Any:
    """`value` as SQLite takes it: `get_db_prep_save`, skipped for a value it returns unchanged."""
    if value is None or type(value) is _native(model_field):
        return value
    return model_field.get_db_prep_save(value, connection)
