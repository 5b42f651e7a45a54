"""Requests through the real WSGI application (``serverops.wsgi.application``: BodyFraming
around Django's handler), in this process, with a hand-built environ: how a body framed by
a real server (chunked, cut short, trickling in) reaches the service."""

from __future__ import annotations

import io
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from serverops.wsgi import application


class Trickle(io.BytesIO):
    """A stream that hands out at most 3 bytes a read, as a socket may."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(3 if size is None or size < 0 else min(size, 3))


def wsgi(
    method: str, path: str, body: bytes, *, token: Any, headers: dict[str, str], stream: io.BytesIO | None = None
) -> tuple[int, dict[str, str], bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "HTTP_AUTHORIZATION": f"Bearer {token.plaintext}",
        "wsgi.input": stream if stream is not None else io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    # As Django's test client does: the request must not close the test's own connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        content = b"".join(response)
        response.close()  # type: ignore[attr-defined]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], content
