#!/usr/bin/env python3
"""Webhook latency: from the API's 200 to the receiver's request, with one idle delivery worker.

gunicorn (1 worker) on a fresh PostgreSQL database, one ``deliver_webhooks`` worker at its default
poll interval, a receiver on 127.0.0.1. One client PATCHes a case, notes when the 200 arrived,
waits for the webhook of that change, then pauses a random 0.1–0.6 s so the worker is idle and
caught at any point of its poll; p50, p90, p99 and max are printed.

    .venv/bin/python bench/webhook_latency.py --changes 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import fresh_database, manage, service_env, start_gunicorn, wait_listening

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class Receiver:
    """Notes when each change's webhook arrived (monotonic clock of this process)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.event = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(204)
                self.end_headers()
                with receiver.event:
                    receiver.arrived[body["data"]["changes"].get("description", {}).get("to", "")] = at
                    receiver.event.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, key: str, timeout: float) -> float | None:
        with self.event:
            self.event.wait_for(lambda: key in self.arrived, timeout)
            return self.arrived.get(key)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--port", type=int, default=18620)
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="serverops_webhook_latency")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()

    dsn = fresh_database(args.admin_dsn, args.database)
    scratch = Path(tempfile.mkdtemp(prefix="serverops-webhook-latency-"))
    env = service_env(dsn, args.redis_url, scratch)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    project = manage(env, "create_project", "Latency", "--org", "Webhook latency")
    token = manage(env, "create_token", "--project", project, "--name", "latency", "--scope", "cases:write")
    receiver = Receiver()
    manage(env, "create_webhook", "--project", project, "--url", f"http://127.0.0.1:{receiver.port}/")
    server = start_gunicorn(env=env, port=args.port, workers=1, config=False)
    worker = subprocess.Popen(  # noqa: S603 (a fixed command line)
        [PYTHON, "manage.py", "deliver_webhooks"], cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    latencies: list[float] = []
    lost = 0
    try:
        wait_listening(server, args.port)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("POST", "/v1/cases", body=json.dumps({"title": "latency"}), headers=headers)
        case_id = json.loads(conn.getresponse().read())["id"]
        time.sleep(2)  # the worker is up and has sent the create
        for n in range(args.changes):
            key = f"change {n}"
            conn.request("PATCH", f"/v1/cases/{case_id}", body=json.dumps({"description": key}), headers=headers)
            response = conn.getresponse()
            response.read()
            ok_at = time.monotonic()
            if response.status != 200:
                raise SystemExit(f"PATCH answered {response.status}")
            arrived = receiver.wait_for(key, timeout=30)
            if arrived is None:
                lost += 1
            else:
                latencies.append(arrived - ok_at)
            time.sleep(random.uniform(0.1, 0.6))  # noqa: S311 (a pause, not a secret)
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        receiver.server.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)

    ms = [value * 1000 for value in latencies]
    print(
        f"webhook latency, API 200 → receiver request, {len(ms)} changes, one idle worker "
        f"(poll interval 0.2 s), PostgreSQL: p50 {percentile(ms, 50):.0f} ms, p90 {percentile(ms, 90):.0f} ms, "
        f"p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms, mean {statistics.fmean(ms):.0f} ms; {lost} lost"
    )
    return 1 if lost or percentile(ms, 50) >= 1000 else 0


if __name__ == "__main__":
    sys.exit(main())
