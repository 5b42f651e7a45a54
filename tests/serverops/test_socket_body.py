"""``serverops.socket_body``: a body read straight from gunicorn's client socket.

These tests hold gunicorn's own request objects, made by its parser from a real socket, so they
fail when gunicorn changes the parts ``SocketBody`` relies on (pyproject.toml bounds its major
version): a request of known length must give a ``SocketBody``, and after reading through it the
connection must carry on exactly where that body ends.
"""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.http import UnreadablePostError
from django.test import RequestFactory
from gunicorn.config import Config  # type: ignore[import-untyped]
from gunicorn.http import wsgi as gunicorn_wsgi  # type: ignore[import-untyped]
from gunicorn.http.parser import RequestParser  # type: ignore[import-untyped]

from serverops.bodies import ExactLengthInput, upload_body
from serverops.socket_body import SocketBody, socket_body

BODY = bytes(range(256)) * 4096  # 1 MiB, every byte value
ADDRESS = ("127.0.0.1", 0)


def head(length: int, target: str = "/upload", extra: str = "") -> bytes:
    return f"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n{extra}\r\n".encode()


def parse_first_request(server: socket.socket) -> tuple[Any, dict[str, Any]]:
    """gunicorn's parser on ``server`` and the WSGI environ of its first request, as a worker builds them."""
    config = Config()
    parser = RequestParser(config, server, ADDRESS)
    _, environ = gunicorn_wsgi.create(next(parser), server, ADDRESS, ADDRESS, config)
    return parser, environ


@contextmanager
def gunicorn_request(*pieces: bytes, pause: float = 0.0, close: bool = False) -> Iterator[tuple[Any, dict[str, Any]]]:
    """gunicorn's parser on the server end of a socket pair, fed ``pieces`` by a thread (``pause``
    seconds between them; ``close``: the client hangs up after the last). Yields the parser and
    the first request's WSGI environ, as a gunicorn worker would build them."""
    server, client = socket.socketpair()
    sender = threading.Thread(target=_send, args=(client, pieces, pause, close), daemon=True)
    sender.start()
    # A reader that waits for bytes past the body's end fails the test instead of hanging it.
    watchdog = threading.Timer(10, client.shutdown, args=(socket.SHUT_RDWR,))
    watchdog.start()
    try:
        yield parse_first_request(server)
    finally:
        watchdog.cancel()
        server.close()  # a test that stops reading early ends the sender's last send
        sender.join(timeout=10)
        client.close()


def _send(sock: socket.socket, pieces: tuple[bytes, ...], pause: float, close: bool) -> None:
    try:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(pause)
        if close:
            sock.shutdown(socket.SHUT_WR)
    except BrokenPipeError:
        pass  # the reading end closed before reading everything, as the test meant it to


def read_all(body: SocketBody, size: int) -> bytes:
    out = []
    while data := body.read(size):
        out.append(data)
    return b"".join(out)


@pytest.mark.parametrize("size", [333, 1000, 65536, 256 * 1024, 4 * 1024 * 1024])
def test_reads_the_body_and_leaves_the_next_request_on_the_connection(size: int) -> None:
    """Sent in one piece with its headers and a second request behind it: gunicorn has read part of
    the body (and maybe of the next request) ahead; the body comes out whole, in reads of at most
    ``size``, and the next request is parsed as if gunicorn had read the body itself."""
    second = head(5, "/second") + b"hello"
    with gunicorn_request(head(len(BODY)) + BODY + second) as (parser, environ):
        body = socket_body(environ["wsgi.input"], environ["gunicorn.socket"])
        assert isinstance(body, SocketBody)
        first = body.read(size)
        assert 0 < len(first) <= size
        assert first + read_all(body, size) == BODY
        assert environ["wsgi.input"].read() == b""  # gunicorn's own drain finds nothing left
        following = next(parser)
        assert following.path == "/second"
        assert following.body.read() == b"hello"


def test_a_small_body_read_ahead_with_the_next_request_is_cut_where_it_ends() -> None:
    """gunicorn's first read of the connection holds the headers, the whole body and the next request."""
    second = head(5, "/second") + b"hello"
    with gunicorn_request(head(100) + BODY[:100] + second) as (parser, environ):
        body = socket_body(environ["wsgi.input"], environ["gunicorn.socket"])
        assert body is not None
        assert read_all(body, 65536) == BODY[:100]
        following = next(parser)
        assert following.path == "/second"
        assert following.body.read() == b"hello"


def test_takes_over_after_the_application_read_part_of_the_body() -> None:
    with gunicorn_request(head(len(BODY)) + BODY) as (_, environ):
        start = environ["wsgi.input"].read(10)  # gunicorn reads ahead into its own buffers
        body = socket_body(environ["wsgi.input"], environ["gunicorn.socket"])
        assert body is not None
        assert start + read_all(body, 100_000) == BODY


def test_a_body_arriving_in_pieces_comes_in_whole_blocks() -> None:
    pieces = [BODY[i : i + 10_000] for i in range(0, len(BODY), 10_000)]
    with gunicorn_request(head(len(BODY)), *pieces, pause=0.0005) as (_, environ):
        body = socket_body(environ["wsgi.input"], environ["gunicorn.socket"])
        assert body is not None
        blocks = [body.read(256 * 1024) for _ in range(4)]
        assert [len(block) for block in blocks] == [256 * 1024] * 4
        assert b"".join(blocks) == BODY
        assert body.read(256 * 1024) == b""


def test_a_client_that_hangs_up_early_is_a_body_that_could_not_be_read() -> None:
    with gunicorn_request(head(len(BODY)) + BODY[:300_000], close=True) as (_, environ):
        body = socket_body(environ["wsgi.input"], environ["gunicorn.socket"])
        assert body is not None
        assert body.read(256 * 1024) == BODY[: 256 * 1024]
        with pytest.raises(UnreadablePostError, match="ended before its Content-Length"):
            body.read(256 * 1024)


def test_read_gives_what_was_asked_for_across_what_gunicorn_held() -> None:
    """A parser reading the whole body in one call (the base64 upload's) gets all of it at once."""
    with gunicorn_request(head(len(BODY)) + BODY) as (_, environ):
        body = socket_body(environ["wsgi.input"], environ["gunicorn.socket"])
        assert body is not None
        assert body.read(len(BODY) + 1) == BODY
        assert body.read() == b""


def test_a_reset_connection_is_a_body_that_could_not_be_read() -> None:
    """As Django reports an ``OSError`` while reading ``wsgi.input``; the API answers it with a 400."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        with server:
            client.sendall(head(len(BODY)) + BODY[:1000])
            _, environ = parse_first_request(server)
            body = socket_body(environ["wsgi.input"], environ["gunicorn.socket"])
            assert body is not None
            assert body.read(1000) == BODY[:1000]
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # with a zero linger: a reset, not an orderly end
            with pytest.raises(UnreadablePostError):
                body.read(1000)


def test_a_chunked_body_is_left_to_gunicorn() -> None:
    raw = b"POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    with gunicorn_request(raw) as (_, environ):
        assert socket_body(environ["wsgi.input"], environ["gunicorn.socket"]) is None
        assert environ["wsgi.input"].read() == b"hello"


def test_a_socket_with_a_timeout_is_left_to_gunicorn() -> None:
    with gunicorn_request(head(5) + b"hello") as (_, environ):
        environ["gunicorn.socket"].settimeout(5)
        assert socket_body(environ["wsgi.input"], environ["gunicorn.socket"]) is None
        assert environ["wsgi.input"].read() == b"hello"


def test_anything_but_gunicorn_is_left_alone() -> None:
    a, b = socket.socketpair()
    with a, b:
        assert socket_body(io.BytesIO(b"hello"), a) is None
        assert socket_body(io.BytesIO(b"hello"), None) is None


def test_upload_body_reads_through_the_socket_only_from_the_start_of_a_framed_body() -> None:
    with gunicorn_request(head(len(BODY)) + BODY) as (_, environ):
        request = RequestFactory().post("/upload", data=b"", content_type="application/octet-stream")
        request.META.update(
            {
                "CONTENT_LENGTH": str(len(BODY)),
                "wsgi.input": ExactLengthInput(environ["wsgi.input"], len(BODY)),
                "gunicorn.socket": environ["gunicorn.socket"],
            }
        )
        body = upload_body(request)
        assert isinstance(body, SocketBody)
        assert body.read(-1) == BODY

    request = RequestFactory().post("/upload", data=b"x" * 10, content_type="application/octet-stream")
    assert upload_body(request) is None  # Django's test input: not gunicorn's
    with gunicorn_request(head(len(BODY)) + BODY) as (_, environ):
        framed = ExactLengthInput(environ["wsgi.input"], len(BODY))
        framed.read(10)
        request.META.update(
            {"CONTENT_LENGTH": str(len(BODY)), "wsgi.input": framed, "gunicorn.socket": environ["gunicorn.socket"]}
        )
        assert upload_body(request) is None  # already being read
