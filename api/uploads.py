"""Which request bodies may carry a file, and so how large a body may be.

A multipart upload to one of the file endpoints below may be as large as a stored file
(`MILLRACE_MAX_FILE_BYTES`, plus room for the multipart framing): Django writes its file parts
to temporary files as they arrive, and the ASGI cap streams it through instead of holding it,
so a large upload never sits in memory. Every other body keeps `MILLRACE_MAX_BODY_BYTES`, and
the non-file fields of an upload stay bounded by `DATA_UPLOAD_MAX_MEMORY_SIZE`.

The upload views also share how they read one: `UploadParser`, the 422 for a multipart
body without a Content-Length, and `form_inputs` (a run's inputs and FILE inputs from a form).
"""

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request

from core.errors import ValidationFailed

#: Paths (after any script prefix) that accept a file upload.
UPLOAD_PATHS = re.compile(
    r"(?:/workflowdev)?/api/v1/namespaces/[^/]+/files"  # namespace files (workflowdev)
    r"|(?:/workflowdev)?/api/v1/flows/[^/]+/execute"  # FILE inputs of a run (workflowdev)
    r"|(?:/flowrunner)?/api/v1/flows/[^/]+/run"  # FILE inputs of a run (FlowRunner)
    r"|/admin/accounts/namespace/[^/]+/files/upload/"  # the console's namespace files page
    r"|/admin/flows/flow/[^/]+/run/"  # the console's Run form (FILE inputs)
)
#: Room for the multipart boundaries, part headers and small fields around one file.
MULTIPART_ROOM = 64 * 1024


def is_multipart(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/form-data")


def is_upload(path: str, content_type: str) -> bool:
    return is_multipart(content_type) and UPLOAD_PATHS.fullmatch(path) is not None


def content_length_required(request: HttpRequest | Request, field: str) -> None:
    """A 422 naming `field` for a multipart body sent without a Content-Length (chunked): Django
    reads none of it, and the request would otherwise look as if it held no file at all."""
    if is_multipart(request.META.get("CONTENT_TYPE", "")) and not request.META.get("CONTENT_LENGTH"):
        raise ValidationFailed(
            "The upload needs a Content-Length header; a chunked multipart body is not read.",
            details=[{"field": field, "reason": "no Content-Length"}],
        )


def body_limit(path: str, content_type: str) -> int:
    """The cap on the body of a request to `path` with this Content-Type, in bytes."""
    limit = settings.MILLRACE_MAX_BODY_BYTES
    if is_upload(path, content_type):
        return max(limit, settings.MILLRACE_MAX_FILE_BYTES + MULTIPART_ROOM)
    return limit


class UploadParser(MultiPartParser):
    """DRF's multipart parser, answering a body over Django's part counts (`DATA_UPLOAD_MAX_NUMBER_FILES`,
    `DATA_UPLOAD_MAX_NUMBER_FIELDS`) with a 400, as a malformed one: DRF turns only a parse error
    into one, and these reached the error handler as a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except (TooManyFilesSent, TooManyFieldsSent) as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from None


def form_inputs(request: Request) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """A run's inputs from a multipart body: each text field an input (converted by its declared
    type, as JSON text is), each file part the file of a FILE input. A name given twice is a 422."""
    repeated = sorted(name for name, values in request.data.lists() if len(values) > 1)
    if repeated:
        raise ValidationFailed(
            "Each input is given once.",
            details=[{"field": f"inputs.{name}", "reason": "given more than once"} for name in repeated],
        )
    files = {name: request.FILES[name] for name in request.FILES}
    return {name: value for name, value in request.data.items() if name not in files}, files
