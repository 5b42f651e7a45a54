"""The media API in the OpenAPI document: the File object and the operations of docs/api.md#files-and-evidence, exactly.

Written out, as cases/schema.py is, because the contract says more than a serializer can
express; the schemathesis run in ``tests/openapi`` holds the service to it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_view

from serverops.ids import ULID_PATTERN
from serverops.pagination import KeysetPagination
from serverops.schema import (
    TIMESTAMP,
    Schema,
    component,
    header,
    id_schema,
    operation,
    page_component,
    page_parameters,
)

from .content import ALLOWED_TYPES
from .models import FOLDER_MAX_LENGTH, ORIGINAL_NAME_MAX_LENGTH, AbuseStatus, StorageClass, Visibility
from .services import TAG_MAX_LENGTH, TAGS_MAX
from .uploads import BASE64_BODY_LIMIT, BASE64_FILE_LIMIT, MIB

T = TypeVar("T")

FILE = component(
    "File",
    {
        "type": "object",
        "description": "A stored file: evidence a case may list.",
        "additionalProperties": False,
        "required": [
            "id",
            "url",
            "key",
            "size",
            "content_type",
            "sha256",
            "original_name",
            "tags",
            "folder",
            "abuse_status",
            "visibility",
            "storage_class",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": id_schema("f"),
            "url": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "Opens the bytes: stable for a public file, signed and valid for an hour for a "
                "private one (a fresh link in every response); null while the file is blocked.",
            },
            "key": {
                "type": "string",
                "pattern": f"^p_{ULID_PATTERN}/f_{ULID_PATTERN}/[^/]+$",
                "description": "`<project id>/<file id>/<original name>`.",
            },
            "size": {"type": "integer", "format": "int64", "minimum": 1, "description": "Bytes."},
            "content_type": {
                "type": "string",
                "enum": sorted(ALLOWED_TYPES),
                "description": "Read from the bytes, never from the name.",
            },
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "Of the content."},
            "original_name": {"type": "string", "maxLength": ORIGINAL_NAME_MAX_LENGTH, "example": "screenshot.png"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "folder": {"type": "string", "description": "May be empty."},
            "abuse_status": {"type": "string", "enum": list(AbuseStatus.values)},
            "visibility": {"type": "string", "enum": list(Visibility.values)},
            "storage_class": {"type": "string", "enum": list(StorageClass.values)},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
)

_TAGS: Schema = {
    "type": "array",
    "maxItems": TAGS_MAX,
    "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX_LENGTH, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"},
    "description": f"At most {TAGS_MAX} tags of 1–{TAG_MAX_LENGTH} characters; repeats are dropped.",
}
_FOLDER: Schema = {
    "type": "string",
    "maxLength": FOLDER_MAX_LENGTH,
    "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$",
    "description": "May be empty (the top level).",
}
_VISIBILITY: Schema = {
    "type": "string",
    "enum": list(Visibility.values),
    "default": Visibility.PRIVATE.value,
    "description": "A public file's `url` is stable; a private one's is signed and expires.",
}
_TYPES = (
    "Allowed, as read from the bytes: images png, jpeg, gif, webp (50 MB); video mp4, webm, quicktime "
    "(500 MB); audio mpeg, ogg, wav (100 MB); pdf, plain text and JSON (50 MB). Anything else (HTML, "
    "SVG, executables, archives…) is a 415, and so is a declared type the bytes contradict."
)

UPLOAD = component(
    "FileUpload",
    {
        "type": "object",
        "description": "The parts of a `multipart/form-data` upload. Any other part is a 400.",
        "additionalProperties": False,
        "required": ["file"],
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "The bytes, with a file name (its base name is kept, at most 255 characters). " + _TYPES,
            },
            "folder": _FOLDER,
            "tags": {**_TAGS, "description": "Repeat the part for each tag. " + str(_TAGS["description"])},
            "visibility": _VISIBILITY,
        },
    },
)

BASE64_UPLOAD = component(
    "FileBase64Upload",
    {
        "type": "object",
        "description": (
            f"A file as base64 in JSON, for clients that cannot send multipart: at most "
            f"{BASE64_FILE_LIMIT // MIB} MiB decoded, {BASE64_BODY_LIMIT // MIB} MiB of JSON. Any other key is a 400."
        ),
        "additionalProperties": False,
        "required": ["filename", "data"],
        "properties": {
            "filename": {"type": "string", "minLength": 1, "example": "screenshot.jpg"},
            "data": {
                "type": "string",
                "minLength": 1,
                "description": "Standard base64 (whitespace and missing padding forgiven), or a "
                "`data:<type>;base64,` URL. May be sent as `file` instead. " + _TYPES,
            },
            "content_type": {"type": "string", "description": "The type the client says it sends; checked."},
            "folder": _FOLDER,
            "tags": _TAGS,
            "visibility": _VISIBILITY,
        },
    },
)

FILE_ID = OpenApiParameter(
    "id",
    type=id_schema("f"),
    location=OpenApiParameter.PATH,
    description="The file's id. Any other string, or a file outside the token's project and mode, is a 404.",
)
_LOCATION = header("Location", {"type": "string", "pattern": f"^/v1/media/f_{ULID_PATTERN}$"}, "The new file.", [201])
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("A malformed body, part or parameter; `param` names it.", "file: missing the file part", "bad_request"),
    404: ("No such file in the token's project and mode.", "file not found", "not_found"),
    409: (
        "A case lists the file as evidence; remove it from the case first.",
        "file f_01JD3Z8W6V4M2Q9T7K5X1B0N3R is evidence in case c_01JD3Z8W6V4M2Q9T7K5X1B0N3R",
        "conflict",
    ),
    413: (
        "The file is over its type's size limit (`file_too_large`), or the JSON body is over "
        f"{BASE64_BODY_LIMIT // MIB} MiB (`payload_too_large`).",
        "file is larger than 50,000,000 bytes, the limit for image/png",
        "file_too_large",
    ),
    415: (
        "The bytes are not an allowed type or not the declared one, or the body is not sent as the operation's "
        "content type.",
        "declared type image/png does not match the file's content (text/plain)",
        "unsupported_type",
    ),
}


def media_schema(viewset: type[T]) -> type[T]:
    """Decorates ``MediaViewSet`` with its operations; each scope is read from its ``required_scopes``."""
    scopes: dict[str, str] = viewset.required_scopes  # type: ignore[attr-defined]
    files: type[KeysetPagination] = viewset.pagination_class  # type: ignore[attr-defined]
    file_list = page_component("FileList", "One page of files, newest first.", files.results_key, FILE)
    common: dict[str, Any] = {"tag": "media", "error_overrides": _ERRORS}
    return extend_schema_view(
        list=operation(
            scopes["list"],
            **common,
            operation_id="listFiles",
            summary="List files",
            description="The token's files, newest first, one page at a time (keyset pagination).",
            parameters=[
                *page_parameters(files, "file-cursor"),
                OpenApiParameter("folder", type=_FOLDER, description="Only files in this folder."),
                OpenApiParameter(
                    "tag",
                    type={"type": "array", "items": _TAGS["items"]},
                    explode=True,
                    description="Only files with this tag; repeat for files with all of them.",
                ),
            ],
            success={200: OpenApiResponse(response=file_list, description="A page of files.")},
            errors=[400, 401, 403, 406, 429, 500],
        ),
        create=operation(
            scopes["create"],
            **common,
            operation_id="uploadFile",
            summary="Upload a file",
            description="Stores the `file` part. The size limit is enforced while the body streams in: an upload "
            "over it is refused before the rest is read, and nothing is stored.",
            request={"multipart/form-data": UPLOAD},
            success={201: OpenApiResponse(response=FILE, description="The new file; `Location` names it.")},
            errors=[400, 401, 403, 406, 413, 415, 429, 500],
            headers=_LOCATION,
        ),
        base64=operation(
            scopes["base64"],
            **common,
            operation_id="uploadFileBase64",
            summary="Upload a file as base64",
            description="For FiveM/RedM Lua and Roblox, which cannot send multipart. Bad base64 is a 400 naming "
            "`data`.",
            request={"application/json": BASE64_UPLOAD},
            success={201: OpenApiResponse(response=FILE, description="The new file; `Location` names it.")},
            errors=[400, 401, 403, 406, 413, 415, 429, 500],
            headers=_LOCATION,
        ),
        retrieve=operation(
            scopes["retrieve"],
            **common,
            operation_id="getFile",
            summary="Get a file",
            description="One file, with a fresh `url`.",
            parameters=[FILE_ID],
            success={200: OpenApiResponse(response=FILE, description="The file.")},
            errors=[401, 403, 404, 406, 429, 500],
        ),
        destroy=operation(
            scopes["destroy"],
            **common,
            operation_id="deleteFile",
            summary="Delete a file",
            description="Deletes the file and, once that is committed, its bytes. A file that a case lists as "
            "evidence is a 409 naming the case.",
            parameters=[FILE_ID],
            success={204: OpenApiResponse(description="Deleted.")},
            errors=[401, 403, 404, 406, 409, 429, 500],
        ),
    )(viewset)
