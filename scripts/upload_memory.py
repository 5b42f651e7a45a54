#!/usr/bin/env python3
"""Memory test: a 200 MB upload streamed to a real gunicorn worker keeps its memory flat, and an
upload over its type's limit is refused with 413 before the whole body is read.

Starts gunicorn (one sync worker, 127.0.0.1, SQLite in a scratch directory) and sends
``POST /v1/media`` multipart bodies made on the fly (the client never holds them either):

1. a 200 MB MP4 (video limit 500 MB): 201, and the worker's peak RSS during the upload (Linux
   ``VmHWM``, reset through ``/proc/<pid>/clear_refs`` just before) exceeds its RSS before the
   upload by less than ``--max-growth-mb`` (50);
2. a 300 MB PNG (image limit 50 MB): 413 ``file_too_large``, with the bytes the worker read (counted
   by a WSGI wrapper around the service, ``counting_app``) well short of the body, and the bytes the
   client managed to send before the answer came;
3. a body announcing 2 GB (over every limit): 413 with almost nothing read.

Prints the figures; exits 1 when a check fails.

    .venv/bin/python scripts/upload_memory.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import free_port, manage, start_gunicorn, stop, wait_listening

ROOT = Path(__file__).resolve().parent.parent
MB = 1000 * 1000
CHUNK = 256 * 1024
COUNTS_ENV = "UPLOAD_MEMORY_COUNTS"

MP4_HEAD = (
    b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"  # ftyp box
    b"\x00\x00\x00\x08free"
)
_IHDR = b"IHDR\x00\x00\x07\x80\x00\x00\x04\x38\x08\x06\x00\x00\x00"  # 1920 x 1080, RGBA
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\r" + _IHDR + zlib.crc32(_IHDR).to_bytes(4, "big")
# What follows the PNG's head: whole IDAT chunks of zeros, CHUNK bytes each with their CRC-32, so the
# bytes stay a well-formed PNG up to the limit (a broken PNG is refused, 415, as soon as its bytes show it).
PNG_FILLER = (
    (CHUNK - 12).to_bytes(4, "big")
    + b"IDAT"
    + bytes(CHUNK - 12)
    + zlib.crc32(b"IDAT" + bytes(CHUNK - 12)).to_bytes(4, "big")
)


# --- server side: run inside the gunicorn worker -------------------------------------------------


class _CountingInput:
    """``wsgi.input`` that counts the bytes the service reads from the socket."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.count = 0

    def read(self, *args: Any) -> bytes:
        data: bytes = self.stream.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self.stream.readline(*args)
        self.count += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.count += len(line)
            yield line


def counting_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The service's WSGI app, recording how many body bytes each request read (one JSON line each)."""
    from serverops.wsgi import application

    counter = _CountingInput(environ["wsgi.input"])
    environ["wsgi.input"] = counter
    try:
        return application(environ, start_response)
    finally:
        with open(os.environ[COUNTS_ENV], "a") as out:
            out.write(json.dumps({"path": environ.get("PATH_INFO"), "read": counter.count}) + "\n")


# --- client side ----------------------------------------------------------------------------------


@dataclass
class Upload:
    status: int
    body: bytes
    sent: int
    total: int
    seconds: float


def multipart(filename: str, content_type: str, head: bytes, size: int) -> tuple[str, bytes, bytes, int]:
    """Boundary, preamble, closing and the total length of a one-file multipart body of ``size`` bytes."""
    boundary = "serverops-memory-test-boundary"
    preamble = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    closing = f"\r\n--{boundary}--\r\n".encode()
    return boundary, preamble + head, closing, len(preamble) + size + len(closing)


def upload(
    port: int, token: str, *, filename: str, content_type: str, head: bytes, size: int, filler: bytes = bytes(CHUNK)
) -> Upload:
    """Send the body chunk by chunk; stop as soon as the server answers or closes (as a browser would)."""
    boundary, preamble, closing, total = multipart(filename, content_type, head, size)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.putrequest("POST", "/v1/media")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    assert conn.sock is not None
    started = time.monotonic()
    sent = 0
    try:
        for piece in _body(preamble, filler, size - len(head), closing):
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if readable:
                break  # the answer came before the body was sent
            conn.sock.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        response = conn.getresponse()
        status, body = response.status, response.read()
    except (ConnectionResetError, http.client.RemoteDisconnected) as error:
        status, body = 0, repr(error).encode()
    conn.close()
    return Upload(status=status, body=body, sent=sent, total=total, seconds=time.monotonic() - started)


def _body(preamble: bytes, filler: bytes, remaining: int, closing: bytes) -> Iterator[bytes]:
    yield preamble
    while remaining > 0:
        piece = filler[: min(len(filler), remaining)]
        remaining -= len(piece)
        yield piece
    yield closing


def worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    # Writing 5 resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def last_count(path: Path) -> int:
    lines = path.read_text().splitlines() if path.exists() else []
    return int(json.loads(lines[-1])["read"]) if lines else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200, help="size of the accepted upload (default 200)")
    parser.add_argument("--over-mb", type=int, default=300, help="size of the image over its limit (default 300)")
    parser.add_argument("--max-growth-mb", type=float, default=50.0, help="allowed peak RSS growth (default 50)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="serverops-upload-memory-"))
    counts = scratch / "counts.jsonl"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "MEDIA_ROOT": str(scratch / "media"),
        "STATIC_ROOT": str(scratch / "static"),
        "TMPDIR": str(scratch / "tmp"),
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "LOG_LEVEL": "WARNING",
        COUNTS_ENV: str(counts),
    }
    env.pop("REDIS_URL", None)
    (scratch / "tmp").mkdir()
    (scratch / "static").mkdir()
    port = free_port()
    problems: list[str] = []
    server: subprocess.Popen[bytes] | None = None
    try:
        manage(env, "migrate", "--noinput", "-v0")
        project = manage(env, "create_project", "Memory test", "--org", "Memory test")
        token = manage(env, "create_token", "--project", project, "--name", "memory", "--scope", "media:write")
        server = start_gunicorn(
            "scripts.upload_memory:counting_app",
            env=env,
            port=port,
            workers=1,
            config=False,
            options=["--timeout", "300"],
        )
        wait_listening(server, port)
        worker = worker_pid(server.pid)

        # Warm up: the first upload imports and builds everything a worker keeps for its lifetime.
        warm = upload(port, token, filename="warm.mp4", content_type="video/mp4", head=MP4_HEAD, size=1 * MB)
        if warm.status != 201:
            problems.append(f"warm-up upload answered {warm.status}: {warm.body[:300]!r}")

        before = memory_kb(worker, "VmRSS")
        reset_peak(worker)
        big = upload(port, token, filename="clip.mp4", content_type="video/mp4", head=MP4_HEAD, size=args.size_mb * MB)
        peak = memory_kb(worker, "VmHWM")
        growth_mb = (peak - before) * 1024 / MB
        print(
            f"upload_memory: {args.size_mb} MB video -> {big.status} in {big.seconds:.1f} s "
            f"({args.size_mb / big.seconds:.0f} MB/s); worker RSS before {before / 1024:.1f} MiB, "
            f"peak during {peak / 1024:.1f} MiB, growth {growth_mb:.1f} MB (limit {args.max_growth_mb:.0f} MB); "
            f"the worker read {last_count(counts):,} of {big.total:,} body bytes"
        )
        if big.status != 201:
            problems.append(f"{args.size_mb} MB upload answered {big.status}: {big.body[:300]!r}")
        if growth_mb >= args.max_growth_mb:
            problems.append(f"peak RSS grew by {growth_mb:.1f} MB")

        for label, head, content_type, size in (
            (f"{args.over_mb} MB image (limit 50 MB)", PNG_HEAD, "image/png", args.over_mb * MB),
            ("body announcing 2 GB", PNG_HEAD, "image/png", 2000 * MB),
        ):
            reset_peak(worker)
            before = memory_kb(worker, "VmRSS")
            refused = upload(
                port, token, filename="big.png", content_type=content_type, head=head, size=size, filler=PNG_FILLER
            )
            peak = memory_kb(worker, "VmHWM")
            read = last_count(counts)
            code = _error_code(refused.body)
            print(
                f"upload_memory: {label} -> {refused.status} {code}; the worker read {read:,} of "
                f"{refused.total:,} body bytes ({100 * read / refused.total:.1f}%), the client sent "
                f"{refused.sent:,} before the answer; peak RSS growth {(peak - before) * 1024 / MB:.1f} MB"
            )
            if refused.status != 413:
                problems.append(f"{label} answered {refused.status}: {refused.body[:300]!r}")
            if not 0 <= read < refused.total // 2:
                problems.append(f"{label}: the worker read {read:,} of {refused.total:,} bytes")
        stored = sum(f.stat().st_size for f in (scratch / "media").rglob("*") if f.is_file())
        print(f"upload_memory: {stored:,} bytes stored in all (the warm-up and the {args.size_mb} MB video)")
        if stored != warm_and_big(args.size_mb):
            problems.append(f"stored {stored:,} bytes, expected {warm_and_big(args.size_mb):,}")
    finally:
        if server is not None:
            stop(server, timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)

    for problem in problems:
        print(f"upload_memory: FAILED: {problem}")
    return 1 if problems else 0


def warm_and_big(size_mb: int) -> int:
    return 1 * MB + size_mb * MB


def _error_code(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return repr(body[:80])


if __name__ == "__main__":
    sys.exit(main())
