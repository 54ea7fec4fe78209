"""A stored file as an HTTP download, for the API and the console alike.

Always an attachment, never rendered: a namespace file is whatever an editor uploaded, so a
type a browser would run (HTML, SVG, XML, JavaScript) is sent as bytes, and a sandboxing
Content-Security-Policy goes with every download in case a browser renders one anyway.
"""

import mimetypes
from typing import IO

from django.http import FileResponse

#: Types a browser could run or render as a page: sent as `application/octet-stream`.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
    }
)
SANDBOX = "default-src 'none'; sandbox"


def content_type(name: str) -> str:
    """The type a file's name suggests (`a.csv` → `text/csv`); bytes when unknown, compressed or active."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if guessed is None or encoding is not None or guessed in ACTIVE_TYPES:
        return "application/octet-stream"
    return guessed


def file_response(name: str, handle: IO[bytes]) -> FileResponse:
    """Stream `handle` as the download `name`; the file is closed when the response is."""
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type(name))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    return response
