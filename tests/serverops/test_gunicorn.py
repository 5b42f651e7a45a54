"""Raw HTTP against a real gunicorn started with the committed gunicorn.conf.py (issue 10,
faults 5 and 6): whichever layer refuses a request under /v1/, the answer is the JSON
envelope with an X-Request-Id, and a body framed the hard way is read or refused, never
half-acted on.

gunicorn runs in a subprocess on its own SQLite file (the framing is the server's and
Django's business, not the database's; tests/serverops/test_bodies.py covers the same
through the WSGI application on both databases).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.servers import free_port, start_gunicorn, stop, wait_listening

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    port: int
    token: str
    media_token: str
    database: Path
    media: Path

    def titles(self) -> list[str]:
        with sqlite3.connect(self.database) as db:
            return [row[0] for row in db.execute("SELECT title FROM cases_case ORDER BY title")]

    def files(self) -> list[tuple[str, str, int]]:
        """Every stored file's row (id, SHA-256, size), checked against its bytes on disk."""
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT id, key, sha256, size FROM media_file ORDER BY id").fetchall()
        stored = sorted(str(path.relative_to(self.media)) for path in self.media.rglob("*") if path.is_file())
        assert stored == sorted(key for _, key, _, _ in rows), "every stored object has its row and no other"
        for _, key, sha256, size in rows:
            data = (self.media / key).read_bytes()
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size)
        return [(file_id, sha256, size) for file_id, _, sha256, size in rows]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    scratch = tmp_path_factory.mktemp("gunicorn")
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "MEDIA_ROOT": str(scratch / "media"),
        "STATIC_ROOT": str(scratch / "static"),
        "LOG_LEVEL": "WARNING",
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        return result.stdout.strip()

    manage("migrate", "--noinput", "-v0")
    project = manage("create_project", "Raw", "--org", "Raw HTTP")
    token = manage(
        "create_token", "--project", project, "--name", "raw", "--scope", "cases:read", "--scope", "cases:write"
    )
    media_token = manage("create_token", "--project", project, "--name", "raw uploads", "--scope", "media:write")
    log = scratch / "gunicorn.log"
    port = free_port()
    with log.open("wb") as out:
        process = start_gunicorn(env=env, port=port, workers=1, log=out)
    try:
        wait_listening(process, port)
        yield Server(
            port=port, token=token, media_token=media_token, database=scratch / "db.sqlite3", media=scratch / "media"
        )
    finally:
        stop(process, timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, str]:
        assert self.headers.get("content-type") == "application/json", (self.headers, self.body)
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", self.headers.get("x-request-id", "")), self.headers
        data = json.loads(self.body)
        assert set(data) == {"error"}, data
        return data["error"]


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        out += rest[:length]
        body = rest[length + 2 :]
    return out


def send(server: Server, raw: bytes, *, half_close: bool = True) -> Answer:
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Answer(int(status_line.split()[1]), headers, body)


def request(
    server: Server, method: str, target: str, headers: str = "", body: bytes = b"", *, token: str = ""
) -> bytes:
    return (
        f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token or server.token}\r\n"
        f"{headers}Connection: close\r\n\r\n"
    ).encode() + body


def chunks(body: bytes, size: int = 7) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size))


JSON = "Content-Type: application/json\r\n"


def test_chunked_create_is_read_whole(server: Server) -> None:
    body = b'{"title": "chunked over raw HTTP"}'
    answer = send(
        server,
        request(server, "POST", "/v1/cases", JSON + "Transfer-Encoding: chunked\r\n", chunks(body) + b"0\r\n\r\n"),
    )
    assert answer.status == 201, answer.body
    assert json.loads(answer.body)["title"] == "chunked over raw HTTP"
    assert "chunked over raw HTTP" in server.titles()


@pytest.mark.parametrize(
    ("sent", "declared"),
    [
        pytest.param(b'{"title": "truncated A"}', 100, id="valid-json-then-close"),
        pytest.param(b'{"title": "truncated B"', 60, id="cut-json-then-close"),
        pytest.param(b"", 30, id="no-body-then-close"),
    ],
)
def test_body_shorter_than_content_length_creates_nothing(server: Server, sent: bytes, declared: int) -> None:
    before = server.titles()
    answer = send(server, request(server, "POST", "/v1/cases", JSON + f"Content-Length: {declared}\r\n", sent))
    assert answer.status == 400, answer.body
    assert answer.error()["code"] == "bad_request"
    assert server.titles() == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"zz\r\nabc\r\n0\r\n\r\n", id="bad-chunk-size"),
        pytest.param(b'20\r\n{"title": "never"}', id="chunk-cut-off"),
        pytest.param(b'5\r\n{"tit\r\n', id="chunk-without-terminator"),
    ],
)
def test_broken_chunked_body_is_400_envelope_and_creates_nothing(server: Server, body: bytes) -> None:
    before = server.titles()
    answer = send(server, request(server, "POST", "/v1/cases", JSON + "Transfer-Encoding: chunked\r\n", body))
    assert answer.status == 400, answer.body
    assert answer.error()["code"] == "bad_request"
    assert server.titles() == before


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        pytest.param(b"x" * 10_000, 401, "unauthorized", id="token-10000-chars"),
        pytest.param(b"x" * 40_000, 431, "header_fields_too_large", id="token-40000-chars"),
    ],
)
def test_oversized_token_gets_the_envelope(server: Server, raw: bytes, status: int, code: str) -> None:
    answer = send(server, b"GET /v1/cases HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + raw + b"\r\n\r\n")
    assert answer.status == status, answer.body
    assert answer.error()["code"] == code


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(
            b"GET /v1/cases HTTP/1.1\r\nHost: localhost\r\n"
            + b"".join(b"X-H%d: 1\r\n" % i for i in range(150))
            + b"\r\n",
            431,
            id="150-headers",
        ),
        pytest.param(
            b"GET /v1/cases?cursor=" + b"a" * 9_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, id="long-line"
        ),
        pytest.param(
            b"GET /v1/cases HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n", 431, id="big-header"
        ),
        pytest.param(b"\x00\x01 not http\r\n\r\n", 400, id="garbage"),
        pytest.param(b"GET /v1/cases HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n", 400, id="space-in-name"),
        pytest.param(
            b"POST /v1/cases HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", 400, id="gzip-coding"
        ),
    ],
)
def test_what_gunicorn_refuses_itself_is_the_envelope(server: Server, raw: bytes, status: int) -> None:
    answer = send(server, raw)
    assert answer.status == status, answer.body
    assert answer.error()["message"]
    assert b"<html" not in answer.body


@pytest.mark.parametrize(
    ("target", "status"),
    [
        pytest.param("//v1/cases", 404, id="double-slash"),
        pytest.param("/v1//cases", 404, id="inner-double-slash"),
        pytest.param("/v1/cases?format=xml", 200, id="format-xml"),
        pytest.param("/v1/cases?" + "&".join(f"a{n}=1" for n in range(1_100)), 400, id="too-many-fields"),
        pytest.param("/v1/openapi.yaml?x", 200, id="document"),
    ],
)
def test_odd_paths_under_v1(server: Server, target: str, status: int) -> None:
    answer = send(server, request(server, "GET", target))
    assert answer.status == status, answer.body
    if status >= 400:
        answer.error()


def test_spoofed_host_is_the_envelope(server: Server) -> None:
    answer = send(server, b"GET /v1/cases HTTP/1.1\r\nHost: attacker.example\r\n\r\n")
    assert answer.status == 400, answer.body
    assert answer.error()["code"] == "bad_request"


def test_openapi_yaml_errors_are_json(server: Server) -> None:
    answer = send(server, request(server, "POST", "/v1/openapi.yaml", JSON + "Content-Length: 2\r\n", b"{}"))
    assert answer.status == 405, answer.body
    assert answer.error()["code"] == "method_not_allowed"


def png(size: int) -> bytes:
    from bench.upload import screenshot_png

    return screenshot_png(size)


def upload_request(server: Server, content: bytes, *, declared: int | None = None) -> tuple[bytes, bytes]:
    """The head and the multipart body of ``POST /v1/media`` with ``content`` as shot.png."""
    from bench.upload import BOUNDARY, multipart_body

    body = multipart_body(content)
    length = len(body) if declared is None else declared
    headers = f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n"
    return request(server, "POST", "/v1/media", headers, token=server.media_token), body


@pytest.mark.parametrize(
    ("size", "piece"),
    [
        pytest.param(2_000_000, None, id="2-mb-in-one-send"),
        pytest.param(2_000_000, 65_536, id="2-mb-in-64-kib-pieces"),
        pytest.param(300_000, 1_000, id="300-kb-in-1-kb-pieces"),
        pytest.param(4_000_000, 1_000_000, id="4-mb-past-the-memory-limit"),
    ],
)
def test_an_upload_read_from_gunicorns_socket_is_stored_whole(server: Server, size: int, piece: int | None) -> None:
    """Uploads are read straight from gunicorn's socket (serverops.socket_body): sent at once or in
    pieces, held in memory or (past FILE_UPLOAD_MAX_MEMORY_SIZE) in a temporary file, every byte
    arrives, the SHA-256 is the file's, and the connection's end is where the body's is."""
    content = png(size)
    head, body = upload_request(server, content)
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(head)
        for start in range(0, len(body), piece or len(body)):
            sock.sendall(body[start : start + (piece or len(body))])
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line.split()[1] == b"201", received[-500:]
    answer = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert (answer["sha256"], answer["size"]) == (hashlib.sha256(content).hexdigest(), len(content))
    assert (answer["id"], answer["sha256"], answer["size"]) in server.files()


def test_an_upload_that_ends_before_its_length_stores_nothing(server: Server) -> None:
    before = server.files()
    head, body = upload_request(server, png(600_000))
    answer = send(server, head + body[:400_000])  # then the client half-closes
    assert answer.status == 400, answer.body
    assert answer.error()["code"] == "bad_request"
    assert server.files() == before


def test_a_base64_upload_read_from_gunicorns_socket(server: Server) -> None:
    content = png(1_500_000)
    body = json.dumps({"filename": "shot.png", "data": base64.b64encode(content).decode()}).encode()
    headers = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    answer = send(server, request(server, "POST", "/v1/media/base64", headers, body, token=server.media_token))
    assert answer.status == 201, answer.body
    assert json.loads(answer.body)["sha256"] == hashlib.sha256(content).hexdigest()
