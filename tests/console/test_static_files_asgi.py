"""Static files reach an ASGI server (uvicorn) without Django's warning for each one, and the
favicon is served where browsers look for it."""

import asyncio
import warnings

import pytest
from django.core.handlers.asgi import ASGIHandler


async def asgi_get(path: str) -> list[dict]:
    """What Django's ASGI handler sends for a GET of `path`, as uvicorn would receive it."""
    sent: list[dict] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await asyncio.Future()  # the client stays connected; Django cancels this wait when done
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    await ASGIHandler()(scope, receive, send)
    return sent


@pytest.mark.parametrize("name", ["millrace/console.css", "millrace/favicon.svg", "admin/css/base.css"])
def test_a_static_file_is_served_under_asgi_without_a_warning(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sent = asyncio.run(asgi_get(f"/static/{name}"))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert len(body) > 100
    assert [str(w.message) for w in caught if "StreamingHttpResponse" in str(w.message)] == []


def test_the_favicon_is_an_svg_and_favicon_ico_leads_to_it(client):
    response = client.get("/static/millrace/favicon.svg")
    assert response.status_code == 200
    assert b"<svg" in b"".join(response.streaming_content)
    redirect = client.get("/favicon.ico")
    assert redirect.status_code == 301 and redirect["Location"] == "/static/millrace/favicon.svg"
