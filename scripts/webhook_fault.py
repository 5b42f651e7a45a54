#!/usr/bin/env python3
"""Webhook fault test: 3 delivery workers on PostgreSQL, one killed with SIGKILL mid-run and restarted.

gunicorn (2 workers) serves the API; 8 clients make ``--changes`` changes through it (creates, then
PATCHes); a receiver on 127.0.0.1 verifies every signature with ``standardwebhooks`` and records each
``webhook-id``. Once a third of the changes are in and the victim worker is in the middle of a
delivery, it is killed with SIGKILL and a new worker started. The run fails (exit 1) unless every
change (CaseEvent) arrives at least once, every signature verifies, and the only messages that
arrive twice are ones the killed worker had in flight.

    .venv/bin/python scripts/webhook_fault.py --changes 500
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from standardwebhooks import Webhook

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import fresh_database, manage, service_env, start_gunicorn, wait_listening

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class Receiver:
    """Records each webhook-id as it arrives; answers 200 after ``delay`` seconds (deliveries are in flight a while)."""

    def __init__(self, delay: float) -> None:
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()
        self.bad_signatures = 0
        self.secret = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    ok = True
                except Exception:
                    ok = False
                # Counted on arrival: a request whose sender dies before the answer still arrived.
                with receiver.lock:
                    if ok:
                        receiver.received[self.headers["webhook-id"]] += 1
                    else:
                        receiver.bad_signatures += 1
                time.sleep(delay)
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Clients:
    """8 threads making ``total`` changes: each creates a few cases, then PATCHes them."""

    def __init__(self, token: str, port: int, total: int, clients: int) -> None:
        self.token, self.port, self.clients = token, port, clients
        self.lock = threading.Lock()
        self.remaining = total
        self.accepted = 0
        self.problems: list[str] = []

    def _take(self) -> bool:
        with self.lock:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            return True

    def _call(self, conn: http.client.HTTPConnection, method: str, path: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status not in (200, 201):
            self.problems.append(f"{method} {path}: {response.status} {data[:200]!r}")
            return None
        with self.lock:
            self.accepted += 1
        return json.loads(data)

    def run_one(self, n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        mine: list[str] = []
        i = 0
        while self._take():
            i += 1
            if len(mine) < 5:
                case = self._call(conn, "POST", "/v1/cases", {"title": f"fault client {n} case {i}"})
                if case:
                    mine.append(case["id"])
            else:
                self._call(conn, "PATCH", f"/v1/cases/{mine[i % len(mine)]}", {"description": f"change {i}"})
        conn.close()

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run_one, args=(n,)) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        return threads


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "manage.py", "deliver_webhooks", "--interval", "0.1", "--sweep-every", "3"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=18610)
    parser.add_argument("--receiver-delay", type=float, default=0.05, help="seconds the receiver takes per request")
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="serverops_webhook_fault")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every delivery")
    args = parser.parse_args()

    dsn = fresh_database(args.admin_dsn, args.database)
    scratch = Path(tempfile.mkdtemp(prefix="serverops-webhook-fault-"))
    # WEBHOOK_LEASE_SECONDS: how long the killed worker's message waits before another sends it
    env = service_env(dsn, args.redis_url, scratch, WEBHOOK_LEASE_SECONDS="15")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    project = manage(env, "create_project", "Fault", "--org", "Webhook fault test")
    token = manage(env, "create_token", "--project", project, "--name", "fault", "--scope", "cases:write")
    receiver = Receiver(args.receiver_delay)
    receiver.secret = manage(env, "create_webhook", "--project", project, "--url", f"http://127.0.0.1:{receiver.port}/")
    subprocess.run(["redis-cli", "-u", args.redis_url, "FLUSHDB"], check=True, capture_output=True)

    server = start_gunicorn(env=env, port=args.port, workers=2, config=False)
    workers = [start_worker(env) for _ in range(3)]
    victim = workers[0]
    processes = [server, *workers]
    problems: list[str] = []
    killed_at = None
    try:
        wait_listening(server, args.port)
        clients = Clients(token, args.port, args.changes, args.clients)
        started = time.monotonic()
        threads = clients.start()
        with psycopg.connect(dsn, autocommit=True) as db:
            victim_name = f"{os.uname().nodename[:50]}:{victim.pid}"
            while killed_at is None and any(t.is_alive() for t in threads):
                in_flight = db.execute(
                    "SELECT count(*) FROM webhooks_webhookattempt WHERE worker = %s AND finished_at IS NULL",
                    [victim_name],
                ).fetchone()
                if clients.accepted >= args.changes // 3 and in_flight and in_flight[0]:
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    killed_at = time.monotonic() - started
                    replacement = start_worker(env)
                    processes.append(replacement)
                time.sleep(0.005)
            for thread in threads:
                thread.join()
            load_time = time.monotonic() - started
            if killed_at is None:
                problems.append("the victim worker never had a delivery in flight while the clients ran")
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                row = db.execute(
                    "SELECT count(*) FILTER (WHERE status <> 'delivered'), count(*) FROM webhooks_webhookmessage"
                ).fetchone()
                assert row is not None
                if row[0] == 0 and row[1] > 0:
                    break
                time.sleep(0.5)
            drained = time.monotonic() - started
            events = {row[0] for row in db.execute("SELECT id FROM cases_caseevent")}
            statuses: dict[str, int] = dict(
                db.execute("SELECT status, count(*) FROM webhooks_webhookmessage GROUP BY status").fetchall()
            )
            in_flight_ids = {
                row[0]
                for row in db.execute(
                    "SELECT e.public_id FROM webhooks_webhookattempt a"
                    " JOIN webhooks_webhookmessage m ON m.id = a.message_id"
                    " JOIN webhooks_event e ON e.seq = m.event_id"
                    " WHERE a.worker = %s AND a.finished_at IS NULL",
                    [victim_name],
                )
            }
            by_worker: dict[str, int] = dict(
                db.execute("SELECT worker, count(*) FROM webhooks_webhookattempt GROUP BY worker ORDER BY 1").fetchall()
            )
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        receiver.server.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)

    received = receiver.received
    missing = events - set(received)
    duplicates = {event_id for event_id, n in received.items() if n > 1}
    unexpected = duplicates - in_flight_ids
    problems += clients.problems[:10]
    if clients.accepted != args.changes:
        problems.append(f"{clients.accepted} of {args.changes} changes accepted")
    if len(events) != clients.accepted:
        problems.append(f"{len(events)} case events for {clients.accepted} accepted changes")
    if missing:
        problems.append(f"{len(missing)} change(s) never delivered, e.g. {sorted(missing)[:3]}")
    if unexpected:
        problems.append(
            f"{len(unexpected)} duplicate(s) the killed worker did not have in flight: {sorted(unexpected)[:3]}"
        )
    if receiver.bad_signatures:
        problems.append(f"{receiver.bad_signatures} request(s) failed signature verification")
    if set(received) - events:
        problems.append("webhook-ids that match no change arrived")

    print(
        f"webhook fault: {args.clients} clients made {clients.accepted} changes in {load_time:.1f} s through gunicorn; "
        f"3 workers, one SIGKILLed at {killed_at or 0:.1f} s and replaced"
    )
    print(
        f"webhook fault: {len(events)} changes, {sum(statuses.values())} messages {statuses}, "
        f"{len(set(received) & events)} delivered at least once, {len(missing)} lost; "
        f"all delivered {drained:.1f} s after the start"
    )
    print(
        f"webhook fault: {sum(received.values())} requests received, {len(duplicates)} duplicate(s) "
        f"{sorted(duplicates)}; the killed worker had {len(in_flight_ids)} in flight {sorted(in_flight_ids)}; "
        f"{receiver.bad_signatures} bad signature(s)"
    )
    print(f"webhook fault: attempts by worker {by_worker}")
    print(f"webhook fault: {len(problems)} problem(s)")
    for problem in problems:
        print(f"  - {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
