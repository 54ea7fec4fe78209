"""Secrets reach plugins and nothing else; template errors name where; declared inputs are coerced."""

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from accounts.models import Account, Namespace
from core.errors import ValidationFailed
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_start
from flows.services import flow_create
from tests.executions.engine.support import run_named
from tests.factories import FlowFactory, SecretFactory
from vault.crypto import generate_key
from vault.masking import MASK
from vault.models import Secret

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus
TOKEN = "s3cr3t-Token-9f8e7d6c"


@pytest.fixture(autouse=True)
def credentials_key(settings) -> None:
    settings.MILLRACE_CREDENTIALS_KEY = generate_key()
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def make_secret(name: str, value: str, *, namespace: Namespace | None = None, account: Account | None = None) -> Secret:
    return SecretFactory(name=name, value=value, namespace=namespace, account=account)


def everything_stored(execution: Execution) -> str:
    """Every text the platform keeps about an execution: task runs, events, its own fields."""
    execution.refresh_from_db()
    runs = TaskRun.objects.filter(execution=execution).values("inputs", "outputs", "error", "state")
    events = ExecutionEvent.objects.filter(execution=execution).values("message", "data")
    return json.dumps(
        {
            "runs": list(runs),
            "events": list(events),
            "error": execution.error,
            "outputs": execution.outputs,
            "inputs": execution.inputs,
        },
        default=str,
    )


def echo_headers(request: Request) -> Response:
    body = {"token": request.headers.get("X-Token"), "auth": request.headers.get("Authorization")}
    return Response(json.dumps(body), content_type="application/json")


def test_a_credential_reaches_the_request_but_is_masked_everywhere_it_is_stored(
    run_flow, namespace, httpserver: HTTPServer
):
    make_secret("API_TOKEN", TOKEN, namespace=namespace)
    httpserver.expect_request("/echo").respond_with_handler(echo_headers)
    execution = run_flow(f"""
name: uses-secret
tasks:
  - name: call
    type: http.request
    properties:
      url: "{httpserver.url_for("/echo")}?key=${{API_TOKEN}}"
      headers:
        X-Token: "${{API_TOKEN}}"
        Authorization: "Bearer {{{{ secret('API_TOKEN') }}}}"
  - name: show
    type: util.echo
    properties: {{value: "got {{{{ outputs.call.body.token }}}}"}}
  - name: log
    type: util.log
    properties: {{message: "token is {{{{ secret('API_TOKEN') }}}}"}}
""")
    assert execution.status == E.SUCCESS, execution.error
    [(request, _)] = httpserver.log
    assert request.headers["X-Token"] == TOKEN
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.args["key"] == TOKEN

    call = run_named(execution, "call")
    # every field a secret went into is stored whole as MASK (a transformed secret would not match)
    assert call.inputs["headers"] == {"X-Token": MASK, "Authorization": MASK}
    assert call.inputs["url"] == MASK
    assert call.outputs["body"] == {"token": MASK, "auth": f"Bearer {MASK}"}
    assert run_named(execution, "log").inputs == {"message": MASK}
    stored = everything_stored(execution)
    assert TOKEN not in stored
    assert MASK in stored


def test_secrets_are_masked_in_errors_too(run_flow, namespace):
    make_secret("API_TOKEN", TOKEN, namespace=namespace)
    plugin_error = run_flow(
        'name: plugin-error\ntasks:\n  - name: nap\n    type: util.sleep\n    properties: {seconds: "${API_TOKEN}"}\n'
    )
    assert plugin_error.status == E.FAILED
    assert MASK in plugin_error.error and "not a duration" in plugin_error.error
    template_error = run_flow(  # an error quoting a value that is the secret (a secret as a key is refused)
        "name: template-error\ntasks:\n  - name: look\n    type: util.echo\n"
        f"    properties: {{value: \"${{API_TOKEN}}{{{{ {{}}['{TOKEN}'] }}}}\"}}\n"
    )
    assert template_error.status == E.FAILED
    assert "look" in template_error.error and MASK in template_error.error
    for execution in (plugin_error, template_error):
        assert TOKEN not in everything_stored(execution)


def test_a_credential_of_another_namespace_cannot_be_saved_or_resolved(
    run_flow, namespace, other_namespace, runner_account, httpserver: HTTPServer
):
    make_secret("FOREIGN_KEY", TOKEN, namespace=other_namespace)
    httpserver.expect_request("/echo").respond_with_handler(echo_headers)
    source = f"""
name: borrows
tasks:
  - name: call
    type: http.request
    properties:
      url: "{httpserver.url_for("/echo")}"
      headers:
        X-Key: "${{FOREIGN_KEY}}"
"""
    with pytest.raises(ValidationFailed) as refused:
        flow_create(actor=runner_account, namespace=namespace, source=source)
    assert refused.value.details == [
        {"path": "tasks[0].properties.headers.X-Key", "line": 9, "message": "unknown secret 'FOREIGN_KEY'"}
    ]

    flow = FlowFactory(namespace=namespace, source=source, created_by=runner_account)  # saved around the check
    execution = run_flow("", flow=flow)
    call = run_named(execution, "call")
    assert execution.status == E.FAILED
    assert call.status == T.FAILED
    assert "properties.headers.X-Key" in call.error and "FOREIGN_KEY" in call.error
    assert "not defined" in call.error
    assert httpserver.log == []
    assert TOKEN not in everything_stored(execution)


def test_the_flow_owners_account_secret_is_resolvable(run_flow, runner_account):
    make_secret("MINE", "account-owned-value", account=runner_account)
    execution = run_flow("name: mine\ntasks:\n  - name: a\n    type: util.echo\n    properties: {value: '${MINE}!'}\n")
    assert execution.status == E.SUCCESS, execution.error
    assert run_named(execution, "a").outputs == f"{MASK}!"


def test_a_template_error_names_the_task_the_field_and_the_problem(run_flow):
    execution = run_flow("""
name: broken-template
tasks:
  - name: first
    type: util.echo
    properties: {value: fine}
  - name: use
    type: util.echo
    properties:
      value: {list: [1, "{{ outputs.missing.value }}"]}
""")
    use = run_named(execution, "use")
    assert execution.status == E.FAILED and use.status == T.FAILED
    assert use.error.startswith("Task 'use': properties.value.list[1]: ")
    assert "missing" in use.error
    assert "use" in execution.error and "properties.value.list[1]" in execution.error
    assert run_named(execution, "first").status == T.SUCCESS


# --- declared inputs ------------------------------------------------------------------------------

TYPED = """
name: typed
inputs:
  - id: count
    type: INT
    required: true
  - id: flag
    type: BOOLEAN
    defaults: false
  - id: payload
    type: JSON
  - id: ratio
    type: FLOAT
  - id: who
    type: STRING
    defaults: anon
tasks:
  - name: sum
    type: util.echo
    properties:
      value: "{{ inputs.count + 1 }}"
  - name: shape
    type: util.echo
    properties:
      value: "{{ inputs.payload.a[0] if inputs.flag else inputs.who }}"
"""


def test_declared_inputs_are_coerced_and_defaults_fill_the_gaps(run_flow):
    execution = run_flow(TYPED, {"count": "41", "flag": "yes", "payload": '{"a": [7]}', "extra": "kept"})
    assert execution.status == E.SUCCESS, execution.error
    assert execution.inputs == {"count": 41, "flag": True, "payload": {"a": [7]}, "who": "anon", "extra": "kept"}
    assert run_named(execution, "sum").outputs == 42
    assert run_named(execution, "shape").outputs == 7

    defaults = run_flow(TYPED, {"count": 1, "ratio": "0.5"}, name="typed-2")
    assert defaults.inputs == {"count": 1, "flag": False, "ratio": 0.5, "who": "anon"}
    assert run_named(defaults, "shape").outputs == "anon"


def test_bad_inputs_are_refused_with_every_problem_and_nothing_starts(runner_account, namespace):
    flow = FlowFactory(namespace=namespace, source=TYPED, created_by=runner_account)
    with pytest.raises(ValidationFailed) as refused:
        execution_start(
            actor=runner_account, flow=flow, inputs={"flag": "maybe", "payload": "{bad", "ratio": "fast", "who": []}
        )
    fields = [problem["field"] for problem in refused.value.details]
    assert fields == ["inputs.count", "inputs.flag", "inputs.payload", "inputs.ratio", "inputs.who"]
    reasons = {problem["field"]: problem["reason"] for problem in refused.value.details}
    assert reasons["inputs.count"] == "required"
    assert "boolean" in reasons["inputs.flag"] and "number" in reasons["inputs.ratio"]
    assert not Execution.objects.filter(flow=flow).exists()


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"count": "4.5"}, "inputs.count"),
        ({"count": True}, "inputs.count"),
        ({"count": 2.5}, "inputs.count"),
        ({"count": 1, "ratio": "nan"}, "inputs.ratio"),
        ({"count": 1, "ratio": "Infinity"}, "inputs.ratio"),
        ({"count": 1, "payload": "[NaN]"}, "inputs.payload"),
        ({"count": 1, "flag": 1}, "inputs.flag"),
    ],
)
def test_values_that_do_not_fit_their_type_are_refused(runner_account, namespace, given, field):
    flow = FlowFactory(namespace=namespace, source=TYPED, created_by=runner_account)
    with pytest.raises(ValidationFailed) as refused:
        execution_start(actor=runner_account, flow=flow, inputs=given)
    assert [problem["field"] for problem in refused.value.details] == [field]


def test_inputs_must_be_an_object(runner_account, namespace):
    flow = FlowFactory(namespace=namespace, source=TYPED, created_by=runner_account)
    with pytest.raises(ValidationFailed):
        execution_start(actor=runner_account, flow=flow, inputs=["count", 1])


def test_secrets_transformed_in_templates_and_control_steps_are_never_stored(run_flow, namespace):
    """b64encode(...) hides a secret from plain masking; flow.fail and graph conditions render too."""
    value = "pw-7a1c9e3b5d"
    SecretFactory(namespace=namespace, name="PW", value=value)
    execution = run_flow("""
name: derived
tasks:
  - name: basic
    type: util.echo
    properties:
      value: "Basic {{ ('user:' ~ secret('PW')) | b64encode }}"
  - name: boom
    type: flow.fail
    properties:
      message: "failed with {{ secret('PW') }}"
""")
    execution.refresh_from_db()
    boom = execution.task_runs.get(name="boom")
    texts = [
        repr(execution.task_runs.get(name="basic").inputs),
        boom.error,
        execution.error,
        repr(list(execution.events.filter(task_run=boom).values("message", "data"))),
    ]
    for text in texts:
        assert value not in text
    assert execution.task_runs.get(name="basic").inputs == {"value": MASK}
    assert boom.error == MASK and execution.error.endswith(MASK)
