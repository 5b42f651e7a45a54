#!/usr/bin/env python3
"""Export speed and memory (issue 24): a case with 1 GB of evidence (20 files of 50 MB) exported
through a real gunicorn worker streams at no less than 0.8 of the rate of reading the same files
from the same storage, and the worker's memory stays flat.

Makes a scratch installation (SQLite, files on the file-system storage under a scratch
``MEDIA_ROOT``), stores ``--files`` files of ``--file-mb`` MB each through
``media.services.file_create`` and lists them all as one case's evidence, starts gunicorn (one
sync worker, ``EXPORT_SIGNING_KEY`` set) and then, in ``--rounds`` alternating rounds:

- **export**: ``GET /v1/cases/{id}/export``, read to its end by the client and thrown away; the
  worker's peak RSS during it (Linux ``VmHWM``, reset through ``/proc/<pid>/clear_refs`` just
  before) against its RSS before;
- **read**: the same files read from the same storage, chunk by chunk as the export reads them
  (``MediaStorage.chunks``), into ``/dev/null``, in a process of its own.

Prints each round's MB/s, the medians, the median of the per-round ratios export/read against the
target (``--min-ratio``, 0.8) and the largest RSS growth against ``--max-growth-mb`` (50); exits 1
when a check fails (the speed target only with ``--enforce-speed``: on a shared machine a round's
rate swings, so CI prints it without failing on it).

    .venv/bin/python scripts/export_memory.py                 # 20 × 50 MB, 3 rounds
    .venv/bin/python scripts/export_memory.py --files 10 --file-mb 2 --rounds 1   # .ci/run's size
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import free_port, start_gunicorn, stop, wait_listening
from scripts.upload_memory import MP4_HEAD, memory_kb, reset_peak, worker_pid

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MB = 1000 * 1000
READ = 1024 * 1024  # what the client asks of the socket at a time

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

# Reads every file of the case from the storage the service uses, as cases.export reads them.
READ_SCRIPT = """
import sys, time
import django
django.setup()
from cases.export import CHUNK
from cases.queries import case_with_evidence
from media.storage import media_storage
case = case_with_evidence(sys.argv[1])
started = time.perf_counter()
total = 0
with open("/dev/null", "wb") as sink:
    for file in case.files:
        for chunk in media_storage(file).chunks(str(file.blob.name), CHUNK):
            sink.write(chunk)
            total += len(chunk)
print(total, time.perf_counter() - started)
"""


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def python(env: dict[str, str], script: str, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"script failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def export(port: int, token: str, case_id: str) -> tuple[int, int, float]:
    """Status, bytes received and seconds of one export, read to its end and thrown away."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", f"/v1/cases/{case_id}/export", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    received = 0
    while chunk := response.read(READ):
        received += len(chunk)
    seconds = time.perf_counter() - started
    conn.close()
    return response.status, received, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20, help="files on the case (default 20, the most a case lists)")
    parser.add_argument("--file-mb", type=int, default=50, help="size of each file in MB (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of export and read (default 3)")
    parser.add_argument("--max-growth-mb", type=float, default=50.0, help="allowed peak RSS growth (default 50)")
    parser.add_argument("--min-ratio", type=float, default=0.8, help="target export/read rate (default 0.8)")
    parser.add_argument("--enforce-speed", action="store_true", help="fail when the rate ratio misses its target")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="serverops-export-memory-"))
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
    }
    env.pop("REDIS_URL", None)
    (scratch / "tmp").mkdir()
    (scratch / "static").mkdir()
    problems: list[str] = []
    server: subprocess.Popen[bytes] | None = None
    try:
        manage(env, "migrate", "--noinput", "-v0")
        env["EXPORT_SIGNING_KEY"] = manage(env, "create_export_key").split("=", 1)[-1].strip()
        project = manage(env, "create_project", "Export test", "--org", "Export test")
        scopes = ["--scope", "cases:read", "--scope", "media:read"]
        token = manage(env, "create_token", "--project", project, "--name", "export", *scopes)
        started = time.monotonic()
        size = args.file_mb * MB
        case_id = python(env, SEED_SCRIPT, str(args.files), str(size), MP4_HEAD.hex(), project)
        warm_case = python(env, SEED_SCRIPT, "1", str(MB), MP4_HEAD.hex(), project)
        evidence = args.files * size
        print(
            f"export_memory: {args.files} files of {args.file_mb} MB ({evidence / MB:,.0f} MB) stored "
            f"in {time.monotonic() - started:.1f} s"
        )
        port = free_port()
        server = start_gunicorn(
            "serverops.wsgi:application", env=env, port=port, workers=1, config=False, options=["--timeout", "300"]
        )
        wait_listening(server, port, timeout=15)
        worker = worker_pid(server.pid)
        # Warm up: the first export imports and builds what a worker keeps for its lifetime.
        status, _, _ = export(port, token, warm_case)
        if status != 200:
            problems.append(f"warm-up export answered {status}")

        export_rates: list[float] = []
        read_rates: list[float] = []
        growths: list[float] = []
        for n in range(args.rounds):
            for side in ("export", "read") if n % 2 == 0 else ("read", "export"):
                if side == "read":
                    total, seconds = (float(x) for x in python(env, READ_SCRIPT, case_id).split())
                    if total != evidence:
                        problems.append(f"read {total:,.0f} bytes of {evidence:,}")
                    read_rates.append(total / seconds / MB)
                    print(f"export_memory: round {n + 1} read   {read_rates[-1]:8.1f} MB/s ({seconds:.2f} s)")
                    continue
                before = memory_kb(worker, "VmRSS")
                reset_peak(worker)
                status, received, seconds = export(port, token, case_id)
                growth = (memory_kb(worker, "VmHWM") - before) * 1024 / MB
                growths.append(growth)
                export_rates.append(evidence / seconds / MB)
                print(
                    f"export_memory: round {n + 1} export {export_rates[-1]:8.1f} MB/s ({seconds:.2f} s, "
                    f"{received:,} bytes, status {status}); worker RSS before {before / 1024:.1f} MiB, "
                    f"peak growth {growth:.1f} MB"
                )
                if status != 200 or received < evidence:
                    problems.append(f"export answered {status} with {received:,} bytes for {evidence:,} of files")
        ratios = [e / r for e, r in zip(export_rates, read_rates, strict=True)]
        ratio = statistics.median(ratios)
        print(
            f"export_memory: medians over {args.rounds} round(s): export {statistics.median(export_rates):.1f} MB/s "
            f"(range {min(export_rates):.1f}–{max(export_rates):.1f}), read {statistics.median(read_rates):.1f} MB/s "
            f"(range {min(read_rates):.1f}–{max(read_rates):.1f}); ratio export/read {ratio:.3f} "
            f"(range {min(ratios):.3f}–{max(ratios):.3f}) target ≥{args.min_ratio:.2f} "
            f"{'met' if ratio >= args.min_ratio else 'MISSED'}; largest peak RSS growth {max(growths):.1f} MB "
            f"(limit {args.max_growth_mb:.0f} MB)"
        )
        if max(growths) >= args.max_growth_mb:
            problems.append(f"peak RSS grew by {max(growths):.1f} MB")
        if args.enforce_speed and ratio < args.min_ratio:
            problems.append(f"export/read ratio {ratio:.3f} is under {args.min_ratio}")
    finally:
        if server is not None:
            stop(server, timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)

    for problem in problems:
        print(f"export_memory: FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
