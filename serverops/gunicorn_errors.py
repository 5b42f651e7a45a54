"""gunicorn's own refusals in the API's envelope.

gunicorn answers a request it cannot parse (a request line or header over its limits, a
malformed chunk, an unknown transfer coding) itself, before Django, with an HTML page.
``install()`` (called from ``gunicorn.conf.py``) replaces the one function gunicorn writes
those pages with, so every answer is ``{"error": {"code", "message"}}`` with an
``X-Request-Id``. gunicorn's own wording (which may quote the request) is not repeated.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util  # type: ignore[import-untyped]
from ulid import ULID

from .exceptions import CODES, INTERNAL_MESSAGE, error_body

_MESSAGES = {
    400: "malformed HTTP request",
    403: "forbidden",
    414: "request line is too long",
    417: "expectation failed",
    431: "request headers are too large or too many",
    500: INTERNAL_MESSAGE,
    501: "transfer coding not supported",
}


def error_response_bytes(status: int, reason: str) -> bytes:
    """A complete HTTP/1.1 response: the envelope, ``X-Request-Id``, and the connection closed."""
    status = status if status in CODES else 400 if status < 500 else 500
    body = json.dumps(error_body(status, _MESSAGES.get(status, "bad request")), separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-Id: req_{ULID()}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` (same arguments); ``mesg`` is deliberately unused."""
    util.write_nonblock(sock, error_response_bytes(status_int, reason))


def install() -> None:
    util.write_error = write_error
