"""Namespace files (Kestra's `/api/v1/namespaces/{namespace}/files` tree) and the files of an
execution (`/api/v1/executions/{id}/file`).

Paths are relative to the namespace's file root: `/a/b.py` and `a/b.py` name the same file.
Viewers read, editors write; a namespace the caller cannot read answers 404 like a missing
one. The rules (paths, sizes, conflicts) are `files.services` and `files.selectors`.
"""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Role
from accounts.selectors import ensure_role, namespace_get
from api.uploads import UploadParser, content_length_required
from api.workflowdev.serializers.files import FileAttributesSerializer, FileMetasSerializer, FileUploadSerializer
from api.workflowdev.views.base import ROLE_REFUSED, WorkflowDevAPIView
from core.errors import ValidationFailed
from executions import selectors as execution_selectors
from files import selectors, services
from files.responses import file_response

NOT_FOUND = OpenApiResponse(description="No such file or directory, or a namespace you cannot read")
BAD_PATH = OpenApiResponse(
    description="A path that could leave the namespace's files: '..', control characters or backslashes, "
    "a name over 255 characters, a path over 1024 or a stored name over 900 bytes"
)
PATH = OpenApiParameter(
    "path", str, required=True, description="The file's path in the namespace, e.g. `/scripts/etl.py`."
)
DIRECTORY = OpenApiParameter("path", str, description="The directory; empty or `/` for the root.")
DOWNLOAD = OpenApiResponse(
    OpenApiTypes.BINARY, description="The file's bytes, as an attachment named after the file (Content-Disposition)."
)


class NamespaceFilesView(WorkflowDevAPIView):
    parser_classes = [UploadParser]

    @extend_schema(
        summary="Download a namespace file",
        operation_id="namespace_file_get",
        parameters=[PATH],
        responses={(200, "*/*"): DOWNLOAD, 400: BAD_PATH, 404: NOT_FOUND},
    )
    def get(self, request: Request, name: str) -> FileResponse:
        """The bytes of one namespace file, streamed. Needs the viewer role."""
        namespace = namespace_get(account=request.user, name=name)
        file_name, handle = selectors.namespace_file_open(
            account=request.user, namespace=namespace, path=request.query_params.get("path", "")
        )
        return file_response(file_name, handle)

    @extend_schema(
        summary="Upload a namespace file (create or replace)",
        operation_id="namespace_file_put",
        parameters=[PATH],
        request={"multipart/form-data": FileUploadSerializer},
        responses={
            201: OpenApiResponse(FileAttributesSerializer, description="Created"),
            200: OpenApiResponse(FileAttributesSerializer, description="Replaced"),
            400: BAD_PATH,
            403: ROLE_REFUSED,
            404: NOT_FOUND,
            409: OpenApiResponse(description="The path is a directory, or a directory on it is a file"),
            413: OpenApiResponse(description="The file is larger than MILLRACE_MAX_FILE_BYTES; nothing was stored"),
            415: OpenApiResponse(description="The body is not multipart/form-data"),
            422: OpenApiResponse(description="No `fileContent` part, or no Content-Length (a chunked body)"),
        },
    )
    def post(self, request: Request, name: str) -> Response:
        """Store the multipart part `fileContent` at `path`, replacing a file that is there; the
        directories on the way are implied. Needs the editor role."""
        namespace = namespace_get(account=request.user, name=name)
        ensure_role(request.user, namespace, Role.EDITOR)  # before the upload is read
        content_length_required(request, "fileContent")
        upload = request.FILES.get("fileContent")
        if upload is None:
            raise ValidationFailed(
                "The file goes in the multipart part 'fileContent'.",
                details=[{"field": "fileContent", "reason": "required"}],
            )
        stored = services.namespace_file_put(
            account=request.user, namespace=namespace, path=request.query_params.get("path", ""), content=upload
        )
        entry = selectors.namespace_file_stat(account=request.user, namespace=namespace, path=stored.path)
        code = status.HTTP_201_CREATED if stored.created else status.HTTP_200_OK
        return Response(FileAttributesSerializer(entry).data, status=code)

    @extend_schema(
        summary="Delete a namespace file or directory",
        operation_id="namespace_file_delete",
        parameters=[OpenApiParameter("path", str, required=True, description="A file, or a whole directory.")],
        responses={204: None, 400: BAD_PATH, 403: ROLE_REFUSED, 404: NOT_FOUND},
    )
    def delete(self, request: Request, name: str) -> Response:
        """Delete a file, or a directory with everything under it. Needs the editor role."""
        namespace = namespace_get(account=request.user, name=name)
        path = request.query_params.get("path", "")
        services.namespace_file_delete(account=request.user, namespace=namespace, path=path)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Move (rename) a namespace file or directory",
        operation_id="namespace_file_move",
        request=None,
        parameters=[
            OpenApiParameter("from", str, required=True, description="The file or directory to move."),
            OpenApiParameter("to", str, required=True, description="Its new path; nothing may be there yet."),
        ],
        responses={
            204: None,
            400: OpenApiResponse(description="A malformed path, or `to` is `from` or inside it"),
            403: ROLE_REFUSED,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Something is at `to` already, or a directory on its way is a file"),
        },
    )
    def put(self, request: Request, name: str) -> Response:
        """Move a file, or a directory with everything under it, to a new path; nothing is
        replaced. Needs the editor role."""
        namespace = namespace_get(account=request.user, name=name)
        services.namespace_file_move(
            account=request.user,
            namespace=namespace,
            source=request.query_params.get("from", ""),
            target=request.query_params.get("to", ""),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class NamespaceFileDirectoryView(WorkflowDevAPIView):
    @extend_schema(
        summary="List a directory of namespace files",
        operation_id="namespace_file_directory",
        parameters=[DIRECTORY],
        responses={
            200: OpenApiResponse(
                FileAttributesSerializer(many=True), description="Directories first, then files, each by name"
            ),
            400: OpenApiResponse(description="A malformed path, or the path of a file"),
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, name: str) -> Response:
        """The files and directories directly in a directory (the root by default). A directory
        exists while it holds files. Needs the viewer role."""
        namespace = namespace_get(account=request.user, name=name)
        entries = selectors.namespace_file_listing(
            account=request.user, namespace=namespace, path=request.query_params.get("path")
        )
        return Response(FileAttributesSerializer(entries, many=True).data)


class NamespaceFileStatsView(WorkflowDevAPIView):
    @extend_schema(
        summary="Get the attributes of a namespace file or directory",
        operation_id="namespace_file_stats",
        parameters=[DIRECTORY],
        responses={200: FileAttributesSerializer, 400: BAD_PATH, 404: NOT_FOUND},
    )
    def get(self, request: Request, name: str) -> Response:
        """Type, size and last change of one path (the root by default). Needs the viewer role."""
        namespace = namespace_get(account=request.user, name=name)
        entry = selectors.namespace_file_stat(
            account=request.user, namespace=namespace, path=request.query_params.get("path", "")
        )
        return Response(FileAttributesSerializer(entry).data)


EXECUTION_FILE = OpenApiParameter(
    "path", str, required=True, description="The file's URI, as a task output gives it: `millrace:///<namespace>/...`."
)
EXECUTION_NOT_FOUND = OpenApiResponse(
    description="No such execution (or one you cannot read), or no such file of this execution"
)
NOT_A_URI = OpenApiResponse(description="`path` is not a millrace:/// URI")


class ExecutionFileView(WorkflowDevAPIView):
    @extend_schema(
        summary="Download a file of an execution",
        operation_id="execution_file_get",
        parameters=[EXECUTION_FILE],
        responses={(200, "*/*"): DOWNLOAD, 400: NOT_A_URI, 404: EXECUTION_NOT_FOUND},
    )
    def get(self, request: Request, id: str) -> FileResponse:
        """Stream a file the execution was given (a FILE input) or one of its tasks wrote. A URI of
        another execution or namespace is not found. Needs the viewer role."""
        file_name, handle = execution_selectors.execution_file(
            account=request.user, execution_id=id, uri=request.query_params.get("path", "")
        )
        return file_response(file_name, handle)


class ExecutionFileMetasView(WorkflowDevAPIView):
    @extend_schema(
        summary="Get the size of a file of an execution",
        operation_id="execution_file_metas",
        parameters=[EXECUTION_FILE],
        responses={200: FileMetasSerializer, 400: NOT_A_URI, 404: EXECUTION_NOT_FOUND},
    )
    def get(self, request: Request, id: str) -> Response:
        """The size of a file of the execution, under the rules of the download. Needs the viewer role."""
        size = execution_selectors.execution_file_bytes(
            account=request.user, execution_id=id, uri=request.query_params.get("path", "")
        )
        return Response(FileMetasSerializer({"size": size}).data)
