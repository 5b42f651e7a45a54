"""The refusals of the media API (docs/api.md#errors, docs/api.md#files-and-evidence). The domain's
(``DomainError``) are raised by services
and the upload handler alike; ``FileNotFound`` only by views."""

from __future__ import annotations

from serverops.exceptions import DomainError, NotFound


class FileNotFound(NotFound):
    default_detail = "file not found"


class FileTooLarge(DomainError):
    status = 413
    code = "file_too_large"
    default_message = "file is larger than its type allows"


class UnsupportedType(DomainError):
    status = 415
    code = "unsupported_type"
    default_message = "file type is not allowed"


class FileInUse(DomainError):
    status = 409
    code = "conflict"
    default_message = "file is evidence in a case"
