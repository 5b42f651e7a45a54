"""Request bodies as Django can read them, whatever framing the client chose.

Django reads exactly ``CONTENT_LENGTH`` bytes of a body and nothing when there is none,
so on its own it would

- drop a chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``) and act on
  the request as if it had been sent empty, and
- act on a body that ended before its ``Content-Length`` (the client went away), as if
  the bytes that arrived were all of it.

``BodyFraming`` (WSGI middleware, around Django's handler in ``serverops.wsgi``) fixes both
before Django sees the request: a chunked body is read whole, up to ``CHUNKED_BODY_LIMIT``,
and handed on with its real length (gunicorn decodes chunks and says where the body ends
with ``wsgi.input_terminated``); a body with a length is read through ``ExactLengthInput``,
which fails the read when the body ends early. ``BodyFramingErrors`` (Django middleware)
answers what could not be read: 411 for a chunked body the server cannot delimit or one
over the limit, 400 for one that broke off or a ``Content-Length`` that is not a number
(Django itself would convert it and fail as a 500).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.http import HttpRequest, HttpResponse, UnreadablePostError

from .exceptions import error_response, is_api_path
from .parsers import whole_number
from .socket_body import SocketBody, socket_body

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# The largest body the API takes as JSON (docs/api.md#files-and-evidence: 14 MiB for /v1/media/base64). A larger body
# is a file upload, which must say its length so the upload limits can work as it streams.
CHUNKED_BODY_LIMIT = 14 * 1024 * 1024
# How much of a chunked body stays in memory before it spills to a temporary file.
_IN_MEMORY = 1024 * 1024
_CHUNK = 64 * 1024
ERROR_KEY = "serverops.body_error"

LENGTH_REQUIRED = "length_required"
TOO_LONG_FOR_CHUNKED = "too_long_for_chunked"
BROKEN_OFF = "broken_off"
BAD_LENGTH = "bad_length"


class ExactLengthInput:
    """``wsgi.input`` that raises ``UnreadablePostError`` when the body ends before ``length`` bytes.

    Django turns that into a failed read; the API answers 400 and acts on nothing.
    """

    def __init__(self, stream: IO[bytes], length: int) -> None:
        self.stream = stream
        self.remaining = length

    def _ended_early(self) -> UnreadablePostError:
        return UnreadablePostError("request body ended before its Content-Length")

    def read(self, size: int | None = -1) -> bytes:
        wanted = self.remaining if size is None or size < 0 else min(size, self.remaining)
        parts: list[bytes] = []
        got = 0
        # A short read is not the end: keep reading until the bytes asked for, or the end.
        while got < wanted:
            data = self.stream.read(wanted - got)
            if not data:
                raise self._ended_early()
            parts.append(data)
            got += len(data)
        self.remaining -= got
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        wanted = self.remaining if size is None or size < 0 else min(size, self.remaining)
        line = self.stream.readline(wanted) if wanted > 0 else b""
        if wanted > 0 and not line:
            raise self._ended_early()
        self.remaining -= len(line)
        return line

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def _is_chunked(environ: Environ) -> bool:
    return "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()


def _read_chunked(environ: Environ) -> None:
    """Replaces a chunked body with the same bytes and their length, or marks why it cannot."""
    stream: IO[bytes] = environ["wsgi.input"]
    # Handed on as wsgi.input, so closed with the request, not here.
    body = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115
    size = 0
    try:
        while data := stream.read(_CHUNK):
            size += len(data)
            if size > CHUNKED_BODY_LIMIT:
                body.close()
                environ[ERROR_KEY] = TOO_LONG_FOR_CHUNKED
                return
            body.write(data)
    except (OSError, ValueError, EOFError):
        # A malformed chunk or a client that went away; the server's own parse errors
        # (gunicorn's InvalidChunkSize…) are ValueError or OSError subclasses or reach
        # it directly, and gunicorn answers those itself.
        body.close()
        environ[ERROR_KEY] = BROKEN_OFF
        return
    body.seek(0)
    environ["wsgi.input"] = body
    environ["CONTENT_LENGTH"] = str(size)


def upload_body(request: HttpRequest) -> SocketBody | None:
    """For a parser about to read a large body (an upload) from its start: the body read
    straight from gunicorn's socket (``serverops.socket_body``), which like ``ExactLengthInput``
    refuses a body that ends before its ``Content-Length``; ``None`` where that does not apply,
    and the parser reads the request as usual.

    Only the upload parsers take this way: a JSON body is at most 1 MiB, where gunicorn's
    copies cost little.
    """
    environ = request.META
    stream = environ.get("wsgi.input")
    length = whole_number(str(environ.get("CONTENT_LENGTH") or "").strip())
    if not isinstance(stream, ExactLengthInput) or stream.remaining != length:
        return None  # not framed by BodyFraming, or already being read
    return socket_body(stream.stream, environ.get("gunicorn.socket"))


class BodyFraming:
    """WSGI middleware: chunked bodies read whole, bodies that end early refused (module docstring)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        if _is_chunked(environ) and not length:
            if environ.get("wsgi.input_terminated"):
                _read_chunked(environ)
            else:
                # The server cannot say where the body ends (the development server, say).
                environ[ERROR_KEY] = LENGTH_REQUIRED
            if ERROR_KEY in environ:
                environ["CONTENT_LENGTH"] = "0"
        elif length:
            size = whole_number(length)
            if size is None:
                environ[ERROR_KEY] = BAD_LENGTH
                environ["CONTENT_LENGTH"] = "0"
            elif size > 0:
                environ["wsgi.input"] = ExactLengthInput(environ["wsgi.input"], size)
        return self.app(environ, start_response)


_MESSAGES = {
    LENGTH_REQUIRED: (411, "a chunked request body is not accepted here; send it with a Content-Length"),
    TOO_LONG_FOR_CHUNKED: (
        411,
        f"a chunked request body may be at most {CHUNKED_BODY_LIMIT // (1024 * 1024)} MiB; "
        "send larger bodies with a Content-Length",
    ),
    BROKEN_OFF: (400, "request body ended before it was complete"),
    BAD_LENGTH: (400, "Content-Length must be a whole number of bytes (at most 18 digits)"),
}


class BodyFramingErrors:
    """Answers a request whose body ``BodyFraming`` could not read, before any view acts on it:
    the envelope under /v1/, a plain response elsewhere (the admin)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = request.META.get(ERROR_KEY)
        length = str(request.META.get("CONTENT_LENGTH") or "").strip()
        if problem is None and length and whole_number(length) is None:
            problem = BAD_LENGTH  # a request that did not come through BodyFraming (tests, another server)
        if problem is None:
            return self.get_response(request)
        status, message = _MESSAGES[problem]
        if is_api_path(request.path):
            return error_response(status, message)
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
