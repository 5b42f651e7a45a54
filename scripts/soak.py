#!/usr/bin/env python3
"""Soak test: gunicorn (2 workers, gunicorn.conf.py) on PostgreSQL or on the embedded SQLite
default under concurrent clients for a while.

Clients mix creates (with Idempotency-Keys, some retried, some retried by another client at
the same time), PATCHes of different fields, PATCHes that all land on ONE hot case, and
reads. Each (case, field) pair of the ordinary cases has exactly one writer, so the final
rows are known; on the hot case every accepted PATCH must be in its history, and the row
must hold the last change of that history. Then rounds of same-If-Match races: every
client reads the hot case's ETag, all PATCH it at once with that If-Match, and exactly one
may win (200), every other gets 412. The run fails (exit 1) on any response >= 500, on a
retried key that made a second case, on an accepted change missing from the final rows or
from the history, or on a race with other than one winner.

    .venv/bin/python scripts/soak.py --duration 30 --clients 8            # PostgreSQL
    .venv/bin/python scripts/soak.py --duration 30 --clients 8 --sqlite   # the SQLite default
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import free_port, fresh_database, manage, start_gunicorn, stop, wait_listening

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("title", "description")
RACE_ROUNDS = 10


@dataclass
class Shared:
    token: str
    port: int
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    created: dict[str, str] = field(default_factory=dict)  # idempotency key -> case id
    bodies: dict[str, dict[str, str]] = field(default_factory=dict)  # idempotency key -> body
    cases: list[str] = field(default_factory=list)
    last_written: dict[tuple[str, str], str] = field(default_factory=dict)  # (case, field) -> value
    accepted_changes: list[tuple[str, str, str]] = field(default_factory=list)
    hot_case: str = ""
    hot_accepted: list[str] = field(default_factory=list)  # descriptions the hot case accepted
    races: Counter[str] = field(default_factory=Counter)
    lost_changes: int = 0
    problems: list[str] = field(default_factory=list)


def request(
    shared: Shared,
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    sent = {"Authorization": f"Bearer {shared.token}", **(headers or {})}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    with shared.lock:
        shared.statuses[response.status] += 1
        shared.operations[method] += 1
    if response.status >= 500:
        with shared.lock:
            shared.problems.append(f"{method} {path} -> {response.status} {raw[:200]!r}")
    return response.status, json.loads(raw) if raw else None, dict(response.getheaders())


def create(shared: Shared, conn: http.client.HTTPConnection, client: int, n: int) -> None:
    key = f"client-{client}-create-{n}"
    body = {"title": f"Soak case {key}", "description": "filed by the soak test"}
    with shared.lock:
        shared.bodies[key] = body
    first_id: str | None = None
    for _attempt in range(random.choice([1, 1, 2, 3])):  # a retry after a "network hiccup"
        status, data, _ = request(shared, conn, "POST", "/v1/cases", body, {"Idempotency-Key": key})
        if status != 201:
            shared.problems.append(f"create {key}: {status} {data}")
            return
        if first_id is not None and data["id"] != first_id:
            shared.problems.append(f"retry of {key} answered {data['id']}, first answer was {first_id}")
        first_id = data["id"]
    assert first_id is not None
    with shared.lock:
        shared.created[key] = first_id
        shared.cases.append(first_id)


def retry_someone_elses_create(shared: Shared, conn: http.client.HTTPConnection) -> None:
    with shared.lock:
        if not shared.created:
            return
        key = random.choice(list(shared.created))
        body, expected = shared.bodies[key], shared.created[key]
    status, data, headers = request(shared, conn, "POST", "/v1/cases", body, {"Idempotency-Key": key})
    if status != 201 or data["id"] != expected or headers.get("Idempotent-Replayed") != "true":
        shared.problems.append(f"replay of {key}: {status} {data} {headers.get('Idempotent-Replayed')}")


def patch(shared: Shared, conn: http.client.HTTPConnection, client: int, clients: int, n: int) -> None:
    # Client c writes field FIELDS[c % 2] of the cases whose index is c // 2 modulo clients // 2,
    # so every (case, field) has one writer and two writers share each case.
    writers = max(1, clients // 2)
    with shared.lock:
        mine = [case for index, case in enumerate(shared.cases) if index % writers == (client // 2) % writers]
    if not mine:
        return
    case_id = random.choice(mine)
    name = FIELDS[client % 2]
    value = f"{name} from client {client}, write {n}"
    status, data, _ = request(shared, conn, "PATCH", f"/v1/cases/{case_id}", {name: value})
    if status == 200:
        with shared.lock:
            shared.last_written[(case_id, name)] = value
            shared.accepted_changes.append((case_id, name, value))
    else:
        shared.problems.append(f"patch {case_id} {name}: {status} {data}")


def patch_hot_case(shared: Shared, conn: http.client.HTTPConnection, client: int, n: int) -> None:
    """Every client writes the same field of the same case: the writes queue on one row."""
    value = f"hot write {n} by client {client}"
    status, data, _ = request(shared, conn, "PATCH", f"/v1/cases/{shared.hot_case}", {"description": value})
    if status == 200:
        with shared.lock:
            shared.hot_accepted.append(value)
    else:
        shared.problems.append(f"hot patch: {status} {data}")


def race_round(shared: Shared, clients: int, round_: int) -> None:
    """``clients`` PATCHes of the hot case with the same current If-Match: one 200, the rest 412."""
    conns = [http.client.HTTPConnection("127.0.0.1", shared.port, timeout=30) for _ in range(clients)]
    _, _, headers = request(shared, conns[0], "GET", f"/v1/cases/{shared.hot_case}")
    etag = headers["ETag"]
    barrier = threading.Barrier(clients)
    answers: list[int] = []

    def contender(index: int) -> None:
        value = f"race {round_} won by client {index}"
        barrier.wait()
        path = f"/v1/cases/{shared.hot_case}"
        status, _, _ = request(shared, conns[index], "PATCH", path, {"description": value}, {"If-Match": etag})
        with shared.lock:
            answers.append(status)
            if status == 200:
                shared.hot_accepted.append(value)

    threads = [threading.Thread(target=contender, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in conns:
        conn.close()
    outcome = Counter(answers)
    shared.races["200"] += outcome[200]
    shared.races["412"] += outcome[412]
    if outcome[200] != 1 or outcome[412] != clients - 1:
        shared.problems.append(f"race {round_}: {dict(outcome)}, expected one 200 and {clients - 1} 412")


def read(shared: Shared, conn: http.client.HTTPConnection) -> None:
    with shared.lock:
        case_id = random.choice(shared.cases) if shared.cases else None
    if case_id and random.random() < 0.5:
        status, _, _ = request(shared, conn, "GET", f"/v1/cases/{case_id}")
    else:
        status, _, _ = request(shared, conn, "GET", "/v1/cases?limit=20")
    if status != 200:
        shared.problems.append(f"read: {status}")


def client_loop(shared: Shared, client: int, clients: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=30)
    n = 0
    while time.monotonic() < shared.deadline:
        n += 1
        roll = random.random()
        try:
            if roll < 0.25:
                create(shared, conn, client, n)
            elif roll < 0.35:
                retry_someone_elses_create(shared, conn)
            elif roll < 0.65:
                patch(shared, conn, client, clients, n)
            elif roll < 0.75:
                patch_hot_case(shared, conn, client, n)
            else:
                read(shared, conn)
        except (OSError, http.client.HTTPException) as exc:
            shared.problems.append(f"client {client}: {exc!r}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=30)
    conn.close()


def query(database: str, sql_text: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql_text`` from the soak database (a PostgreSQL DSN or a SQLite file path);
    JSON columns come back decoded either way."""
    if database.startswith("postgres"):
        with psycopg.connect(database) as db:
            return list(db.execute(sql_text))
    with sqlite3.connect(database) as db:
        return [
            tuple(json.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in row)
            for row in db.execute(sql_text)
        ]


def verify(shared: Shared, database: str) -> None:
    events = query(database, "SELECT case_id, changes, created_at, id FROM cases_caseevent ORDER BY created_at, id")
    # Titles change under PATCH; the create event keeps each case's first title.
    first_titles = Counter(
        changes["title"]["to"] for _, changes, *_ in events if "title" in changes and changes["title"]["from"] is None
    )
    for key, body in shared.bodies.items():
        if key in shared.created and first_titles[body["title"]] != 1:
            shared.problems.append(f"key {key}: {first_titles[body['title']]} cases created with its title")
    rows = {
        row[0]: {"title": row[1], "description": row[2]}
        for row in query(database, "SELECT id, title, description FROM cases_case")
    }
    for (case_id, name), value in shared.last_written.items():
        if rows[case_id][name] != value:
            shared.problems.append(f"{case_id}.{name} is {rows[case_id][name]!r}, last accepted {value!r}")
    history: set[tuple[str, str, str]] = set()
    for case_id, changes, *_ in events:
        for name, change in changes.items():
            if name in FIELDS:
                history.add((case_id, name, change["to"]))
    missing = [change for change in shared.accepted_changes if change not in history]
    if missing:
        shared.problems.append(f"{len(missing)} accepted change(s) missing from the history, e.g. {missing[0]}")
    # The hot case: every accepted write is in its history, and the row holds the last one.
    hot_history = [
        changes["description"]["to"]
        for case_id, changes, *_ in events
        if case_id == shared.hot_case and "description" in changes
    ]
    lost = set(shared.hot_accepted) - set(hot_history)
    if lost:
        shared.problems.append(f"hot case: {len(lost)} accepted write(s) missing from its history, e.g. {min(lost)}")
    if shared.hot_accepted and rows[shared.hot_case]["description"] != hot_history[-1]:
        shared.problems.append(
            f"hot case holds {rows[shared.hot_case]['description']!r}, history ends {hot_history[-1]!r}"
        )
    shared.lost_changes = len(missing) + len(lost)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite default instead of PostgreSQL")
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="serverops_soak")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    args = parser.parse_args()
    port = args.port or free_port()

    scratch = Path(tempfile.mkdtemp(prefix="serverops-soak-"))
    if args.sqlite:
        # One host, one file: the rate-limit budget is raised far out of reach, so the
        # per-process cache needs no Redis.
        database = str(scratch / "soak.sqlite3")
        extra = {"DATABASE_URL": f"sqlite:///{database}"}
    else:
        database = fresh_database(args.admin_dsn, args.database)
        extra = {"DATABASE_URL": database, "REDIS_URL": args.redis_url}
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        **extra,
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(scratch / "media"),
        "STATIC_ROOT": str(scratch / "static"),
    }
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    project = manage(env, "create_project", "Soak", "--org", "Soak test")
    token = manage(
        env, "create_token", "--project", project, "--name", "soak", "--scope", "cases:read", "--scope", "cases:write"
    )
    if not args.sqlite:
        subprocess.run(["redis-cli", "-u", args.redis_url, "FLUSHDB"], check=True, capture_output=True)

    server = start_gunicorn(env=env, port=port, workers=2)
    try:
        wait_listening(server, port)
        shared = Shared(token=token, port=port, deadline=time.monotonic() + args.duration)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _, hot, _ = request(shared, conn, "POST", "/v1/cases", {"title": "The hot case", "description": "start"})
        conn.close()
        shared.hot_case = hot["id"]
        shared.deadline = time.monotonic() + args.duration
        threads = [threading.Thread(target=client_loop, args=(shared, n, args.clients)) for n in range(args.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        for round_ in range(RACE_ROUNDS):
            race_round(shared, args.clients, round_)
    finally:
        stop(server, timeout=30)
    try:
        verify(shared, database)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    total = sum(shared.statuses.values())
    engine = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"soak: {engine}, {args.clients} clients, {elapsed:.1f} s, {total} requests ({total / elapsed:.0f}/s)")
    print(f"soak: by method {dict(shared.operations)}; by status {dict(sorted(shared.statuses.items()))}")
    print(
        f"soak: {len(shared.created)} idempotent creates, {len(shared.accepted_changes)} accepted PATCHes, "
        f"{len(shared.last_written)} (case, field) pairs checked against the rows and the history"
    )
    print(
        f"soak: hot case: {len(shared.hot_accepted)} accepted PATCHes; same-If-Match races: {RACE_ROUNDS} rounds "
        f"of {args.clients}, {shared.races['200']} won (200), {shared.races['412']} refused (412)"
    )
    errors = sum(count for status, count in shared.statuses.items() if status >= 500)
    print(f"soak: {errors} responses >= 500, {shared.lost_changes} lost changes, {len(shared.problems)} problem(s)")
    for problem in shared.problems[:20]:
        print(f"  - {problem}")
    return 1 if shared.problems or errors else 0


if __name__ == "__main__":
    sys.exit(main())
