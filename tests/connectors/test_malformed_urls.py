"""A URL urllib cannot parse (`http://[::1:8790/`) is INVALID_URL for every caller, never a crash."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response
from werkzeug.datastructures import Headers

from accounts.roles import Role
from connectors import http
from connectors.netpolicy import InvalidOutboundURL, check_url
from connectors.registry import ResultStatus
from executions.engine.callbacks import put_callback
from executions.models import ExecutionStatus, TaskRun
from executions.services import execution_start
from tests.factories import AccountFactory, FlowFactory

from .conftest import FakeContext, RunPlugin

BAD_URLS = ["http://[::1:8790/", "https://host]/path?token=t", "http://[127.0.0.1]/"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_the_policy_and_the_client_answer_invalid_url(url: str) -> None:
    with pytest.raises(InvalidOutboundURL, match="cannot be parsed"):
        check_url(url)
    with pytest.raises(InvalidOutboundURL) as raised:
        http.request("GET", url)
    assert raised.value.code == "INVALID_URL"
    assert http.display_host(url) == "(a URL that does not parse)"


class RawHeaders(Response):
    """Headers as given: werkzeug would parse the Location, and fail, before sending it."""

    def get_wsgi_headers(self, environ: dict) -> Headers:
        return self.headers


def test_a_redirect_to_a_url_that_does_not_parse_is_invalid_url(httpserver: HTTPServer, allow_loopback) -> None:
    moved = RawHeaders("", status=302, headers={"Location": "http://[::1:8790/"})
    httpserver.expect_request("/old").respond_with_response(moved)
    with pytest.raises(InvalidOutboundURL, match="redirect"):
        http.request("GET", httpserver.url_for("/old"))


@pytest.mark.parametrize(
    ("plugin", "inputs"),
    [
        ("http.request", {"url": "http://[::1:8790/"}),
        ("webhook", {"url": "http://[::1:8790/", "body": {"a": 1}}),
        ("connector.call", {"baseUrl": "http://[::1:8790/", "command": "http/GetRequest"}),
    ],
)
def test_plugins_fail_the_task_with_invalid_url(plugin: str, inputs: dict, run_plugin: RunPlugin, ctx: FakeContext):
    result = run_plugin(plugin, inputs)
    assert result.status == ResultStatus.FAILED
    assert result.error_code == "INVALID_URL" and "cannot be parsed" in result.error


def test_a_callback_url_that_does_not_parse_is_a_final_failure() -> None:
    outcome = put_callback("http://[::1:8790/v1/callbacks/token", {"command_response": {"body": {}}})
    assert not outcome.delivered and outcome.final and "cannot be parsed" in outcome.reason


FLOW = """
name: bad-url
inputs:
  - {id: url, type: STRING}
tasks:
  - name: call
    type: PLUGIN
    properties:
      KEY: "{{ inputs.url }}"
      command: http/GetRequest
"""


STEPS = [("http.request", "url"), ("webhook", "url"), ("connector.call", "baseUrl")]


@pytest.mark.parametrize(("plugin", "key"), STEPS)
def test_a_flow_step_with_such_a_url_fails_with_a_clear_error(settings, transactional_db, namespace, plugin, key):
    settings.MILLRACE_ENGINE_EAGER = True
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    source = FLOW.replace("PLUGIN", plugin).replace("KEY", key)
    if plugin != "connector.call":
        source = source.replace("      command: http/GetRequest\n", "")
    flow = FlowFactory(namespace=namespace, created_by=account, source=source)

    execution = execution_start(actor=account, flow=flow, inputs={"url": "http://[::1:8790/"})

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    run = TaskRun.objects.get(execution=execution, name="call")
    assert "cannot be parsed" in run.error and "Unhandled" not in run.error
