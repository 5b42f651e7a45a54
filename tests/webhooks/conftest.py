from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from .discord_fake import FakeDiscord


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 204
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """A real HTTP server on 127.0.0.1 that records each request and answers from a script.

    ``answers`` are used in order, then ``default``; ``requests`` is what arrived.
    """

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.requests: list[Received] = []
        self.answers: list[Answer] = []
        self.default = Answer()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.certificate = tls[0] if tls else ""
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def self_signed(directory: Path, name: str) -> tuple[str, str]:
    """A certificate for ``name`` and its key (openssl), trusted as its own authority."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_receiver(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Receiver]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names ``request.param`` (default hooks.example)."""
    r = Receiver(tls=self_signed(tmp_path, getattr(request, "param", "hooks.example")))
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def deliver() -> int:
    """``manage.py deliver_webhooks --once``: what it printed (how many it delivered)."""
    out, err = StringIO(), StringIO()
    call_command("deliver_webhooks", "--once", stdout=out, stderr=err)
    return int(out.getvalue())


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    """A fake Discord webhook on 127.0.0.1 (``discord_fake``)."""
    fake = FakeDiscord()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
