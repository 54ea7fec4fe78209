"""A property test: a secret's value never leaves the vault except into the request that uses it.

For generated secret values (awkward characters included) and generated flows that use
them — in headers, bodies, query strings, templates, log messages, outputs, errors,
subflow inputs, and derived forms (`|upper`, `|b64encode`, concatenation) — the value and
its derived forms appear in no API response of any dialect, no log line, no execution
event, no stored task input, output or error, no child execution and no export.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Request, Response

from accounts.models import Account, Namespace
from accounts.roles import Role
from executions.models import Execution, ExecutionEvent, TaskRun
from executions.services import execution_start
from flows.models import Flow
from flows.services import flow_create
from tests.conftest import token_for
from tests.factories import AccountFactory
from vault.masking import MASK
from vault.services import secret_set

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

#: Characters that break naive escaping (JSON, regexes, headers, templates, URLs, HTML).
AWKWARD = "\"'\\<>&%{}$[]()*+?.^|/#=;:,!~`@é߀😀\t"
CORE = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", min_size=10, max_size=14)
EDGE = st.text(alphabet=AWKWARD, min_size=0, max_size=4)


@st.composite
def secret_values(draw: st.DrawFn) -> str:
    """A value of at least 3 characters: awkward edges around a core that occurs nowhere by chance."""
    inner = draw(st.sampled_from(["", " ", "\\n", "%s", "{{ x }}", "${Y}", '"', "\\"]))
    return draw(EDGE) + draw(CORE) + inner + draw(CORE)[:3] + draw(EDGE)


@st.composite
def usages(draw: st.DrawFn) -> list[str]:
    """Which places of the flow use the secret (at least one)."""
    places = ["header", "body", "query", "log", "echo", "derived", "fail", "subflow", "template_error", "variables"]
    return draw(st.lists(st.sampled_from(places), min_size=1, max_size=6, unique=True))


def _forms(value: str) -> set[str]:
    """The value and what a flow may derive from it, as JSON text and raw."""
    derived = {value, value.upper(), value.lower(), base64.b64encode(value.encode()).decode(), value + "-x"}
    forms: set[str] = set()
    for item in derived:
        forms |= {item, json.dumps(item)[1:-1], json.dumps(item, ensure_ascii=False)[1:-1], repr(item)[1:-1]}
    return {form for form in forms if len(form) >= 3}


def _echo(request: Request) -> Response:
    """The upstream answers with everything it received: the worst case for what a step outputs."""
    body = {
        "headers": {
            name: request.headers[name] for name in ("X-Token", "X-Derived", "Authorization") if name in request.headers
        },
        "query": request.args.to_dict(),
        "body": request.get_data(as_text=True),
    }
    return Response(json.dumps(body), content_type="application/json")


def _flow_source(name: str, url: str, places: list[str]) -> str:
    secret = "secret('API_KEY')"
    tasks: list[str] = []
    if {"header", "body", "query", "derived"} & set(places):
        headers = {"X-Derived": "{{ " + secret + "|b64encode }}"}
        if "header" in places:
            headers |= {"X-Token": "${API_KEY}", "Authorization": "Bearer {{ " + secret + " }}"}
        properties: dict[str, Any] = {"url": url, "method": "POST", "headers": headers}
        if "query" in places:
            properties["params"] = {"key": "${API_KEY}"}
        body: dict[str, Any] = {"plain": "n/a"}
        if "body" in places:
            body["plain"] = "{{ " + secret + " }}"
        if "derived" in places:
            body |= {"upper": "{{ " + secret + "|upper }}", "suffix": "{{ " + secret + " ~ '-x' }}"}
        properties["body"] = body
        tasks.append(json.dumps({"name": "call", "type": "http.request", "properties": properties}))
    if "log" in places:
        message = "key={{ " + secret + " }} lower={{ " + secret + "|lower }}"
        tasks.append(json.dumps({"name": "log", "type": "util.log", "properties": {"message": message}}))
    if "echo" in places or "derived" in places:
        value = {"raw": "${API_KEY}", "b64": "{{ " + secret + "|b64encode }}", "up": "{{ " + secret + "|upper }}"}
        tasks.append(json.dumps({"name": "echo", "type": "util.echo", "properties": {"value": value}}))
    if "variables" in places:
        tasks.append(json.dumps({"name": "vars", "type": "util.echo", "properties": {"value": "{{ vars.key }}"}}))
    if "subflow" in places:
        inputs = {"token": "{{ " + secret + " }}", "upper": "{{ " + secret + "|upper }}"}
        tasks.append(
            json.dumps(
                {"name": "sub", "type": "flow.subflow", "properties": {"flowName": f"{name}-child", "inputs": inputs}}
            )
        )
    if "template_error" in places:
        value = "{{ {}[" + secret + "] }}"
        tasks.append(json.dumps({"name": "broken", "type": "util.echo", "properties": {"value": value}}))
    if "fail" in places:
        message = "failed with {{ " + secret + " }} and {{ " + secret + "|upper }}"
        tasks.append(json.dumps({"name": "stop", "type": "flow.fail", "properties": {"message": message}}))
    variables = json.dumps({"key": "${API_KEY}"}) if "variables" in places else "{}"
    return f"name: {name}\nvariables: {variables}\ntasks:\n" + "".join(f"  - {task}\n" for task in tasks)


CHILD = """name: {name}
tasks:
  - name: show
    type: util.log
    properties: {{message: "child got {{{{ inputs.token }}}} and {{{{ inputs.upper }}}}"}}
  - name: keep
    type: util.echo
    properties: {{value: "{{{{ inputs }}}}"}}
"""


def _stored_text(namespace: Namespace) -> str:
    """Every row the engine wrote for the namespace's executions (children included)."""
    executions = Execution.objects.filter(namespace=namespace)
    return json.dumps(
        {
            "executions": list(executions.values("inputs", "outputs", "error", "trigger_data")),
            "runs": list(
                TaskRun.objects.filter(execution__in=executions).values("inputs", "outputs", "error", "state")
            ),
            "events": list(ExecutionEvent.objects.filter(execution__in=executions).values("message", "data")),
        },
        default=str,
        ensure_ascii=False,
    )


def _api_texts(client: APIClient, namespace: Namespace, flow: Flow, executions: list[Execution]) -> Iterator[str]:
    """Every dialect's view of the flow and its executions."""
    ns = namespace.name
    paths = [
        "/flowrunner/api/v1/executions?limit=100",
        "/workflowdev/api/v1/executions",
        f"/workflowsvc/api/v1/workflows?nsfilter={ns}",
        f"/flowrunner/api/v1/flows/{flow.pk}",
        f"/workflowdev/api/v1/flows/{flow.pk}",
        f"/workflowdev/api/v1/flows/{flow.pk}/export",
        f"/api/v1/workflows/{flow.pk}",
        f"/api/v1/workflows/{flow.pk}/export",
        "/api/v1/credentials",
        "/api/v1/audit",
        f"/api/v1/approvals?namespace={ns}",
    ]
    for execution in executions:
        paths += [
            f"/flowrunner/api/v1/executions/{execution.pk}",
            f"/flowrunner/api/v1/executions/{execution.pk}/logs?level=debug",
            f"/workflowdev/api/v1/executions/{execution.pk}",
            f"/workflowsvc/api/v1/workflows/{execution.pk}?nsfilter={ns}&_includeLoopOverTasks=true",
        ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        yield f"{path}: {response.content.decode()}"


@pytest.fixture
def world(transactional_db, settings, namespace) -> dict[str, Any]:
    settings.MILLRACE_ENGINE_EAGER = True
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    admin = AccountFactory(role=Role.ADMIN, default_namespace=namespace, username="keeper")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(admin)}")
    return {"admin": admin, "client": client, "count": iter(range(10_000))}


@pytest.fixture
def echo_server(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/echo").respond_with_handler(_echo)
    return httpserver


def _run_case(
    world: dict[str, Any],
    namespace_factory: Callable[[str], Namespace],
    url: str,
    value: str,
    places: list[str],
    caplog,
) -> None:
    index = next(world["count"])
    namespace = namespace_factory(f"leak-{index}")
    admin: Account = world["admin"]
    secret_set(actor=admin, name="API_KEY", value=value, namespace=namespace)
    name = f"flow-{index}"
    if "subflow" in places:
        flow_create(actor=admin, namespace=namespace, source=CHILD.format(name=f"{name}-child"))
    flow = flow_create(actor=admin, namespace=namespace, source=_flow_source(name, url, places))
    with caplog.at_level(logging.DEBUG):
        execution = execution_start(actor=admin, flow=flow, inputs={"who": "ada"})
    execution.refresh_from_db()
    executions = list(Execution.objects.filter(namespace=namespace))
    texts = {
        "stored": _stored_text(namespace),
        # every log line of this process but the test upstream's own access log
        "logs": "\n".join(record.getMessage() for record in caplog.records if record.name != "werkzeug"),
        **{f"api {i}": text for i, text in enumerate(_api_texts(world["client"], namespace, flow, executions))},
    }
    for form in _forms(value):
        for where, text in texts.items():
            assert form not in text, f"{form!r} leaked in {where}: {text[max(0, text.find(form) - 200) :][:400]!r}"
    # Variables are data, never rendered: `${API_KEY}` stays that text; a secret used as a
    # key is refused before any value is quoted, and the steps after it do not run.
    masked_before = {"header", "body", "query", "derived", "log", "echo", "subflow"}
    if set(places) & masked_before or ("fail" in places and "template_error" not in places):
        assert MASK in texts["stored"], "the secret was used, so something was masked"


#: Each example runs flows through the engine: a dozen in CI, many more under HYPOTHESIS_PROFILE=deep.
ENGINE_EXAMPLES = 12 if settings.default.max_examples <= 100 else 150


@settings(max_examples=ENGINE_EXAMPLES)
@given(value=secret_values(), places=usages())
def test_secret_values_never_leak(world, echo_server, value: str, places: list[str], caplog) -> None:
    from tests.factories import NamespaceFactory

    _run_case(world, lambda name: NamespaceFactory(name=name), echo_server.url_for("/echo"), value, places, caplog)
    caplog.clear()


@pytest.mark.parametrize(
    "places",
    [
        ["header", "body", "query"],
        ["derived"],
        ["log", "echo"],
        ["subflow"],
        ["fail"],
        ["template_error"],
        ["variables"],
    ],
)
def test_each_place_on_its_own(world, echo_server, places: list[str], caplog) -> None:
    from tests.factories import NamespaceFactory

    value = "p@ss\"w'o\\rd{{ x }}-Zq9Kx7"
    _run_case(world, lambda name: NamespaceFactory(name=name), echo_server.url_for("/echo"), value, places, caplog)


# --- regressions of what the property found ---------------------------------------------------


def test_masking_covers_the_repr_and_url_encoded_forms_of_a_value() -> None:
    from urllib.parse import quote, quote_plus

    from vault.masking import Masker

    value = 'it\'s \\ "q" é/&='
    masker = Masker([value])
    for form in (value, repr(value)[1:-1], ascii(value)[1:-1], quote(value, safe=""), quote_plus(value)):
        assert masker.mask_text(f"<{form}>") == f"<{MASK}>", form


@pytest.mark.parametrize(
    ("template", "derived"),
    [
        ("{{ secret('K')|upper }}", "TOK-ABCDEF"),
        ("{{ secret('K')|b64encode }}", base64.b64encode(b"tok-abcdef").decode()),
        ("{{ secret('K')|upper|b64encode }}", base64.b64encode(b"TOK-ABCDEF").decode()),
        ("{{ secret('K').upper() }}", "TOK-ABCDEF"),
        ("{{ secret('K')|sha256 }}", None),
    ],
)
def test_values_derived_from_a_secret_are_masked_in_plugin_outputs(template: str, derived: str | None) -> None:
    from executions.engine.templating import TemplateRenderer

    class Resolver:
        def secret(self, name: str) -> str:
            return "tok-abcdef"

        def kv(self, key: str) -> Any:
            raise LookupError(key)

    renderer = TemplateRenderer({}, Resolver())
    rendered = renderer.render(template, "value")
    echoed = {"upstream": f"you sent {rendered}", "again": rendered}  # what an echoing server returns
    masked = json.dumps(renderer.masker().mask(echoed))
    assert "tok-abcdef" not in masked and (derived is None or derived not in masked)
    assert renderer.masker().mask("Bearer tok-abcdef") == f"Bearer {MASK}"  # plain use still masked in place


@pytest.mark.parametrize("template", ["{{ secret('K')[2:] }}", "x {{ secret('K')|reverse }} y"])
def test_values_that_take_a_secret_apart_are_refused(template: str) -> None:
    from executions.engine.templating import TemplateRenderer, TemplateRenderError

    class Resolver:
        def secret(self, name: str) -> str:
            return "tok-abcdef"

        def kv(self, key: str) -> Any:
            raise LookupError(key)

    with pytest.raises(TemplateRenderError, match="a secret can be used whole only") as refused:
        TemplateRenderer({}, Resolver()).render(template, "value")
    assert "abcdef" not in str(refused.value) and "fedcba" not in str(refused.value)


def test_outbound_requests_are_not_logged_with_their_query_strings() -> None:
    import connectors.http  # noqa: F401  (sets the level on import)

    assert logging.getLogger("urllib3.connectionpool").getEffectiveLevel() >= logging.INFO
