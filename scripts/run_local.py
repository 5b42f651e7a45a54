"""`make run`'s two processes, the development server and a webhook worker, started and stopped
together.

Each child runs in a process group of its own, which this script ends as a whole: the server's
autoreload child goes with it. Ctrl-C, SIGTERM (GNU make passes it on to its recipe, which
``exec``s this script) or a closed terminal stop both; so does either one exiting.

    .venv/bin/python scripts/run_local.py --port 8000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
# How long each process group gets to exit after SIGTERM before SIGKILL.
GRACE_SECONDS = 10


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(process.pid, signum)


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reaps the leader once it has exited
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each child's whole group; SIGKILL to what is still there after the grace period."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and any(_group_alive(child) for child in children):
        time.sleep(0.1)
    for child in children:
        if _group_alive(child):
            _signal_group(child, signal.SIGKILL)
        child.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    python = sys.executable
    commands = [
        [python, "manage.py", "deliver_webhooks"],
        [python, "manage.py", "runserver", f"127.0.0.1:{args.port}"],
    ]
    children = [subprocess.Popen(command, cwd=ROOT, start_new_session=True) for command in commands]
    try:
        while not received and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        stop(children)
    if received:
        return 128 + received[0]
    return max(child.returncode or 0 for child in children) or 1  # one of them stopped on its own


if __name__ == "__main__":
    sys.exit(main())
