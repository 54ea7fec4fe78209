"""`GET /v1/commands` and every http command with every seed parameter, against a local upstream."""

import base64
import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from .conftest import envelope, without_logs

HTTP_COMMANDS = ["GetRequest", "PostRequest", "PutRequest", "PatchRequest", "DeleteRequest", "HeadRequest"]
SEED_PARAMETERS = [
    ("url", "str", True),
    ("headers", "any", False),
    ("params", "any", False),
    ("data", "any", False),
    ("body_format", "str", False),
    ("basic_auth_username", "str", False),
    ("basic_auth_password", "str", False),
    ("timeout", "int", False),
    ("include_response_headers", "bool", False),
]


def do(proxy, command: str, payload) -> tuple[int, dict]:
    response = proxy.post(f"/v1/do/{command}", payload, format="json")
    return response.status_code, response.json()


def test_commands_lists_every_command_with_typed_parameters(proxy) -> None:
    response = proxy.get("/v1/commands")
    assert response.status_code == 200
    listed = {command["id"]: command["parameters"] for command in response.json()}
    assert set(listed) == {f"http/{name}" for name in HTTP_COMMANDS} | {"millrace/RunFlow"}
    for name in HTTP_COMMANDS:
        got = {(p["id"], p["type"], p["required"]) for p in listed[f"http/{name}"]}
        assert got == set(SEED_PARAMETERS)
    assert {p["id"] for p in listed["millrace/RunFlow"]} == {"flow_id", "namespace", "flow_name", "inputs"}


def test_seed_get_request(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/items", method="GET", query_string="limit=10").respond_with_json(
        {"id": 123, "name": "example item", "status": "active"}
    )
    status, data = do(
        proxy,
        "http/GetRequest",
        {"url": httpserver.url_for("/items"), "headers": {"Accept": "application/json"}, "params": {"limit": 10}},
    )
    assert status == 200
    logs = data["spiff__logs"]
    assert without_logs(data) == envelope({"id": 123, "name": "example item", "status": "active"})
    assert any("GET" in line and "/items" in line and "200" in line for line in logs)
    assert httpserver.log[0][0].headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("command", "method", "data"),
    [
        ("http/PostRequest", "POST", {"name": "example"}),
        ("http/PutRequest", "PUT", {"name": "updated-example", "status": "active"}),
        ("http/PatchRequest", "PATCH", {"status": "active"}),
    ],
)
def test_seed_json_body_requests(proxy, httpserver: HTTPServer, command: str, method: str, data: dict) -> None:
    httpserver.expect_request("/items/123", method=method, json=data).respond_with_json({"ok": method}, status=201)
    status, answer = do(
        proxy,
        command,
        {"url": httpserver.url_for("/items/123"), "headers": {"Content-Type": "application/json"}, "data": data},
    )
    assert status == 201
    assert without_logs(answer) == envelope({"ok": method}, 201)
    assert httpserver.log[0][0].mimetype == "application/json"


def test_seed_form_body(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/realms/demo/protocol/openid-connect/token", method="POST").respond_with_json(
        {"access_token": "abc"}
    )
    form = {"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "secret"}
    status, data = do(
        proxy,
        "http/PostRequest",
        {
            "url": httpserver.url_for("/realms/demo/protocol/openid-connect/token"),
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body_format": "form",
            "data": form,
        },
    )
    sent = httpserver.log[0][0]
    assert sent.form.to_dict() == form
    assert (status, data["command_response"]["body"]) == (200, {"access_token": "abc"})
    assert "secret" not in json.dumps(data["spiff__logs"])


def test_raw_body_format(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/raw", method="PUT").respond_with_data("stored")
    status, data = do(
        proxy, "http/PutRequest", {"url": httpserver.url_for("/raw"), "data": "a,b,c", "body_format": "raw"}
    )
    sent = httpserver.log[0][0]
    assert (sent.get_data(as_text=True), sent.mimetype) == ("a,b,c", "text/plain")
    assert (status, data["command_response"]["body"]) == (200, {"raw_response": "stored"})


def test_seed_delete_with_bearer_header(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/items/123", method="DELETE").respond_with_data("", status=204)
    status, data = do(
        proxy,
        "http/DeleteRequest",
        {"url": httpserver.url_for("/items/123"), "headers": {"Authorization": "Bearer token"}},
    )
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer token"
    assert status == 200  # a 204 cannot carry the envelope; http_status keeps the upstream's
    assert data["command_response"] == {
        "body": {"raw_response": ""},
        "mimetype": "application/json",
        "http_status": 204,
    }
    assert "Bearer token" not in json.dumps(data["spiff__logs"])


def test_seed_head_request(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/items/123", method="HEAD").respond_with_json({"ignored": True})
    status, data = do(
        proxy, "http/HeadRequest", {"url": httpserver.url_for("/items/123"), "headers": {"Accept": "application/json"}}
    )
    assert status == 200
    assert data["command_response"]["http_status"] == 200
    assert data["command_response"]["body"] == {"raw_response": ""}


def test_seed_basic_auth_is_sent_and_never_logged(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/secure").respond_with_json({"authorized": True})
    status, data = do(
        proxy,
        "http/GetRequest",
        {"url": httpserver.url_for("/secure"), "basic_auth_username": "user", "basic_auth_password": "pass-word"},
    )
    auth = httpserver.log[0][0].headers["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"user:pass-word"
    assert (status, data["command_response"]["body"]) == (200, {"authorized": True})
    assert "pass-word" not in json.dumps(data)


def test_seed_non_json_response_is_raw_text(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/text").respond_with_data(
        "Plain text response from the service", content_type="text/plain"
    )
    status, data = do(proxy, "http/GetRequest", {"url": httpserver.url_for("/text")})
    assert status == 200
    assert without_logs(data) == envelope({"raw_response": "Plain text response from the service"})


def test_json_content_type_that_does_not_parse_is_raw_text(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/broken").respond_with_data("{nope", content_type="application/json")
    _, data = do(proxy, "http/GetRequest", {"url": httpserver.url_for("/broken")})
    assert data["command_response"]["body"] == {"raw_response": "{nope"}


def test_upstream_status_is_the_outer_status(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/missing").respond_with_json({"detail": "no such item"}, status=404)
    status, data = do(proxy, "http/GetRequest", {"url": httpserver.url_for("/missing")})
    assert status == 404
    assert without_logs(data) == envelope({"detail": "no such item"}, 404)


def test_include_response_headers(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/h").respond_with_response(
        Response('{"a": 1}', headers={"X-Trace": "t-1"}, content_type="application/json")
    )
    _, data = do(proxy, "http/GetRequest", {"url": httpserver.url_for("/h"), "include_response_headers": True})
    body = data["command_response"]["body"]
    assert body["body"] == {"a": 1}
    assert body["headers"]["X-Trace"] == "t-1"


def test_spiff_parameters_are_stripped_before_the_command_runs(proxy, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/items", method="POST").respond_with_json({})
    status, _ = do(
        proxy,
        "http/PostRequest",
        {"url": httpserver.url_for("/items"), "data": {"a": 1}, "spiff__process_instance_id": 7, "spiff__task_id": "t"},
    )
    assert status == 200
    sent = httpserver.log[0][0]
    assert sent.get_json() == {"a": 1}
    assert "spiff" not in sent.query_string.decode()


def test_timeout_error(proxy, httpserver: HTTPServer) -> None:
    import threading

    released = threading.Event()

    def slow(request):
        released.wait(5)  # held until the test ends, so it never answers into the next test's log
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    status, data = do(proxy, "http/GetRequest", {"url": httpserver.url_for("/slow"), "timeout": 0.3})
    assert status == 500
    assert data["command_response"] == {"body": {}, "mimetype": "application/json", "http_status": 500}
    assert data["error"]["error_code"] == "TIMEOUT_ERROR"
    assert "timed out" in data["error"]["message"]
    assert data["spiff__logs"][0].startswith("Attempted connection to http://")
    released.set()


def test_connection_error(proxy) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, data = do(proxy, "http/GetRequest", {"url": f"http://127.0.0.1:{port}/x"})
    assert status == 500
    assert data["error"]["error_code"] == "CONNECTION_ERROR"
    assert data["command_response"]["http_status"] == 500


def test_network_policy_applies(proxy, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    status, data = do(proxy, "http/GetRequest", {"url": "http://127.0.0.1:9/x"})
    assert status == 400
    assert data["error"]["error_code"] == "NETWORK_POLICY_ERROR"


def test_unknown_command_is_command_not_found(proxy) -> None:
    status, data = do(proxy, "http/TraceRequest", {"url": "http://example.com"})
    assert status == 404
    assert data["error"]["error_code"] == "command_not_found"
    assert data["command_response"]["http_status"] == 404


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({}, "url"),
        ({"url": 5}, "url"),
        ({"url": "http://x", "colour": "red"}, "colour"),
        ({"url": "http://x", "body_format": "xml"}, "body_format"),
        ({"url": "http://x", "include_response_headers": "yes"}, "include_response_headers"),
        ({"url": "http://x", "timeout": "soon"}, "timeout"),
        ({"url": "http://x", "body_format": "form", "data": "a=b"}, "data"),
        ([1, 2], "object"),
    ],
)
def test_invalid_parameters_are_named(proxy, payload, named: str) -> None:
    status, data = do(proxy, "http/PostRequest", payload)
    assert status == 400
    assert data["error"]["error_code"] == "invalid_parameters"
    assert named in data["error"]["message"]
    assert data["command_response"] == {"body": {}, "mimetype": "application/json", "http_status": 400}
