#!/usr/bin/env python3
"""Scale-out test: three gunicorn "hosts" behind nginx, one SIGKILLed mid-run and restarted.

Each host is a gunicorn (``--workers`` each, ``gunicorn.conf.py``) with a working directory,
``MEDIA_ROOT``, static files and metrics directory of its own; nothing is shared between them but
the engines: one PostgreSQL database, one Redis database, one S3 bucket on moto's S3 server. Debian's
nginx, run in the foreground with a generated configuration, balances them round-robin on
127.0.0.1; three webhook workers (``manage.py deliver_webhooks``) deliver to a local receiver that
verifies every signature.

``--clients`` clients, each with a token of its own, run the real mix through nginx for
``--duration`` seconds: create with an ``Idempotency-Key`` (a retry of the same key after a
failure), PATCH of their own cases, GET, list, upload of a PNG and attach it to a case. One more
client spends one token's budget as fast as it can (per-minute budget ``--budget``) through every
host. A scraper reads ``/metrics`` through nginx every few seconds. At 40 % of the run one host is
killed with SIGKILL (master and workers) and started again two seconds later.

Then, directly against the three hosts: the same ``Idempotency-Key`` sent to two hosts at once, and
each uploaded file fetched through every host and opened. It prints the figures and fails (exit 1)
unless: no response >= 500 outside the failover window (those inside are counted apart), every
acknowledged create and change is in the database and its history (no lost write), the budget
token never had more requests accepted in one minute window than its budget, every key sent to two
hosts made one case, every file opens through every host, every case event reached the receiver
at least once.

    .venv/bin/python scripts/scaleout.py                       # 16 clients, 60 s
    .venv/bin/python scripts/scaleout.py --short               # the .ci/run size
    .venv/bin/python scripts/scaleout.py --duration 300        # the long run by hand
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from PIL import Image

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import free_port, fresh_database, manage, start_gunicorn, wait_listening
from scripts.webhook_fault import Receiver
from tests.media.s3server import moto_server

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BUCKET = "scaleout-evidence"
HOSTS = 3
FIELDS = ("title", "description")
RETRIES = 20  # attempts of one operation through nginx while a host is down
STALL = 60.0  # seconds without a webhook delivered before the run stops waiting for the backlog
SETTINGS_MODULE = "scaleout_settings"
# The project, every token and the webhook, made in one manage.py shell (a start costs seconds).
SETUP = """
import json
from tokens.services import project_create, token_create
from webhooks.services import endpoint_create
project = project_create(name="Scale-out", organisation_name="Scale-out test")
scopes = ["cases:read", "cases:write", "media:read", "media:write"]
made = [token_create(project=project, name=f"client {{n}}", scopes=scopes)[1] for n in range({clients})]
budget, budget_plaintext = token_create(project=project, name="budget", scopes=scopes)
_, secret = endpoint_create(project=project, mode="live", url="{url}")
print(json.dumps({{"tokens": made, "budget": [budget.pk, budget_plaintext], "secret": secret}}))
"""


def png(seed: int) -> bytes:
    image = Image.new("RGB", (32, 24), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class Run:
    nginx_port: int
    host_ports: list[int]
    deadline: float
    started: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    failover: Counter[int] = field(default_factory=Counter)  # >= 500 inside the failover window
    window: tuple[float, float] = (float("inf"), float("inf"))  # seconds since start
    errors: list[str] = field(default_factory=list)  # >= 500 outside the window
    problems: list[str] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # idempotency key -> case id
    titles: dict[str, str] = field(default_factory=dict)  # case id -> first title
    last_written: dict[tuple[str, str], str] = field(default_factory=dict)
    accepted_changes: list[tuple[str, str, str]] = field(default_factory=list)
    attached: dict[str, list[str]] = field(default_factory=dict)  # case id -> last accepted attachments
    files: dict[str, str] = field(default_factory=dict)  # file id -> sha256
    budget_accepted: Counter[int] = field(default_factory=Counter)  # minute window end -> 200s
    budget_refused: int = 0
    budget_uncounted: int = 0
    scrapes: list[dict[str, float]] = field(default_factory=list)

    def in_window(self) -> bool:
        now = time.monotonic() - self.started
        return self.window[0] <= now <= self.window[1]


class Client:
    """One connection to nginx, its token, and a retry of an operation that met a dead host."""

    def __init__(self, run: Run, token: str, port: int | None = None) -> None:
        self.run, self.token = run, token
        self.port = port or run.nginx_port
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def raw(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        try:
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            # An answer cut short: inside the failover window, by the host killed while it answered.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self.run.lock:
                if self.run.in_window():
                    self.run.failover[0] += 1
                else:
                    self.run.problems.append(f"{method} {path}: {exc!r}")
            return 0, None, {}
        status = response.status
        with self.run.lock:
            self.run.statuses[status] += 1
            self.run.operations[method] += 1
            if status >= 500:
                if self.run.in_window():
                    self.run.failover[status] += 1
                else:
                    self.run.errors.append(f"{method} {path} -> {status} {data[:160]!r}")
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return status, parsed, {k.lower(): v for k, v in response.getheaders()}

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """The request, sent again while the answer is >= 500 (a host being failed over): the
        operations are safe to repeat (a create carries its Idempotency-Key, a PATCH sets values)."""
        payload = json.dumps(body).encode() if body is not None else None
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if payload is not None else {})}
        for _ in range(RETRIES):
            status, data, _ = self.raw(method, path, payload, sent)
            if 0 < status < 500:
                return status, data
            time.sleep(0.25)
        return status, data

    def close(self) -> None:
        self.conn.close()


def mix(run: Run, token: str, number: int) -> None:
    client = Client(run, token)
    mine: list[str] = []
    n = 0
    while time.monotonic() < run.deadline:
        n += 1
        roll = random.random()
        if roll < 0.15 or not mine:
            key = f"client-{number}-create-{n}"
            title = f"Scale-out case {key}"
            status, data = client.call("POST", "/v1/cases", {"title": title}, {"Idempotency-Key": key})
            if status == 201:
                mine.append(data["id"])
                with run.lock:
                    run.created[key] = data["id"]
                    run.titles[data["id"]] = title
            else:
                run.problems.append(f"create {key}: {status} {data}")
        elif roll < 0.45:
            case_id = random.choice(mine)
            name = FIELDS[n % 2]
            value = f"{name} by client {number}, write {n}"
            status, data = client.call("PATCH", f"/v1/cases/{case_id}", {name: value})
            if status == 200:
                with run.lock:
                    run.last_written[(case_id, name)] = value
                    run.accepted_changes.append((case_id, name, value))
            else:
                run.problems.append(f"patch {case_id}: {status} {data}")
        elif roll < 0.65:
            status, data = client.call("GET", f"/v1/cases/{random.choice(mine)}")
            if status != 200:
                run.problems.append(f"get: {status} {data}")
        elif roll < 0.85:
            status, data = client.call("GET", "/v1/cases?limit=20")
            if status != 200:
                run.problems.append(f"list: {status} {data}")
        else:
            content = png(number * 100_000 + n)
            body, content_type = multipart(f"evidence-{number}-{n}.png", content)
            for _ in range(RETRIES):
                status, data, _ = client.raw("POST", "/v1/media", body, {"Content-Type": content_type})
                if 0 < status < 500:
                    break
                time.sleep(0.25)
            if status != 201:
                run.problems.append(f"upload: {status} {data}")
                continue
            with run.lock:
                run.files[data["id"]] = hashlib.sha256(content).hexdigest()
            case_id = random.choice(mine)
            status, data = client.call("PATCH", f"/v1/cases/{case_id}", {"attachments": [data["id"]]})
            if status == 200:
                with run.lock:
                    run.attached[case_id] = [f["id"] for f in data["attachments"]]
            else:
                run.problems.append(f"attach to {case_id}: {status} {data}")
    client.close()


def spend_budget(run: Run, token: str) -> None:
    """One token, as fast as it goes, through every host: count what each minute window accepted."""
    client = Client(run, token)
    while time.monotonic() < run.deadline:
        status, _, headers = client.raw("GET", "/v1/cases?limit=1")
        with run.lock:
            if status == 200 and "x-ratelimit-reset" in headers:
                run.budget_accepted[int(headers["x-ratelimit-reset"])] += 1
            elif status == 200:
                run.budget_uncounted += 1
            elif status == 429:
                run.budget_refused += 1
    client.close()


def scrape_metrics(run: Run, token: str, every: float) -> None:
    """``/metrics`` through nginx every ``every`` seconds: each scrape reaches the next host."""
    while time.monotonic() < run.deadline:
        request = urllib.request.Request(
            f"http://127.0.0.1:{run.nginx_port}/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http://127.0.0.1)
                text = response.read().decode()
        except OSError:
            text = ""
        figures: dict[str, float] = {"at": time.monotonic() - run.started}
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            series, _, value = line.rpartition(" ")
            name = series.split("{", 1)[0]
            if name in ("serverops_requests_total", "serverops_request_duration_seconds_count"):
                figures[name] = figures.get(name, 0) + float(value)
            elif name in (
                "serverops_webhook_backlog",
                "serverops_uploads_total",
                "serverops_rate_limit_refusals_total",
            ):
                figures[name] = float(value)
        with run.lock:
            run.scrapes.append(figures)
        time.sleep(every)


def nginx_config(directory: Path, port: int, upstreams: list[int]) -> Path:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstreams)
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = f"""{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    client_max_body_size 20m;
    upstream serverops {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://serverops;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A host that refuses the connection or dies before answering: the next one is asked
            # (a request it had already started is not sent twice unless it is idempotent).
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
        }}
    }}
}}
"""
    path = directory / "nginx.conf"
    path.write_text(config)
    return path


def cross_host_idempotency(run: Run, token: str, rounds: int) -> tuple[int, int]:
    """The same key and body sent to two hosts at once, ``rounds`` times: (rounds that made
    exactly one case, rounds in all)."""
    one = 0
    for n in range(rounds):
        key = f"cross-host-{n}-{uuid.uuid4().hex[:8]}"
        first, second = random.sample(run.host_ports, 2)
        answers: list[tuple[int, Any]] = []
        barrier = threading.Barrier(2)

        def send(port: int, key: str = key, barrier: threading.Barrier = barrier, answers: list[Any] = answers) -> None:
            client = Client(run, token, port)
            barrier.wait()
            answers.append(client.call("POST", "/v1/cases", {"title": f"Cross-host {key}"}, {"Idempotency-Key": key}))
            client.close()

        threads = [threading.Thread(target=send, args=(port,)) for port in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = {data["id"] for status, data in answers if status == 201}
        if len(ids) == 1 and all(status == 201 for status, _ in answers):
            one += 1
            with run.lock:
                run.created[key] = ids.pop()
        else:
            run.problems.append(f"key {key} sent to ports {first} and {second}: {answers}")
    return one, rounds


def files_open_everywhere(run: Run, token: str, sample: int) -> tuple[int, int]:
    """Each of up to ``sample`` uploaded files, fetched through every host and opened by its url."""
    chosen = random.sample(sorted(run.files), min(sample, len(run.files)))
    opened = 0
    for file_id in chosen:
        for port in run.host_ports:
            client = Client(run, token, port)
            status, data = client.call("GET", f"/v1/media/{file_id}")
            client.close()
            if status != 200:
                run.problems.append(f"file {file_id} through port {port}: {status} {data}")
                continue
            with urllib.request.urlopen(data["url"], timeout=10) as response:  # noqa: S310 (moto on 127.0.0.1)
                content = response.read()
            if hashlib.sha256(content).hexdigest() == run.files[file_id]:
                opened += 1
            else:
                run.problems.append(f"file {file_id} through port {port}: other bytes")
    return opened, len(chosen) * len(run.host_ports)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per host (default 2)")
    parser.add_argument("--short", action="store_true", help="the CI size: 8 clients for 15 s")
    parser.add_argument(
        "--budget", type=int, default=120, help="per-minute budget of the budget token (default 120; --short: 40)"
    )
    parser.add_argument("--port", type=int, default=0, help="nginx's port; the hosts take the next three (0: any)")
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="serverops_scaleout")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs) afterwards")
    args = parser.parse_args()
    # Stopped from outside (a CI timeout), it still stops what it started: the finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.short:
        args.duration, args.clients, args.budget = 15.0, 8, min(args.budget, 40)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("scaleout: nginx is needed (Debian: apt-get install -y nginx)", file=sys.stderr)
        return 2

    dsn = fresh_database(args.admin_dsn, args.database)
    subprocess.run(["redis-cli", "-u", args.redis_url, "FLUSHDB"], check=True, capture_output=True)
    scratch = Path(tempfile.mkdtemp(prefix="serverops-scaleout-"))
    ports = [args.port + i for i in range(HOSTS + 1)] if args.port else [free_port() for _ in range(HOSTS + 1)]
    nginx_port, host_ports = ports[0], ports[1:]
    metrics_token = uuid.uuid4().hex
    processes: list[subprocess.Popen[bytes]] = []
    receiver = Receiver(0.0)
    begun = time.monotonic()

    with (scratch / "moto.log").open("wb") as moto_log, moto_server(moto_log) as s3:
        s3.client().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        base = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "MEDIA_ROOT"}},
            "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
            "DATABASE_URL": dsn,
            "REDIS_URL": args.redis_url,
            **s3.environment(BUCKET),
            # The mix's tokens are never limited; the budget token is (the hosts' settings module).
            "RATE_LIMIT_PER_SECOND": "100000",
            "RATE_LIMIT_PER_MINUTE": "10000000",
            "METRICS_TOKEN": metrics_token,
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
            "WEBHOOK_LEASE_SECONDS": "15",
            "STATIC_ROOT": str(scratch / "static"),
            "MEDIA_ROOT": str(scratch / "media"),
        }
        manage(base, "migrate", "--noinput", "-v0")
        manage(base, "collectstatic", "--noinput", "-v0")
        setup = SETUP.format(clients=args.clients + 1, url=f"http://127.0.0.1:{receiver.port}/")
        made = json.loads(manage(base, "shell", "--no-imports", "-c", setup))
        tokens: list[str] = made["tokens"]
        budget_id, budget_token = made["budget"]
        receiver.secret = made["secret"]
        settings_text = (
            "from serverops.settings.base import *  # noqa: F403\n"
            "from serverops.settings.base import SERVEROPS\n\n"
            "# The budget token's own limits (tokens.ratelimit.budgets); every other token keeps the defaults.\n"
            f"SERVEROPS = {{**SERVEROPS, 'RATE_LIMIT_TOKEN_BUDGETS': {{{budget_id!r}: (100000, {args.budget})}}}}\n"
        )

        hosts: list[tuple[Path, dict[str, str]]] = []
        for number in range(HOSTS):
            home = scratch / f"host{number + 1}"
            (home / "media").mkdir(parents=True)
            (home / "metrics").mkdir()
            shutil.copytree(scratch / "static", home / "static")
            (home / f"{SETTINGS_MODULE}.py").write_text(settings_text)
            env = {
                **base,
                "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
                "PYTHONPATH": os.pathsep.join([str(home), str(ROOT)]),
                "MEDIA_ROOT": str(home / "media"),
                "STATIC_ROOT": str(home / "static"),
                "PROMETHEUS_MULTIPROC_DIR": str(home / "metrics"),
            }
            hosts.append((home, env))

        def start_host(number: int) -> subprocess.Popen[bytes]:
            home, env = hosts[number]
            log = (home / "gunicorn.log").open("ab")
            return start_gunicorn(env=env, port=host_ports[number], workers=args.workers, cwd=home, log=log)

        def start_worker(number: int) -> subprocess.Popen[bytes]:
            home, env = hosts[number]
            return subprocess.Popen(
                [PYTHON, str(ROOT / "manage.py"), "deliver_webhooks", "--interval", "0.1"],
                cwd=home,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=(home / "worker.log").open("ab"),
            )

        servers = [start_host(n) for n in range(HOSTS)]
        workers = [start_worker(n) for n in range(HOSTS)]
        processes += [*servers, *workers]
        (scratch / "nginx").mkdir()
        proxy = subprocess.Popen(
            [
                nginx,
                "-p",
                str(scratch / "nginx"),
                "-c",
                str(nginx_config(scratch / "nginx", nginx_port, host_ports)),
                "-g",
                "daemon off;",
            ],
            start_new_session=True,
        )
        processes.append(proxy)
        victim = 1
        try:
            for server, port in zip(servers, host_ports, strict=True):
                wait_listening(server, port)
            wait_listening(proxy, nginx_port)
            startup = time.monotonic() - begun
            run = Run(nginx_port=nginx_port, host_ports=host_ports, deadline=0, started=time.monotonic())
            run.deadline = run.started + args.duration
            threads = [threading.Thread(target=mix, args=(run, tokens[n], n)) for n in range(args.clients)]
            threads.append(threading.Thread(target=spend_budget, args=(run, budget_token)))
            threads.append(
                threading.Thread(target=scrape_metrics, args=(run, metrics_token, 2.0 if args.short else 5.0))
            )
            for thread in threads:
                thread.start()

            time.sleep(args.duration * 0.4)
            killed_at = time.monotonic() - run.started
            run.window = (killed_at - 0.5, float("inf"))
            os.killpg(servers[victim].pid, signal.SIGKILL)
            servers[victim].wait()
            time.sleep(2)
            servers[victim] = start_host(victim)
            processes.append(servers[victim])
            wait_listening(servers[victim], host_ports[victim])
            back_at = time.monotonic() - run.started
            # nginx marks a failed host down for fail_timeout (2 s) and then tries it again.
            run.window = (killed_at - 0.5, back_at + 3)

            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - run.started

            same_key, rounds = cross_host_idempotency(run, tokens[-1], 20)
            opened, tried = files_open_everywhere(run, tokens[-1], 10)

            # Webhooks: every case event delivered at least once.
            # The workers may trail the clients (a backlog is not a fault): wait while they make
            # progress, and give up only after STALL seconds without a delivery.
            with psycopg.connect(dsn, autocommit=True) as db:
                left, progressed = -1, time.monotonic()
                while time.monotonic() - progressed < STALL:
                    row = db.execute(
                        "SELECT count(*) FROM webhooks_webhookmessage WHERE status <> 'delivered'"
                    ).fetchone()
                    assert row is not None
                    if row[0] == 0:
                        break
                    if row[0] != left:
                        left, progressed = row[0], time.monotonic()
                    time.sleep(0.5)
                drained = time.monotonic() - run.started - elapsed
                events = db.execute("SELECT id, case_id, changes FROM cases_caseevent").fetchall()
                rows = {
                    r[0]: {"title": r[1], "description": r[2]}
                    for r in db.execute("SELECT id, title, description FROM cases_case").fetchall()
                }
                attachments: dict[str, list[str]] = defaultdict(list)
                for case_id, file_id in db.execute(
                    "SELECT case_id, file_id FROM cases_attachment ORDER BY case_id, position"
                ).fetchall():
                    attachments[case_id].append(file_id)
                stored_files = {r[0] for r in db.execute("SELECT id FROM media_file").fetchall()}
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            receiver.server.shutdown()

    # No lost write: creates, the last value of each (case, field), every change in the history,
    # the last accepted attachments.
    lost = [key for key, case_id in run.created.items() if case_id not in rows]
    for (case_id, written), value in run.last_written.items():
        if rows.get(case_id, {}).get(written) != value:
            lost.append(f"{case_id}.{written}")
    history = {
        (case_id, name, change["to"])
        for _, case_id, changes in events
        for name, change in changes.items()
        if name in FIELDS
    }
    lost += [f"{c}.{n}={v!r}" for c, n, v in run.accepted_changes if (c, n, v) not in history]
    lost += [case_id for case_id, files in run.attached.items() if attachments.get(case_id) != files]
    lost += [file_id for file_id in run.files if file_id not in stored_files]
    first_titles = Counter(
        changes["title"]["to"] for _, _, changes in events if "title" in changes and changes["title"]["from"] is None
    )
    duplicated = [title for title in run.titles.values() if first_titles[title] != 1]
    duplicated += [
        key for key in run.created if key.startswith("cross-host") and first_titles[f"Cross-host {key}"] != 1
    ]
    event_ids = {event_id for event_id, _, _ in events}
    undelivered = event_ids - set(receiver.received)
    over_budget = {reset: n for reset, n in run.budget_accepted.items() if n > args.budget}

    total = sum(run.statuses.values())
    failover_total = sum(run.failover.values())
    print(
        f"scaleout: {HOSTS} hosts x {args.workers} gunicorn workers behind nginx (round-robin), 3 webhook workers, "
        f"PostgreSQL, Redis, S3 (moto); started in {startup:.1f} s"
    )
    print(
        f"scaleout: {args.clients} clients + 1 budget client for {elapsed:.1f} s: {total} requests "
        f"({total / elapsed:.0f}/s); by method {dict(run.operations)}; by status {dict(sorted(run.statuses.items()))}"
    )
    print(
        f"scaleout: host {victim + 1} SIGKILLed at {killed_at:.1f} s, answering again at {back_at:.1f} s; "
        f"failover window {run.window[0]:.1f}-{run.window[1]:.1f} s: {failover_total} responses >= 500 or cut "
        f"short (0) {dict(run.failover)}, each retried; outside it: {len(run.errors)}"
    )
    print(
        f"scaleout: {len(run.created)} idempotent creates, {len(run.accepted_changes)} accepted PATCHes, "
        f"{len(run.files)} uploads, {len(run.attached)} cases with attachments; {len(lost)} lost write(s), "
        f"{len(duplicated)} key(s) that made more than one case"
    )
    windows = ", ".join(f"{n}" for _, n in sorted(run.budget_accepted.items()))
    print(
        f"scaleout: budget token ({args.budget}/min): accepted per minute window [{windows}], "
        f"{run.budget_refused} refused (429), {run.budget_uncounted} uncounted; "
        f"{len(over_budget)} window(s) over budget"
    )
    print(f"scaleout: same Idempotency-Key to two hosts at once: {same_key} of {rounds} made one case")
    print(f"scaleout: files opened through every host: {opened} of {tried}")
    print(
        f"scaleout: {len(event_ids)} case events, {len(event_ids & set(receiver.received))} delivered at least once, "
        f"{len(undelivered)} not; {sum(receiver.received.values())} deliveries received, "
        f"{receiver.bad_signatures} bad signature(s); drained {drained:.1f} s after the load"
    )
    reached = [s for s in run.scrapes if "serverops_requests_total" in s]
    print(f"scaleout: /metrics scraped {len(run.scrapes)} times through nginx, {len(reached)} answered; e.g.:")
    for figures in reached[:: max(1, len(reached) // 6)]:
        print(
            f"  t={figures['at']:5.1f} s  requests_total={figures.get('serverops_requests_total', 0):.0f}  "
            f"uploads_total={figures.get('serverops_uploads_total', 0):.0f}  "
            f"rate_limit_refusals_total={figures.get('serverops_rate_limit_refusals_total', 0):.0f}  "
            f"webhook_backlog={figures.get('serverops_webhook_backlog', 0):.0f}"
        )

    problems = list(run.problems)
    problems += run.errors
    if lost:
        problems.append(f"lost writes, e.g. {lost[:3]}")
    if duplicated:
        problems.append(f"keys that made more than one case, e.g. {duplicated[:3]}")
    if over_budget:
        problems.append(f"budget exceeded in windows {over_budget}")
    if not run.budget_refused:
        problems.append("the budget token was never refused: the limit was not reached")
    if same_key != rounds:
        problems.append(f"{rounds - same_key} cross-host key(s) made other than one case")
    if opened != tried:
        problems.append(f"{tried - opened} file fetches failed")
    if undelivered:
        problems.append(f"{len(undelivered)} event(s) never delivered")
    if receiver.bad_signatures:
        problems.append(f"{receiver.bad_signatures} bad signature(s)")
    if not reached:
        problems.append("/metrics never answered")
    print(f"scaleout: {len(problems)} problem(s)")
    for problem in problems[:20]:
        print(f"  - {problem}")
    if args.keep:
        print(f"scaleout: logs kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
