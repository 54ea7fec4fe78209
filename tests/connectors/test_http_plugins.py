"""http.request, webhook and REST_CONNECTOR against a real local server."""

from __future__ import annotations

import base64
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.registry import InputError, ResultStatus, get_plugin

from .conftest import FakeContext, RunPlugin

pytestmark = pytest.mark.usefixtures("allow_loopback")


def _sent(server: HTTPServer, index: int = 0) -> Request:
    return server.log[index][0]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_http_request_sends_each_method(httpserver: HTTPServer, run_plugin: RunPlugin, method: str) -> None:
    httpserver.expect_request("/items", method=method).respond_with_json({"method": method})
    result = run_plugin("http.request", {"url": httpserver.url_for("/items"), "method": method})
    assert result.status == ResultStatus.SUCCESS
    assert result.outputs["status_code"] == 200
    assert result.outputs["body"] == ("" if method == "HEAD" else {"method": method})
    assert result.outputs["headers"]["Content-Type"] == "application/json"


def test_http_request_sends_headers_params_and_a_json_body(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/items", method="POST").respond_with_data("created", status=201)
    result = run_plugin(
        "http.request",
        {
            "url": httpserver.url_for("/items"),
            "method": "POST",
            "headers": {"Accept": "application/json", "X-Request-Id": "r-1", "X-Count": 3, "X-Flag": True},
            "params": {"limit": 10, "active": True, "tag": ["a", "b"], "skip": None},
            "body": {"name": "example"},
        },
    )
    sent = _sent(httpserver)
    assert sent.headers["X-Request-Id"] == "r-1"
    assert (sent.headers["X-Count"], sent.headers["X-Flag"]) == ("3", "true")
    assert sent.args.to_dict(flat=False) == {"limit": ["10"], "active": ["true"], "tag": ["a", "b"]}
    assert sent.mimetype == "application/json"
    assert sent.get_json() == {"name": "example"}
    assert result.outputs == {"status_code": 201, "headers": result.outputs["headers"], "body": "created"}


def test_http_request_sends_a_form_body(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/token", method="POST").respond_with_json({"access_token": "t"})
    body = {"grant_type": "password", "username": "admin", "remember": False}
    result = run_plugin(
        "http.request", {"url": httpserver.url_for("/token"), "method": "POST", "body": body, "body_format": "form"}
    )
    sent = _sent(httpserver)
    assert sent.mimetype == "application/x-www-form-urlencoded"
    assert sent.form.to_dict() == {"grant_type": "password", "username": "admin", "remember": "false"}
    assert result.outputs["body"] == {"access_token": "t"}


def test_http_request_sends_a_raw_body(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/raw", method="PUT").respond_with_data("ok")
    base = {"url": httpserver.url_for("/raw"), "method": "PUT", "body_format": "raw"}
    run_plugin("http.request", {**base, "body": "héllo <b>"})
    run_plugin("http.request", {**base, "body": "a,b", "headers": {"Content-Type": "text/csv"}})
    assert _sent(httpserver, 0).get_data() == "héllo <b>".encode()
    assert _sent(httpserver, 0).headers["Content-Type"] == "text/plain; charset=utf-8"
    assert _sent(httpserver, 1).headers["Content-Type"] == "text/csv"


def test_a_form_body_must_be_an_object() -> None:
    plugin = get_plugin("http.request")
    with pytest.raises(InputError) as caught:
        plugin.check_inputs({"url": "http://example.com/", "body": "a=b", "body_format": "form"})
    assert [problem["path"] for problem in caught.value.problems] == ["body"]


@pytest.mark.parametrize(
    ("plugin_id", "headers", "path"),
    [
        ("http.request", {"X-Note": "a\r\nX-Injected: 1"}, "headers.X-Note"),
        ("http.request", {"X-Note": "nul\x00"}, "headers.X-Note"),
        ("http.download", {"Bad Name": "x"}, "headers"),
        ("http.download", {"X:Y": "x"}, "headers"),
        ("webhook", {"": "x"}, "headers"),
    ],
)
def test_header_names_must_be_tokens_and_values_single_lines(plugin_id: str, headers: dict, path: str) -> None:
    """Malformed HTTP is refused by the schema (when the flow is saved, or once a template renders)."""
    plugin = get_plugin(plugin_id)
    with pytest.raises(InputError) as caught:
        plugin.check_inputs({"url": "http://example.com/", "headers": headers})
    assert [problem["path"] for problem in caught.value.problems] == [path]
    plugin.check_inputs({"url": "http://example.com/", "headers": {"X-Trace_Id.v2": 'a b; c="d"', "X-N": 3}})


def test_basic_auth_is_sent_and_not_logged(httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext) -> None:
    httpserver.expect_request("/secure").respond_with_data("in")
    inputs = {"url": httpserver.url_for("/secure"), "basic_auth_username": "user", "basic_auth_password": "s3cr3t"}
    assert run_plugin("http.request", inputs).status == ResultStatus.SUCCESS
    expected = "Basic " + base64.b64encode(b"user:s3cr3t").decode()
    assert _sent(httpserver).headers["Authorization"] == expected
    assert "s3cr3t" not in ctx.logged_text()
    assert "Authorization" not in ctx.logged_text()


def test_bearer_auth_is_sent_and_not_logged(httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext) -> None:
    httpserver.expect_request("/secure").respond_with_data("in")
    run_plugin("http.request", {"url": httpserver.url_for("/secure"), "bearer_token": "tok-123"})
    assert _sent(httpserver).headers["Authorization"] == "Bearer tok-123"
    assert "tok-123" not in ctx.logged_text()


def test_basic_and_bearer_auth_together_fail(run_plugin: RunPlugin, httpserver: HTTPServer) -> None:
    inputs = {"url": httpserver.url_for("/"), "bearer_token": "t", "basic_auth_username": "u"}
    result = run_plugin("http.request", inputs)
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "INVALID_INPUT")
    assert httpserver.log == []


def test_the_log_says_what_happened_without_the_query(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    httpserver.expect_request("/data").respond_with_json([])
    run_plugin("http.request", {"url": httpserver.url_for("/data") + "?api_key=KEY123"})
    level, message, data = ctx.logs[-1]
    assert (level, message) == ("info", "HTTP request successful")
    assert data["status_code"] == 200
    assert data["url"] == httpserver.url_for("/data")
    assert data["method"] == "GET"
    assert "KEY123" not in ctx.logged_text()


def test_status_500_fails_with_the_flowrunner_message(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/boom").respond_with_json({"detail": "down"}, status=500)
    result = run_plugin("http.request", {"url": httpserver.url_for("/boom")})
    assert result.status == ResultStatus.FAILED
    assert result.error == "HTTP request failed with status 500"
    assert result.error_code == "HTTP_ERROR"
    assert result.outputs["status_code"] == 500
    assert result.outputs["body"] == {"detail": "down"}


def test_fail_on_status_false_returns_the_error_response(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/missing").respond_with_data("nope", status=404)
    result = run_plugin("http.request", {"url": httpserver.url_for("/missing"), "fail_on_status": False})
    assert result.status == ResultStatus.SUCCESS
    assert (result.outputs["status_code"], result.outputs["body"]) == (404, "nope")


def test_a_timeout_fails_with_timeout_error(httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    result = run_plugin("http.request", {"url": httpserver.url_for("/slow"), "timeout": 0.2})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "TIMEOUT_ERROR")
    assert ctx.logs[-1][0] == "error"


def test_a_refused_address_fails_without_a_request(httpserver: HTTPServer, run_plugin: RunPlugin, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    result = run_plugin("http.request", {"url": httpserver.url_for("/")})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "NETWORK_POLICY_ERROR")
    assert "loopback" in result.error
    assert httpserver.log == []


def test_an_oversized_response_fails(httpserver: HTTPServer, run_plugin: RunPlugin, settings) -> None:
    settings.MILLRACE_HTTP_MAX_RESPONSE_BYTES = 100
    httpserver.expect_request("/big").respond_with_data("x" * 101)
    result = run_plugin("http.request", {"url": httpserver.url_for("/big")})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "RESPONSE_TOO_LARGE")


def test_a_redirect_to_the_metadata_address_fails(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    location = "http://169.254.169.254/latest/meta-data/"
    httpserver.expect_request("/hop").respond_with_data("", status=302, headers={"Location": location})
    result = run_plugin("http.request", {"url": httpserver.url_for("/hop")})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "NETWORK_POLICY_ERROR")
    assert "cloud metadata" in result.error


def test_webhook_posts_its_body_as_json(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"received": True})
    result = run_plugin(
        "webhook", {"url": httpserver.url_for("/hook"), "body": {"event": "done"}, "headers": {"X-Sig": "1"}}
    )
    assert result.outputs["body"] == {"received": True}
    assert _sent(httpserver).get_json() == {"event": "done"}
    assert _sent(httpserver).headers["X-Sig"] == "1"


def test_webhook_sends_a_null_body_as_json_null(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({})
    run_plugin("webhook", {"url": httpserver.url_for("/hook"), "body": None})
    assert (_sent(httpserver).get_data(), _sent(httpserver).headers["Content-Type"]) == (b"null", "application/json")


def test_webhook_method_can_be_changed_and_errors_fail(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/hook", method="PUT").respond_with_data("bad", status=502)
    result = run_plugin("webhook", {"url": httpserver.url_for("/hook"), "method": "PUT", "body": [1, 2]})
    assert result.status == ResultStatus.FAILED
    assert result.error == "HTTP request failed with status 502"
    assert _sent(httpserver).get_json() == [1, 2]


def test_rest_connector_gets_by_default(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/v1/artists/1", method="GET").respond_with_json({"name": "Artist"})
    result = run_plugin("REST_CONNECTOR", {"_url": httpserver.url_for("/v1/artists/1")})
    assert result.status == ResultStatus.SUCCESS
    assert result.outputs["_statusCode"] == 200
    assert result.outputs["_body"] == {"name": "Artist"}
    assert result.outputs["_headers"]["Content-Type"] == "application/json"


def test_rest_connector_sends_method_headers_and_body(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/things", method="POST").respond_with_json({"id": 7}, status=201)
    inputs = {"_url": httpserver.url_for("/things"), "_method": "POST", "_headers": {"X-A": "b"}, "_body": {"n": 1}}
    result = run_plugin("REST_CONNECTOR", inputs)
    assert result.outputs["_statusCode"] == 201
    assert _sent(httpserver).get_json() == {"n": 1}
    assert _sent(httpserver).headers["X-A"] == "b"


def test_rest_connector_fails_on_4xx(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/gone").respond_with_data("", status=404)
    result = run_plugin("REST_CONNECTOR", {"_url": httpserver.url_for("/gone")})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "HTTP_ERROR")
    assert result.outputs["_statusCode"] == 404


def test_rest_connector_takes_missing_fields_from_the_runs_input_params(httpserver, allow_loopback, run_plugin):
    httpserver.expect_request("/from-params", method="POST", json={"a": 1}).respond_with_json({"ok": True})
    context = FakeContext(
        execution_inputs={"_url": httpserver.url_for("/from-params"), "_body": {"a": 1}, "unrelated": "x"}
    )
    result = run_plugin("REST_CONNECTOR", {"_method": "POST"}, context)
    assert result.status == ResultStatus.SUCCESS
    assert result.outputs["_statusCode"] == 200 and result.outputs["_body"] == {"ok": True}


def test_rest_connector_without_any_url_fails_clearly(run_plugin):
    result = run_plugin("REST_CONNECTOR", {})
    assert result.status == ResultStatus.FAILED and "_url" in result.error


@pytest.mark.parametrize("pinned", [{"_headers": {"Authorization": "Bearer team-secret"}}, {"_body": {"token": "t"}}])
def test_rest_connector_keeps_a_definitions_credentials_on_its_own_url(httpserver, run_plugin, pinned):
    """A run's _inputParams cannot send the definition's headers or body to a URL of the executor's choice."""
    httpserver.expect_request("/attacker").respond_with_json({"stolen": True})
    context = FakeContext(execution_inputs={"_url": httpserver.url_for("/attacker"), "_method": "POST"})
    result = run_plugin("REST_CONNECTOR", dict(pinned), context)
    assert result.status == ResultStatus.FAILED and "_url" in result.error
    assert httpserver.log == []


def test_rest_connector_with_pinned_headers_ignores_the_runs_method(httpserver, run_plugin):
    httpserver.expect_request("/api", method="GET").respond_with_json({"ok": True})
    context = FakeContext(execution_inputs={"_method": "DELETE", "_body": {"q": 1}})
    inputs = {"_url": httpserver.url_for("/api"), "_headers": {"X-Key": "k"}}
    result = run_plugin("REST_CONNECTOR", inputs, context)
    assert result.status == ResultStatus.SUCCESS
    assert _sent(httpserver).method == "GET" and _sent(httpserver).get_json() == {"q": 1}


def test_rest_connector_without_pinned_headers_or_body_still_takes_url_and_method(httpserver, run_plugin):
    httpserver.expect_request("/open", method="PUT").respond_with_json({"ok": True})
    context = FakeContext(execution_inputs={"_url": httpserver.url_for("/open"), "_method": "PUT"})
    result = run_plugin("REST_CONNECTOR", {}, context)
    assert result.status == ResultStatus.SUCCESS
