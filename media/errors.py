"""The refusals of the media API (docs/api.md#errors, docs/api.md#files-and-evidence), raised by services
and the upload handler alike."""

from __future__ import annotations

from rest_framework import exceptions, status

from serverops.errors import Conflict, NotFound


class FileNotFound(NotFound):
    default_detail = "file not found"


class FileTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "file is larger than its type allows"
    default_code = "file_too_large"


class UnsupportedType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "file type is not allowed"
    default_code = "unsupported_type"


class FileInUse(Conflict):
    default_detail = "file is evidence in a case"
