"""The outbound HTTP client against a real local server: policy, pinning, redirects, caps, timeouts."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors import http

pytestmark = pytest.mark.usefixtures("allow_loopback")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _received(server: HTTPServer) -> list[Request]:
    return [request for request, _response in server.log]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_reaches_the_server(httpserver: HTTPServer, method: str) -> None:
    httpserver.expect_request("/thing", method=method).respond_with_data("done", status=201)
    response = http.request(method, httpserver.url_for("/thing"))
    assert response.status_code == 201
    assert response.content == (b"" if method == "HEAD" else b"done")
    assert _received(httpserver)[0].method == method


def test_headers_query_and_json_body_are_sent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/items", method="POST").respond_with_json({"ok": True})
    response = http.request(
        "post",
        httpserver.url_for("/items"),
        headers={"X-Trace": "abc"},
        params={"limit": 10, "tag": ["a", "b"]},
        json={"name": "example"},
    )
    sent = _received(httpserver)[0]
    assert sent.headers["X-Trace"] == "abc"
    assert sent.args.to_dict(flat=False) == {"limit": ["10"], "tag": ["a", "b"]}
    assert sent.get_json() == {"name": "example"}
    assert response.is_json
    assert response.body() == {"ok": True}


def test_host_header_and_connection_use_the_name_and_the_checked_address(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("hi")
    http.request("GET", f"http://localhost:{httpserver.port}/")
    assert _received(httpserver)[0].headers["Host"] == f"localhost:{httpserver.port}"


def test_the_resolved_address_is_the_one_connected_to(httpserver: HTTPServer, monkeypatch) -> None:
    """DNS rebinding: a name answering 127.0.0.1 at check time and 10.x later must still reach 127.0.0.1."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "10.255.255.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    httpserver.expect_request("/").respond_with_data("pinned")
    response = http.request("GET", f"http://rebind.test:{httpserver.port}/", timeout=2)
    assert response.text == "pinned"
    assert lookups == ["rebind.test"]
    assert _received(httpserver)[0].headers["Host"] == f"rebind.test:{httpserver.port}"


def test_the_next_checked_address_is_tried_when_one_refuses(httpserver: HTTPServer, monkeypatch, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    real = socket.getaddrinfo

    def dual_stack(host, port, *args, **kwargs):
        if host != "dual.test":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),  # nothing listens there
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", dual_stack)
    httpserver.expect_request("/").respond_with_data("v4")
    assert http.request("GET", f"http://dual.test:{httpserver.port}/").text == "v4"


def test_refused_addresses_are_never_contacted(httpserver: HTTPServer, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    httpserver.expect_request("/").respond_with_data("should not be reached")
    for host in ("localhost", "127.0.0.1", "2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]"):
        with pytest.raises(http.OutboundPolicyError):
            http.request("GET", f"http://{host}:{httpserver.port}/")
    assert httpserver.log == []


def test_ipv6_loopback_when_allowed(request: pytest.FixtureRequest, settings) -> None:
    try:
        socket.socket(socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 on this machine")
    server: HTTPServer = request.getfixturevalue("httpserver_ipv6")
    server.expect_request("/").respond_with_data("six")
    url = f"http://[::1]:{server.port}/"
    with pytest.raises(http.OutboundPolicyError):
        http.request("GET", url)
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["::1/128"]
    assert http.request("GET", url).text == "six"


def test_environment_proxies_are_ignored(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("http_proxy", "http://10.0.0.1:3128")
    httpserver.expect_request("/").respond_with_data("direct")
    assert http.request("GET", httpserver.url_for("/"), timeout=2).text == "direct"


def test_cookies_do_not_carry_over_between_calls(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/set").respond_with_data("", headers={"Set-Cookie": "session=tenant-a; Path=/"})
    httpserver.expect_request("/next").respond_with_data("")
    http.request("GET", httpserver.url_for("/set"))
    http.request("GET", httpserver.url_for("/next"))
    assert "Cookie" not in _received(httpserver)[1].headers


# --- redirects ----------------------------------------------------------------------------------


def test_redirects_are_followed_and_recorded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/middle"})
    httpserver.expect_request("/middle").respond_with_data("", status=302, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data("arrived")
    response = http.request("GET", httpserver.url_for("/old"))
    assert response.text == "arrived"
    assert response.url == httpserver.url_for("/new")
    assert response.redirects == (httpserver.url_for("/old"), httpserver.url_for("/middle"))


def test_redirects_can_be_left_to_the_caller(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=302, headers={"Location": "/new"})
    response = http.request("GET", httpserver.url_for("/old"), allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/new"


@pytest.mark.parametrize(
    ("status", "method", "body_kept"), [(303, "GET", False), (302, "GET", False), (307, "POST", True)]
)
def test_redirect_method_and_body(httpserver: HTTPServer, status: int, method: str, body_kept: bool) -> None:
    httpserver.expect_request("/form", method="POST").respond_with_data("", status=status, headers={"Location": "/to"})
    httpserver.expect_request("/to", method=method).respond_with_data("ok")
    http.request("POST", httpserver.url_for("/form"), json={"a": 1})
    followed = _received(httpserver)[1]
    assert followed.method == method
    assert (followed.get_data() == b'{"a": 1}') is body_kept


def test_five_redirects_are_followed_but_not_six(httpserver: HTTPServer) -> None:
    for hop in range(6):
        httpserver.expect_request(f"/r{hop}").respond_with_data("", status=302, headers={"Location": f"/r{hop + 1}"})
    httpserver.expect_request("/r6").respond_with_data("end")
    assert http.request("GET", httpserver.url_for("/r1")).text == "end"
    with pytest.raises(http.TooManyRedirects) as caught:
        http.request("GET", httpserver.url_for("/r0"))
    assert caught.value.code == "TOO_MANY_REDIRECTS"


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/internal",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://127.0.0.2/",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(httpserver: HTTPServer, settings, location: str) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    httpserver.expect_request("/go").respond_with_data("", status=302, headers={"Location": location})
    with pytest.raises(http.OutboundPolicyError):
        http.request("GET", f"http://127.0.0.1:{httpserver.port}/go", timeout=2)


def test_credentials_are_dropped_when_a_redirect_changes_origin(httpserver: HTTPServer) -> None:
    other_origin = f"http://127.0.0.1:{httpserver.port}/elsewhere"
    httpserver.expect_request("/same").respond_with_data("", status=302, headers={"Location": "/after"})
    httpserver.expect_request("/after").respond_with_data("", status=302, headers={"Location": other_origin})
    httpserver.expect_request("/elsewhere").respond_with_data("ok")
    http.request("GET", httpserver.url_for("/same"), auth=("user", "pass"))
    first, same_origin, cross_origin = _received(httpserver)
    assert first.authorization.username == "user"
    assert same_origin.authorization.username == "user"
    assert cross_origin.authorization is None


# --- size cap, timeouts, connection errors ----------------------------------------------------------


def test_a_response_over_the_cap_is_refused(httpserver: HTTPServer, settings) -> None:
    settings.MILLRACE_HTTP_MAX_RESPONSE_BYTES = 1000
    httpserver.expect_request("/exact").respond_with_data(b"x" * 1000)
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    assert len(http.request("GET", httpserver.url_for("/exact")).content) == 1000
    with pytest.raises(http.ResponseTooLarge, match="1000-byte limit") as caught:
        http.request("GET", httpserver.url_for("/big"))
    assert caught.value.code == "RESPONSE_TOO_LARGE"


def test_the_cap_holds_without_content_length_and_after_decompression(httpserver: HTTPServer, settings) -> None:
    settings.MILLRACE_HTTP_MAX_RESPONSE_BYTES = 10_000

    def endless(_request: Request) -> Response:
        return Response((b"y" * 1024 for _ in range(100)), content_type="text/plain")

    bomb = gzip.compress(b"\0" * 1_000_000)  # about 1 KB on the wire
    httpserver.expect_request("/stream").respond_with_handler(endless)
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(http.ResponseTooLarge):
        http.request("GET", httpserver.url_for("/stream"))
    with pytest.raises(http.ResponseTooLarge):
        http.request("GET", httpserver.url_for("/bomb"))


def test_a_caller_may_lower_the_cap_but_not_raise_it(httpserver: HTTPServer, settings) -> None:
    settings.MILLRACE_HTTP_MAX_RESPONSE_BYTES = 1000
    httpserver.expect_request("/mid").respond_with_data(b"x" * 500)
    with pytest.raises(http.ResponseTooLarge):
        http.request("GET", httpserver.url_for("/mid"), max_bytes=100)
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(http.ResponseTooLarge):
        http.request("GET", httpserver.url_for("/big"), max_bytes=10_000)


def _slow(seconds: float):
    def handler(_request: Request) -> Response:
        time.sleep(seconds)
        return Response("late")

    return handler


def test_a_slow_server_times_out(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/slow").respond_with_handler(_slow(0.8))
    started = time.monotonic()
    with pytest.raises(http.OutboundTimeout, match=r"timed out after 0\.2 seconds") as caught:
        http.request("GET", httpserver.url_for("/slow"), timeout=0.2)
    assert time.monotonic() - started < 0.7
    assert caught.value.code == "TIMEOUT_ERROR"


def test_the_default_timeout_comes_from_settings(httpserver: HTTPServer, settings) -> None:
    settings.MILLRACE_HTTP_TIMEOUT = 0.2
    httpserver.expect_request("/slow").respond_with_handler(_slow(0.8))
    with pytest.raises(http.OutboundTimeout, match=r"after 0\.2 seconds"):
        http.request("GET", httpserver.url_for("/slow"))


def test_a_per_call_timeout_is_capped(httpserver: HTTPServer, settings, monkeypatch) -> None:
    settings.MILLRACE_HTTP_TIMEOUT = 0.1
    monkeypatch.setattr(http, "MAX_TIMEOUT_SECONDS", 0.3)
    httpserver.expect_request("/slow").respond_with_handler(_slow(0.8))
    with pytest.raises(http.OutboundTimeout, match=r"after 0\.3 seconds"):
        http.request("GET", httpserver.url_for("/slow"), timeout=60)


def test_the_deadline_covers_a_body_that_trickles_in(httpserver: HTTPServer) -> None:
    """Each chunk arrives well within the timeout, but the whole body does not."""

    def trickle(_request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(8):
                time.sleep(0.1)
                yield b"."

        return Response(chunks(), content_type="text/plain")

    httpserver.expect_request("/trickle").respond_with_handler(trickle)
    with pytest.raises(http.OutboundTimeout):
        http.request("GET", httpserver.url_for("/trickle"), timeout=0.35)


def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(http.OutboundConnectionError, match="refused") as caught:
        http.request("GET", f"http://127.0.0.1:{port}/")
    assert caught.value.code == "CONNECTION_ERROR"


def test_an_unresolvable_name_is_a_connection_error(monkeypatch) -> None:
    def no_such_host(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(http.OutboundConnectionError, match=r"Cannot resolve host .nowhere\.invalid."):
        http.request("GET", "http://nowhere.invalid/")


def test_errors_leave_out_the_path_and_query(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/slow").respond_with_handler(_slow(0.5))
    with pytest.raises(http.OutboundTimeout) as caught:
        http.request("GET", httpserver.url_for("/slow") + "?api_key=SECRET", timeout=0.1)
    assert "SECRET" not in str(caught.value)
    assert f"localhost:{httpserver.port}" in str(caught.value)


# --- response decoding ---------------------------------------------------------------------------


def test_body_is_json_only_when_the_content_type_says_so(httpserver: HTTPServer) -> None:
    payload = json.dumps({"a": 1})
    httpserver.expect_request("/json").respond_with_data(payload, content_type="application/problem+json")
    httpserver.expect_request("/text").respond_with_data(payload, content_type="text/plain")
    httpserver.expect_request("/latin").respond_with_data(
        "café".encode("latin-1"), content_type="text/plain; charset=latin-1"
    )
    httpserver.expect_request("/broken").respond_with_data("{not json", content_type="application/json")
    assert http.request("GET", httpserver.url_for("/json")).body() == {"a": 1}
    assert http.request("GET", httpserver.url_for("/text")).body() == payload
    assert http.request("GET", httpserver.url_for("/latin")).text == "café"
    assert http.request("GET", httpserver.url_for("/broken")).body() == "{not json"


def test_a_json_body_nested_past_the_limit_is_text_not_a_recursion_error(httpserver: HTTPServer) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    httpserver.expect_request("/deep").respond_with_data(deep, content_type="application/json")
    response = http.request("GET", httpserver.url_for("/deep"))
    assert response.body() == deep


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_with_nan_or_infinity_comes_back_as_text(httpserver: HTTPServer, constant: str) -> None:
    """Python's json reads these, JSON has them not: a step output holding one could not be stored."""
    text = f'{{"a": {constant}}}'
    httpserver.expect_request("/nan").respond_with_data(text, content_type="application/json")
    assert http.request("GET", httpserver.url_for("/nan")).body() == text
