"""The real SpiffWorkflow engine runs a BPMN service task through Millrace's connector proxy.

SpiffWorkflow (3.x) parses `bpmn/fetch_items.bpmn` and runs it; its service task
(`spiffworkflow:serviceTaskOperator` `http/GetRequest`) goes through `spiff_backend`, which
calls a live Millrace server the way spiff-arena's backend does, with the proxy API key only.
Millrace fetches from a local upstream server.
"""

import base64
import json

import pytest
from pytest_httpserver import HTTPServer
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from werkzeug import Request, Response

from .spiff_backend import ConnectorProxyEngine, ServiceTaskError, new_process

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY = "interop-proxy-key-0123456789"
ITEMS = [{"id": 1, "name": "anvil"}, {"id": 2, "name": "bellows"}, {"id": 3, "name": "crucible"}]
UPSTREAM_AUTH = "Basic " + base64.b64encode(b"reader:s3cret").decode()


@pytest.fixture
def millrace(live_server, settings) -> str:
    """A live Millrace that takes the proxy API key and may reach the loopback upstream."""
    settings.MILLRACE_CONNECTOR_API_KEY = API_KEY
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.MILLRACE_PUBLIC_URL = live_server.url
    return live_server.url


@pytest.fixture
def engine(millrace: str) -> ConnectorProxyEngine:
    return ConnectorProxyEngine(millrace, api_key=API_KEY)


@pytest.fixture
def upstream(httpserver: HTTPServer) -> HTTPServer:
    """Answers `/items` only to the credentials and Accept header the service task sends."""

    def items(request: Request) -> Response:
        if request.headers.get("Authorization") != UPSTREAM_AUTH or request.headers.get("Accept") != "application/json":
            return Response('{"error": "unauthorised"}', status=401, content_type="application/json")
        limit = int(request.args["limit"])
        return Response(json.dumps({"items": ITEMS[:limit]}), content_type="application/json")

    httpserver.expect_request("/items", method="GET").respond_with_handler(items)
    return httpserver


def fetch_items(engine: ConnectorProxyEngine, url: str, limit: int = 2, password: str = "s3cret") -> BpmnWorkflow:
    return new_process(
        "fetch_items.bpmn", "fetch_items", engine, {"items_url": url, "limit": limit, "reader_password": password}
    )


def failed_run(workflow: BpmnWorkflow) -> ServiceTaskError:
    """Run the process into its failing service task; it is left in ERROR with no result."""
    with pytest.raises(ServiceTaskError) as raised:
        workflow.do_engine_steps()
    task = workflow.get_next_task(spec_name="get_items")
    assert task.state == TaskState.ERROR
    assert "items_response" not in task.data
    assert not workflow.is_completed()
    return raised.value


def test_the_process_completes_with_the_upstream_data(engine, upstream: HTTPServer) -> None:
    workflow = fetch_items(engine, upstream.url_for("/items"), limit=2)
    workflow.do_engine_steps()

    assert workflow.is_completed()
    assert workflow.last_task.data["items_response"] == {"items": ITEMS[:2]}
    assert workflow.last_task.data["item_names"] == ["anvil", "bellows"]
    ((request, response),) = upstream.log
    assert response.status_code == 200
    assert request.args.to_dict(flat=False) == {"limit": ["2"]}  # no spiff__* key reached the upstream


def test_the_request_carries_the_evaluated_parameters_and_the_spiff_keys(engine, upstream: HTTPServer) -> None:
    workflow = fetch_items(engine, upstream.url_for("/items"), limit=3)
    workflow.do_engine_steps()

    assert workflow.last_task.data["item_names"] == ["anvil", "bellows", "crucible"]
    ((sent, envelope),) = engine.exchanges
    task = workflow.get_next_task(spec_name="get_items")
    assert {key: sent[key] for key in ("url", "headers", "params", "basic_auth_username", "timeout")} == {
        "url": upstream.url_for("/items"),
        "headers": {"Accept": "application/json"},
        "params": {"limit": 3},
        "basic_auth_username": "reader",
        "timeout": 10,
    }
    assert sent["spiff__task_id"] == str(task.id)
    assert sent["spiff__task_data"]["items_url"] == upstream.url_for("/items")
    assert sent["spiff__callback_url"].endswith(f"/tasks/7/{task.id}/callback")
    assert envelope["command_response"] == {
        "body": {"items": ITEMS},
        "mimetype": "application/json",
        "http_status": 200,
    }
    assert (envelope["command_response_version"], envelope["error"]) == (2, None)
    logs = " ".join(envelope["spiff__logs"])
    assert upstream.url_for("/items") in logs
    assert "s3cret" not in logs and "limit" not in logs  # neither credentials nor the query string


def test_a_failing_upstream_fails_the_service_task(engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/items", method="GET").respond_with_data("down for maintenance", status=503)

    error = failed_run(fetch_items(engine, httpserver.url_for("/items")))

    assert error.error_code == "ServiceTaskHttpError503"
    ((_, envelope),) = engine.exchanges
    assert envelope["command_response"]["body"] == {"raw_response": "down for maintenance"}
    assert envelope["error"] is None  # the proxy worked; the upstream's status says what went wrong


def test_an_upstream_refusing_the_credentials_fails_the_service_task(engine, upstream: HTTPServer) -> None:
    error = failed_run(fetch_items(engine, upstream.url_for("/items"), password="wrong"))

    assert error.error_code == "ServiceTaskHttpError401"
    ((_, envelope),) = engine.exchanges
    assert envelope["command_response"]["body"] == {"error": "unauthorised"}


def test_an_error_envelope_fails_the_service_task(engine, httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/items")
    httpserver.stop()  # nothing listens there now: Millrace answers CONNECTION_ERROR
    try:
        error = failed_run(fetch_items(engine, url))
    finally:
        httpserver.start()

    assert error.error_code == "CONNECTION_ERROR"
    ((_, envelope),) = engine.exchanges
    assert envelope["command_response"]["http_status"] == 500
    assert envelope["command_response"]["body"] == {}


def test_a_wrong_api_key_is_refused_before_anything_is_fetched(millrace, upstream: HTTPServer) -> None:
    engine = ConnectorProxyEngine(millrace, api_key="not-the-key")

    error = failed_run(fetch_items(engine, upstream.url_for("/items")))

    assert error.error_code == "unauthorized"
    ((_, envelope),) = engine.exchanges
    assert envelope["command_response"]["http_status"] == 401
    assert upstream.log == []
