"""End to end: a flow that reshapes a secret fails its step, and no reader sees any trace of it.

The execution read of every dialect, its logs, events, task-run inputs, outputs, errors and
state hold neither the secret nor its pieces (see test_templating_secrets for the forms).
"""

import json

import pytest
from rest_framework.test import APIClient

from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun
from tests.conftest import token_for
from tests.executions.engine.support import run_named
from tests.executions.engine.test_secrets_and_templates import make_secret
from tests.executions.engine.test_templating_secrets import V, assert_no_trace
from vault.crypto import generate_key
from vault.models import KeyValue

pytestmark = pytest.mark.usefixtures("eager")


@pytest.fixture(autouse=True)
def credentials_key(settings) -> None:
    settings.MILLRACE_CREDENTIALS_KEY = generate_key()


def _task(plugin: str, properties: dict) -> str:
    return f"name: leak\ntasks:\n  - name: leak\n    type: {plugin}\n    properties: {json.dumps(properties)}\n"


ATTACKS = {
    "list": _task("util.echo", {"value": "{{ secret('API_TOKEN') | list }}"}),
    "dict-key": _task("util.echo", {"value": "{{ {secret('API_TOKEN'): 1} }}"}),
    "nested-key": _task("util.log", {"message": "{{ {'a': [{secret('API_TOKEN'): 1}]} }}"}),
    "batch-join": _task("util.echo", {"value": "{{ secret('API_TOKEN') | batch(2) | map('join') | list }}"}),
    "encode": _task("util.echo", {"value": "{{ secret('API_TOKEN').encode() | list }}"}),
    "loop": _task("util.log", {"message": "{% for c in secret('API_TOKEN') %}{{ c }} {% endfor %}"}),
    "reverse": _task("util.echo", {"value": "{{ secret('API_TOKEN') | reverse }}"}),
    "side-channel": _task("util.echo", {"value": "{% if secret('API_TOKEN')[0] == 'K' %}K{% endif %}"}),
    "jinja-plugin": _task("data.template", {"template": "{% raw %}{{ data|list }}{% endraw %}", "data": "${X}"}),
    "jmespath-plugin": _task("data.transform", {"expression": "reverse(@)", "data": "${API_TOKEN}"}),
    "json-plugin": _task("data.json.parse", {"text": "[\"{{ secret('API_TOKEN') }}\"]"}),
    "kv-plugin": _task("kv.set", {"key": "copy", "value": "${API_TOKEN}"}),
    "for-each": """
name: leak
tasks:
  - name: each
    type: flow.forEach
    properties: {items: "{{ [secret('API_TOKEN')] }}"}
    tasks:
      - {name: leak, type: util.echo, properties: {value: "{{ item | list }}"}}
""",
    "switch": """
name: leak
tasks:
  - name: choose
    type: flow.switch
    properties: {value: "{{ secret('API_TOKEN') }}"}
    cases:
      a: [{name: never, type: util.echo, properties: {value: 1}}]
""",
}


def _readable(execution: Execution, account) -> list[str]:
    """What readers of the namespace get: the API reads of each dialect and the rows behind
    the console and the WebSocket feed (events)."""
    execution.refresh_from_db()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(account)}")
    texts = []
    for path in (
        f"/flowrunner/api/v1/executions/{execution.pk}",
        f"/flowrunner/api/v1/executions/{execution.pk}/logs?level=debug",
        f"/workflowdev/api/v1/executions/{execution.pk}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        texts.append(response.content.decode())
    runs = TaskRun.objects.filter(execution=execution).values("inputs", "outputs", "error", "state", "outcome")
    events = ExecutionEvent.objects.filter(execution=execution).values("message", "data")
    rows = {"runs": list(runs), "events": list(events), "error": execution.error, "outputs": execution.outputs}
    texts.append(json.dumps(rows, default=str, ensure_ascii=False))
    texts.append(json.dumps(list(KeyValue.objects.values("key", "value")), default=str, ensure_ascii=False))
    return texts


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_reshaped_secret_fails_its_step_and_reaches_no_reader(run_flow, namespace, runner_account, attack):
    make_secret("API_TOKEN", V, namespace=namespace)
    execution = run_flow(ATTACKS[attack].replace("${X}", "${API_TOKEN}"))
    assert execution.status == ExecutionStatus.FAILED
    assert "a secret" in execution.error
    for text in _readable(execution, runner_account):
        assert_no_trace(json.loads(text))


def test_a_secret_used_whole_in_a_log_and_an_echo_is_masked(run_flow, namespace, runner_account):
    make_secret("API_TOKEN", V, namespace=namespace)
    execution = run_flow("""
name: whole
tasks:
  - name: echo
    type: util.echo
    properties:
      value:
        auth: "Bearer {{ secret('API_TOKEN') }}"
        basic: "{{ ('u:' ~ secret('API_TOKEN')) | b64encode }}"
  - name: log
    type: util.log
    properties: {message: "token ${API_TOKEN}"}
""")
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    assert run_named(execution, "echo").outputs["auth"] == "Bearer ******"
    for text in _readable(execution, runner_account):
        assert_no_trace(json.loads(text))
