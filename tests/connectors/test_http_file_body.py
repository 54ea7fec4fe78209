"""http.request (and the plugins sharing its `send`) with a `millrace:///` file URI as body."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.roles import Role
from connectors.registry import ResultStatus

from .conftest import FakeContext, RunPlugin

pytestmark = pytest.mark.usefixtures("allow_loopback")


@pytest.fixture
def stored(ctx: FakeContext) -> tuple[str, bytes]:
    """A binary file of the `production` namespace, as an earlier step would have left it."""
    content = os.urandom(70_000)
    return ctx.file_write("exports/data.bin", content), content


def test_a_file_uri_body_sends_the_files_bytes(httpserver: HTTPServer, run_plugin: RunPlugin, stored) -> None:
    uri, content = stored
    httpserver.expect_request("/upload", method="POST").respond_with_data("stored", status=201)
    result = run_plugin("http.request", {"url": httpserver.url_for("/upload"), "method": "POST", "body": uri})
    assert result.status == ResultStatus.SUCCESS and result.outputs["status_code"] == 201
    sent = httpserver.log[0][0]
    assert sent.get_data() == content
    assert sent.headers["Content-Type"] == "application/octet-stream"
    assert sent.headers["Content-Length"] == str(len(content))


def test_a_content_type_header_is_kept_and_raw_format_works_too(
    httpserver: HTTPServer, run_plugin: RunPlugin, stored
) -> None:
    uri, content = stored
    httpserver.expect_request("/upload", method="PUT").respond_with_data("ok")
    base = {"url": httpserver.url_for("/upload"), "method": "PUT", "body": uri, "body_format": "raw"}
    run_plugin("http.request", {**base, "headers": {"content-type": "text/csv"}})
    sent = httpserver.log[0][0]
    assert sent.get_data() == content and sent.headers["Content-Type"] == "text/csv"


def test_a_file_body_follows_a_307_redirect_whole(httpserver: HTTPServer, run_plugin: RunPlugin, stored) -> None:
    uri, content = stored
    httpserver.expect_request("/old", method="POST").respond_with_data("", status=307, headers={"Location": "/new"})
    httpserver.expect_request("/new", method="POST").respond_with_data("ok")
    result = run_plugin("http.request", {"url": httpserver.url_for("/old"), "method": "POST", "body": uri})
    assert result.outputs["status_code"] == 200
    assert httpserver.log[1][0].get_data() == content


def test_webhook_and_rest_connector_send_file_bodies_too(httpserver: HTTPServer, run_plugin: RunPlugin, stored) -> None:
    uri, content = stored
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    run_plugin("webhook", {"url": httpserver.url_for("/hook"), "body": uri})
    run_plugin("REST_CONNECTOR", {"_url": httpserver.url_for("/hook"), "_method": "POST", "_body": uri})
    assert [entry[0].get_data() for entry in httpserver.log] == [content, content]


def test_a_string_that_is_not_a_uri_is_still_sent_as_json(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/echo", method="POST").respond_with_data("ok")
    run_plugin("http.request", {"url": httpserver.url_for("/echo"), "method": "POST", "body": "millrace://x"})
    assert httpserver.log[0][0].get_json() == "millrace://x"


@pytest.mark.parametrize(
    "uri",
    [
        "millrace:///staging/executions/00000000-0000-0000-0000-000000000001/tasks/1/data.bin",
        "millrace:///production/executions/00000000-0000-0000-0000-000000000001/tasks/1/missing.bin",
        "millrace:///production/../staging/x.bin",
        "millrace:///",
    ],
    ids=["other-namespace", "missing", "dotdot", "empty"],
)
def test_an_unreadable_file_uri_fails_like_a_missing_file(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext, uri: str
) -> None:
    result = run_plugin("http.request", {"url": httpserver.url_for("/upload"), "method": "POST", "body": uri})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "FILE_NOT_FOUND")
    assert result.error == f"The body's file was not found: {uri}"
    assert httpserver.log == []
    assert ctx.logs[-1][0] == "error"


def test_another_namespaces_existing_file_is_not_sent(httpserver: HTTPServer, run_plugin: RunPlugin, stored) -> None:
    uri, _ = stored
    staging = FakeContext(namespace="staging")
    result = run_plugin("http.request", {"url": httpserver.url_for("/u"), "method": "POST", "body": uri}, staging)
    assert (result.error_code, result.error) == ("FILE_NOT_FOUND", f"The body's file was not found: {uri}")
    assert httpserver.log == []


def test_a_file_over_the_cap_is_refused(httpserver: HTTPServer, run_plugin: RunPlugin, stored, settings) -> None:
    uri, _ = stored
    settings.MILLRACE_MAX_FILE_BYTES = 1000  # lowered after the file was stored
    result = run_plugin("http.request", {"url": httpserver.url_for("/u"), "method": "POST", "body": uri})
    assert (result.error_code, result.error) == (
        "FILE_TOO_LARGE",
        "The body's file is larger than the 1000-byte limit.",
    )
    assert httpserver.log == []


def test_the_connector_proxy_has_no_files_and_refuses_a_file_uri_body(
    httpserver: HTTPServer, client_for: Callable[[Account | None], APIClient], make_account, stored
) -> None:
    uri, _ = stored
    proxy = client_for(make_account(Role.EXECUTOR))
    response = proxy.post("/v1/do/http/PostRequest", {"url": httpserver.url_for("/u"), "data": uri}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["error_code"] == "FILE_NOT_FOUND"
    assert f"The body's file was not found: {uri}" in response.json()["error"]["message"]
    assert httpserver.log == []
