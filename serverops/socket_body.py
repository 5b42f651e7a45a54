"""A large request body read straight from gunicorn's client socket.

gunicorn hands the application its body as ``wsgi.input``, a reader that copies every byte
several times on its way: each ``read()`` gathers ``recv()`` results in one buffer, slices
them out of it and puts what is left in another. For a 2 MB upload that is 4.5–9.5 ms of a
worker's CPU (more for smaller reads, where the leftover is copied again on every read),
against about 1 ms for the same bytes taken from the socket in blocks (bench/PROFILE.md,
section 19). ``SocketBody`` does the latter for a body of known length: first what gunicorn
has already read ahead, then the rest straight from the socket, never past the body's end,
and tells gunicorn's reader what it took, so that the connection's next request is read as
before and nothing is left to drain.

It relies on how gunicorn's sync and gthread workers hold a request (``Body`` over a
``LengthReader`` over a ``SocketUnreader`` on a plain socket), which is not gunicorn's public
API: pyproject.toml bounds gunicorn below the next major version, and
tests/serverops/test_socket_body.py fails when the parts it relies on change. Anything else
(a chunked body, which ``serverops.bodies`` has read whole already; TLS in gunicorn; a socket
with a timeout; another server) gets ``None`` from ``socket_body()``, and the caller reads
``wsgi.input`` as usual. ``serverops.bodies.upload_body`` is how views use it.
"""

from __future__ import annotations

import io
import socket
from typing import Any

from django.http import UnreadablePostError
from gunicorn.http.body import Body, LengthReader  # type: ignore[import-untyped]
from gunicorn.http.unreader import SocketUnreader  # type: ignore[import-untyped]


class SocketBody:
    """The rest of one request's body: ``read(size)`` returns ``size`` bytes, fewer only at the
    body's end; a body that ends before its ``Content-Length`` (the client went away) raises
    ``UnreadablePostError``, as ``serverops.bodies.ExactLengthInput`` does."""

    def __init__(self, body: Body, reader: LengthReader, unreader: SocketUnreader, sock: socket.socket) -> None:
        self._reader = reader
        self._sock = sock
        # What gunicorn holds already: the body's own buffer (counted out of the reader's
        # length), then the unreader's read-ahead, of which only the body's part is ours.
        ahead = unreader.buf.getvalue()
        mine = ahead[: reader.length]
        unreader.buf = io.BytesIO()
        unreader.buf.write(ahead[len(mine) :])
        reader.length -= len(mine)
        self._held: bytes = body.buf.getvalue() + mine
        body.buf = io.BytesIO()

    def read(self, size: int = -1) -> bytes:
        remaining = len(self._held) + self._reader.length
        size = remaining if size < 0 else min(size, remaining)
        if size <= len(self._held):
            data, self._held = self._held[:size], self._held[size:]
            return data
        held, self._held = self._held, b""
        data = self._receive(size - len(held))
        return held + data if held else data

    def _receive(self, size: int) -> bytes:
        data = self._recv(size)
        while len(data) < size:  # a signal cut the wait short, or the client stopped sending
            more = self._recv(size - len(data))
            if not more:
                raise UnreadablePostError("request body ended before its Content-Length")
            data += more
        return data

    def _recv(self, size: int) -> bytes:
        try:
            # One system call for the whole block: the kernel waits until it is all there.
            data: bytes = self._sock.recv(size, socket.MSG_WAITALL)
        except OSError as error:  # a reset connection: as Django reports a body it could not read
            raise UnreadablePostError(*error.args) from error
        self._reader.length -= len(data)
        return data


def socket_body(stream: Any, sock: Any) -> SocketBody | None:
    """A ``SocketBody`` for the rest of ``stream`` (a request's ``wsgi.input`` as gunicorn
    gives it) on ``sock`` (its ``gunicorn.socket``), when gunicorn holds the request as above;
    otherwise ``None``."""
    if not (type(stream) is Body and type(sock) is socket.socket):
        return None
    reader = stream.reader
    if type(reader) is not LengthReader or type(reader.unreader) is not SocketUnreader:
        return None
    if reader.unreader.sock is not sock or sock.gettimeout() is not None:
        return None
    return SocketBody(stream, reader, reader.unreader, sock)
