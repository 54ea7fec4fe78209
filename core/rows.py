"""Rows read with SQL built once per process, as instances the ORM would build.

Compiling an ORM query costs more CPU than the round trip it makes for a wide row and its
joins (about 0.7 ms of a 1.1 ms read of an execution), and some rows are read at every step
or every webhook: their statement and column converters are built once, and each read only
sends the statement and builds the instances (`Model.from_db`, as the ORM does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class RowPart:
    """One model's columns in a row: the fields, and per column the converters to apply."""

    model: type[Model]
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]  # (column, converters, expression)

    def build(self, values: list[Any]) -> Model:
        return self.model.from_db(connection.alias, self.attnames, self.converted(values))

    def converted(self, values: list[Any]) -> list[Any]:
        for column, converters, expression in self.converters:
            for convert in converters:
                values[column] = convert(values[column], expression, connection)
        return values


def row_part(model: type[Model], fields: list[Field], alias: str) -> tuple[RowPart, list[str]]:
    """`model`'s `fields` as columns of the table aliased `alias`: the part and its column SQL."""
    quote = connection.ops.quote_name
    converters = []
    for column, model_field in enumerate(fields):
        expression = model_field.get_col(alias)
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if found:
            converters.append((column, tuple(found), expression))
    part = RowPart(model, tuple(f.attname for f in fields), tuple(converters))
    return part, [f"{alias}.{quote(f.column)}" for f in fields]


#: Python types a column of this kind takes as they are: Django's preparation of a value returns
#: it unchanged (SQLite; PostgreSQL takes UUIDs as they are too).
NATIVE_TYPES: dict[str, type] = {
    "CharField": str,
    "TextField": str,
    "IntegerField": int,
    "PositiveIntegerField": int,
    "BigIntegerField": int,
    "AutoField": int,
    "BigAutoField": int,
    "BooleanField": bool,
}
