"""http.download against a real local server: the body lands in storage, or nothing does."""

from __future__ import annotations

import os

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.plugins.download import file_name
from connectors.registry import InputError, ResultStatus, get_plugin
from core import storage
from core.filerefs import key_of

from .conftest import FakeContext, RunPlugin

pytestmark = pytest.mark.usefixtures("allow_loopback")


def _stored(ctx: FakeContext, uri: str) -> bytes:
    with ctx.file_open(uri) as file:
        return file.read()


def _task_files(ctx: FakeContext) -> list[str]:
    return list(storage.walk(ctx.write_prefix))


def test_a_download_is_stored_byte_for_byte(httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext) -> None:
    content = os.urandom(300_000)
    httpserver.expect_request("/files/report.bin").respond_with_data(content, content_type="application/octet-stream")
    result = run_plugin("http.download", {"url": httpserver.url_for("/files/report.bin")})
    assert result.status == ResultStatus.SUCCESS, result.error
    outputs = result.outputs
    assert outputs["uri"] == f"millrace:///{ctx.write_prefix}/report.bin"
    assert (outputs["filename"], outputs["size"], outputs["code"]) == ("report.bin", len(content), 200)
    assert outputs["contentType"] == "application/octet-stream"
    assert outputs["headers"]["Content-Length"] == str(len(content))
    assert _stored(ctx, outputs["uri"]) == content


def test_method_headers_params_and_body_are_sent(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/export", method="POST", query_string="fmt=csv").respond_with_data(
        "a,b\n1,2\n", content_type="text/csv"
    )
    result = run_plugin(
        "http.download",
        {
            "url": httpserver.url_for("/export"),
            "method": "POST",
            "headers": {"Authorization": "Bearer t-99"},
            "params": {"fmt": "csv"},
            "body": {"rows": 2},
        },
    )
    sent = httpserver.log[0][0]
    assert sent.headers["Authorization"] == "Bearer t-99" and sent.get_json() == {"rows": 2}
    assert (result.outputs["filename"], result.outputs["contentType"]) == ("export", "text/csv")


@pytest.mark.parametrize(
    ("disposition", "path", "expected"),
    [
        ('attachment; filename="../../etc/passwd"', "/x", "passwd"),
        ('attachment; filename="..\\\\..\\\\boot.ini"', "/x", "boot.ini"),
        ("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", "/x", "résumé.pdf"),
        ('attachment; filename=".."', "/files/fallback.txt", "fallback.txt"),
        ('attachment; filename="a\x01b.txt"', "/x", "ab.txt"),
        ("attachment", "/files/q%201.csv", "q 1.csv"),
        ("", "/", "download"),
        ("", "/dir/..", "download"),
    ],
    ids=["dotdot", "backslashes", "rfc5987", "only-dots", "control-chars", "url-path", "nothing", "url-dotdot"],
)
def test_file_names_are_sanitised(disposition: str, path: str, expected: str) -> None:
    assert file_name(disposition, f"http://example.com{path}") == expected


def test_a_long_name_is_cut_to_fit_a_file_system() -> None:
    name = file_name(f'attachment; filename="{"é" * 300}.txt"', "http://example.com/")
    assert 0 < len(name.encode()) <= 200 and name == "é" * 100


def test_a_traversing_content_disposition_stays_in_the_steps_directory(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    httpserver.expect_request("/get").respond_with_data(
        "root:x:0:0", headers={"Content-Disposition": 'attachment; filename="../../etc/passwd"'}
    )
    result = run_plugin("http.download", {"url": httpserver.url_for("/get")})
    assert result.outputs["uri"] == f"millrace:///{ctx.write_prefix}/passwd"
    assert _task_files(ctx) == [f"{ctx.write_prefix}/passwd"]


def test_a_given_filename_may_hold_directories_but_not_dotdot(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    httpserver.expect_request("/get").respond_with_data("x")
    named = run_plugin("http.download", {"url": httpserver.url_for("/get"), "filename": "/reports/q1.csv"})
    assert named.outputs["uri"].endswith("/reports/q1.csv") and named.outputs["filename"] == "reports/q1.csv"
    refused = run_plugin("http.download", {"url": httpserver.url_for("/get"), "filename": "../escape.csv"})
    assert (refused.status, refused.error_code) == (ResultStatus.FAILED, "INVALID_INPUT")
    assert "filename" in refused.error and ".." in refused.error
    assert len(httpserver.log) == 1  # the refused one sent nothing


def test_a_body_over_the_file_cap_is_refused_and_nothing_is_stored(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext, settings
) -> None:
    settings.MILLRACE_MAX_FILE_BYTES = 1000
    httpserver.expect_request("/big").respond_with_data(b"z" * 5000)
    result = run_plugin("http.download", {"url": httpserver.url_for("/big")})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "RESPONSE_TOO_LARGE")
    assert "1000-byte limit" in result.error
    assert _task_files(ctx) == []


def test_an_unannounced_oversized_body_is_refused_too(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    def chunked(request: Request) -> Response:
        return Response((b"q" * 1024 for _ in range(64)), content_type="text/plain")  # no Content-Length

    httpserver.expect_request("/stream").respond_with_handler(chunked)
    result = run_plugin("http.download", {"url": httpserver.url_for("/stream"), "max_bytes": 10_000})
    assert result.error_code == "RESPONSE_TOO_LARGE" and "10000-byte limit" in result.error
    assert _task_files(ctx) == []


def test_downloads_may_exceed_the_in_memory_response_cap(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext, settings
) -> None:
    settings.MILLRACE_HTTP_MAX_RESPONSE_BYTES = 1000
    httpserver.expect_request("/big").respond_with_data(b"m" * 50_000)
    result = run_plugin("http.download", {"url": httpserver.url_for("/big")})
    assert result.outputs["size"] == 50_000 and _stored(ctx, result.outputs["uri"]) == b"m" * 50_000


def test_max_bytes_cannot_raise_the_file_cap(httpserver: HTTPServer, run_plugin: RunPlugin, settings) -> None:
    settings.MILLRACE_MAX_FILE_BYTES = 100
    httpserver.expect_request("/big").respond_with_data(b"z" * 500)
    result = run_plugin("http.download", {"url": httpserver.url_for("/big"), "max_bytes": 10**12})
    assert result.error_code == "RESPONSE_TOO_LARGE" and "100-byte limit" in result.error


def test_a_failed_status_fails_the_step_and_stores_nothing(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    httpserver.expect_request("/missing").respond_with_data("no such report", status=404, content_type="text/plain")
    result = run_plugin("http.download", {"url": httpserver.url_for("/missing")})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "HTTP_ERROR")
    assert result.error == "HTTP download failed with status 404"
    assert result.outputs["code"] == 404 and "uri" not in result.outputs
    assert _task_files(ctx) == []


def test_fail_on_status_false_stores_the_error_body(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    httpserver.expect_request("/missing").respond_with_data("no such report", status=404)
    result = run_plugin("http.download", {"url": httpserver.url_for("/missing"), "fail_on_status": False})
    assert result.status == ResultStatus.SUCCESS and result.outputs["code"] == 404
    assert _stored(ctx, result.outputs["uri"]) == b"no such report"


def test_redirects_are_followed_and_named_by_the_last_url(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/latest").respond_with_data("", status=302, headers={"Location": "/v2/data.json"})
    httpserver.expect_request("/v2/data.json").respond_with_json({"v": 2})
    result = run_plugin("http.download", {"url": httpserver.url_for("/latest")})
    assert (result.outputs["filename"], result.outputs["code"]) == ("data.json", 200)


def test_a_redirect_to_a_refused_address_is_refused(
    httpserver: HTTPServer, run_plugin: RunPlugin, ctx: FakeContext
) -> None:
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    result = run_plugin("http.download", {"url": httpserver.url_for("/go")})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "NETWORK_POLICY_ERROR")
    assert "cloud metadata" in result.error
    assert _task_files(ctx) == []


def test_the_network_policy_applies(httpserver: HTTPServer, run_plugin: RunPlugin, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    result = run_plugin("http.download", {"url": httpserver.url_for("/x")})
    assert result.error_code == "NETWORK_POLICY_ERROR" and httpserver.log == []


def test_a_spent_deadline_fails_before_sending(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    context = FakeContext(deadline=0.0)
    result = run_plugin("http.download", {"url": httpserver.url_for("/x")}, context)
    assert result.error_code == "TIMEOUT_ERROR" and httpserver.log == []


def test_a_context_without_files_fails_clearly(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/x").respond_with_data("x")
    result = run_plugin("http.download", {"url": httpserver.url_for("/x")}, FakeContext(write_prefix=None))
    assert result.error_code == "FILE_ERROR" and "only be written by a flow's tasks" in result.error


def test_headers_in_the_outputs_are_bounded(httpserver: HTTPServer, run_plugin: RunPlugin) -> None:
    httpserver.expect_request("/h").respond_with_data("x", headers={"X-Long": "v" * 5000})
    result = run_plugin("http.download", {"url": httpserver.url_for("/h")})
    assert result.outputs["headers"]["X-Long"] == "v" * 1024


@pytest.mark.parametrize(
    ("inputs", "path"),
    [
        ({}, ""),
        ({"url": 7}, "url"),
        ({"url": "https://e.example/", "method": "HEAD"}, "method"),
        ({"url": "https://e.example/", "max_bytes": 0}, "max_bytes"),
        ({"url": "https://e.example/", "max_bytes": "big"}, "max_bytes"),
        ({"url": "https://e.example/", "filename": ""}, "filename"),
        ({"url": "https://e.example/", "filename": "x" * 2000}, "filename"),
        ({"url": "https://e.example/", "fail_on_status": "no"}, "fail_on_status"),
        ({"url": "https://e.example/", "body": "a=b", "body_format": "form"}, "body"),
    ],
    ids=["no-url", "url-type", "head", "zero-cap", "cap-type", "empty-name", "long-name", "flag-type", "form-string"],
)
def test_wrong_inputs_are_refused_by_the_schema(inputs: dict, path: str) -> None:
    with pytest.raises(InputError) as caught:
        get_plugin("http.download").check_inputs(inputs)
    assert path in [problem["path"] for problem in caught.value.problems]


def test_another_namespaces_download_reads_as_missing(httpserver: HTTPServer, run_plugin: RunPlugin, ctx) -> None:
    httpserver.expect_request("/x").respond_with_data("mine")
    uri = run_plugin("http.download", {"url": httpserver.url_for("/x")}).outputs["uri"]
    with pytest.raises(FileNotFoundError):
        key_of(uri, "staging")
    assert _stored(ctx, uri) == b"mine"
