"""Exact round-trip counts, observed from outside the service.

``PostgresCounter`` is a loopback TCP proxy in front of PostgreSQL. It reads the frontend
protocol the clients send and counts one round trip per simple-protocol ``Query`` message
and per extended-protocol ``Sync`` message: every statement psycopg sends, including
``BEGIN``, ``COMMIT`` and Django's ``SELECT 1`` connection health check, ends with exactly
one of them. Connections must not use TLS (``sslmode=disable``), or there is nothing to read.

``RedisCounter`` watches one Redis database through ``MONITOR`` and counts the commands
clients send to it; the commands a Lua script runs inside the server are listed apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

# Untyped messages that may open a PostgreSQL connection before the StartupMessage.
SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


class PostgresCounter:
    """``with PostgresCounter("127.0.0.1", 5432) as pg: … pg.port … pg.round_trips``."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.round_trips = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> PostgresCounter:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        down = asyncio.ensure_future(self._pipe(up_reader, writer))
        try:
            await self._frontend(reader, up_writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_writer.close()
            await down
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _frontend(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # untyped start-up messages: length, code, rest
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            writer.write(head + await reader.readexactly(length - 8))
            if code not in (SSL_REQUEST, GSSENC_REQUEST):
                break
        while True:  # typed messages: one byte, length (itself included), body
            head = await reader.readexactly(5)
            length = struct.unpack("!i", head[1:])[0]
            body = await reader.readexactly(length - 4)
            # Counted before it is forwarded: the answer, and so the HTTP response, comes after.
            if head[:1] in (b"Q", b"S"):
                self.round_trips += 1
            writer.write(head + body)
            await writer.drain()


class RedisCounter:
    """Counts the commands clients send to Redis database ``db`` (``MONITOR``, read in a thread).

    The MONITOR stream is read line by line from a plain socket: a line this reader cannot
    parse (another client's binary arguments, say) is skipped, never the end of the count.
    """

    LINE = re.compile(rb"^\+\d+\.\d+ \[(\d+) ([^\]]+)\]")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = int(parts.path.strip("/") or 0)
        self.commands = 0
        self.scripted = 0
        self._seen_at = time.monotonic()
        self._socket = socket.create_connection(self.address)
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> RedisCounter:
        self._socket.sendall(b"MONITOR\r\n")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()  # ends the watcher's read
        self._thread.join(5)

    def _watch(self) -> None:
        with contextlib.suppress(OSError), self._socket.makefile("rb") as lines:
            for line in lines:
                match = self.LINE.match(line)
                if match is None or int(match[1]) != self.db:
                    continue
                if match[2] == b"lua":
                    self.scripted += 1
                else:
                    self.commands += 1
                self._seen_at = time.monotonic()

    def settle(self, quiet: float = 0.3) -> None:
        """Wait until MONITOR has had nothing to report for ``quiet`` seconds (its lines lag a little)."""
        while time.monotonic() - self._seen_at < quiet:
            time.sleep(quiet / 3)
        time.sleep(quiet)
