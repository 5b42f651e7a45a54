"""Upload benchmark: a 2 MB PNG screenshot through ``POST /v1/media`` against a plain Django view.

``python -m bench.upload [--tiny]``: creates the PostgreSQL database ``bench_upload`` if missing
(``BENCH_UPLOAD_DATABASE_URL``), migrates it, makes a project and a ``media:write`` token, starts
gunicorn (2 workers, ``bench.upload_settings``, DEBUG off) on a free loopback port and runs wrk
rounds that alternate:

- **api**: ``POST /v1/media``, the whole service: bearer token, rate limit, the streaming upload
  handler (type from the bytes, size limit, SHA-256 and a PNG's chunk CRC-32s in the same pass),
  Pillow's open of the image's header, the bytes to the default storage, the File row and its
  ``file.created`` event in one transaction, the File JSON with its signed ``url``;
- **plain**: ``POST /bench/upload/plain``, a plain Django view (``bench.upload_urls.plain_upload``) that
  just streams the same multipart body's file to the same storage and answers 201.

Prints uploads per second, MB/s, p50 and p99 of every round, then the medians and the median
ratio api/plain against the target (≥ 0.85). Fails when any response was not 201. The files both
sides store are removed after every round; the scratch directory at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts import servers
from scripts.servers import free_port, manage

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_upload"
TARGET = 0.85
SIDES = {"api": "/v1/media", "plain": "/bench/upload/plain"}
BOUNDARY = "serverops-bench-upload"


WRK_SCRIPT = """
-- POST one multipart body (args: body file, token, path); count every answer that is not 201.
local threads = {}
function setup(thread) table.insert(threads, thread) end
local body, headers, target
bad = 0
function init(args)
  local f = assert(io.open(args[1], "rb")); body = f:read("*a"); f:close()
  headers = {["Authorization"] = "Bearer " .. args[2],
             ["Content-Type"] = "multipart/form-data; boundary=%(boundary)s"}
  target = args[3]
end
function request() return wrk.format("POST", target, headers, body) end
function response(status, headers, body) if status ~= 201 then bad = bad + 1 end end
function done(summary, latency, requests)
  local non201 = 0
  for _, thread in ipairs(threads) do non201 = non201 + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"non201":%%d,"socket_errors":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    non201, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Round:
    side: str
    uploads_per_s: float
    mb_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # the gunicorn workers' CPU time per upload: steadier than rates on a shared machine
    non201: int
    socket_errors: int


def workers_cpu_seconds(master: int) -> float:
    """User + system CPU seconds of gunicorn's workers so far (Linux /proc)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def screenshot_png(approx_bytes: int) -> bytes:
    """A real PNG of about ``approx_bytes``: noise, which PNG cannot compress, like a busy game frame."""
    from PIL import Image

    side = int((approx_bytes / 3) ** 0.5)
    pixels = random.Random(2026).randbytes(side * side * 3)  # noqa: S311 (image noise, not a secret)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def multipart_body(png: bytes) -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="screenshot.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log(f"created database {name}")


def start_gunicorn(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    return servers.start_gunicorn(
        "serverops.wsgi:application", env=env, port=port, workers=2, config=False, log=log_path.open("ab")
    )


def run_wrk(
    port: int, *, side: str, token: str, body_file: Path, script: Path, seconds: int, connections: int
) -> dict[str, int]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout=30s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        str(body_file),
        token,
        SIDES[side],
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    for line in output.splitlines():
        if line.startswith("BENCH "):
            result: dict[str, int] = json.loads(line[len("BENCH ") :])
            return result
    raise SystemExit(f"wrk printed no BENCH line:\n{output}")


def clear_media(media_root: Path) -> None:
    for child in media_root.iterdir() if media_root.exists() else []:
        shutil.rmtree(child, ignore_errors=True)


def summarise(results: list[Round], png_size: int) -> bool:
    api = [r for r in results if r.side == "api"]
    plain = [r for r in results if r.side == "plain"]
    ratio = statistics.median(a.uploads_per_s / p.uploads_per_s for a, p in zip(api, plain, strict=True))
    print()
    print(f"upload of a {png_size / 1e6:.2f} MB PNG, medians over {len(api)} round(s) per side")
    print(f"{'side':28} {'uploads/s':>10} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/upload':>14}")
    for label, rounds in (("POST /v1/media (api)", api), ("plain Django view (plain)", plain)):
        print(
            f"{label:28} {statistics.median(r.uploads_per_s for r in rounds):10.1f}"
            f" {statistics.median(r.mb_per_s for r in rounds):8.1f}"
            f" {statistics.median(r.p50_ms for r in rounds):8.2f}"
            f" {statistics.median(r.p99_ms for r in rounds):8.2f}"
            f" {statistics.median(r.cpu_ms for r in rounds):14.1f}"
        )
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"ratio api/plain (median of per-round ratios): {ratio:.3f}  target ≥{TARGET:.2f} {verdict}")
    cpu_ratio = statistics.median(p.cpu_ms / a.cpu_ms for a, p in zip(api, plain, strict=True) if a.cpu_ms)
    print(f"CPU per upload, plain/api (what the ratio tends to when the CPU is the bottleneck): {cpu_ratio:.3f}")
    return ratio >= TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="CI size: 1 s of warm-up and 1 round of 1 s per side")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (default 5)")
    parser.add_argument("--seconds", type=int, default=3, help="length of one round (default 3)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--size", type=int, default=2_000_000, help="approximate PNG size in bytes (default 2 MB)")
    args = parser.parse_args()
    if args.tiny:
        args.rounds, args.seconds = 1, 1
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk; bench/run.sh does it)")

    database_url = os.environ.get("BENCH_UPLOAD_DATABASE_URL", DEFAULT_DATABASE_URL)
    ensure_database(database_url)
    scratch = Path(tempfile.mkdtemp(prefix="serverops-bench-upload-"))
    media_root = scratch / "media"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.upload_settings",
        "BENCH_UPLOAD_DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media_root),
        "RATE_LIMIT_PER_SECOND": str(10**9),
        "RATE_LIMIT_PER_MINUTE": str(10**9),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    server: subprocess.Popen[bytes] | None = None
    results: list[Round] = []
    try:
        manage(env, "migrate", "--noinput", "-v0")
        project = manage(env, "create_project", f"Upload bench {int(time.time())}", "--org", "Upload bench")
        token = manage(env, "create_token", "--project", project, "--name", "upload bench", "--scope", "media:write")
        png = screenshot_png(args.size)
        body_file = scratch / "body.multipart"
        body_file.write_bytes(multipart_body(png))
        script = scratch / "upload.lua"
        script.write_text(WRK_SCRIPT % {"boundary": BOUNDARY})
        port = free_port()
        server = start_gunicorn(env, port, scratch / "gunicorn.log")
        servers.wait_listening(server, port)
        log(f"gunicorn on 127.0.0.1:{port}; body {body_file.stat().st_size:,} bytes (PNG {len(png):,})")

        def one(side: str, seconds: int) -> Round:
            cpu_before = workers_cpu_seconds(server.pid)
            raw = run_wrk(
                port,
                side=side,
                token=token,
                body_file=body_file,
                script=script,
                seconds=seconds,
                connections=args.connections,
            )
            cpu = workers_cpu_seconds(server.pid) - cpu_before
            clear_media(media_root)
            rate = raw["requests"] / (raw["duration_us"] / 1e6)
            return Round(
                side=side,
                uploads_per_s=rate,
                mb_per_s=rate * len(png) / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                cpu_ms=1000 * cpu / max(raw["requests"], 1),
                non201=raw["non201"],
                socket_errors=raw["socket_errors"],
            )

        # A worker's first uploads import and build what it keeps: not what an upload costs.
        warm = [one(side, 1) for side in SIDES]
        for n in range(args.rounds):
            # Alternate which side goes first so neither always runs on a warmer machine.
            for side in ("api", "plain") if n % 2 == 0 else ("plain", "api"):
                result = one(side, args.seconds)
                results.append(result)
                print(
                    f"{side:5} round {n + 1}: {result.uploads_per_s:7.1f} uploads/s {result.mb_per_s:7.1f} MB/s  "
                    f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                    f"CPU {result.cpu_ms:5.1f} ms/upload  non-201 {result.non201}",
                    flush=True,
                )
    finally:
        if server is not None and server.poll() is None:
            servers.stop(server)
        log_text = (scratch / "gunicorn.log").read_text(errors="replace") if (scratch / "gunicorn.log").exists() else ""
        shutil.rmtree(scratch, ignore_errors=True)

    summarise(results, len(png))
    failed = sum(r.non201 + r.socket_errors for r in [*warm, *results])
    if failed:
        print(f"FAILED: {failed} response(s) were not 201 or failed on the socket")
        if log_text:
            print(log_text[-2000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
