"""The ``/media/`` route: the bytes of files on the service's own disk, served as hostile content.

User bytes share an origin with the admin unless ``MEDIA_BASE_URL`` puts them on a host of their
own, so every answer here is one a browser cannot turn against that origin: the stored type
(read from the bytes at upload) with ``X-Content-Type-Options: nosniff``, ``Content-Security-Policy:
sandbox`` (no script, no same-origin access even if something renders), and a download
(``Content-Disposition: attachment``) for anything that is not an image, video or audio. Errors are
short plain-text 4xx: nothing under ``/media/`` renders HTML.

Who gets the bytes:
- a public file: anyone with its stable link;
- a private file: a link signed by ``media.storage`` that has not expired (tampered or expired → 403);
- a blocked file: only a staff link (``staff_file_url``, made for admin pages), otherwise 404;
- a file on an object store: nobody here (404); its ``url`` points at the store itself.

``GET`` and ``HEAD``; a single ``Range`` is answered with 206 (seeking in video needs it), and
``If-None-Match`` against the file's SHA-256 with 304. Any other method, on any path here, is a
plain 405 with ``Allow`` (the views are CSRF-exempt: nothing here writes, and Django's CSRF
refusal would be an HTML page). A path that cannot be a key (a NUL or other control character,
ids of the wrong form) is a 404 before any query.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import IO

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt

from serverops.ids import id_regex
from serverops.parsers import whole_number

from .models import AbuseStatus, File, Visibility
from .storage import is_inline_type, media_storage

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII)
# Past the end of any file: what a byte position of more digits than any size stands for.
_BEYOND_ANY_FILE = 10**18
_PROJECT_ID = id_regex("p")
_FILE_ID = id_regex("f")
# Characters no stored name holds (``media.services.clean_original_name`` refuses them).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _hostile_bytes_headers(response: HttpResponseBase) -> HttpResponseBase:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def _plain(status: int, message: str) -> HttpResponseBase:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return _hostile_bytes_headers(response)


def _method_not_allowed() -> HttpResponseBase:
    response = _plain(405, "method not allowed")
    response["Allow"] = "GET, HEAD"
    return response


@csrf_exempt
def not_found(request: HttpRequest, name: str = "") -> HttpResponseBase:
    """Anything under ``/media/`` that names no file (plain text, like every error here)."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed()
    return _plain(404, "not found")


def _could_be_key(parts: list[str]) -> bool:
    return (
        len(parts) == 3
        and _PROJECT_ID.fullmatch(parts[0]) is not None
        and _FILE_ID.fullmatch(parts[1]) is not None
        and _CONTROL.search(parts[2]) is None
    )


@csrf_exempt
def serve_file(request: HttpRequest, name: str) -> HttpResponseBase:
    """The bytes of the file whose key is ``name``, to whoever its visibility, status and link allow."""
    response: HttpResponseBase
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed()
    # A key is <project id>/<file id>/<name>: the file id finds the row by primary key.
    parts = name.split("/", 2)
    if not _could_be_key(parts):
        return not_found(request)
    file = File.objects.filter(pk=parts[1], key=name).first()
    if file is None:
        return not_found(request)
    storage = media_storage(file)
    if not storage.served_by_service:
        return not_found(request)

    signed = "signature" in request.GET or "expires" in request.GET
    staff = signed and request.GET.get("staff") == "1"
    if signed and not storage.check_signature(
        name,
        expires=request.GET.get("expires", ""),
        signature=request.GET.get("signature", ""),
        staff=staff,
    ):
        return _plain(403, "link expired or invalid")
    if file.abuse_status == AbuseStatus.BLOCKED and not staff:
        return not_found(request)
    if file.visibility == Visibility.PRIVATE and not signed:
        return not_found(request)

    etag = f'"{file.sha256}"'
    if _etag_matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
        return _file_headers(response, file, etag)

    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError:
        logger.warning("file %s has a row but no bytes at %s", file.pk, name)
        return not_found(request)
    try:
        byte_range = _requested_range(request, etag, size=file.size)
    except _Unsatisfiable:
        handle.close()
        response = _plain(416, "range not satisfiable")
        response["Content-Range"] = f"bytes */{file.size}"
        return response
    if byte_range is None:
        response = FileResponse(handle, content_type=file.content_type)
    else:
        start, end = byte_range
        handle.seek(start)
        response = StreamingHttpResponse(_read_span(handle, end - start + 1), status=206)
        response["Content-Type"] = file.content_type
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{file.size}"
    return _file_headers(response, file, etag)


def _file_headers(response: HttpResponseBase, file: File, etag: str) -> HttpResponseBase:
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    inline = is_inline_type(file.content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=not inline, filename=file.original_name
    ) or ("inline" if inline else "attachment")
    # Public answers may be cached but are checked again each time, so blocking a file takes effect at once.
    response["Cache-Control"] = "public, no-cache" if file.visibility == Visibility.PUBLIC else "private, no-store"
    return _hostile_bytes_headers(response)


def _etag_matches(header: str, etag: str) -> bool:
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in header.split(",")) if header else False


class _Unsatisfiable(Exception):
    """A byte range that starts past the end of the file (416)."""


def _requested_range(request: HttpRequest, etag: str, *, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, inclusive; None for the whole file (no, several or stale ranges).

    Raises ``_Unsatisfiable`` for a range that starts past the end.
    """
    header = request.headers.get("Range", "")
    if not header:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # several ranges or another unit: the whole file is a valid answer
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = _byte_position(last)
        if suffix == 0:
            raise _Unsatisfiable
        return max(size - suffix, 0), size - 1
    start = _byte_position(first)
    if last and _byte_position(last) < start:
        return None  # an invalid range-spec: the header is ignored (RFC 9110 §14.1.1)
    if start >= size:
        raise _Unsatisfiable
    return start, min(_byte_position(last), size - 1) if last else size - 1


def _byte_position(digits: str) -> int:
    """A position in a range; one of more digits than any size is past every file's end, and is
    never converted (``int`` refuses more than 4,300 digits)."""
    significant = digits.lstrip("0") or "0"
    position = whole_number(significant)
    return _BEYOND_ANY_FILE if position is None else position


def _read_span(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = handle.read(min(CHUNK_SIZE, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()
