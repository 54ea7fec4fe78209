"""Reads of flows, revisions and triggers, scoped to the caller's namespaces (404 outside)."""

import functools
import hashlib
import re
from collections.abc import Iterator
from typing import NamedTuple
from uuid import UUID

from django.db import connection
from django.db.models import Count, Max, QuerySet

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.selectors import scope_to_namespaces
from core.errors import NotFound
from core.ids import parse_uuid
from core.rows import RowPart, row_part
from flows.definitions import DefinitionError, FlowInput, fields, load_yaml
from flows.definitions.problems import Problems
from flows.models import Flow, FlowRevision, Trigger


def flow_list(
    *, account: Account, namespaces: list[str] | None = None, tag: str | None = None, q: str | None = None
) -> QuerySet[Flow]:
    queryset = scope_to_namespaces(Flow.objects.select_related("namespace"), account=account)
    if namespaces:
        queryset = queryset.filter(namespace__name__in=namespaces)
    if tag:
        queryset = flows_tagged(queryset, tag=tag)
    if q:
        queryset = queryset.filter(name__icontains=q)
    return queryset.order_by("created_at", "id")


def flows_tagged(queryset: QuerySet[Flow], *, tag: str) -> QuerySet[Flow]:
    """The flows of `queryset` carrying `tag` (a JSON list: containment on PostgreSQL, a quoted match elsewhere)."""
    if _json_contains():
        return queryset.filter(tags__contains=[tag])
    return queryset.filter(tags__icontains=f'"{tag}"')


def _json_contains() -> bool:
    return connection.vendor == "postgresql"


def flow_get(*, account: Account, flow_id: UUID | str) -> Flow:
    """The flow, or 404 when it does not exist or sits in a namespace the account cannot read."""
    flow = (
        scope_to_namespaces(Flow.objects.select_related("namespace"), account=account)
        .filter(pk=parse_uuid(flow_id, what="Flow"))
        .first()
    )
    if flow is None:
        raise NotFound("Flow not found.")
    return flow


def flow_revisions(*, flow: Flow) -> QuerySet[FlowRevision]:
    return flow.revisions.select_related("created_by").order_by("-number")


def trigger_list(*, account: Account, flow_id: UUID | str | None = None) -> QuerySet[Trigger]:
    queryset = scope_to_namespaces(
        Trigger.objects.select_related("flow__namespace"), account=account, field="flow__namespace"
    )
    if flow_id:
        queryset = queryset.filter(flow_id=parse_uuid(flow_id, what="Flow"))
    return queryset.order_by("created_at", "id")


def trigger_get(*, account: Account, trigger_id: UUID | str) -> Trigger:
    trigger = trigger_list(account=account).filter(pk=parse_uuid(trigger_id, what="Trigger")).first()
    if trigger is None:
        raise NotFound("Trigger not found.")
    return trigger


@functools.cache
def _webhook_select(vendor: str) -> tuple[str, RowPart, RowPart, RowPart]:
    quote = connection.ops.quote_name
    parts, columns = [], []
    for model, alias in ((Trigger, "t"), (Flow, "f"), (Namespace, "n")):
        part, more = row_part(model, list(model._meta.concrete_fields), alias)
        parts.append(part)
        columns += more
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Trigger._meta.db_table)} t"
        f" JOIN {quote(Flow._meta.db_table)} f ON f.{quote('id')} = t.{quote('flow_id')}"
        f" JOIN {quote(Namespace._meta.db_table)} n ON n.{quote('id')} = f.{quote('namespace_id')}"
        f" WHERE t.{quote('key')} = %s AND t.{quote('type')} = %s AND t.{quote('enabled')}"
    )
    return sql, *parts


def webhook_trigger_get(*, key: str) -> Trigger | None:
    """The enabled webhook trigger with this key, its flow and namespace joined; None if none.

    Read at every webhook call, with SQL built once per process (`core/rows.py`): compiling the
    ORM's three-table query was a fifth of the server's CPU per webhook."""
    if not key or "\x00" in key:  # no key holds a NUL, and PostgreSQL refuses one as a parameter
        return None
    sql, trigger_part, flow_part, namespace_part = _webhook_select(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, Trigger.Type.WEBHOOK.value])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    trigger_width, flow_width = len(trigger_part.attnames), len(flow_part.attnames)
    trigger = trigger_part.build(values[:trigger_width])
    trigger.flow = flow_part.build(values[trigger_width : trigger_width + flow_width])
    trigger.flow.namespace = namespace_part.build(values[trigger_width + flow_width :])
    return trigger


class RunnableFlow(NamedTuple):
    """A flow the account may start, with what a caller gives it: its declared inputs."""

    id: UUID
    namespace: str
    name: str
    inputs: tuple[FlowInput, ...]


def flow_runnable_list(
    *, account: Account, namespace: str | None = None, name: str | None = None, chunk_size: int = 2000
) -> Iterator[RunnableFlow]:
    """The flows of namespaces where the account may execute, by namespace and name.

    Reads only the names and the current source (no revisions), `chunk_size` rows at a time
    from one query, so 10,000 flows cost one query and no model instances; each distinct
    `inputs:` block is parsed once per process (`_declared_inputs`).
    """
    queryset = scope_to_namespaces(Flow.objects.all(), account=account, minimum=Role.EXECUTOR)
    if namespace is not None:
        queryset = queryset.filter(namespace__name=namespace)
    if name is not None:
        queryset = queryset.filter(name=name)
    rows = queryset.order_by("namespace__name", "name").values_list("id", "namespace__name", "name", "source")
    for flow_id, namespace_name, flow_name, source in rows.iterator(chunk_size=chunk_size):
        yield RunnableFlow(flow_id, namespace_name, flow_name, _declared_inputs(source))


def flow_runnable_version(*, account: Account) -> tuple[int, str]:
    """How many flows `flow_runnable_list` would list and when the latest was saved: a cache
    of the listing keyed on it is never served after a flow is created, changed or deleted."""
    queryset = scope_to_namespaces(Flow.objects.all(), account=account, minimum=Role.EXECUTOR)
    counted = queryset.aggregate(count=Count("id"), latest=Max("updated_at"))
    latest = counted["latest"]
    return counted["count"], latest.isoformat() if latest else ""


#: Declared inputs (None: the text does not parse) by the digest of the text parsed; cleared at the bound.
_DECLARED_INPUTS: dict[bytes, tuple[FlowInput, ...] | None] = {}
_DECLARED_INPUTS_MAX = 50_000
_INPUTS_KEY = re.compile(r"^inputs[ \t]*:", re.MULTILINE)


def _declared_inputs(source: str) -> tuple[FlowInput, ...]:
    """Parsing YAML is the listing's whole cost, so only the top-level `inputs:` block is
    parsed when it can be cut out, and each distinct text once per process: flows that
    declare the same inputs share one parse."""
    if "inputs" not in source:  # no `inputs:` key, nothing to parse
        return ()
    block = _inputs_block(source)
    found = _parsed_inputs(block) if block is not None else None
    if found is None:  # no block to cut out, or one that needs the rest (an alias to an anchor)
        found = _parsed_inputs(source)
    return found or ()


def _parsed_inputs(text: str) -> tuple[FlowInput, ...] | None:
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    if digest not in _DECLARED_INPUTS:
        if len(_DECLARED_INPUTS) >= _DECLARED_INPUTS_MAX:
            _DECLARED_INPUTS.clear()
        _DECLARED_INPUTS[digest] = _parse_inputs(text)
    return _DECLARED_INPUTS[digest]


def _inputs_block(source: str) -> str | None:
    """The lines of a block-style document's one top-level `inputs:` key: it ends at the next
    line that starts a key or a document marker in column 0. None when there is no such key
    (flow style, JSON, an indented document) or more than one: the whole source is parsed."""
    starts = [match.start() for match in _INPUTS_KEY.finditer(source)]
    if len(starts) != 1:
        return None
    lines = source[starts[0] :].splitlines(keepends=True)
    end = 1
    for line in lines[1:]:
        item = line.startswith("-") and line[1:2] in ("", " ", "\t", "\n", "\r")
        if not (item or line[:1] in (" ", "\t", "#", "\n", "\r")):
            break
        end += 1
    return "".join(lines[:end])


def _parse_inputs(text: str) -> tuple[FlowInput, ...] | None:
    """The inputs `text` declares, as the compiler reads them; None when it does not parse.
    Problems elsewhere in a definition (a plugin since removed) do not matter here: the
    inputs are what a caller may give, whatever the run then does."""
    try:
        data = load_yaml(text).data
    except DefinitionError:
        return None
    if not isinstance(data, dict):
        return None
    return tuple(fields.inputs(Problems(), data.get("inputs"), ("inputs",)))
