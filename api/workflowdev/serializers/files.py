"""workflowdev (Kestra) shapes of namespace files and execution files."""

from datetime import datetime
from typing import Any

from rest_framework import serializers

from core.storage import Entry


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


class FileAttributesSerializer(serializers.Serializer):
    """Kestra's `FileAttributes`: one entry of a directory listing, or the stats of a path."""

    fileName = serializers.CharField(help_text="The name within its directory (empty for the root).")
    type = serializers.CharField(help_text="`File` or `Directory`.")
    size = serializers.IntegerField(help_text="Bytes; 0 for a directory.")
    lastModifiedTime = serializers.IntegerField(
        allow_null=True, help_text="Epoch milliseconds; null where the storage keeps none (directories)."
    )
    creationTime = serializers.IntegerField(
        allow_null=True, help_text="Epoch milliseconds; stored files keep no creation time, so the last change."
    )

    def to_representation(self, entry: Entry) -> dict[str, Any]:
        modified = _millis(entry.modified)
        return {
            "fileName": entry.name,
            "type": "Directory" if entry.is_dir else "File",
            "size": 0 if entry.is_dir else entry.size or 0,
            "lastModifiedTime": modified,
            "creationTime": modified,
        }


class FileUploadSerializer(serializers.Serializer):
    """The multipart body of an upload."""

    fileContent = serializers.FileField(help_text="The file's bytes (at most MILLRACE_MAX_FILE_BYTES).")


class FileMetasSerializer(serializers.Serializer):
    size = serializers.IntegerField(help_text="Bytes.")
