#!/usr/bin/env python3
"""Export speed and memory (issue 24): a case with 1 GB of evidence (20 files of 50 MB) exported
through a real gunicorn worker streams at no less than 0.8 of the rate of reading the same files
from the same storage, and the worker's memory stays flat.

For each storage asked for (``--storage local``, the default; ``s3``; ``both``) it makes a scratch
installation (SQLite; files on the file-system storage under a scratch ``MEDIA_ROOT``, or in a
bucket of moto's S3 server, ``tests/media/s3server.py``), stores ``--files`` files of ``--file-mb``
MB each through ``media.services.file_create`` and lists them all as one case's evidence, starts
gunicorn (one sync worker, ``EXPORT_SIGNING_KEY`` set) and then, in ``--rounds`` rounds whose
order of sides rotates:

- **export**: ``GET /v1/cases/{id}/export``, read to its end by the client and thrown away; the
  worker's peak RSS during it (Linux ``VmHWM``, reset through ``/proc/<pid>/clear_refs`` just
  before) against its RSS before;
- **read** (the target's reference): the same files read from the same storage the way a user of
  Django's storage API reads them, ``storage.open(name, "rb")`` then ``File.chunks()``, into
  ``/dev/null``, in a process of its own. On S3 ``open()`` is django-storages' ``S3File``, which
  downloads the object (ranged requests on threads) to a temporary file before the first read;
- one informative side that the target does not use: on the file system **http-file**, the same
  files fetched one after the other through the same gunicorn from the service's ``/media/``
  route (a ``FileResponse``, which gunicorn sends with ``sendfile``): what plain HTTP delivery of
  these bytes reaches on this machine, with no ZIP, hash or copy in Python; on S3 **stream**, the
  objects read in one streamed ``GET`` each (``MediaStorage.chunks``, the way the export reads
  them), into ``/dev/null``.

Every HTTP side is read by one client, ``fetch``, into a reused buffer. Prints each round's MB/s,
the medians and ranges, the median of the per-round ratios export/read against the target
(``--min-ratio``, 0.8) and export/informative side, and the largest RSS growth against
``--max-growth-mb`` (50); exits 1 when a check fails (the speed target only with
``--enforce-speed``: on a shared machine a round's rate swings, so CI prints it without failing).

    .venv/bin/python scripts/export_memory.py                 # 20 × 50 MB, 3 rounds, file system
    .venv/bin/python scripts/export_memory.py --storage both  # the same on the file system and on S3
    .venv/bin/python scripts/export_memory.py --files 5 --file-mb 4 --rounds 1   # .ci/run's size
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import free_port, manage, start_gunicorn, stop, wait_listening
from scripts.upload_memory import MP4_HEAD, memory_kb, reset_peak, worker_pid
from tests.media.s3server import moto_server

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MB = 1000 * 1000
READ = 1024 * 1024  # what the client asks of the socket at a time
BUCKET = "serverops-export-bench"

# The seeding runs in a process of its own, with the installation's settings (Django is set up
# once per process, and this one is the client's).
SEED_SCRIPT = """
import os, sys, tempfile
import django
django.setup()
from django.core.files.uploadedfile import TemporaryUploadedFile
from cases.services import Actor, case_create
from media.services import file_create
from tokens.models import Mode, Project
count, size, head, project_id = int(sys.argv[1]), int(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4]
project = Project.objects.get(pk=project_id)
ids = []
filler = bytes(1024 * 1024)
for n in range(count):
    upload = TemporaryUploadedFile(f"clip-{n}.mp4", "video/mp4", size, None)
    upload.write(head + n.to_bytes(8, "big"))
    remaining = size - len(head) - 8
    while remaining > 0:
        piece = filler[: min(len(filler), remaining)]
        upload.write(piece)
        remaining -= len(piece)
    upload.seek(0)
    ids.append(file_create(project=project, mode=Mode.LIVE, content=upload, original_name=f"clip-{n}.mp4").pk)
    upload.close()
actor = Actor.system("export_memory")
case = case_create(project=project, mode=Mode.LIVE, title="Export test", attachments=ids, actor=actor)
print(case.pk)
"""

# Reads every file of the case from the storage the service uses into /dev/null: "open" as a user
# of Django's storage API does (storage.open, File.chunks), "stream" as cases.export does
# (MediaStorage.chunks). Prints the bytes read and the seconds the reading took.
READ_SCRIPT = """
import sys, time
import django
django.setup()
from cases.export import CHUNK
from cases.queries import case_with_evidence
from media.storage import media_storage
case = case_with_evidence(sys.argv[1])
how = sys.argv[2]
started = time.perf_counter()
total = 0
with open("/dev/null", "wb") as sink:
    for file in case.files:
        storage = media_storage(file)
        if how == "open":
            with storage.open(str(file.blob.name), "rb") as handle:
                chunks = handle.chunks()
                for chunk in chunks:
                    sink.write(chunk)
                    total += len(chunk)
        else:
            for chunk in storage.chunks(str(file.blob.name), CHUNK):
                sink.write(chunk)
                total += len(chunk)
print(total, time.perf_counter() - started)
"""

INFORMATIVE = {"local": "http-file", "s3": "stream"}


def python(env: dict[str, str], script: str, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"script failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, int, float]:
    """Status, bytes received and seconds of one GET, its body read to its end into a reused buffer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    buffer = memoryview(bytearray(READ))
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    received = 0
    while count := response.readinto(buffer):
        received += count
    seconds = time.perf_counter() - started
    conn.close()
    return response.status, received, seconds


def get_json(port: int, path: str, token: str) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
    document: dict[str, object] = json.loads(body)
    return document


@dataclass
class Figures:
    """One storage's rates (MB/s) per side and round, and the export's peak RSS growths (MB)."""

    storage: str
    rates: dict[str, list[float]] = field(default_factory=dict)
    growths: list[float] = field(default_factory=list)

    def add(self, side: str, rate: float) -> None:
        self.rates.setdefault(side, []).append(rate)


@contextmanager
def installation(storage: str, scratch: Path) -> Iterator[dict[str, str]]:
    """The environment of a scratch installation whose files live on ``storage``."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MEDIA_STORAGE", "DATABASE_URL"}},
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "MEDIA_ROOT": str(scratch / "media"),
        "STATIC_ROOT": str(scratch / "static"),
        "TMPDIR": str(scratch / "tmp"),
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "LOG_LEVEL": "WARNING",
    }
    (scratch / "tmp").mkdir()
    (scratch / "static").mkdir()
    if storage == "local":
        yield env
        return
    with (scratch / "moto.log").open("wb") as moto_log, moto_server(moto_log) as s3:
        s3.client().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        yield {**env, **s3.environment(BUCKET)}


def measure(storage: str, args: argparse.Namespace, problems: list[str]) -> Figures:
    figures = Figures(storage)
    label = f"export_memory [{storage}]:"
    scratch = Path(tempfile.mkdtemp(prefix="serverops-export-memory-"))
    server: subprocess.Popen[bytes] | None = None
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
        env = cleanup.enter_context(installation(storage, scratch))
        manage(env, "migrate", "--noinput", "-v0")
        env["EXPORT_SIGNING_KEY"] = manage(env, "create_export_key").split("=", 1)[-1].strip()
        project = manage(env, "create_project", "Export test", "--org", "Export test")
        scopes = ["--scope", "cases:read", "--scope", "media:read"]
        token = manage(env, "create_token", "--project", project, "--name", "export", *scopes)
        auth = {"Authorization": f"Bearer {token}"}
        started = time.monotonic()
        size = args.file_mb * MB
        case_id = python(env, SEED_SCRIPT, str(args.files), str(size), MP4_HEAD.hex(), project)
        warm_case = python(env, SEED_SCRIPT, "1", str(MB), MP4_HEAD.hex(), project)
        evidence = args.files * size
        print(
            f"{label} {args.files} files of {args.file_mb} MB ({evidence / MB:,.0f} MB) stored "
            f"in {time.monotonic() - started:.1f} s"
        )
        port = free_port()
        server = start_gunicorn(
            "serverops.wsgi:application", env=env, port=port, workers=1, config=False, options=["--timeout", "300"]
        )
        cleanup.callback(stop, server, timeout=30)
        wait_listening(server, port)
        worker = worker_pid(server.pid)
        # Warm up: the first export imports and builds what a worker keeps for its lifetime.
        status, _, _ = fetch(port, f"/v1/cases/{warm_case}/export", auth)
        if status != 200:
            problems.append(f"{storage}: warm-up export answered {status}")
        attachments = get_json(port, f"/v1/cases/{case_id}", token)["attachments"]
        assert isinstance(attachments, list)
        # The files' own links (signed, on the service's /media/ route): path and query.
        file_paths = [urlsplit(str(a["url"]))._replace(scheme="", netloc="").geturl() for a in attachments]

        sides = ["export", "read", INFORMATIVE[storage]]
        for n in range(args.rounds):
            for side in sides[n % 3 :] + sides[: n % 3]:
                if side in {"read", "stream"}:
                    how = "open" if side == "read" else "stream"
                    total, seconds = (float(x) for x in python(env, READ_SCRIPT, case_id, how).split())
                    if total != evidence:
                        problems.append(f"{storage}: {side} read {total:,.0f} bytes of {evidence:,}")
                    figures.add(side, total / seconds / MB)
                    print(f"{label} round {n + 1} {side:9} {figures.rates[side][-1]:8.1f} MB/s ({seconds:.2f} s)")
                elif side == "http-file":
                    seconds = received = 0
                    for path in file_paths:
                        status, got, took = fetch(port, path, {})
                        seconds, received = seconds + took, received + got
                        if status != 200:
                            problems.append(f"{storage}: GET of a file answered {status}")
                    if received != evidence:
                        problems.append(f"{storage}: the files' links gave {received:,} bytes of {evidence:,}")
                    figures.add(side, received / seconds / MB)
                    print(f"{label} round {n + 1} {side:9} {figures.rates[side][-1]:8.1f} MB/s ({seconds:.2f} s)")
                else:
                    before = memory_kb(worker, "VmRSS")
                    reset_peak(worker)
                    status, received, seconds = fetch(port, f"/v1/cases/{case_id}/export", auth)
                    growth = (memory_kb(worker, "VmHWM") - before) * 1024 / MB
                    figures.growths.append(growth)
                    figures.add(side, evidence / seconds / MB)
                    print(
                        f"{label} round {n + 1} export    {figures.rates[side][-1]:8.1f} MB/s ({seconds:.2f} s, "
                        f"{received:,} bytes, status {status}); worker RSS before {before / 1024:.1f} MiB, "
                        f"peak growth {growth:.1f} MB"
                    )
                    if status != 200 or received < evidence:
                        problems.append(
                            f"{storage}: export answered {status} with {received:,} bytes for {evidence:,} of files"
                        )
    return figures


def summary(figures: Figures, args: argparse.Namespace, problems: list[str]) -> None:
    label = f"export_memory [{figures.storage}]:"
    rates = figures.rates
    medians = ", ".join(
        f"{side} {statistics.median(values):.1f} MB/s (range {min(values):.1f}–{max(values):.1f})"
        for side, values in rates.items()
    )
    print(f"{label} medians over {args.rounds} round(s): {medians}")
    for side in ("read", INFORMATIVE[figures.storage]):
        ratios = [e / r for e, r in zip(rates["export"], rates[side], strict=True)]
        ratio = statistics.median(ratios)
        if side == "read":
            verdict = f"target ≥{args.min_ratio:.2f} {'met' if ratio >= args.min_ratio else 'MISSED'}"
            if args.enforce_speed and ratio < args.min_ratio:
                problems.append(f"{figures.storage}: export/read ratio {ratio:.3f} is under {args.min_ratio}")
        else:
            verdict = "informative"
        print(f"{label} ratio export/{side} {ratio:.3f} (range {min(ratios):.3f}–{max(ratios):.3f}), {verdict}")
    growth = max(figures.growths)
    print(f"{label} largest peak RSS growth during an export {growth:.1f} MB (limit {args.max_growth_mb:.0f} MB)")
    if growth >= args.max_growth_mb:
        problems.append(f"{figures.storage}: peak RSS grew by {growth:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20, help="files on the case (default 20, the most a case lists)")
    parser.add_argument("--file-mb", type=int, default=50, help="size of each file in MB (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of export, read and the informative side")
    parser.add_argument(
        "--storage", choices=["local", "s3", "both"], default="local", help="where the files live (default local)"
    )
    parser.add_argument("--max-growth-mb", type=float, default=50.0, help="allowed peak RSS growth (default 50)")
    parser.add_argument("--min-ratio", type=float, default=0.8, help="target export/read rate (default 0.8)")
    parser.add_argument("--enforce-speed", action="store_true", help="fail when the rate ratio misses its target")
    args = parser.parse_args()

    problems: list[str] = []
    results = [
        measure(storage, args, problems) for storage in (["local", "s3"] if args.storage == "both" else [args.storage])
    ]
    for figures in results:
        summary(figures, args, problems)
    for problem in problems:
        print(f"export_memory: FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
