"""The request body cap holds for chunked ASGI bodies (no Content-Length) and in the middleware."""

import asyncio
import io
import json
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse

from api.middleware import BodySizeLimitMiddleware

Message = dict[str, Any]


class Client:
    """A raw ASGI peer: hands out `chunks` one `http.request` at a time and records what was sent."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.consumed = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.consumed >= len(self.chunks):
            await asyncio.sleep(3600)  # the client waits; only a disconnect would come
        self.consumed += 1
        return {
            "type": "http.request",
            "body": self.chunks[self.consumed - 1],
            "more_body": self.consumed < len(self.chunks),
        }

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def response(self) -> tuple[int, dict[bytes, bytes], bytes]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        return start["status"], {name.lower(): value for name, value in start["headers"]}, body


def scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *(headers or [])],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


def drive(app: Any, scope_: Message, client: Client) -> None:
    asyncio.run(asyncio.wait_for(app(scope_, client.receive, client.send), timeout=10))


def test_a_chunked_oversize_body_is_413_before_django_reads_it(settings):
    from config.asgi import application

    settings.MILLRACE_MAX_BODY_BYTES = 1000
    client = Client([b"x" * 400] * 10)
    drive(application, scope("/workflowsvc/api/v1/nothing-here"), client)
    status, headers, body = client.response()
    assert status == 413
    assert headers[b"content-type"] == b"application/json"
    error = json.loads(body)["_error"]  # the workflowsvc shape
    assert error["_code"] == "payload_too_large" and "1000" in error["_message"]
    assert client.consumed == 3  # stopped at the first chunk past the cap, not after the whole stream


def test_the_wrapper_answers_413_without_calling_the_app(settings):
    from api.asgi_limits import BodySizeLimit

    called: list[Message] = []

    async def app(scope_: Message, receive: Any, send: Any) -> None:
        called.append(scope_)

    settings.MILLRACE_MAX_BODY_BYTES = 100
    chunked = Client([b"y" * 60, b"y" * 60, b"y" * 60])
    drive(BodySizeLimit(app), scope("/api/v1/flows"), chunked)
    declared = Client([b"z"])
    drive(BodySizeLimit(app), scope("/flowrunner/api/v1/flows", [(b"content-length", b"5000")]), declared)
    assert called == []
    assert chunked.response()[0] == declared.response()[0] == 413
    assert declared.consumed == 0
    assert set(json.loads(chunked.response()[2])) == {"error"}


def test_a_body_under_the_cap_reaches_the_app_whole(settings):
    from api.asgi_limits import BodySizeLimit

    seen: list[bytes] = []

    async def app(scope_: Message, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        seen.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    settings.MILLRACE_MAX_BODY_BYTES = 100
    client = Client([b"a" * 40, b"b" * 40, b"c" * 20])
    drive(BodySizeLimit(app), scope("/api/v1/flows"), client)
    assert seen == [b"a" * 40 + b"b" * 40 + b"c" * 20]
    assert client.response()[0] == 200


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk


def undeclared_request(data: bytes) -> tuple[HttpRequest, CountingStream]:
    request = HttpRequest()
    request.method, request.path_info, request.path = "POST", "/api/v1/flows", "/api/v1/flows"
    stream = CountingStream(data)
    request._stream, request._read_started = stream, False
    return request, stream


def test_the_middleware_reads_at_most_one_byte_past_the_cap(settings):
    settings.MILLRACE_MAX_BODY_BYTES = 100
    middleware = BodySizeLimitMiddleware(lambda request: HttpResponse("ok"))
    request, stream = undeclared_request(b"x" * 5000)
    assert middleware(request).status_code == 413
    assert stream.read_bytes <= 101


def test_the_middleware_keeps_a_small_body_readable(settings):
    settings.MILLRACE_MAX_BODY_BYTES = 100
    seen: list[bytes] = []
    middleware = BodySizeLimitMiddleware(lambda request: seen.append(request.body) or HttpResponse("ok"))
    request, _ = undeclared_request(b'{"a": 1}')
    assert middleware(request).status_code == 200
    assert seen == [b'{"a": 1}']


@pytest.mark.parametrize("size", [100, 101])
def test_the_middleware_cap_is_inclusive(settings, size):
    settings.MILLRACE_MAX_BODY_BYTES = 100
    middleware = BodySizeLimitMiddleware(lambda request: HttpResponse("ok"))
    request, _ = undeclared_request(b"x" * size)
    assert middleware(request).status_code == (200 if size == 100 else 413)
