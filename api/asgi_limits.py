"""The request body cap at the ASGI boundary, where chunked bodies can be stopped early.

Without a Content-Length, Django's ASGI handler spools the whole request stream before any
middleware runs, so `BodySizeLimitMiddleware` would only see an oversize body after it was
received in full. `BodySizeLimit` counts the bytes as they arrive and answers 413 (in the
owning dialect's error shape) as soon as the cap is passed; Django never sees the request.
A file upload (`api.uploads`) has the larger cap of a stored file and is passed through as it
arrives, counted, rather than held: Django spools it to disk itself.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from api.errors import error_for_status
from api.registry import DIALECTS
from api.routing import dialect_for_path
from api.uploads import body_limit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == wanted:
            return value
    return None


def _declared_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length") or b"")
    except ValueError:
        return None


def _path(scope: Scope) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    name = dialect_for_path(_path(scope)) or "workflowdev"
    error = error_for_status(413, f"The request body exceeds {limit} bytes.")
    body = json.dumps(DIALECTS[name].error_body(error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Wrap an ASGI HTTP app so bodies over `MILLRACE_MAX_BODY_BYTES` never reach it.

    The body (at most the cap) is read before the app starts and its messages replayed to
    it unchanged; later `receive` calls (disconnect) go to the client as usual.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = (_header(scope, b"content-type") or b"").decode("latin-1")
        limit = body_limit(_path(scope), content_type)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, send, limit)
            return
        if limit > settings.MILLRACE_MAX_BODY_BYTES:  # an upload: counted as it streams, never held
            await self.app(scope, _counted(scope, receive, send, limit), send)
            return
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":  # the client left: let the app see it
                break
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(scope, send, limit)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(received, receive), send)


def _counted(scope: Scope, receive: Receive, send: Send, limit: int) -> Receive:
    """A `receive` that passes the body through and, once it passes `limit`, answers 413 and
    tells the app the client left (Django then drops the request it was reading)."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(scope, send, limit)
                return {"type": "http.disconnect"}
        return message

    return counted


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands out `messages` first, then reads from the client."""
    pending = list(reversed(messages))

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay
