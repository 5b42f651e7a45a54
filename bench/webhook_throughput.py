#!/usr/bin/env python3
"""Webhook throughput: deliveries per second of one ``deliver_webhooks`` worker, and its CPU per delivery.

gunicorn (2 workers) on a fresh PostgreSQL database takes ``--changes`` changes from 8 clients while
no delivery worker runs, so a backlog of that many messages waits; then ``--workers`` delivery
workers start together and the time until the last message is delivered to a receiver on 127.0.0.1
(answering at once) is measured, with the workers' CPU time from ``/proc``. The capacity plan in
docs/deploy.md is built on these figures.

    .venv/bin/python bench/webhook_throughput.py --changes 2000 --workers 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import free_port, fresh_database, manage, service_env, start_gunicorn, stop, wait_listening
from scripts.webhook_fault import Clients, Receiver

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="serverops_webhook_throughput")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()

    dsn = fresh_database(args.admin_dsn, args.database)
    scratch = Path(tempfile.mkdtemp(prefix="serverops-webhook-throughput-"))
    env = service_env(dsn, args.redis_url, scratch)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    project = manage(env, "create_project", "Throughput", "--org", "Webhook throughput")
    token = manage(env, "create_token", "--project", project, "--name", "throughput", "--scope", "cases:write")
    receiver = Receiver(0.0)
    receiver.secret = manage(env, "create_webhook", "--project", project, "--url", f"http://127.0.0.1:{receiver.port}/")
    port = free_port()
    server = start_gunicorn(env=env, port=port, workers=2)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_listening(server, port)
        clients = Clients(token, port, args.changes, 8)
        for thread in clients.start():
            thread.join()
        stop(server)
        started = time.monotonic()
        workers = [
            subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
                [PYTHON, "manage.py", "deliver_webhooks", "--interval", "0.1"],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        cpu: dict[int, float] = {}
        with psycopg.connect(dsn, autocommit=True) as db:
            while True:
                for worker in workers:
                    cpu[worker.pid] = cpu_seconds(worker.pid)
                row = db.execute("SELECT count(*) FROM webhooks_webhookmessage WHERE status <> 'delivered'").fetchone()
                if row is not None and row[0] == 0:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            delivered = db.execute("SELECT count(*) FROM webhooks_webhookmessage").fetchone()
    finally:
        stop(server)
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        receiver.server.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    count = delivered[0] if delivered else 0
    spent = sum(cpu.values())
    print(
        f"webhook throughput: {count} messages delivered by {args.workers} worker(s) in {elapsed:.1f} s: "
        f"{count / elapsed:.0f}/s in all, {count / elapsed / args.workers:.0f}/s per worker; "
        f"worker CPU {spent * 1000 / max(count, 1):.2f} ms per delivery (start-up included)"
    )
    if clients.problems or count != clients.accepted:
        print(f"webhook throughput: {count} messages for {clients.accepted} changes; {clients.problems[:3]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
