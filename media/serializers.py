"""The File object (docs/api.md#files-and-evidence) and the validation of what upload clients send besides the bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings

from serverops.fields import StrictCharField, StrictChoiceField, rfc3339

from .models import File, Visibility
from .services import clean_original_name
from .storage import FileLinks


def file_representation(file: File, *, links: FileLinks) -> dict[str, Any]:
    """The File object, exactly its 14 keys; ``links`` makes its ``url`` (one per response).
    ``file`` is a File, or a record of its row (``serverops.sql.record_type``).

    Written out rather than left to a ModelSerializer: DRF builds every field object per
    serializer and walks them per row, which made a page of 50 cases several times slower
    (bench/PROFILE.md).
    """
    return {
        "id": file.id,
        "url": links.url(file),
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


class Base64UploadSerializer(serializers.Serializer[dict[str, Any]]):
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

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: ["request body must be a JSON object"]}
            )
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        for key in data:
            if key not in self.fields:
                raise serializers.ValidationError({key: [f"unknown field; send only {', '.join(self.fields)}"]})
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated

    def validate_filename(self, value: str) -> str:
        try:
            return clean_original_name(value, param="filename")
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(exc.detail["filename"]) from None  # type: ignore[call-overload]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "data" in attrs and "file" in attrs:
            raise serializers.ValidationError({"file": ["send the bytes in data or in file, not both"]})
        if "file" in attrs:
            attrs["data"] = attrs.pop("file")
        if not attrs.get("data"):
            raise serializers.ValidationError({"data": ["data is required: the file's bytes in base64"]})
        return attrs
