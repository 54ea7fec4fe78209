"""Static files under ASGI without Django's warning for each one.

WhiteNoise answers with a file response that iterates synchronously; Django's ASGI handler
serves such a response by warning ("StreamingHttpResponse must consume synchronous iterators")
once per file, so every console and API docs page logged a warning per stylesheet and script.
Django's own `ASGIStaticFilesHandler` reads the file in a thread for the same reason; this does
the same for WhiteNoise's responses to ASGI requests (WSGI ones are left as they are).
"""

from collections.abc import AsyncIterator, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from whitenoise.middleware import WhiteNoiseFileResponse, WhiteNoiseMiddleware


async def _read_in_a_thread(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in await sync_to_async(list, thread_sensitive=False)(chunks):
        yield chunk


class AsgiWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise whose file responses to ASGI requests are async iterators."""

    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> WhiteNoiseFileResponse:
        response = WhiteNoiseMiddleware.serve(static_file, request)
        if isinstance(request, ASGIRequest) and not response.is_async:
            response.streaming_content = _read_in_a_thread(response.streaming_content)
        return response
