"""Schema-driven API testing: each dialect against its own OpenAPI schema, as every role.

schemathesis generates requests from `/api/schema/<dialect>/` and sends them in-process
(WSGI, same database transaction) as an anonymous caller and as a viewer, executor,
editor and admin of the namespace holding the objects. No answer may be a 500, and every
answer must match the schema: a documented status, the documented content type and body.
Every status a schema documents must be produced by some test: by the generated requests
here, by targeted ones (malformed JSON, an oversized body, unknown ids), or by a row of the
access matrix, which asserts the status each role gets on every route.

That the schemas leave no served path out: `test_schema_honesty.py`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.docs import DOCUMENTED
from api.routing import dialect_for_path
from tests.conftest import token_for
from tests.reliability.access_world import World, build_world
from tests.reliability.test_access_matrix import CALLERS, TABLE

#: Where each dialect's schema paths are served in full.
MOUNTS = {
    "flowrunner": "/flowrunner",
    "workflowdev": "/workflowdev",
    "workflowsvc": "",
    "activeworkflow": "",
    "connector": "",
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 3  # per operation and caller: ~1,500 generated requests over the five dialects


def _schema_json(slug: str) -> dict[str, Any]:
    response = Client().get(f"/api/schema/{slug}/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _documented(raw: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {
        (method.upper(), _template(path), int(status))
        for path, item in raw["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
        for status in operation.get("responses", {})
        if status.isdigit()
    }


def _matrix_statuses(slug: str) -> set[tuple[str, str, int]]:
    """Statuses the access matrix asserts for this dialect's routes (as schema path templates)."""
    mount = MOUNTS[slug]
    found = set()
    for row in TABLE:
        for row_mount in row.mounts:
            full = row_mount + row.path.split("?")[0]
            if dialect_for_path(full) != slug:
                continue
            path = full[len(mount) :] if mount and full.startswith(mount) else full
            statuses = set(row.own.values()) | ({row.other} if row.other else set())
            found |= {(row.method, re.sub(r"\{\w+\}", "{}", path), status) for status in statuses}
    return found


def _literal_match(documented: set[tuple[str, str, int]], produced: set[tuple[str, str, int]]) -> set:
    """Documented (method, template, status) that some produced (method, concrete-or-template path, status) fits."""
    covered = set()
    for method, template, status in documented:
        pattern = re.compile("^" + re.escape(template).replace(r"\{\}", "[^/]+") + "$")
        if any(m == method and s == status and pattern.match(p) for m, p, s in produced):
            covered.add((method, template, status))
    return covered


def _headers(world: World, caller: str) -> dict[str, str]:
    token = world.token(caller)  # a new token each time: a generated logout must not spoil the next request
    return {"Authorization": f"Bearer {token}"} if token else {}


#: Which object of the world a path parameter names, by the path segment before it.
PARAMETERS = {
    "flows": "flow", "executions": "waiting", "triggers": "trigger", "credentials": "credential",
    "approvals": "approval", "agents": "agent", "messages": "message", "namespaces": "ns", "kv": "ns",
    "members": "guest", "accounts": "member", "webhook": "webhook", "revisions": "1", "plugins": "util.log",
    "callbacks": "unknown", "secrets": "PERSONAL",
}  # fmt: skip


def _concrete(slug: str, path: str, world: World) -> str:
    """The schema path with the world's objects in its parameters (a flow for ActiveWorkflow's workflows,
    an execution for workflowsvc's)."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if not segment.startswith("{"):
            continue
        before = segments[index - 1]
        if before == "workflows":
            name = "execution" if slug == "workflowsvc" else "flow"
        elif before == "do":
            segments[index : index + 2] = ["millrace", "RunFlow"]
            break
        elif before == "kv" or (index >= 2 and segments[index - 2] == "kv"):
            name = "ns" if before == "kv" else "greeting"
        else:
            name = PARAMETERS.get(before, "unknown")
        segments[index] = world.own.values.get(name, name)
    return MOUNTS[slug] + "/".join(segments)


def _targeted(slug: str, raw: dict[str, Any], world: World, settings) -> Iterator[tuple[str, str, int]]:
    """Requests on the world's own objects, as the admin: a malformed body, an oversized body, no body."""
    client = Client()
    operations = [(path, method, op) for path, item in raw["paths"].items() for method, op in item.items()]
    operations.sort(key=lambda each: each[1] == "delete")  # deletions last: the others need the objects
    for path, method, operation in operations:
        if method not in ("get", "post", "put", "patch", "delete"):
            continue
        concrete = _concrete(slug, path, world)
        query = "?nsfilter=production" if slug == "workflowsvc" else ""
        auth = {"HTTP_AUTHORIZATION": _headers(world, "admin")["Authorization"]}
        call = getattr(client, method)
        key = (method.upper(), _template(path))
        if "requestBody" in operation:
            yield *key, call(concrete + query, "{not json", content_type="application/json", **auth).status_code
            settings.MILLRACE_MAX_BODY_BYTES = 64
            big = call(concrete + query, '{"x": "' + "y" * 200 + '"}', content_type="application/json", **auth)
            settings.MILLRACE_MAX_BODY_BYTES = 10 * 1024 * 1024
            yield *key, big.status_code
        yield *key, call(concrete + query, content_type="application/json", **auth).status_code


def _extras(
    slug: str, world: World, monkeypatch: pytest.MonkeyPatch, settings: Any, upstream: Any
) -> Iterator[tuple[str, str, int]]:
    """The refusals that need a particular state: a conflict, a definition that does not compile,
    a second flow of a name, a decided approval, an empty accounts table, a broker that is down."""
    from executions.engine.context import callback_digest
    from executions.models import Execution, TaskRun, TaskStatus
    from flows.models import Flow
    from tests.factories import AccountFactory, FlowFactory, TaskRunFactory, TriggerFactory
    from tests.reliability.access_world import NODES_YAML

    own, mount = world.own, MOUNTS[slug]
    as_admin = {"HTTP_AUTHORIZATION": _headers(world, "admin")["Authorization"]}
    as_editor = {"HTTP_AUTHORIZATION": _headers(world, "editor")["Authorization"]}
    client = Client()

    def send(method: str, template: str, path: str, body: Any = None, auth: dict | None = None) -> tuple:
        call = getattr(client, method.lower())
        kwargs = {"content_type": "application/json"} if body is not None else {}
        data = [__import__("json").dumps(body)] if body is not None else []
        return method, template, call(mount + path, *data, **kwargs, **(as_admin if auth is None else auth)).status_code

    if slug == "flowrunner":
        me = str(world.accounts["admin"].pk)
        nodes = NODES_YAML.format(name="second")
        yield send("DELETE", "/api/v1/executions/{}", f"/api/v1/executions/{own['execution']}")
        for _ in range(2):
            yield send(
                "POST", "/api/v1/accounts/{}/secrets", f"/api/v1/accounts/{me}/secrets", {"key": "DUP", "value": "abcd"}
            )
        yield send(
            "POST", "/api/v1/accounts/{}/secrets", f"/api/v1/accounts/{me}/secrets", {"key": "bad key", "value": "x"}
        )
        for _ in range(2):
            yield send("POST", "/api/v1/flows", "/api/v1/flows", {"name": "second", "definition": nodes}, as_editor)
        yield send("PUT", "/api/v1/flows/{}", f"/api/v1/flows/{own['flow']}", {"name": "second"}, as_editor)
        yield send("PUT", "/api/v1/flows/{}", f"/api/v1/flows/{own['flow']}", {"definition": "nodes: 5"}, as_editor)
        yield send("POST", "/api/v1/flows/{}/run", f"/api/v1/flows/{own['flow']}/run", {"input": "not an object"})
        spare = FlowFactory(namespace_id=world.accounts["editor"].default_namespace_id, name="spare")
        yield send("DELETE", "/api/v1/flows/{}", f"/api/v1/flows/{spare.pk}", None, as_editor)
    elif slug == "workflowdev":
        tasks = "name: {name}\ntasks:\n  - name: a\n    type: util.log\n    properties: {{message: hi}}\n"
        spare = FlowFactory(namespace_id=world.accounts["viewer"].default_namespace_id, name="spare")
        yield send("DELETE", "/api/v1/flows/{}", f"/api/v1/flows/{spare.pk}")
        flow = {"namespace": "production", "yamlContent": tasks.format(name="flow-own")}
        yield send("POST", "/api/v1/flows", "/api/v1/flows", flow)
        yield send(
            "PUT",
            "/api/v1/flows/{}",
            f"/api/v1/flows/{own['flow']}",
            {"name": "flow-other-name", "yamlContent": "tasks: 5"},
        )
        FlowFactory(namespace_id=spare.namespace_id, name="taken")
        yield send(
            "PUT",
            "/api/v1/flows/{}",
            f"/api/v1/flows/{own['flow']}",
            {"name": "taken", "yamlContent": tasks.format(name="taken")},
        )
        hook = {"flowId": own["flow"], "type": "webhook", "key": f"a-key-used-twice-{secrets.token_urlsafe(24)}"}
        for _ in range(2):  # created, then refused (422: a refused key, whatever the reason)
            yield send("POST", "/api/v1/triggers", "/api/v1/triggers", hook)
        yield send(
            "POST", "/api/v1/triggers", "/api/v1/triggers", {"flowId": own["flow"], "type": "schedule", "cron": "nope"}
        )
        yield send(
            "PUT", "/api/v1/triggers/{}", f"/api/v1/triggers/{own['trigger']}", {"cron": "nope", "type": "schedule"}
        )
        declared = TriggerFactory(
            flow=Flow.objects.get(pk=own["flow"]),
            name="declared",
            type="webhook",
            key="declared-key",
            from_definition=True,
        )
        yield send("PUT", "/api/v1/triggers/{}", f"/api/v1/triggers/{declared.pk}", {"enabled": False})
        export = {"flow": {"name": "imported", "namespace": "production", "yamlContent": tasks.format(name="imported")}}
        for query in ("", "", "?overwrite=true"):  # created, then a conflict, then replaced
            yield send("POST", "/api/v1/flows/import", f"/api/v1/flows/import{query}", export)
        yield send("GET", "/api/v1/flows/{}/export", f"/api/v1/flows/{own['flow']}/export?format=bogus")
        shaped = "name: shaped\ntasks:\n  - {name: a, type: data.transform, properties: {data: 1, expression: '@'}}\n"
        kestra_less = FlowFactory(namespace_id=spare.namespace_id, name="shaped", source=shaped)
        yield send("GET", "/api/v1/flows/{}/export", f"/api/v1/flows/{kestra_less.pk}/export?format=kestra")
        required = "name: needs\ninputs:\n  - {id: who, type: STRING, required: true}\n" + tasks.format(name="x")[8:]
        needs = FlowFactory(namespace_id=spare.namespace_id, name="needs", source=required)
        yield send("POST", "/api/v1/flows/{}/execute", f"/api/v1/flows/{needs.pk}/execute", {})
        yield send(
            "POST",
            "/api/v1/credentials",
            "/api/v1/credentials",
            {"name": "API_TOKEN", "namespace": "production", "value": "abcd"},
        )
        other = {"name": "OTHER", "namespace": "production", "value": "abcd"}
        yield send("POST", "/api/v1/credentials", "/api/v1/credentials", other)
        for rename in ({"name": "OTHER"}, {"name": "OTHER", "value": "abcd"}):  # renaming needs the value again
            yield send("PUT", "/api/v1/credentials/{}", f"/api/v1/credentials/{own['credential']}", rename)
        yield send("POST", "/api/v1/executions/{}/cancel", f"/api/v1/executions/{own['execution']}/cancel")
        yield send("POST", "/api/v1/executions/{}/retry", f"/api/v1/executions/{own['waiting']}/retry")
        gate = TaskRun.objects.get(execution_id=own["waiting"]).pk  # a replay of a live execution: 409
        yield send(
            "POST", "/api/v1/executions/{}/replay", f"/api/v1/executions/{own['waiting']}/replay?taskRunId={gate}"
        )
        yield send("GET", "/api/v1/approvals", "/api/v1/approvals?status=bogus")
        for decision in ("approve", "reject"):
            yield send(
                "POST", f"/api/v1/approvals/{{}}/{decision}", f"/api/v1/approvals/{own['approval']}/{decision}", {}
            )
        global_admin = AccountFactory(username="root", role="admin")
        root = {"HTTP_AUTHORIZATION": f"Bearer {token_for(global_admin)}"}
        for name in ("brand-new", "brand-new", "Not A Name!"):
            yield send("POST", "/api/v1/namespaces", "/api/v1/namespaces", {"name": name}, root)
        yield send("DELETE", "/api/v1/namespaces/{}", "/api/v1/namespaces/brand-new", None, root)
        yield from _file_refusals(client, mount, as_editor, own)
    elif slug == "workflowsvc":
        missing = "00000000-0000-0000-0000-000000000000"
        yield send(
            "GET", "/workflowsvc/api/v1/workflows", "/workflowsvc/api/v1/workflows?nsfilter=production&_status=BOGUS"
        )
        yield send(
            "GET", "/workflowsvc/api/v1/workflows/{}", f"/workflowsvc/api/v1/workflows/{missing}?nsfilter=production"
        )
        yield send(
            "GET",
            "/workflowsvc/api/v1/workflows/{}",
            f"/workflowsvc/api/v1/workflows/{own['execution']}?nsfilter=production&_includeLoopOverTasks=maybe",
        )
        yield send(
            "POST",
            "/workflowsvc/api/v1/workflows",
            "/workflowsvc/api/v1/workflows?nsfilter=production",
            {"_workflowDefId": missing},
        )
        status = "/workflowsvc/api/v1/workflows/{}/status"
        yield send(
            "PUT", status, f"/workflowsvc/api/v1/workflows/{missing}/status?nsfilter=production", {"_status": "PAUSED"}
        )
        yield send(
            "PUT",
            status,
            f"/workflowsvc/api/v1/workflows/{own['execution']}/status?nsfilter=production",
            {"_status": "PAUSED"},
        )
    elif slug == "connector":
        settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        upstream.expect_request("/items").respond_with_json({"items": []})
        yield send("POST", "/v1/do/{}/{}", "/v1/do/http/GetRequest", {"url": upstream.url_for("/items")})
        failing = "name: stop\ntasks: [{name: stop, type: flow.fail, properties: {message: stop}}]\n"
        FlowFactory(namespace=Flow.objects.get(pk=own["flow"]).namespace, name="stop", source=failing)
        with monkeypatch.context() as inline:  # the test's transaction never commits: run the engine at once
            inline.setattr(transaction, "on_commit", lambda func, *args, **kwargs: func())
            for name in ("flow-own", "stop"):  # 200 with the outputs, 500 FLOW_FAILED
                yield send("POST", "/v1/do/flows/{}/{}", f"/v1/do/flows/production/{name}", {})
        run = TaskRunFactory(
            execution=Execution.objects.get(pk=own["waiting"]),
            step_id="call",
            name="call",
            plugin_type="connector.call",
            sequence=2,
            status=TaskStatus.WAITING,
            callback_digest=callback_digest("a-callback-token"),
        )
        yield send("PUT", "/v1/callbacks/{}", "/v1/callbacks/a-callback-token", {"command_response": {"body": {}}}, {})
        assert TaskRun.objects.get(pk=run.pk).status != TaskStatus.WAITING
    elif slug == "activeworkflow":
        yield send(
            "POST", "/api/v1/agents/{}/webhook/{}", f"/api/v1/agents/{own['hook_agent']}/webhook/wrong", {"x": 1}, {}
        )


def _file_refusals(client: Client, mount: str, auth: dict, own: Any) -> Iterator[tuple[str, str, int]]:
    """Namespace and execution files: a new file, a malformed path, a file where a directory is,
    an upload without its part, a move onto a file."""
    files, base = "/api/v1/namespaces/{}/files", f"{mount}/api/v1/namespaces/production/files"

    def upload(path: str, part: str = "fileContent") -> int:
        return client.post(f"{base}?path={path}", {part: SimpleUploadedFile("f", b"x")}, **auth).status_code

    yield "POST", files, upload("/fresh/new.txt")
    yield "POST", files, upload("/fresh")
    yield "POST", files, upload("../up")
    yield "POST", files, upload("/x.txt", part="other")
    yield "PUT", files, client.put(f"{base}?from=notes.txt&to=fresh/new.txt", **auth).status_code
    yield "PUT", files, client.put(f"{base}?from=notes.txt&to=..", **auth).status_code
    yield "GET", files, client.get(f"{base}?path=..", **auth).status_code
    yield "DELETE", files, client.delete(f"{base}?path=..", **auth).status_code
    yield "GET", files + "/directory", client.get(f"{base}/directory?path=notes.txt", **auth).status_code
    yield "GET", files + "/stats", client.get(f"{base}/stats?path=..", **auth).status_code
    execution = f"{mount}/api/v1/executions/{own['execution']}/file"
    yield "GET", "/api/v1/executions/{}/file", client.get(f"{execution}?path=http://x", **auth).status_code
    yield "GET", "/api/v1/executions/{}/file/metas", client.get(f"{execution}/metas?path=x", **auth).status_code


def _closing(slug: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, int]]:
    """Last, as they end the world: a locked-out login, a broker that is down, then registration
    into an empty platform."""
    from accounts.models import Account
    from core import health
    from tests.reliability.access_world import PASSWORD

    client, mount = Client(), MOUNTS[slug]
    login = {"flowrunner": "/api/v1/auth/login", "workflowdev": "/auth/login"}.get(slug)
    if login is not None:
        wrong = {"username": "locked-out", "password": "wrong"}
        for _ in range(settings.MILLRACE_LOGIN_FAILURE_LIMIT + 1):
            status = client.post(mount + login, wrong, "application/json").status_code
        yield "POST", login, status
    if slug != "workflowdev":
        return
    monkeypatch.setitem(health.CHECKS, "broker", _broker_down)
    yield "GET", "/readyz", client.get(mount + "/readyz").status_code
    Account.objects.all().delete()
    for body in ({"username": "first", "password": "short"}, {"username": "first", "password": PASSWORD}):
        yield "POST", "/auth/register", client.post(mount + "/auth/register", body, "application/json").status_code


def _broker_down() -> None:
    raise ConnectionError("the broker is down")


def _exercise(operation: Any, world: World, caller: str, produced: set, failures: list[str]) -> None:
    """Send EXAMPLES generated requests for one operation as one caller; record statuses and failures."""
    key = (operation.method.upper(), _template(operation.path))

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES, phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        headers = _headers(world, caller)
        response = case.call(headers=headers)
        produced.add((*key, response.status_code))
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseException as error:  # schemathesis reports a group of failures
            failures.append(f"{caller} {key} {response.status_code}: {str(error).strip()[:600]}")

    check()


class InProcessApp:
    """Django's WSGI handler on the test's own database connection: like Django's test client, a
    request must not close the connection that holds the test's transaction (PostgreSQL)."""

    handler = WSGIHandler()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            body = list(response)
            response.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        return body


@pytest.fixture
def app_settings(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 0
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize("slug", sorted(DOCUMENTED))
def test_each_dialect_conforms_to_its_schema(slug: str, app_settings, monkeypatch, httpserver) -> None:
    world = build_world()
    raw = _schema_json(slug)
    raw["servers"] = [{"url": MOUNTS[slug] or "/"}]
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = InProcessApp()
    produced: set[tuple[str, str, int]] = set()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for caller in CALLERS:
            _exercise(operation, world, caller, produced, failures)
    produced |= set(_extras(slug, world, monkeypatch, app_settings, httpserver))
    produced |= set(_targeted(slug, raw, world, app_settings))
    produced |= set(_closing(slug, monkeypatch))
    assert failures == [], "\n\n".join(failures)
    documented = _documented(raw)
    assert [each for each in produced if each[2] >= 500 and each not in documented] == []  # 503: /readyz
    everything = produced | _matrix_statuses(slug)
    undocumented = sorted(_undocumented(documented, everything))
    assert undocumented == [], f"answered but not documented: {undocumented}"
    never = sorted(documented - _literal_match(documented, everything))
    assert never == [], f"documented but never produced: {never}"


def _undocumented(documented: set[tuple[str, str, int]], produced: set[tuple[str, str, int]]) -> set:
    """Produced (method, path, status) whose operation does not document the status."""
    templates = {(method, template) for method, template, _ in documented}
    missing = set()
    for method, path, status in produced:
        for m, template in templates:
            pattern = "^" + re.escape(template).replace(r"\{\}", "[^/]+") + "$"
            if m == method and re.match(pattern, path) and (m, template, status) not in documented:
                missing.add((m, template, status))
    return missing
