"""No index repeats the leading columns of another on the same table.

Such an index serves no query the longer one does not, and every write pays for it; on a row
whose status is indexed, every status change writes an entry into each of its indexes.
(PostgreSQL's `_like` indexes have another operator class: they serve `LIKE` prefixes. A
partial index holds only the rows of its condition: it serves those queries with a fraction of
the entries, whatever full index starts like it.)
"""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

APPS = ("accounts", "executions", "flows", "vault")


def plain_indexes(table: str) -> dict[str, tuple[str, ...]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: tuple(info["columns"])
        for name, info in found.items()
        if info["index"] and not info["unique"] and not info["primary_key"] and not name.endswith("_like")
    }


@pytest.mark.parametrize("app", APPS)
def test_no_index_is_a_leading_part_of_another(app):
    repeated = []
    for model in apps.get_app_config(app).get_models():
        indexes = plain_indexes(model._meta.db_table)
        partial = {index.name for index in model._meta.indexes if index.condition is not None}
        for name, columns in indexes.items():
            if name in partial:
                continue
            longer = [  # a partial index cannot serve a full one's queries: it holds some rows only
                other
                for other, more in indexes.items()
                if other != name and other not in partial and more[: len(columns)] == columns
            ]
            if longer:
                repeated.append(f"{model._meta.db_table}.{name} {columns} leads {longer}")
    assert repeated == []
