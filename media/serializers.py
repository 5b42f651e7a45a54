"""The File object (docs/api.md#files-and-evidence) and the validation of what upload clients send besides the bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from rest_framework import serializers

from serverops.exceptions import InvalidValue
from serverops.fields import JSONObjectSerializer, StrictCharField, StrictChoiceField, rfc3339

from .models import AbuseStatus, Visibility
from .services import clean_original_name
from .storage import FileLinks, LinkedFile


@runtime_checkable
class FileRow(LinkedFile, Protocol):
    """What ``file_representation`` reads: a File, or a record of its row
    (``serverops.sql.record_type``, as ``cases.queries.case_page`` reads them)."""

    @property
    def id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def content_type(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def original_name(self) -> str: ...
    @property
    def tags(self) -> Any: ...
    @property
    def folder(self) -> str: ...
    @property
    def storage_class(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def file_representation(file: FileRow, *, links: FileLinks) -> dict[str, Any]:
    """The File object, exactly its 14 keys; ``links`` makes its ``url`` (one per response),
    which is None while the file is blocked: no link opens it then (docs/api.md, "Files and evidence").
    ``file`` is a File, or a record of its row (``serverops.sql.record_type``).

    Written out rather than left to a ModelSerializer: DRF builds every field object per
    serializer and walks them per row, which made a page of 50 cases several times slower
    (bench/PROFILE.md).
    """
    return {
        "id": file.id,
        "url": None if file.abuse_status == AbuseStatus.BLOCKED else links.url(file),
        "key": file.key,
        "size": file.size,
        "content_type": file.content_type,
        "sha256": file.sha256,
        "original_name": file.original_name,
        "tags": file.tags,
        "folder": file.folder,
        "abuse_status": file.abuse_status,
        "visibility": file.visibility,
        "storage_class": file.storage_class,
        "created_at": rfc3339(file.created_at),
        "updated_at": rfc3339(file.updated_at),
    }


class Base64UploadSerializer(JSONObjectSerializer[dict[str, Any]]):
    """The JSON body of ``POST /v1/media/base64``. ``file`` is another name for ``data``.

    Like every body of this API: a key that is unknown is a 400 naming it, and so is a value
    of the wrong JSON type; the bytes' own rules are ``media.services``'.
    """

    filename = StrictCharField()
    # A field named like Serializer.data: DRF's metaclass takes declared fields out of the class.
    data = StrictCharField(required=False, allow_blank=True)  # type: ignore[assignment]
    file = StrictCharField(required=False, allow_blank=True)
    content_type = StrictCharField(required=False, max_length=100)
    folder = StrictCharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=StrictCharField(allow_blank=True), required=False)
    visibility = StrictChoiceField(choices=Visibility.values, required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        for key in data:
            if key not in self.fields:
                raise serializers.ValidationError({key: [f"unknown field; send only {', '.join(self.fields)}"]})
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated

    def validate_filename(self, value: str) -> str:
        try:
            return clean_original_name(value, param="filename")
        except InvalidValue as exc:
            raise serializers.ValidationError(exc.message) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "data" in attrs and "file" in attrs:
            raise serializers.ValidationError({"file": ["send the bytes in data or in file, not both"]})
        if "file" in attrs:
            attrs["data"] = attrs.pop("file")
        if not attrs.get("data"):
            raise serializers.ValidationError({"data": ["data is required: the file's bytes in base64"]})
        return attrs
