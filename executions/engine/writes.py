"""Collect the engine's writes of one transaction and send them as one statement.

A chained step records its result, creates the next step and appends their events: on
PostgreSQL those writes travel as one statement of data-modifying CTEs instead of a round
trip each, which is most of a step's cost. Each conditional update (`WHERE status = <seen>`)
reports its row count; a write that matched nothing raises `StaleStatus` and the caller's
transaction rolls back, exactly as when the writes ran one by one.

Inside `deferred_writes()`, `transition()` and `task_runs_create()` queue their writes here.
Any other statement on the connection first flushes the queue, so reads and other writes
always see the engine's writes in order. SQLite runs them one statement per write, each
built once per shape (`sqlite_writes`). On every backend a flush first replaces the NUL characters of what it
writes (`nulchars`): PostgreSQL refuses them, and a refused write would leave the execution
RUNNING.

A block whose transaction holds nothing but that statement (a chained step, a worker's
first walk, a start) sends it on its own, as its own transaction (`whole_transaction`):
without the `BEGIN` and `COMMIT` round trips. Its final `SELECT` then divides by zero when
a check failed, so PostgreSQL aborts the statement and nothing of it is written, as a
rolled-back transaction would leave it. Such a block may also take conditions its writes
were computed on (`require`), checked in the same statement instead of a read of their own.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import DataError, connection
from django.db.models import Field, Model
from psycopg import errors as psycopg_errors
from psycopg.pq import TransactionStatus

from core.rows import NATIVE_TYPES
from executions.engine import events, sqlite_writes
from executions.engine.nulchars import row_without_nul, without_nul
from executions.models import Execution, ExecutionEvent

_local = threading.local()


@dataclass
class _Update:
    model: type[Model]
    pk: Any
    where: dict[str, Any]
    values: dict[str, Any]


@dataclass
class PendingWrites:
    """The queued writes; `guard` is (execution id, status, attempt, ending) as this worker
    last saw them (`ending` changes without the status: a cancel or timeout that waits for the
    flow's `finally` tasks): checked, and the row locked, before anything is written.
    `requirements` are SQL conditions the writes were computed on (see `require`)."""

    guard: tuple[Any, str, int, str] | None = None
    updates: dict[tuple[type[Model], Any], _Update] = field(default_factory=dict)
    inserts: list[Model] = field(default_factory=list)
    requirements: list[tuple[str, list[Any]]] = field(default_factory=list)
    whole_transaction: bool = False
    flushing: bool = False

    def require(self, condition: str, params: list[Any]) -> bool:
        """Write nothing unless `condition` (SQL) holds when the statement runs: what fails it
        raises `StaleStatus`, as a failed check does. Only a whole-transaction block on
        PostgreSQL takes conditions (it saves a statement there); False: check it yourself."""
        if not self.whole_transaction or connection.vendor != "postgresql":
            return False
        self.requirements.append((condition, list(params)))
        return True

    def update(self, obj: Model, where: dict[str, Any], values: dict[str, Any]) -> None:
        if any(queued is obj for queued in self.inserts):
            return  # the pending insert writes the object's final values
        key = (type(obj), obj.pk)
        queued = self.updates.get(key)
        if queued is None:
            self.updates[key] = _Update(type(obj), obj.pk, dict(where), dict(values))
        else:  # a second move of the same row: the first one's conditions, the latest values
            queued.values.update(values)

    def insert(self, objects: list[Model]) -> None:
        """New rows (task runs, executions), written with their values at flush time."""
        self.inserts.extend(objects)

    def inserts_by_model(self) -> list[tuple[type[Model], list[Model]]]:
        grouped: dict[type[Model], list[Model]] = {}
        for obj in self.inserts:
            grouped.setdefault(type(obj), []).append(obj)
        return list(grouped.items())

    @property
    def empty(self) -> bool:
        return self.guard is None and not self.updates and not self.inserts and not events.pending_batch()

    def flush(self, *, alone: bool = False) -> None:
        """Write what is queued; `alone`: this statement is the whole transaction (see
        `deferred_writes`)."""
        if self.flushing or self.empty:
            return
        self.flushing = True
        try:
            self._without_nul()
            if connection.vendor == "postgresql":
                _flush_postgresql(self, alone=alone and _transaction_untouched())
            else:
                sqlite_writes.flush(self, _stale)
        finally:
            self.guard = None
            self.updates = {}
            self.inserts = []
            self.requirements = []
            self.flushing = False

    def _without_nul(self) -> None:
        """The one place the queued writes lose their NUL characters, on every backend."""
        for update in self.updates.values():
            update.values = {name: without_nul(value) for name, value in update.values.items()}
        for obj in self.inserts:
            row_without_nul(obj)
        for event in events.pending_batch():
            row_without_nul(event)


def pending() -> PendingWrites | None:
    return getattr(_local, "writes", None)


@contextmanager
def deferred_writes(*, guard: Execution | None = None, whole_transaction: bool = False) -> Iterator[PendingWrites]:
    """Queue the engine's writes inside the block; flush them at its end (and before any
    other statement). Use inside `transaction.atomic()` and `events.batched()`.

    `whole_transaction`: the block is all of its (outermost) transaction. When nothing else
    ran in it, the final statement then runs on its own, as its own transaction: no `BEGIN`
    and `COMMIT` round trips, and a failed check aborts the statement, so nothing is written.
    """
    if pending() is not None:
        raise RuntimeError("deferred_writes() does not nest")
    writes = PendingWrites(
        guard=(guard.pk, guard.status, guard.attempt, guard.ending) if guard is not None else None,
        whole_transaction=whole_transaction,
    )

    def flush_first(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        writes.flush()
        return execute(sql, params, many, context)

    _local.writes = writes
    try:
        with connection.execute_wrapper(flush_first):
            yield writes
            writes.flush(alone=whole_transaction)
    finally:
        _local.writes = None


def _transaction_untouched() -> bool:
    """The outermost transaction is open in Django but has sent nothing to the server yet."""
    raw = connection.connection
    return (
        len(connection.atomic_blocks) == 1 and raw is not None and raw.info.transaction_status == TransactionStatus.IDLE
    )


# --- SQLite: executions/engine/sqlite_writes.py ------------------------------------------


# --- PostgreSQL: one statement -------------------------------------------------------------


@dataclass(frozen=True)
class _Statement:
    """The SQL for one shape of writes, and per CTE whose row count is checked: its name, the
    count it must have, and which write it checks (`guard`, an update's index, an insert's model)."""

    sql: str
    checks: tuple[tuple[str, int, Any], ...]


def _flush_postgresql(writes: PendingWrites, *, alone: bool = False) -> None:
    updates = list(writes.updates.values())
    inserts = writes.inserts_by_model()
    batch = events.take_batch()
    guard = writes.guard
    required = bool(writes.requirements)
    # Parameters in the statement's order; a NULL value is written into the SQL instead (its
    # place marked in the shape's masks): fewer parameters to send, and a statement short
    # enough for psycopg to keep its parsed form.
    # the guard's `ending` is nearly always empty: written into the SQL then, not sent
    params: list[Any] = [] if guard is None else list(guard) if guard[3] else list(guard[:3])
    update_shapes = []
    for update in updates:
        update_shapes.append(
            (update.model, tuple(update.values), _add_values(update.model, update.values, params), tuple(update.where))
        )
        params += _prepared(update.model, {"pk": update.pk, **update.where})
    insert_shapes = tuple((model, tuple(_add_row(model, obj, params) for obj in objects)) for model, objects in inserts)
    event_masks = tuple(_add_row(ExecutionEvent, event, params) for event in batch)
    for _, values in writes.requirements:
        params += values  # the conditions stand once, in the final SELECT, after every CTE
    statement = _statement(
        None if guard is None else bool(guard[3]),
        tuple(update_shapes),
        insert_shapes,
        event_masks,
        tuple(condition for condition, _ in writes.requirements),
        alone,
    )
    if not alone:
        with connection.cursor() as cursor:
            cursor.execute(statement.sql, params)
            row = cursor.fetchone()
    else:
        raw = connection.connection
        raw.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement.sql, params)
                row = cursor.fetchone()
        except DataError as exc:
            if isinstance(exc.__cause__, psycopg_errors.DivisionByZero):
                raise _stale("A row the step writes changed; nothing was written") from exc
            raise
        finally:
            raw.autocommit = False
    for (_, expected, which), count in zip(statement.checks, row, strict=False):
        if count != expected:
            raise _stale(_failed_check(which, guard, updates))
    if required and not alone and not row[-1]:
        raise _stale("What the writes were computed on changed")
    if batch:
        announced = row[max(len(statement.checks), 1)]
        if isinstance(announced, str):
            announced = json.loads(announced)
        for execution_id, event_id in announced or []:
            events.announce_on_commit(execution_id, event_id)


def _failed_check(which: Any, guard: tuple[Any, str, int, str] | None, updates: list[_Update]) -> str:
    if which == "guard":
        return f"Execution {guard[0]} changed"
    if isinstance(which, int):
        update = updates[which]
        return f"{update.model.__name__} {update.pk} is no longer {update.where.get('status')}"
    return f"{which.__name__} rows not created"


EMPTY = "''"  # an empty SQL string literal


@functools.lru_cache(maxsize=512)
def _statement(
    guarded: bool | None,
    updates: tuple[tuple[type[Model], tuple[str, ...], int, tuple[str, ...]], ...],
    inserts: tuple[tuple[type[Model], tuple[int, ...]], ...],
    event_masks: tuple[int, ...],
    requirements: tuple[str, ...],
    alone: bool,
) -> _Statement:
    """Built once per shape: a step of a given flow writes the same shape every time. An
    update is (model, columns set, mask of those set to NULL, columns checked); an insert,
    (model, per row the mask of its NULL columns)."""
    quote = connection.ops.quote_name
    ctes: list[str] = []
    checks: list[tuple[str, int, Any]] = []
    previous: str | None = None

    def gate() -> str:
        return f" AND EXISTS (SELECT 1 FROM {previous})" if previous else ""

    if guarded is not None:  # True: the execution is ending (its `ending` is a parameter)
        ctes.append(
            f"g AS (SELECT 1 FROM {quote(Execution._meta.db_table)} WHERE {quote('id')} = %s"
            f" AND {quote('status')} = %s AND {quote('attempt')} = %s"
            f" AND {quote('ending')} = {'%s' if guarded else EMPTY} FOR UPDATE)"
        )
        checks.append(("g", 1, "guard"))
        previous = "g"
    for number, (model, assigned, nulls, conditions) in enumerate(updates):
        name = f"u{number}"
        ctes.append(
            f"{name} AS (UPDATE {quote(model._meta.db_table)} SET "
            + ", ".join(f"{column} = {value}" for column, value in _columns(model, assigned, nulls))
            + " WHERE "
            + " AND ".join(f"{column} = {value}" for column, value in _columns(model, ("pk", *conditions)))
            + gate()
            + " RETURNING 1)"
        )
        checks.append((name, 1, number))
        previous = name
    for number, (model, masks) in enumerate(inserts):
        name = f"i{number}"
        ctes.append(f"{name} AS ({_insert_sql(model, masks, gate())} RETURNING 1)")
        checks.append((name, len(masks), model))
        previous = name
    if event_masks:
        sql = _insert_sql(ExecutionEvent, event_masks, gate())
        ctes.append(f"e AS ({sql} RETURNING {quote('id')}, {quote('execution_id')})")
    counts = ", ".join(f"(SELECT count(*) FROM {name})" for name, _, _ in checks) or "0"
    last_events = (
        f", (SELECT json_agg(json_build_array({quote('execution_id')}, m)) FROM "
        f"(SELECT {quote('execution_id')}, max({quote('id')}) AS m FROM e GROUP BY {quote('execution_id')}) AS l)"
        if event_masks
        else ""
    )
    required = " AND ".join(f"({condition})" for condition in requirements)
    tail = ""
    if alone and (checks or required):  # a failed check divides by zero: the statement aborts
        held = [f"(SELECT count(*) FROM {name}) = {expected}" for name, expected, _ in checks]
        tail = f", 1 / (CASE WHEN {' AND '.join(held + ([required] if required else []))} THEN 1 ELSE 0 END)"
    elif required:
        tail = f", ({required})"
    return _Statement(f"WITH {', '.join(ctes)} SELECT {counts}{last_events}{tail}", tuple(checks))


def _columns(model: type[Model], names: tuple[str, ...], nulls: int = 0) -> list[tuple[str, str]]:
    """Quoted columns with their typed placeholders (`NULL` where `nulls` has the column's bit)."""
    pairs = []
    for position, name in enumerate(names):
        column, cast = _column(model, name)[1:]
        pairs.append((column, f"NULL::{cast}" if nulls >> position & 1 else f"%s::{cast}"))
    return pairs


def _prepared(model: type[Model], values: dict[str, Any]) -> list[Any]:
    return [_preparer(_column(model, name)[0])(value) for name, value in values.items()]


def _add_values(model: type[Model], values: dict[str, Any], params: list[Any]) -> int:
    """Add the values that are not NULL to `params`; returns the mask of those that are."""
    mask = 0
    for position, (name, value) in enumerate(values.items()):
        prepared = _preparer(_column(model, name)[0])(value)
        if prepared is None:
            mask |= 1 << position
        else:
            params.append(prepared)
    return mask


def _add_row(model: type[Model], obj: Model, params: list[Any]) -> int:
    """Add a new row's values that are not NULL to `params`; returns the mask of those that are."""
    mask = 0
    bit = 1
    for attname, pre_save, prepare in _insert_shape(model)[0]:
        value = getattr(obj, attname)
        if value is None and pre_save is not None:  # a timestamp the caller set is written as set
            value = pre_save(obj, True)
        value = prepare(value)
        if value is None:
            mask |= bit
        else:
            params.append(value)
        bit <<= 1
    return mask


def _insert_sql(model: type[Model], masks: tuple[int, ...], gate: str) -> str:
    """`INSERT ... SELECT` of one row per mask, of every concrete field (auto ids left to the
    database); a column whose bit is set in the row's mask is NULL."""
    head, casts = _insert_shape(model)[1:]
    rows = []
    for mask in masks:
        values = ", ".join(f"NULL::{cast}" if mask >> i & 1 else f"%s::{cast}" for i, cast in enumerate(casts))
        rows.append(f"({values})")
    where = f" WHERE TRUE{gate}" if gate else ""
    return f"{head} SELECT * FROM (VALUES {', '.join(rows)}) AS v{where}"


@functools.cache
def _column(model: type[Model], name: str) -> tuple[Field, str, str]:
    """A field by name (or "pk"), its quoted column and its placeholder's type."""
    model_field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return model_field, connection.ops.quote_name(model_field.column), _cast(model_field)


_Column = tuple[str, Callable[[Model, bool], Any] | None, Callable[[Any], Any]]


@functools.cache
def _insert_shape(model: type[Model]) -> tuple[list[_Column], str, list[str]]:
    """Per inserted column: its attribute, its `pre_save` where the field has one (timestamps),
    and its preparer; the `INSERT INTO` head; the columns' types."""
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.db_returning)]
    columns = [
        (f.attname, f.pre_save if type(f).pre_save is not Field.pre_save else None, _preparer(f)) for f in fields
    ]
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    return columns, head, [_cast(f) for f in fields]


#: Python types a column of this kind takes as they are (PostgreSQL: UUIDs too).
_NATIVE = {**NATIVE_TYPES, "UUIDField": UUID}


@functools.cache
def _preparer(model_field: Field) -> Callable[[Any], Any]:
    """A value as PostgreSQL takes it: `get_db_prep_save`, skipped for a value it would return
    unchanged (None, a str for a text column, an aware datetime, ...): most of a flush's values."""

    def prepare(value: Any) -> Any:
        return model_field.get_db_prep_save(value, connection)

    kind = (model_field.target_field if model_field.is_relation else model_field).get_internal_type()
    if kind == "DateTimeField":
        return lambda value: (
            value if value is None or (type(value) is datetime and value.tzinfo is not None) else prepare(value)
        )
    native = _NATIVE.get(kind)
    if native is None:
        return prepare  # JSON (wrapped for psycopg with the field's encoder) and the rest
    return lambda value: value if value is None or type(value) is native else prepare(value)


def _cast(model_field: Field) -> str:
    """The placeholder's type: the column's, without a length (an explicit cast to
    varchar(n) would truncate silently; assignment to the column still checks it)."""
    return model_field.cast_db_type(connection).split("(", 1)[0]


def _stale(what: str) -> Exception:
    from executions.engine.transitions import StaleStatus  # transitions imports this module

    return StaleStatus(what)
