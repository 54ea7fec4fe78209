"""The access matrix: every endpoint of every dialect, every WebSocket route, each role.

One table lists, for every route and method, the status each caller gets: anonymous, then
a viewer, an executor, an editor and an admin of the namespace the objects are in (the
admin by membership, so not a global admin), and — after the slash — what any of those four
gets for the same request on objects of another namespace. `-` means the route has no
namespace to cross. A guard test fails when a URL pattern is served that the table lacks.
Every 2xx answer is also checked for ids and names of the other namespace.

Roles (README): viewers read; executors also run, cancel, retry, approve and fire webhooks;
editors also write flows, triggers, agents, KV and credentials; admins also manage the
namespace's accounts and members. Another namespace's objects are 404, as if missing
(workflowsvc answers 403 for an `nsfilter` naming it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.reliability.access_world import NODES_YAML, PASSWORD, ROLES, Side, World, build_world

CALLERS = ("anonymous", *ROLES)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: str  # "anon viewer executor editor admin / other"
    body: Any = None
    mounts: tuple[str, ...] = ("",)
    format: str = "json"  # "multipart": each body value is sent as a file part

    @property
    def own(self) -> dict[str, int]:
        statuses = self.expect.split("/")[0].split()
        assert len(statuses) == len(CALLERS), self
        return dict(zip(CALLERS, map(int, statuses), strict=True))

    @property
    def other(self) -> int | None:
        value = self.expect.split("/")[1].strip()
        return None if value == "-" else int(value)

    def id(self) -> str:
        return f"{self.method} {self.path}"


FR = ("", "/flowrunner")  # FlowRunner's shared trees: at the root (MILLRACE_ROOT_DIALECT) and under its prefix
WD = ("", "/workflowdev")  # workflowdev's own paths: at the root and under its prefix
WD_SHARED = ("/workflowdev",)
FR_ONLY = ("", "/flowrunner")
NODES = NODES_YAML.format(name="created").replace("{", "{{").replace("}", "}}")
TASKS = "name: created\nnamespace: {ns}\ntasks:\n  - name: a\n    type: util.log\n    properties: {{message: hi}}\n"

TABLE: list[Row] = [
    # --- FlowRunner ------------------------------------------------------------------------
    Row(
        "POST",
        "/api/v1/auth/login",
        "401 200 200 200 200 / -",
        {"username": "{username}", "password": PASSWORD},
        FR_ONLY,
    ),
    Row("POST", "/api/v1/auth/refresh", "401 200 200 200 200 / -", None, FR_ONLY),
    Row("POST", "/api/v1/auth/logout", "401 200 200 200 200 / -", None, FR_ONLY),
    Row("GET", "/api/v1/accounts", "401 403 403 403 200 / -", None, FR_ONLY),
    Row(
        "POST",
        "/api/v1/accounts",
        "401 403 403 403 201 / 404",
        {
            "username": "newcomer",
            "email": "n@example.com",
            "password": PASSWORD,
            "name": "N",
            "role": "viewer",
            "namespace": "{ns}",
        },
        FR_ONLY,
    ),
    Row("GET", "/api/v1/accounts/{member}", "401 404 404 404 200 / 404", None, FR_ONLY),
    Row("PUT", "/api/v1/accounts/{member}", "401 404 404 404 200 / 404", {"name": "Renamed"}, FR_ONLY),
    Row("PATCH", "/api/v1/accounts/{member}", "401 404 404 404 200 / 404", {"name": "Renamed"}, FR_ONLY),
    Row("DELETE", "/api/v1/accounts/{member}", "401 404 404 404 200 / 404", None, FR_ONLY),
    Row("GET", "/api/v1/accounts/{me}/secrets", "401 200 200 200 200 / 404", None, FR_ONLY),
    Row(
        "POST",
        "/api/v1/accounts/{me}/secrets",
        "401 201 201 201 201 / 404",
        {"key": "NEW_KEY", "value": "v4lue"},
        FR_ONLY,
    ),
    Row("DELETE", "/api/v1/accounts/{me}/secrets/{personal}", "401 200 200 200 200 / 404", None, FR_ONLY),
    Row("GET", "/api/v1/flows", "401 200 200 200 200 / -", None, FR),
    Row("POST", "/api/v1/flows", "401 403 403 201 201 / -", {"name": "created", "definition": NODES}, FR),
    Row("GET", "/api/v1/flows/{flow}", "401 200 200 200 200 / 404", None, FR),
    Row("PUT", "/api/v1/flows/{flow}", "401 403 403 200 200 / 404", {"description": "changed"}, FR),
    Row("DELETE", "/api/v1/flows/{flow}", "401 403 403 409 409 / 404", None, FR),  # it has a running execution
    Row("POST", "/api/v1/flows/{flow}/run", "401 403 201 201 201 / 404", {"input": {}}, FR),
    # a file part for an input the flow does not declare: the roles and the namespace are checked first
    Row("POST", "/api/v1/flows/{flow}/run", "401 403 422 422 422 / 404", {"data": "x"}, FR, "multipart"),
    Row("GET", "/api/v1/executions", "401 200 200 200 200 / -", None, FR),
    Row("GET", "/api/v1/executions/{execution}", "401 200 200 200 200 / 404", None, FR),
    Row("DELETE", "/api/v1/executions/{waiting}", "401 403 200 200 200 / 404", None, FR),
    Row("GET", "/api/v1/executions/{execution}/logs", "401 200 200 200 200 / 404", None, FR),
    Row("GET", "/api/v1/executions/{execution}/file?path={execution_file}", "401 200 200 200 200 / 404", None, FR),
    # --- workflowdev -----------------------------------------------------------------------
    Row(
        "POST",
        "/auth/register",
        "403 403 403 403 403 / -",
        {"username": "x", "password": PASSWORD, "email": "x@example.com"},
        WD,
    ),
    Row("POST", "/auth/login", "401 200 200 200 200 / -", {"username": "{username}", "password": PASSWORD}, WD),
    Row("POST", "/auth/refresh", "401 200 200 200 200 / -", None, WD),
    Row("POST", "/auth/logout", "401 200 200 200 200 / -", None, WD),
    Row("GET", "/healthz", "200 200 200 200 200 / -", None, WD),
    Row("GET", "/readyz", "200 200 200 200 200 / -", None, WD),
    Row("GET", "/metrics", "200 200 200 200 200 / -", None, WD),
    Row("GET", "/api/v1/audit", "401 403 403 403 200 / -", None, WD),
    Row("GET", "/api/v1/triggers", "401 200 200 200 200 / -", None, WD),
    Row("POST", "/api/v1/triggers", "401 403 403 201 201 / 404", {"flowId": "{flow}", "type": "webhook"}, WD),
    Row("GET", "/api/v1/triggers/{trigger}", "401 200 200 200 200 / 404", None, WD),
    Row("PUT", "/api/v1/triggers/{trigger}", "401 403 403 200 200 / 404", {"enabled": False}, WD),
    Row("DELETE", "/api/v1/triggers/{trigger}", "401 403 403 204 204 / 404", None, WD),
    Row(
        "POST",
        "/api/v1/triggers/{schedule_trigger}/backfill",
        "401 403 201 201 201 / 404",
        {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
        WD,
    ),
    Row("POST", "/api/v1/webhook/{webhook}", "201 201 201 201 201 / -", {"a": 1}, WD),
    Row("GET", "/api/v1/plugins", "401 200 200 200 200 / -", None, WD),
    Row("GET", "/api/v1/plugins/categories", "401 200 200 200 200 / -", None, WD),
    Row("GET", "/api/v1/plugins/util.log", "401 200 200 200 200 / -", None, WD),
    Row("GET", "/api/v1/credentials", "401 200 200 200 200 / -", None, WD),
    Row(
        "POST",
        "/api/v1/credentials",
        "401 403 403 201 201 / 404",
        {"name": "NEW_CRED", "namespace": "{ns}", "value": "v4lue"},
        WD,
    ),
    Row("GET", "/api/v1/credentials/{credential}", "401 200 200 200 200 / 404", None, WD),
    Row("PUT", "/api/v1/credentials/{credential}", "401 403 403 200 200 / 404", {"value": "n3w-value"}, WD),
    Row("DELETE", "/api/v1/credentials/{credential}", "401 403 403 204 204 / 404", None, WD),
    Row("GET", "/api/v1/kv/{ns}", "401 200 200 200 200 / 404", None, WD),
    Row("GET", "/api/v1/kv/{ns}/greeting", "401 200 200 200 200 / 404", None, WD),
    Row("PUT", "/api/v1/kv/{ns}/greeting", "401 403 403 200 200 / 404", {"value": "hello"}, WD),
    Row("DELETE", "/api/v1/kv/{ns}/greeting", "401 403 403 204 204 / 404", None, WD),
    Row("GET", "/api/v1/approvals", "401 200 200 200 200 / -", None, WD),
    Row("GET", "/api/v1/approvals/{approval}", "401 200 200 200 200 / 404", None, WD),
    Row("POST", "/api/v1/approvals/{approval}/approve", "401 403 200 200 200 / 404", {"comment": "ok"}, WD),
    Row("POST", "/api/v1/approvals/{approval}/reject", "401 403 200 200 200 / 404", {"comment": "no"}, WD),
    Row("GET", "/api/v1/namespaces", "401 200 200 200 200 / -", None, WD),
    Row("POST", "/api/v1/namespaces", "401 403 403 403 403 / -", {"name": "brand-new"}, WD),
    Row("GET", "/api/v1/namespaces/{ns}", "401 200 200 200 200 / 404", None, WD),
    Row("PATCH", "/api/v1/namespaces/{ns}", "401 403 403 403 200 / 404", {"description": "d"}, WD),
    Row("DELETE", "/api/v1/namespaces/{ns}", "401 403 403 403 403 / 404", None, WD),
    Row("GET", "/api/v1/namespaces/{ns}/members", "401 200 200 200 200 / 404", None, WD),
    Row("PUT", "/api/v1/namespaces/{ns}/members/{member}", "401 403 403 403 200 / 404", {"role": "executor"}, WD),
    Row("DELETE", "/api/v1/namespaces/{ns}/members/{guest}", "401 403 403 403 204 / 404", None, WD),
    Row("GET", "/api/v1/namespaces/{ns}/files?path=notes.txt", "401 200 200 200 200 / 404", None, WD),
    Row(
        "POST",
        "/api/v1/namespaces/{ns}/files?path=notes.txt",
        "401 403 403 200 200 / 404",
        {"fileContent": "replaced"},
        WD,
        "multipart",
    ),
    Row("DELETE", "/api/v1/namespaces/{ns}/files?path=notes.txt", "401 403 403 204 204 / 404", None, WD),
    Row("PUT", "/api/v1/namespaces/{ns}/files?from=notes.txt&to=moved.txt", "401 403 403 204 204 / 404", None, WD),
    Row("GET", "/api/v1/namespaces/{ns}/files/directory", "401 200 200 200 200 / 404", None, WD),
    Row("GET", "/api/v1/namespaces/{ns}/files/stats?path=notes.txt", "401 200 200 200 200 / 404", None, WD),
    Row("GET", "/api/v1/flows", "401 200 200 200 200 / -", None, WD_SHARED),
    Row("POST", "/api/v1/flows", "401 403 403 201 201 / 404", {"namespace": "{ns}", "yamlContent": TASKS}, WD_SHARED),
    Row("POST", "/api/v1/flows/validate", "401 200 200 200 200 / -", {"yamlContent": TASKS}, WD_SHARED),
    Row(
        "POST",
        "/api/v1/flows/import",
        "401 403 403 201 201 / 404",
        {"flow": {"name": "created", "namespace": "{ns}", "yamlContent": TASKS}},
        WD_SHARED,
    ),
    Row("GET", "/api/v1/flows/{flow}", "401 200 200 200 200 / 404", None, WD_SHARED),
    Row("PUT", "/api/v1/flows/{flow}", "401 403 403 200 200 / 404", {"description": "changed"}, WD_SHARED),
    Row("DELETE", "/api/v1/flows/{flow}", "401 403 403 409 409 / 404", None, WD_SHARED),  # a running execution
    Row("POST", "/api/v1/flows/{flow}/execute", "401 403 201 201 201 / 404", {}, WD_SHARED),
    Row("GET", "/api/v1/flows/{flow}/export", "401 200 200 200 200 / 404", None, WD_SHARED),
    Row("GET", "/api/v1/flows/{flow}/revisions", "401 200 200 200 200 / 404", None, WD_SHARED),
    Row("POST", "/api/v1/flows/{flow}/revisions/1/restore", "401 403 403 200 200 / 404", None, WD_SHARED),
    Row("GET", "/api/v1/executions", "401 200 200 200 200 / -", None, WD_SHARED),
    Row("GET", "/api/v1/executions/{execution}", "401 200 200 200 200 / 404", None, WD_SHARED),
    Row("POST", "/api/v1/executions/{waiting}/cancel", "401 403 200 200 200 / 404", None, WD_SHARED),
    Row("POST", "/api/v1/executions/{execution}/retry", "401 403 200 200 200 / 404", None, WD_SHARED),
    Row(
        "POST",
        "/api/v1/executions/{execution}/replay?taskRunId={failed_run}",
        "401 403 201 201 201 / 404",
        None,
        WD_SHARED,
    ),
    Row(
        "GET", "/api/v1/executions/{execution}/file?path={execution_file}", "401 200 200 200 200 / 404", None, WD_SHARED
    ),
    Row(
        "GET",
        "/api/v1/executions/{execution}/file/metas?path={execution_file}",
        "401 200 200 200 200 / 404",
        None,
        WD_SHARED,
    ),
    # --- workflowsvc -----------------------------------------------------------------------
    Row("GET", "/workflowsvc/api/v1/workflows?nsfilter={ns}", "401 200 200 200 200 / 403"),
    Row(
        "POST", "/workflowsvc/api/v1/workflows?nsfilter={ns}", "401 403 201 201 201 / 403", {"_workflowDefId": "{flow}"}
    ),
    Row("GET", "/workflowsvc/api/v1/workflows/{execution}?nsfilter={ns}", "401 200 200 200 200 / 403"),
    Row(
        "PUT",
        "/workflowsvc/api/v1/workflows/{waiting}/status?nsfilter={ns}",
        "401 403 200 200 200 / 403",
        {"_status": "PAUSED"},
    ),
    # --- ActiveWorkflow --------------------------------------------------------------------
    Row("GET", "/api/v1/agents", "401 200 200 200 200 / -"),
    Row(
        "POST",
        "/api/v1/agents",
        "401 403 403 201 201 / 404",
        {"name": "new-agent", "type": "util.echo", "namespace": "{ns}"},
    ),
    Row("GET", "/api/v1/agents/{agent}", "401 200 200 200 200 / 404"),
    Row("PUT", "/api/v1/agents/{agent}", "401 403 403 200 200 / 404", {"disabled": True}),
    Row("DELETE", "/api/v1/agents/{agent}", "401 403 403 204 204 / 404"),
    Row("GET", "/api/v1/agents/{agent}/messages", "401 200 200 200 200 / 404"),
    Row("POST", "/api/v1/agents/{agent}/messages", "401 403 201 201 201 / 404", {"payload": {"x": 1}}),
    Row("POST", "/api/v1/agents/{agent}/run", "401 403 200 200 200 / 404"),
    Row("POST", "/api/v1/agents/{hook_agent}/webhook/{hook_secret}", "201 201 201 201 201 / -", {"x": 1}),
    Row("GET", "/api/v1/messages/{message}", "401 200 200 200 200 / 404"),
    Row("GET", "/api/v1/workflows", "401 200 200 200 200 / -"),
    Row(
        "POST",
        "/api/v1/workflows/import",
        "401 403 403 201 201 / 404",
        {"name": "imported", "namespace": "{ns}", "agents": [], "flows": []},
    ),
    Row("GET", "/api/v1/workflows/{flow}", "401 200 200 200 200 / 404"),
    Row("GET", "/api/v1/workflows/{flow}/export", "401 200 200 200 200 / 404"),
    # --- connector proxy -------------------------------------------------------------------
    Row("GET", "/v1/liveness", "200 200 200 200 200 / -"),
    Row("GET", "/v1/commands", "401 200 200 200 200 / -"),
    Row(
        "POST",
        "/v1/do/millrace/RunFlow",
        "401 403 202 202 202 / 404",
        {"namespace": "{ns}", "flow_name": "{flow_name}"},
    ),
    Row("POST", "/v1/do/flows/{ns}/{flow_name}", "401 404 202 202 202 / 404", {}),
    Row("PUT", "/v1/callbacks/unknown-token", "404 404 404 404 404 / -", {"command_response": {"body": {}}}),
]


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    return value


def _values(world: World, side: Side, caller: str) -> dict[str, str]:
    values = dict(side.values)
    own_side = side is world.own
    account = world.accounts.get(caller)
    values["me"] = str(account.pk) if own_side and account else side["member"]
    values["personal"] = "PERSONAL" if not own_side or not account else "MINE"
    values["username"] = world.username(caller)
    values["flow_name"] = f"flow-{'own' if own_side else 'other'}"
    return values


def _request(world: World, row: Row, mount: str, caller: str, side: Side) -> Any:
    client = APIClient()
    token = world.token(caller)
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    values = _values(world, side, caller)
    if caller in world.accounts and side is world.own:
        from tests.reliability.access_world import _secret

        _secret("MINE", "mine-value", account=world.accounts[caller])
    path = mount + row.path.format(**values)
    body = _fill(row.body, values)
    if row.format == "multipart":
        body = {name: SimpleUploadedFile(name, content.encode()) for name, content in body.items()}
    call = getattr(client, row.method.lower())
    return call(path, body, format=row.format) if body is not None else call(path)


def _leaks(world: World, text: str) -> list[str]:
    other = world.other.values
    keys = ("flow", "execution", "waiting", "approval", "trigger", "credential", "agent", "message", "member")
    return [key for key in keys if other[key] in text]


CASES = [(row, mount) for row in TABLE for mount in row.mounts]


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "mount"), CASES, ids=[f"{mount}{row.id()}" for row, mount in CASES])
def test_access_matrix(row: Row, mount: str, settings) -> None:
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_WEBHOOK_WAIT_SECONDS = 0
    settings.MILLRACE_CONNECTOR_WAIT_SECONDS = 0
    got: dict[str, int] = {}
    world = build_world()
    for caller in CALLERS:  # lowest first: a success may change the world, so it is built again after one
        response = _request(world, row, mount, caller, world.own)
        got[caller] = response.status_code
        if 200 <= response.status_code < 300 and row.method == "GET":
            content = b"".join(response.streaming_content) if response.streaming else response.content  # downloads
            assert _leaks(world, content.decode()) == [], f"{caller} sees another namespace's objects"
        if 200 <= response.status_code < 300 and row.method != "GET":
            world = _rebuilt(world)
    assert got == row.own, f"{mount}{row.id()}: {got}"
    if row.other is not None:
        crossed = {caller: _request(world, row, mount, caller, world.other).status_code for caller in ROLES}
        assert crossed == dict.fromkeys(ROLES, row.other), f"{mount}{row.id()} on another namespace: {crossed}"


def _rebuilt(world: World) -> World:
    from accounts.models import Account, Namespace

    Account.objects.all().delete()
    Namespace.objects.all().delete()
    return build_world()


# --- the table covers every route ----------------------------------------------------------

_PARAM = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


def _served_routes() -> set[tuple[str, str]]:
    """(METHOD, /path/with/{}) for every DRF route of the URL conf, admin, API docs, landing page and
    favicon aside."""
    found: set[tuple[str, str]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            assert isinstance(pattern, URLPattern)
            if route in ("", "favicon.ico") or route.startswith(("admin/", "api/docs/", "api/redoc/", "api/schema/")):
                continue
            view = getattr(pattern.callback, "cls", None)
            actions = getattr(pattern.callback, "actions", None)
            assert view is not None, f"{route} is not a DRF view"
            methods = [m.upper() for m in (actions or {m: m for m in view.http_method_names if hasattr(view, m)})]
            for method in methods:
                if method not in ("OPTIONS", "HEAD"):
                    found.add((method, "/" + _PARAM.sub("{}", route).replace("^", "").replace("$", "")))

    walk(get_resolver().url_patterns, "")
    return found


def _table_routes() -> set[tuple[str, str]]:
    routes = set()
    for row, mount in CASES:
        path = mount + row.path.split("?")[0]
        routes.add((row.method, re.sub(r"\{\w+\}", "{}", path)))
    return routes


def test_every_served_route_is_in_the_table() -> None:
    table = _table_routes()
    missing = []
    for method, route in sorted(_served_routes()):
        pattern = re.compile("^" + re.escape(route).replace(r"\{\}", "[^/]+") + "$")
        if not any(m == method and pattern.match(path) for m, path in table):
            missing.append(f"{method} {route}")
    assert missing == []


def test_the_table_names_only_served_routes() -> None:
    served = _served_routes()
    for method, path in _table_routes():
        assert any(
            m == method and re.match("^" + re.escape(route).replace(r"\{\}", "[^/]+") + "$", path)
            for m, route in served
        ), f"{method} {path} is not served"


# --- WebSockets ------------------------------------------------------------------------------

WS_ROUTES = ["/ws/executions/{execution}", "/flowrunner/ws/executions/{execution}"]
WS_ROUTES += ["/api/v1/executions/{execution}/logs", "/workflowdev/api/v1/executions/{execution}/logs"]
#: Close codes: 1000 after the replay of an ended execution, 4401 without a valid token, 4404 elsewhere.
WS_EXPECT = {"anonymous": 4401, "viewer": 1000, "executor": 1000, "editor": 1000, "admin": 1000}


def _ws_close_code(path: str) -> tuple[int | None, list[str]]:
    from unittest import mock

    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    async def run() -> tuple[int | None, list[str]]:
        comm = WebsocketCommunicator(application, path)
        connected, _ = await comm.connect(timeout=5)
        assert connected
        texts = []
        while True:
            output = await comm.receive_output(5)
            if output["type"] == "websocket.close":
                await comm.disconnect()
                return output.get("code"), texts
            texts.append(output.get("text", ""))

    with mock.patch("channels.db.close_old_connections", lambda: None):
        return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", WS_ROUTES)
def test_websocket_matrix(route: str) -> None:
    from executions.models import Execution, ExecutionStatus

    world = build_world()
    Execution.objects.filter(pk=world.own["execution"]).update(status=ExecutionStatus.SUCCESS)
    for caller in CALLERS:
        token = world.token(caller)
        path = route.format(**world.own.values) + (f"?token={token}" if token else "")
        code, texts = _ws_close_code(path)
        assert code == WS_EXPECT[caller], (caller, route, code)
        assert _leaks(world, "".join(texts)) == []
    for caller in ROLES:
        path = route.format(**world.other.values) + f"?token={world.token(caller)}"
        assert _ws_close_code(path) == (4404, []), (caller, route)


def test_every_websocket_route_is_in_the_table() -> None:
    from api.flowrunner.routing import websocket_urlpatterns as flowrunner_ws
    from api.workflowdev.routing import websocket_urlpatterns as workflowdev_ws

    for pattern in flowrunner_ws + workflowdev_ws:
        regex = re.compile(
            str(pattern.pattern.regex.pattern) if hasattr(pattern.pattern, "regex") else str(pattern.pattern)
        )
        served = [route for route in WS_ROUTES if regex.match(route.lstrip("/").format(execution="x"))]
        assert served, f"WebSocket route {regex.pattern} is not in the table"
